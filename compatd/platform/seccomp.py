"""The seccomp-bpf filter: seccomp decides which calls stop, ptrace delivers them.

The filter is generated from the syscall table: HOST entries (and entries whose argument
conditions hold, such as an anonymous ``mmap``) return ``SECCOMP_RET_ALLOW`` and run on the
host without a stop. Calls the model answers without touching the task's registers go to the
user-notification lane (``SECCOMP_RET_USER_NOTIF``: the task waits in the host kernel while the
supervisor answers; no ptrace stop, about half the cost here). Everything else (exec, clone,
calls that inject syscalls into the task) returns ``SECCOMP_RET_TRACE`` and stops at the
supervisor under ptrace.
A foreign architecture is killed; x32 numbers get ENOSYS, as on a kernel without x32.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
PR_SET_NO_NEW_PRIVS = 38
SYS_SECCOMP = 317
ENOSYS = 38

# classic BPF opcodes
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_AND_K = 0x54
BPF_RET_K = 0x06

OFF_NR = 0
OFF_ARCH = 4


def off_arg_low(i: int) -> int:
    """Offset of the low 32 bits of args[i] in struct seccomp_data (little endian)."""
    return 16 + 8 * i


@dataclass(frozen=True, slots=True)
class Rule:
    """Let syscall ``nr`` run on the host when every ``(arg, mask, value)`` condition holds;
    with ``notify``, send it to the user-notification lane instead (no conditions)."""

    nr: int
    conditions: tuple[tuple[int, int, int], ...] = ()
    notify: bool = False


def build_program(rules: list[Rule], trace_all: bool = False) -> bytes:
    """The filter as packed ``struct sock_filter`` instructions.

    Every decision returns right where it is made, so no jump has to reach past the other
    rules (classic BPF jumps are 8-bit): ``JEQ nr; RET action`` pairs, and for a rule with
    argument conditions a small block that allows or traps.
    """
    ins: list[tuple[int, int, int, int]] = [
        (BPF_LD_W_ABS, 0, 0, OFF_ARCH),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, OFF_NR),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
    ]
    if not trace_all:
        plain = sorted((r for r in rules if not r.conditions), key=lambda r: (r.notify, r.nr))
        for rule in plain:
            action = SECCOMP_RET_USER_NOTIF if rule.notify else SECCOMP_RET_ALLOW
            ins += [(BPF_JEQ_K, 0, 1, rule.nr), (BPF_RET_K, 0, 0, action)]
        for rule in (r for r in rules if r.conditions):
            n = len(rule.conditions)
            block: list[tuple[int, int, int, int]] = []
            for i, (arg, mask, value) in enumerate(rule.conditions):
                to_trace = 3 * (n - 1 - i) + 1  # past the remaining conditions and ALLOW
                block += [(BPF_LD_W_ABS, 0, 0, off_arg_low(arg)), (BPF_AND_K, 0, 0, mask),
                          (BPF_JEQ_K, 0, to_trace, value)]
            block += [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, SECCOMP_RET_TRACE)]
            ins.append((BPF_JEQ_K, 0, len(block), rule.nr))
            ins += block
            ins.append((BPF_LD_W_ABS, 0, 0, OFF_NR))  # the block loaded an argument
    ins.append((BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    return b"".join(struct.pack("<HBBI", *i) for i in ins)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes, listener: bool = False) -> int:
    """Install ``program`` on the calling thread (called in the child between fork and exec);
    with ``listener``, return the user-notification fd the kernel creates (the lowest free)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p]
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER if listener else 0
    ret = libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
    if ret < 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER)")
    return ret
