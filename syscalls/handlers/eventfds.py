"""Event files: eventfd, eventfd2, the timerfd calls, signalfd and signalfd4 (the files are
in vfs/anonfs.py).

Signals are queued and delivered by the host, so the model can neither see a blocked
signal's siginfo nor dequeue it. signalfd4 is ours (flags, mask, errors, the descriptor and
its mask for poll/select/epoll and fdinfo) over a signalfd the supervisor makes itself; a
read dequeues on the host (``SignalFd``, ``Kernel.run_on_host``).
"""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.polling import UNBLOCKABLE, lookup
from syscalls.table import Level, syscall
from vfs.anonfs import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    SIGNAL_RECHECK,
    EventFd,
    SignalFd,
    TimerFd,
)
from vfs.common import host_error
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


# signalfd ------------------------------------------------------------------------------
SFD_FLAGS = O_CLOEXEC | O_NONBLOCK  # SFD_CLOEXEC, SFD_NONBLOCK
SIGSET = struct.Struct("<Q")  # the kernel's sigset_t on x86-64: 64 signals
SIGNALFD_REASON = (
    "our code validates the call, creates the descriptor and tracks its mask, flags and "
    "copies; the signals stay queued by the host, so read and readv run on the host (on "
    "the supervisor's own signalfd, copied into the reader's fd table at the same number) "
    "and dequeue the reading thread's signal with its exact siginfo, while poll, select "
    "and epoll report the host's pending signals (/proc/TID/status SigPnd | ShdPnd)"
)
SIGNALFD_UNSUPPORTED = (
    "a signal from outside the sandbox's own calls (terminal, timers the host runs) wakes "
    f"a poll, select or epoll_wait on a signalfd up to {SIGNAL_RECHECK * 1000:.0f} ms late "
    "(the readiness is looked at again that often)",
    "EPOLLET reports a signalfd when it becomes ready, not again for each further signal "
    "queued while it stays ready",
    "read or readv of a signalfd at fd 100, where compatd keeps its fd channel in every "
    "task: EMFILE",
    "read or readv of a signalfd at an fd number at or above the task's host "
    "RLIMIT_NOFILE (the model's limit may be raised past it): EBADF",
)


def do_signalfd4(t: Task, fd: int, mask_addr: int, sizemask: int, flags: int) -> int:
    """fs/signalfd.c: EINVAL for a sizemask other than sizeof(sigset_t), EFAULT for the
    mask, EINVAL for unknown flags; SIGKILL and SIGSTOP leave the mask. fd -1 makes a new
    signalfd (EMFILE); any other fd must be open (EBADF; O_PATH ones are not) and a signalfd
    (EINVAL), whose mask changes for every descriptor sharing it (its flags stay)."""
    if sizemask != SIGSET.size:
        raise KernelError(errno.EINVAL, f"signalfd sizemask {sizemask}")
    mask = SIGSET.unpack(t.mem.read(mask_addr, SIGSET.size))[0] & ~UNBLOCKABLE
    if flags & ~SFD_FLAGS:
        raise KernelError(errno.EINVAL, f"signalfd4 flags {flags:#x}")
    platform = t.kernel.platform
    if fd == -1:
        try:
            # The supervisor's copy is close-on-exec for the supervisor; FD_CLOEXEC of the
            # program's descriptor is the model's (the host's copies are all close-on-exec).
            host = platform.signalfd(-1, mask, O_CLOEXEC | (flags & O_NONBLOCK))
        except OSError as e:
            raise host_error(e, "signalfd4 in the supervisor") from None
        f = SignalFd(t.kernel, host, mask, flags)
        try:
            return t.install_fd(f, cloexec=bool(flags & O_CLOEXEC))
        except KernelError:
            f.release()
            raise
    f = lookup(t, fd)
    if f is None:
        raise KernelError(errno.EBADF, f"fd {fd} is not open")
    if not isinstance(f, SignalFd):
        raise KernelError(errno.EINVAL, f"fd {fd} is not a signalfd")
    try:
        platform.signalfd(f.host_copy, mask, 0)
    except OSError as e:
        raise host_error(e, "signalfd4 on the supervisor's copy") from None
    f.mask = mask
    return fd


@syscall("signalfd", Level.PARTIAL, "fd:fd mask:struct_in sizemask:size",
         reason=SIGNALFD_REASON, unsupported=SIGNALFD_UNSUPPORTED)
def sys_signalfd(t: Task, fd: int, mask: int, sizemask: int) -> int:
    return do_signalfd4(t, fd, mask, sizemask, 0)


@syscall("signalfd4", Level.PARTIAL, "fd:fd mask:struct_in sizemask:size flags:flags/signalfd",
         reason=SIGNALFD_REASON, unsupported=SIGNALFD_UNSUPPORTED)
def sys_signalfd4(t: Task, fd: int, mask: int, sizemask: int, flags: int) -> int:
    return do_signalfd4(t, fd, mask, sizemask, flags)
