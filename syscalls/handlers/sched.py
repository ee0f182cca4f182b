"""Scheduling: affinity, policies and priorities, nice values, personality.

Only the sandbox's tasks can be named (ESRCH otherwise: pids are the host's, so the host
would reach any process). Scheduling state itself lives in the host kernel, which is what
runs the tasks: reads go to the host (the call runs there once the target is checked, or the
supervisor asks the host for the tid); changes are checked against the model's credentials
(the host process keeps its real ids) and then made on the host.

Privilege is CAP_SYS_NICE in the model's effective set (root's until it changes uids).
A change whose check depends on values in tracee memory is made by the supervisor with the
values it checked, never by letting the host re-read memory another thread could rewrite.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable
from typing import Any

from compatd.errors import KernelError, Unsupported
from compatd.kernel.kernel import RUN_ON_HOST
from compatd.kernel.task import CAP_SYS_NICE, Task
from syscalls.table import Level, syscall

FULL = Level.FULL
PARTIAL = Level.PARTIAL

SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE = 0, 1, 2, 3, 5, 6
SCHED_RESET_ON_FORK = 0x40000000
RT_POLICIES = (SCHED_FIFO, SCHED_RR)
FAIR_POLICIES = (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE)
POLICIES = (*FAIR_POLICIES, *RT_POLICIES, SCHED_DEADLINE)
RLIMIT_NICE = 13
RLIMIT_RTPRIO = 14
PAGE_SIZE = 4096
SCHED_ATTR_SIZE_VER0 = 48


def _nr_cpu_ids() -> int:
    """nr_cpu_ids: one past the highest possible CPU."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            return int(f.read().strip().replace(",", "-").split("-")[-1]) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


NR_CPU_IDS = _nr_cpu_ids()


def target(t: Task, pid: int) -> Task:
    """The task a scheduling call names: 0 is the caller; others must be sandboxed."""
    if pid == 0:
        return t
    task = t.kernel.tasks.get(pid)
    if task is None:
        raise KernelError(errno.ESRCH, f"no task {pid} in the sandbox")
    return task


def same_owner(t: Task, p: Task) -> bool:
    """check_same_owner: the caller's euid is the target's uid or euid."""
    c, pc = t.group.creds, p.group.creds
    return c.euid in (pc.uid, pc.euid)


def nice_allowed(t: Task, p: Task, nice: int) -> bool:
    """can_nice: lowering nice below the target's RLIMIT_NICE needs CAP_SYS_NICE."""
    return 20 - nice <= p.group.rlimits[RLIMIT_NICE][0] or t.group.creds.capable(CAP_SYS_NICE)


def host(fn: Callable[..., Any], *args: Any) -> Any:  # noqa: ANN401 - an errno adapter
    """Call an ``os`` scheduling function on a tid; host errors become KernelErrors."""
    try:
        return fn(*args)
    except ProcessLookupError as e:
        raise KernelError(errno.ESRCH, "the task is gone") from e
    except OSError as e:
        raise KernelError(e.errno or errno.EPERM, f"host refused {fn.__name__}") from e


# affinity ---------------------------------------------------------------------------------
# The platform may pin every task to one CPU (DESIGN: speed), so the host's mask is not what
# the program asked for: then the model keeps each task's mask (inherited on clone) within
# the CPUs compatd started with, and answers from it; programs still see every CPU (nproc).
START_CPUS = frozenset(os.sched_getaffinity(0))  # imported before the platform pins


def _cpumask_size() -> int:
    """cpumask_size(): NR_CPUS bits, or nr_cpu_ids bits with CPUMASK_OFFSTACK, which x86
    kernels built for more than 512 CPUs (MAXSMP) have; in whole longs."""
    try:
        with open("/sys/devices/system/cpu/kernel_max") as f:
            nr_cpus = int(f.read()) + 1
    except (OSError, ValueError):
        nr_cpus = NR_CPU_IDS
    bits = NR_CPU_IDS if nr_cpus > 512 else nr_cpus
    return (bits + 63) // 64 * 8


CPUMASK_SIZE = _cpumask_size()


def pinned(t: Task) -> bool:
    return getattr(t.kernel.platform, "pin_cpu", None) is not None


@syscall("sched_getaffinity", FULL, "pid:pid cpusetsize:uint mask:struct_out")
def sys_sched_getaffinity(t: Task, pid: int, size: int, mask: int) -> int:
    if size * 8 < NR_CPU_IDS or size & 7:
        raise KernelError(errno.EINVAL, f"cpu set of {size} bytes")
    p = target(t, pid)
    if not pinned(t):
        return RUN_ON_HOST  # reads the target's mask into the caller's memory
    n = min(size, CPUMASK_SIZE)
    bits = sum(1 << cpu for cpu in (p.affinity or START_CPUS))
    t.mem.write(mask, bits.to_bytes(n, "little"))
    return n


@syscall("sched_setaffinity", FULL, "pid:pid cpusetsize:uint mask:struct_in")
def sys_sched_setaffinity(t: Task, pid: int, size: int, mask: int) -> int:
    if pinned(t):
        n = min(size, CPUMASK_SIZE)
        bits = int.from_bytes(t.mem.read(mask, n), "little") if n else 0
    p = target(t, pid)
    if not same_owner(t, p) and not t.group.creds.capable(CAP_SYS_NICE):
        raise KernelError(errno.EPERM, "another user's task")
    if not pinned(t):
        return RUN_ON_HOST  # the mask's contents need no check: the host validates it
    cpus = frozenset(cpu for cpu in START_CPUS if bits >> cpu & 1)
    if not cpus:
        raise KernelError(errno.EINVAL, "no allowed CPU in the mask")
    p.affinity = None if cpus == START_CPUS else cpus
    return 0


# policies and priorities --------------------------------------------------------------------
@syscall("sched_getscheduler", FULL, "pid:pid")
def sys_sched_getscheduler(t: Task, pid: int) -> int:
    if pid < 0:
        raise KernelError(errno.EINVAL, "negative pid")
    target(t, pid)
    return RUN_ON_HOST


@syscall("sched_getparam", FULL, "pid:pid param:struct_out")
def sys_sched_getparam(t: Task, pid: int, param: int) -> int:
    if not param or pid < 0:
        raise KernelError(errno.EINVAL, "NULL param or negative pid")
    target(t, pid)
    return RUN_ON_HOST


@syscall("sched_rr_get_interval", FULL, "pid:pid tp:struct_out")
def sys_sched_rr_get_interval(t: Task, pid: int, tp: int) -> int:
    if pid < 0:
        raise KernelError(errno.EINVAL, "negative pid")
    target(t, pid)
    return RUN_ON_HOST


@syscall("sched_get_priority_max", FULL, "policy:int")
def sys_sched_get_priority_max(t: Task, policy: int) -> int:
    if policy in RT_POLICIES:
        return 99
    if policy in (*FAIR_POLICIES, SCHED_DEADLINE):
        return 0
    raise KernelError(errno.EINVAL, f"policy {policy}")


@syscall("sched_get_priority_min", FULL, "policy:int")
def sys_sched_get_priority_min(t: Task, policy: int) -> int:
    if policy in RT_POLICIES:
        return 1
    if policy in (*FAIR_POLICIES, SCHED_DEADLINE):
        return 0
    raise KernelError(errno.EINVAL, f"policy {policy}")


def do_setscheduler(t: Task, pid: int, policy: int, param: int, keep_policy: bool) -> int:
    """sched_setscheduler/sched_setparam (kernel/sched/syscalls.c): EINVAL checks, then the
    target, then for callers without CAP_SYS_NICE the unprivileged rules on the values read
    once; the supervisor makes the change with exactly those values."""
    if not param or pid < 0 or policy < 0:
        raise KernelError(errno.EINVAL, "NULL param, negative pid or policy")
    (prio,) = struct.unpack("<i", t.mem.read(param, 4))
    p = target(t, pid)
    tid = p.tid
    cur = host(os.sched_getscheduler, tid)
    reset = bool((cur if keep_policy else policy) & SCHED_RESET_ON_FORK)
    cur &= ~SCHED_RESET_ON_FORK
    pol = cur if keep_policy else policy & ~SCHED_RESET_ON_FORK
    if pol not in POLICIES:
        raise KernelError(errno.EINVAL, f"policy {pol}")
    if pol == SCHED_DEADLINE:
        raise KernelError(errno.EINVAL, "SCHED_DEADLINE needs sched_setattr")
    if (pol in RT_POLICIES) != (prio != 0) or not 0 <= prio <= 99:
        raise KernelError(errno.EINVAL, f"priority {prio} for policy {pol}")
    if not t.group.creds.capable(CAP_SYS_NICE):
        rtprio = p.group.rlimits[RLIMIT_RTPRIO][0]
        old_prio = host(os.sched_getparam, tid).sched_priority
        if pol in RT_POLICIES and (
                (pol != cur and not rtprio) or (prio > old_prio and prio > rtprio)):
            raise KernelError(errno.EPERM, "real-time priority above RLIMIT_RTPRIO")
        if cur == SCHED_IDLE and pol != SCHED_IDLE:
            if not nice_allowed(t, p, host(os.getpriority, os.PRIO_PROCESS, tid)):
                raise KernelError(errno.EPERM, "leaving SCHED_IDLE needs RLIMIT_NICE")
        if not same_owner(t, p):
            raise KernelError(errno.EPERM, "another user's task")
        if not reset and host(os.sched_getscheduler, tid) & SCHED_RESET_ON_FORK:
            raise KernelError(errno.EPERM, "clearing SCHED_RESET_ON_FORK")
    flag = SCHED_RESET_ON_FORK if reset else 0
    if keep_policy:
        host(os.sched_setparam, tid, os.sched_param(prio))
    else:
        host(os.sched_setscheduler, tid, pol | flag, os.sched_param(prio))
    return 0



@syscall("sched_setscheduler", FULL, "pid:pid policy:int param:struct_in")
def sys_sched_setscheduler(t: Task, pid: int, policy: int, param: int) -> int:
    return do_setscheduler(t, pid, policy, param, keep_policy=False)


@syscall("sched_setparam", FULL, "pid:pid param:struct_in")
def sys_sched_setparam(t: Task, pid: int, param: int) -> int:
    return do_setscheduler(t, pid, 0, param, keep_policy=True)


@syscall("sched_getattr", FULL, "pid:pid attr:struct_out size:uint flags:flags")
def sys_sched_getattr(t: Task, pid: int, attr: int, size: int, flags: int) -> int:
    if not attr or pid < 0 or size > PAGE_SIZE or size < SCHED_ATTR_SIZE_VER0 or flags:
        raise KernelError(errno.EINVAL, "bad sched_getattr arguments")
    target(t, pid)
    return RUN_ON_HOST


@syscall("sched_setattr", PARTIAL, "pid:pid attr:struct_in flags:flags",
         unsupported=("callers without CAP_SYS_NICE in the model: EPERM (their rules depend "
                      "on the attr in memory, which only the host would read)",))
def sys_sched_setattr(t: Task, pid: int, attr: int, flags: int) -> int:
    if not attr or pid < 0 or flags:
        raise KernelError(errno.EINVAL, "bad sched_setattr arguments")
    target(t, pid)
    if not t.group.creds.capable(CAP_SYS_NICE):
        raise Unsupported(errno.EPERM, "sched_setattr without CAP_SYS_NICE")
    return RUN_ON_HOST


# nice values ----------------------------------------------------------------------------------
PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2


def prio_targets(t: Task, which: int, who: int) -> list[Task]:
    """The sandboxed threads getpriority/setpriority reach (kernel/sys.c)."""
    k = t.kernel
    if which == PRIO_PROCESS:
        if who == 0:
            return [t]
        p = k.tasks.get(who)
        return [p] if p is not None else []
    if which == PRIO_PGRP:
        pgid = who or t.group.pgid
        return [task for task in k.tasks.values() if task.group.pgid == pgid]
    if which == PRIO_USER:
        uid = who or t.group.creds.uid
        return [task for task in k.tasks.values() if task.group.creds.uid == uid]
    raise KernelError(errno.EINVAL, f"which {which}")


@syscall("getpriority", FULL, "which:int who:int")
def sys_getpriority(t: Task, which: int, who: int) -> int:
    best = -1
    for p in prio_targets(t, which, who):
        try:
            best = max(best, 20 - os.getpriority(os.PRIO_PROCESS, p.tid))
        except OSError:
            continue  # exited meanwhile
    if best < 0:
        raise KernelError(errno.ESRCH, "no such task in the sandbox")
    return best


@syscall("setpriority", FULL, "which:int who:int prio:int")
def sys_setpriority(t: Task, which: int, who: int, prio: int) -> int:
    tasks = prio_targets(t, which, who)
    nice = min(max(prio, -20), 19)
    c = t.group.creds
    error = errno.ESRCH
    for p in tasks:
        pc = p.group.creds
        if c.euid not in (pc.uid, pc.euid) and not c.capable(CAP_SYS_NICE):
            error = errno.EPERM
            continue
        try:
            current = os.getpriority(os.PRIO_PROCESS, p.tid)
            if nice < current and not nice_allowed(t, p, nice):
                error = errno.EACCES
                continue
            os.setpriority(os.PRIO_PROCESS, p.tid, nice)
        except ProcessLookupError:
            continue
        except OSError as e:
            error = e.errno or errno.EPERM
            continue
        if error == errno.ESRCH:
            error = 0
    if error:
        raise KernelError(error, "setpriority")
    return 0


# personality ----------------------------------------------------------------------------------
PER_MASK = 0xFF
UNAME26 = 0x0020000
MMAP_PAGE_ZERO = 0x0100000
STICKY_TIMEOUTS = 0x4000000
PERSONALITY_UNSUPPORTED = (
    "execution domains other than PER_LINUX (PER_LINUX32 would change uname's machine)",
    "UNAME26 (uname is the model's), MMAP_PAGE_ZERO (our loader maps no page zero), "
    "STICKY_TIMEOUTS (select is the model's)",
)


@syscall("personality", PARTIAL, "persona:uint", unsupported=PERSONALITY_UNSUPPORTED)
def sys_personality(t: Task, persona: int) -> int:
    """The host keeps the persona (it shapes the memory layout of the host's exec of our
    stub and of host mmaps: ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ADDR_COMPAT_LAYOUT…) and
    answers the old value; the model refuses what it would not honour."""
    if persona != 0xFFFFFFFF:
        if persona & PER_MASK:
            raise Unsupported(errno.EINVAL, f"execution domain {persona & PER_MASK:#x}")
        for bit, name in ((UNAME26, "UNAME26"), (MMAP_PAGE_ZERO, "MMAP_PAGE_ZERO"),
                          (STICKY_TIMEOUTS, "STICKY_TIMEOUTS")):
            if persona & bit:
                raise Unsupported(errno.EINVAL, name)
    return RUN_ON_HOST
