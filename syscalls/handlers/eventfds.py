"""Event files: eventfd, eventfd2 and the timerfd calls (the files are in vfs/anonfs.py).

signalfd stays unimplemented (declarations.py says why): signals are queued and delivered
by the host, so the model can neither see a blocked signal's siginfo nor dequeue it.
"""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.table import Level, syscall
from vfs.anonfs import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    EventFd,
    TimerFd,
)
from vfs.flags import O_CLOEXEC, O_NONBLOCK

FULL = Level.FULL
NS = 1_000_000_000
EFD_SEMAPHORE = 1
EFD_FLAGS = EFD_SEMAPHORE | O_CLOEXEC | O_NONBLOCK
TFD_CREATE_FLAGS = O_CLOEXEC | O_NONBLOCK
TFD_TIMER_ABSTIME = 1
TFD_TIMER_CANCEL_ON_SET = 2
ITIMERSPEC = struct.Struct("<qqqq")  # it_interval {sec, nsec}, it_value {sec, nsec}
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
          CLOCK_BOOTTIME_ALARM)


def do_eventfd2(t: Task, initval: int, flags: int) -> int:
    if flags & ~EFD_FLAGS:
        raise KernelError(errno.EINVAL, f"eventfd2 flags {flags:#x}")
    f = EventFd(initval, flags, bool(flags & EFD_SEMAPHORE))
    return t.install_fd(f, cloexec=bool(flags & O_CLOEXEC))


@syscall("eventfd", FULL, "initval:uint")
def sys_eventfd(t: Task, initval: int) -> int:
    return do_eventfd2(t, initval, 0)


@syscall("eventfd2", FULL, "initval:uint flags:flags/eventfd")
def sys_eventfd2(t: Task, initval: int, flags: int) -> int:
    return do_eventfd2(t, initval, flags)


@syscall("timerfd_create", FULL, "clockid:int/clock flags:flags/open")
def sys_timerfd_create(t: Task, clockid: int, flags: int) -> int:
    if flags & ~TFD_CREATE_FLAGS or clockid not in CLOCKS:
        raise KernelError(errno.EINVAL, f"timerfd_create clock {clockid} flags {flags:#x}")
    # The alarm clocks need CAP_WAKE_ALARM; nothing here suspends, so they run as their
    # base clocks.
    f = TimerFd(t.kernel, clockid, flags)
    return t.install_fd(f, cloexec=bool(flags & O_CLOEXEC))


def timerfd(t: Task, fd: int) -> TimerFd:
    f = t.fdt.get(fd)
    if not isinstance(f, TimerFd):
        raise KernelError(errno.EINVAL, f"fd {fd} is not a timerfd")
    return f


def pack_itimerspec(value_ns: int, interval_ns: int) -> bytes:
    return ITIMERSPEC.pack(*divmod(interval_ns, NS), *divmod(value_ns, NS))


@syscall(
    "timerfd_settime",
    Level.PARTIAL,
    "fd:fd flags:flags/timer new_value:struct_in old_value:struct_out",
    unsupported=("TFD_TIMER_CANCEL_ON_SET is accepted but a change of the realtime clock "
                 "is never reported (no ECANCELED): the supervisor does not see clock sets",),
)
def sys_timerfd_settime(t: Task, fd: int, flags: int, new: int, old: int) -> int:
    """EFAULT (new value), EINVAL (flags, an invalid time), EBADF, EINVAL (not a timerfd;
    CANCEL_ON_SET without a realtime absolute timer), then EFAULT for the old value."""
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(t.mem.read(new, ITIMERSPEC.size))
    if flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) or isec < 0 or vsec < 0 \
            or not 0 <= insec < NS or not 0 <= vnsec < NS:
        raise KernelError(errno.EINVAL, "timerfd_settime flags or time")
    f = timerfd(t, fd)
    old_value, old_interval = f.settime(bool(flags & TFD_TIMER_ABSTIME), vsec * NS + vnsec,
                                        isec * NS + insec)
    if old:
        t.mem.write(old, pack_itimerspec(old_value, old_interval))
    return 0


@syscall("timerfd_gettime", FULL, "fd:fd curr_value:struct_out")
def sys_timerfd_gettime(t: Task, fd: int, curr: int) -> int:
    value, interval = timerfd(t, fd).gettime()
    t.mem.write(curr, pack_itimerspec(value, interval))
    return 0
