"""prctl: process and thread attributes.

What programs can observe is the model's (the thread's name, pdeathsig, dumpable, the
child-subreaper flag, no_new_privs, the capability bounding set, keepcaps and securebits);
what only changes how the host treats the caller's own thread or memory (timer slack, THP,
TSC access, speculation controls, VMA names…) is run by the host after the model's checks.

Two choices a gVisor user would expect, documented here once:

- ``PR_GET_NO_NEW_PRIVS`` answers the program's own flag: 0 until it sets it. The host
  process always has no_new_privs (compatd's filter needs it), but that belongs to the
  sandbox, which is hidden as in /proc/PID/status. Our exec never grants privileges (no
  set-id or file-capability exec), so the flag's promise holds either way.
- ``PR_GET_SECCOMP`` answers 0 (no filter of the program's own): compatd's filter is the
  sandbox's, not the program's, and ``seccomp``/``PR_SET_SECCOMP`` are not supported yet.
"""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError, Unsupported
from compatd.kernel.kernel import RUN_ON_HOST
from compatd.kernel.task import CAP_SETPCAP, Task
from syscalls.flags import PRCTL
from syscalls.table import Level, syscall

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_GET_TIMING = 13
PR_SET_TIMING = 14
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_TSC = 25
PR_SET_TSC = 26
PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_SET_TIMERSLACK = 29
PR_GET_TIMERSLACK = 30
PR_TASK_PERF_EVENTS_DISABLE = 31
PR_TASK_PERF_EVENTS_ENABLE = 32
PR_MCE_KILL = 33
PR_MCE_KILL_GET = 34
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_GET_TID_ADDRESS = 40
PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42
PR_CAP_AMBIENT = 47
PR_GET_SPECULATION_CTRL = 52
PR_SET_SPECULATION_CTRL = 53
PR_SET_VMA = 0x53564D41

PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4

TASK_COMM_LEN = 16
NSIG = 64
SUID_DUMP_DISABLE, SUID_DUMP_USER = 0, 1

# securebits: the model honours NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (and refuses every
# ambient raise anyway, which is what NO_CAP_AMBIENT_RAISE asks); the exec-restriction bits
# (Linux 6.14) concern execveat(AT_EXECVE_CHECK), which is not modelled.
SECURE_KEEP_CAPS = 1 << 4
SECURE_KEEP_CAPS_LOCKED = 1 << 5
SECURE_NO_CAP_AMBIENT_RAISE = 1 << 6
SECURE_MODELLED = 0xFF
SECURE_ALL_BITS = 0x155  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE, EXEC_*
SECURE_ALL_LOCKS = SECURE_ALL_BITS << 1


def _cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40  # CAP_CHECKPOINT_RESTORE, the last one since Linux 5.9


CAP_LAST_CAP = _cap_last_cap()

# Options that change only how the host treats the caller's own thread or memory: the host
# runs them and answers, including its own EINVAL/EPERM checks.
HOST_OPTIONS = {
    PR_SET_TIMERSLACK, PR_GET_TIMERSLACK,  # the caller's own timer slack
    PR_GET_TID_ADDRESS,  # its own clear_child_tid, set by set_tid_address (a HOST call)
    PR_SET_THP_DISABLE, PR_GET_THP_DISABLE,  # huge pages of its own memory
    PR_GET_TSC, PR_SET_TSC,  # whether its own thread may read the TSC
    PR_TASK_PERF_EVENTS_DISABLE, PR_TASK_PERF_EVENTS_ENABLE,  # its own perf counters
    PR_MCE_KILL, PR_MCE_KILL_GET,  # its own memory-error policy
    PR_GET_SPECULATION_CTRL, PR_SET_SPECULATION_CTRL,  # its own speculation mitigations
    PR_SET_VMA,  # names of its own anonymous mappings
}  # fmt: skip

# Options Linux implements only on other architectures: EINVAL on x86-64, as Linux answers.
NOT_ON_X86 = {5, 6, 9, 10, 11, 12, 19, 20, 43, 44, 45, 46, 50, 51, 54, 55, 56, 60, 61, 63, 64}

PRCTL_UNSUPPORTED = (
    "PR_SET_PDEATHSIG: delivered by the host when the host parent thread exits (the same "
    "process as the model's parent, except after a reparenting compatd does not mirror)",
    "PR_SET_DUMPABLE: kept in the model (what PR_GET_DUMPABLE and procfs show); the host's "
    "own core dumps and ptrace checks follow the host's flag",
    "PR_SET_SECCOMP and seccomp filters of the program's own: EINVAL",
    "PR_SET_SECUREBITS with SECBIT_EXEC_RESTRICT_FILE/EXEC_DENY_INTERACTIVE: EINVAL",
    "PR_SET_MM, PR_GET_AUXV, PR_SET_PTRACER, PR_SET_SYSCALL_USER_DISPATCH, PR_SCHED_CORE, "
    "PR_SET_IO_FLUSHER, PR_SET_MDWE, PR_SET_MEMORY_MERGE and other options: EINVAL",
    "a thread's own name (PR_SET_NAME in a non-leader thread) is not yet shown by "
    "/proc/PID/task/TID/comm",
)


def read_upto(t: Task, addr: int, n: int) -> bytes:
    """strncpy_from_user: at most ``n`` bytes, stopping at a NUL; never reads past it."""
    out = b""
    while len(out) < n:
        chunk = min(n - len(out), 4096 - (addr % 4096))
        data = t.mem.read(addr, chunk)
        nul = data.find(b"\0")
        if nul >= 0:
            return out + data[:nul]
        out += data
        addr += chunk
    return out


def put_int(t: Task, addr: int, value: int) -> int:
    t.mem.write(addr, struct.pack("<i", value))
    return 0


def cap_valid(cap: int) -> bool:
    return 0 <= cap <= CAP_LAST_CAP


def do_cap_prctl(t: Task, option: int, a2: int, a3: int, a4: int, a5: int) -> int:
    """The capability options (security/commoncap.c cap_task_prctl)."""
    c = t.group.creds
    if option == PR_CAPBSET_READ:
        if not cap_valid(a2):
            raise KernelError(errno.EINVAL, f"capability {a2} past CAP_LAST_CAP")
        return c.cap_bnd >> a2 & 1
    if option == PR_CAPBSET_DROP:
        if not c.capable(CAP_SETPCAP):
            raise KernelError(errno.EPERM, "dropping from the bounding set needs CAP_SETPCAP")
        if not cap_valid(a2):
            raise KernelError(errno.EINVAL, f"capability {a2} past CAP_LAST_CAP")
        c.cap_bnd &= ~(1 << a2)
        return 0
    if option == PR_GET_KEEPCAPS:
        return 1 if c.securebits & SECURE_KEEP_CAPS else 0
    if option == PR_SET_KEEPCAPS:
        if a2 > 1:
            raise KernelError(errno.EINVAL, "keepcaps is 0 or 1")
        if c.securebits & SECURE_KEEP_CAPS_LOCKED:
            raise KernelError(errno.EPERM, "SECBIT_KEEP_CAPS_LOCKED")
        c.securebits = c.securebits | SECURE_KEEP_CAPS if a2 else c.securebits & ~SECURE_KEEP_CAPS
        return 0
    if option == PR_GET_SECUREBITS:
        return c.securebits
    if option == PR_SET_SECUREBITS:
        old = c.securebits
        if (((old & SECURE_ALL_LOCKS) >> 1) & (old ^ a2) or old & SECURE_ALL_LOCKS & ~a2
                or a2 & ~(SECURE_ALL_LOCKS | SECURE_ALL_BITS) or not c.capable(CAP_SETPCAP)):
            raise KernelError(errno.EPERM, "securebits change not allowed")
        if a2 & ~SECURE_MODELLED:
            raise Unsupported(errno.EINVAL, "PR_SET_SECUREBITS: SECBIT_EXEC_*")
        c.securebits = a2
        return 0
    # PR_CAP_AMBIENT
    if a2 == PR_CAP_AMBIENT_CLEAR_ALL:
        if a3 | a4 | a5:
            raise KernelError(errno.EINVAL, "unused arguments must be 0")
        c.cap_amb = 0
        return 0
    if not cap_valid(a3) or a4 | a5:
        raise KernelError(errno.EINVAL, "bad capability or unused arguments")
    if a2 == PR_CAP_AMBIENT_IS_SET:
        return c.cap_amb >> a3 & 1
    if a2 == PR_CAP_AMBIENT_RAISE:
        if (not c.cap_prm >> a3 & 1 or not c.cap_inh >> a3 & 1
                or c.securebits & SECURE_NO_CAP_AMBIENT_RAISE):
            raise KernelError(errno.EPERM, "ambient raise needs the cap permitted and inheritable")
        c.cap_amb |= 1 << a3
        return 0
    if a2 == PR_CAP_AMBIENT_LOWER:
        c.cap_amb &= ~(1 << a3)
        return 0
    raise KernelError(errno.EINVAL, f"PR_CAP_AMBIENT operation {a2}")


CAP_OPTIONS = {PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS,
               PR_GET_SECUREBITS, PR_SET_SECUREBITS, PR_CAP_AMBIENT}


def do_prctl(t: Task, option: int, a2: int, a3: int, a4: int, a5: int) -> int:
    if option in HOST_OPTIONS:
        return RUN_ON_HOST
    if option in CAP_OPTIONS:
        return do_cap_prctl(t, option, a2, a3, a4, a5)
    g = t.group
    if option == PR_SET_NAME:
        name = read_upto(t, a2, TASK_COMM_LEN - 1)
        if t.tid == g.tgid:
            g.comm, t.comm = name, None
        else:
            t.comm = name
        return 0
    if option == PR_GET_NAME:
        t.mem.write(a2, t.name[:TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_SET_PDEATHSIG:
        if a2 > NSIG:
            raise KernelError(errno.EINVAL, f"signal {a2}")
        t.pdeathsig = a2
        return RUN_ON_HOST  # the host delivers it when the parent thread exits
    if option == PR_GET_PDEATHSIG:
        return put_int(t, a2, t.pdeathsig)
    if option == PR_GET_DUMPABLE:
        return g.dumpable
    if option == PR_SET_DUMPABLE:
        if a2 not in (SUID_DUMP_DISABLE, SUID_DUMP_USER):
            raise KernelError(errno.EINVAL, "dumpable is 0 or 1")
        g.dumpable = a2
        return 0
    if option == PR_SET_CHILD_SUBREAPER:
        g.child_subreaper = bool(a2)
        return RUN_ON_HOST  # the host reparents orphans to it; Kernel.task_exited mirrors it
    if option == PR_GET_CHILD_SUBREAPER:
        return put_int(t, a2, int(g.child_subreaper))
    if option == PR_SET_NO_NEW_PRIVS:
        if a2 != 1 or a3 or a4 or a5:
            raise KernelError(errno.EINVAL, "PR_SET_NO_NEW_PRIVS takes 1 and zeros")
        t.no_new_privs = True
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if a2 or a3 or a4 or a5:
            raise KernelError(errno.EINVAL, "PR_GET_NO_NEW_PRIVS takes zeros")
        return int(t.no_new_privs)
    if option == PR_GET_SECCOMP:
        return 0
    if option == PR_GET_TIMING:
        return 0  # PR_TIMING_STATISTICAL, the only mode
    if option == PR_SET_TIMING:
        if a2 != 0:
            raise KernelError(errno.EINVAL, "only PR_TIMING_STATISTICAL")
        return 0
    if option in NOT_ON_X86:
        raise KernelError(errno.EINVAL, f"{PRCTL.get(option, option)} is not on x86-64")
    raise Unsupported(errno.EINVAL, PRCTL.get(option, f"option {option}"))


@syscall("prctl", Level.PARTIAL, "option:cmd/prctl arg2:ulong arg3:ulong arg4:ulong arg5:ulong",
         unsupported=PRCTL_UNSUPPORTED)
def sys_prctl(t: Task, option: int, a2: int, a3: int, a4: int, a5: int) -> int:
    return do_prctl(t, option, a2, a3, a4, a5)
