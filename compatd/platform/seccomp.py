"""The seccomp-bpf filter: seccomp decides which calls stop, ptrace delivers them.

The filter is generated from the syscall table: HOST entries (and entries whose argument
conditions hold, such as an anonymous ``mmap``) return ``SECCOMP_RET_ALLOW`` and run on the
host without a stop; everything else returns ``SECCOMP_RET_TRACE`` and stops at the supervisor.
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
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1
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
    """Let syscall ``nr`` run on the host when every ``(arg, mask, value)`` condition holds."""

    nr: int
    conditions: tuple[tuple[int, int, int], ...] = ()


def build_program(rules: list[Rule], trace_all: bool = False) -> bytes:
    """The filter as packed ``struct sock_filter`` instructions."""
    # Instructions are built with symbolic jump targets, then resolved: each jump is
    # relative to the next instruction and must fit in 8 bits.
    ins: list[tuple[int, object, object, int]] = []
    ins.append((BPF_LD_W_ABS, 0, 0, OFF_ARCH))
    ins.append((BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64))
    ins.append((BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS))
    ins.append((BPF_LD_W_ABS, 0, 0, OFF_NR))
    ins.append((BPF_JGE_K, "enosys", 0, X32_SYSCALL_BIT))
    if not trace_all:
        for rule in sorted((r for r in rules if not r.conditions), key=lambda r: r.nr):
            ins.append((BPF_JEQ_K, "allow", 0, rule.nr))
        for rule in (r for r in rules if r.conditions):
            block: list[tuple[int, object, object, int]] = []
            for arg, mask, value in rule.conditions:
                block.append((BPF_LD_W_ABS, 0, 0, off_arg_low(arg)))
                block.append((BPF_AND_K, 0, 0, mask))
                block.append((BPF_JEQ_K, 0, "trace", value))
            block.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
            ins.append((BPF_JEQ_K, 0, len(block), rule.nr))
            ins.extend(block)
    labels = {"trace": len(ins), "allow": len(ins) + 1, "enosys": len(ins) + 2}
    ins.append((BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    ins.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    ins.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS))

    out = bytearray()
    for pc, (code, jt, jf, k) in enumerate(ins):
        jt_off = labels[jt] - pc - 1 if isinstance(jt, str) else jt
        jf_off = labels[jf] - pc - 1 if isinstance(jf, str) else jf
        assert isinstance(jt_off, int) and isinstance(jf_off, int)
        if not (0 <= jt_off < 256 and 0 <= jf_off < 256):
            raise ValueError("seccomp filter jump out of range; split the rule list")
        out += struct.pack("<HBBI", code, jt_off, jf_off, k)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install ``program`` on the calling thread (called in the child between fork and exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p]
    if libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER)")
