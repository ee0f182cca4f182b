"""Files on the anonymous inode (Linux's anon_inodefs): eventfd, timerfd and signalfd objects.

All of them share one inode, as on Linux: ``fstat`` shows mode 0600 without a file type,
and /proc/PID/fd/N reads ``anon_inode:[eventfd]`` (``anon_name``). Readiness (``poll``) and
wakeups (``WaitQueue``) follow fs/eventfd.c and fs/timerfd.c; a read or write that must
wait raises ``WouldBlock`` and the kernel loop retries it after something changed (a write
from another task, a timer). A signalfd's signals are the host's: its reads run on the
host (``SignalFd``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from typing import TYPE_CHECKING, Any

from compatd.errors import KernelError, WouldBlock
from vfs.base import (
    POLLERR,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    Filesystem,
    Inode,
    OpenFile,
    Stat,
    WaitQueue,
)
from vfs.common import host_signal_masks
from vfs.flags import O_NONBLOCK, O_RDWR

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel

ANON_INODE_FS_MAGIC = 0x09041934
ULLONG_MAX = (1 << 64) - 1
U64 = struct.Struct("<Q")


class AnonFS(Filesystem):
    name = "anon_inodefs"
    magic = ANON_INODE_FS_MAGIC


ANONFS = AnonFS()


class AnonInode(Inode):
    """The one inode every anonymous file shares: mode 0600 and no type, owned by root."""

    __slots__ = ()

    def stat(self) -> Stat:
        return Stat(dev=ANONFS.dev, ino=1, mode=0o600, nlink=1, blksize=4096)


ANON_INODE = AnonInode(ANONFS, 1)


class AnonFile(OpenFile):
    """An anonymous file: not seekable by position (pread is ESPIPE), lseek is a no-op."""

    seekable = False
    anon_name = b"[unknown]"

    def __init__(self, flags: int) -> None:
        # anon_inode_getfile keeps only the access mode and O_NONBLOCK.
        super().__init__(ANON_INODE, O_RDWR | (flags & O_NONBLOCK))
        self.waitq = WaitQueue()

    def seek(self, offset: int, whence: int) -> int:
        return self.pos  # noop_llseek

    def pread(self, size: int, offset: int) -> bytes:
        raise KernelError(errno.ESPIPE, "pread on an anonymous file")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise KernelError(errno.ESPIPE, "pwrite on an anonymous file")

    def size(self) -> int:
        return 0

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        return (self.waitq,)

    def nonblock(self) -> bool:
        return bool(self.flags & O_NONBLOCK)


# eventfd -------------------------------------------------------------------------------
class EventFd(AnonFile):
    """A 64-bit counter (fs/eventfd.c): write adds, read takes all (or 1 with
    EFD_SEMAPHORE); a read of 0 and a write past ULLONG_MAX - 1 wait."""

    anon_name = b"[eventfd]"

    def __init__(self, count: int, flags: int, semaphore: bool) -> None:
        super().__init__(flags)
        self.count = count
        self.semaphore = semaphore

    def read(self, size: int) -> bytes:
        if size < 8:
            raise KernelError(errno.EINVAL, "eventfd read of fewer than 8 bytes")
        if not self.count:
            if self.nonblock():
                raise KernelError(errno.EAGAIN, "eventfd counter is 0")
            raise WouldBlock("read of an eventfd at 0")
        value = 1 if self.semaphore else self.count
        self.count -= value
        self.waitq.wake(POLLOUT)
        return U64.pack(value)

    def write(self, data: bytes) -> int:
        if len(data) < 8:
            raise KernelError(errno.EINVAL, "eventfd write of fewer than 8 bytes")
        value = U64.unpack_from(data)[0]
        if value == ULLONG_MAX:
            raise KernelError(errno.EINVAL, "eventfd write of ULLONG_MAX")
        if ULLONG_MAX - self.count <= value:
            if self.nonblock():
                raise KernelError(errno.EAGAIN, "eventfd counter would overflow")
            raise WouldBlock("write to a full eventfd")
        self.count += value
        self.waitq.wake(POLLIN)
        return 8

    def poll(self) -> int:
        mask = 0
        count = self.count
        if count:
            mask |= POLLIN | POLLRDNORM
        if count == ULLONG_MAX:
            mask |= POLLERR
        if ULLONG_MAX - 1 > count:
            mask |= POLLOUT | POLLWRNORM
        return mask


# timerfd -------------------------------------------------------------------------------
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
# The host clock each timerfd clock reads (the alarm clocks are their base clocks: nothing
# here suspends).
HOST_CLOCK = {
    CLOCK_REALTIME: time.CLOCK_REALTIME,
    CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
    CLOCK_BOOTTIME: time.CLOCK_BOOTTIME,
    CLOCK_REALTIME_ALARM: time.CLOCK_REALTIME,
    CLOCK_BOOTTIME_ALARM: time.CLOCK_BOOTTIME,
}
NS = 1_000_000_000


class TimerFd(AnonFile):
    """fs/timerfd.c on the supervisor's timers. Times are integer nanoseconds on the
    host's CLOCK_MONOTONIC (an absolute time on another clock is converted when set).

    As Linux: an expiry counts one tick and wakes readers; a periodic timer is not rearmed
    until it is read (or gettime/settime look at it), which then counts the periods that
    passed meanwhile (hrtimer_forward_now)."""

    anon_name = b"[timerfd]"

    def __init__(self, kernel: Kernel, clockid: int, flags: int) -> None:
        super().__init__(flags)
        self.kernel = kernel
        self.clockid = clockid
        self.ticks = 0
        self.expired = False
        self.deadline = 0  # monotonic ns of the next expiry; 0: disarmed
        self.interval = 0
        self.handle: int | None = None

    # the supervisor's timer ---------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        if not self.deadline:
            return
        delay = max(0, self.deadline - time.monotonic_ns()) / NS
        self.handle = self.kernel.add_timer(delay, self._fire)

    def _disarm(self) -> None:
        if self.handle is not None:
            self.kernel.cancel_timer(self.handle)
            self.handle = None

    def _fire(self) -> None:
        self.handle = None
        if time.monotonic_ns() < self.deadline:
            self._arm()  # woke early (millisecond rounding): wait for the rest
            return
        self.ticks += 1
        self.expired = True
        if not self.interval:
            self.deadline = 0
        self.waitq.wake(POLLIN)

    def _forward(self) -> None:
        """A periodic timer that expired: count the periods since, and rearm it."""
        if self.expired and self.interval:
            now = time.monotonic_ns()
            periods = (now - self.deadline) // self.interval + 1
            self.ticks += periods - 1
            self.deadline += periods * self.interval
            self.expired = False
            self._arm()

    # the calls --------------------------------------------------------------------------
    def settime(self, absolute: bool, value_ns: int, interval_ns: int) -> tuple[int, int]:
        """Set the timer; the old (remaining, interval) in nanoseconds."""
        self._forward()
        old = self.gettime()
        self._disarm()
        self.ticks = 0
        self.expired = False
        self.interval = interval_ns
        if not value_ns:
            self.deadline = 0
            self.interval = 0
        elif absolute:
            now = time.clock_gettime_ns(HOST_CLOCK[self.clockid])
            self.deadline = time.monotonic_ns() + (value_ns - now)
        else:
            self.deadline = time.monotonic_ns() + value_ns
        if self.deadline and self.deadline <= time.monotonic_ns():
            self._fire()  # already due: expires now, as hrtimer_start of a past time
        else:
            self._arm()
        return old

    def gettime(self) -> tuple[int, int]:
        self._forward()
        if not self.deadline or self.expired:
            return 0, self.interval
        return max(0, self.deadline - time.monotonic_ns()), self.interval

    def read(self, size: int) -> bytes:
        if size < 8:
            raise KernelError(errno.EINVAL, "timerfd read of fewer than 8 bytes")
        if self.ticks:
            self._forward()
        else:
            if self.nonblock():
                raise KernelError(errno.EAGAIN, "timer has not expired")
            raise WouldBlock("read of a timerfd before it expires")
        ticks, self.ticks = self.ticks, 0
        self.expired = False
        return U64.pack(ticks)

    def write(self, data: bytes) -> int:
        raise KernelError(errno.EINVAL, "write to a timerfd")

    def poll(self) -> int:
        return POLLIN | POLLRDNORM if self.ticks else 0

    def ioctl(self, request: int, arg: int, task: Any) -> int:
        raise KernelError(errno.ENOTTY, f"ioctl {request:#x} on a timerfd")

    def release(self) -> None:
        self._disarm()


# signalfd ------------------------------------------------------------------------------
# While a caller waits for a signalfd, look at the pending signals again this often: signals
# from outside the sandbox's own calls (the terminal, alarm, setitimer and POSIX timers the
# host runs, other host processes; also kill and tgkill, which the host runs after our
# answer, usually after the loop's retry) reach the host's queues without telling us.
SIGNAL_RECHECK = 0.01


class SignalFd(AnonFile):
    """fs/signalfd.c over the host's signal queues.

    Signals are queued and delivered by the host, so the model cannot dequeue one. A
    signalfd's read acts on the signals of the *reading* thread, not of its creator, so the
    supervisor makes the real signalfd itself (``host_copy``, sharing this description's
    mask and O_NONBLOCK) and read/readv run on the host (``host_reads``) on a copy of it in
    the reader's fd table at the model's number: the host dequeues the caller's signal with
    its exact siginfo, blocks, and ends with EINTR or restarts exactly as natively.

    The model keeps the mask (SIGKILL and SIGSTOP dropped, as do_signalfd4 does) for poll
    and fdinfo. Readiness is signalfd_poll's: POLLIN while a signal in the mask is pending
    for the polling thread (``kernel.current``) or its process, read from the host's
    /proc/TID/status (SigPnd | ShdPnd). It has no wait queue: epoll compares its readiness at
    each look; parked callers are retried after the sandbox's calls and exits (a child's
    exit queues SIGCHLD before we see it), and every SIGNAL_RECHECK seconds while they wait.
    """

    anon_name = b"[signalfd]"
    host_reads = True

    def __init__(self, kernel: Kernel, host_copy: int, mask: int, flags: int) -> None:
        self.host_copy = host_copy
        super().__init__(flags)
        self.kernel = kernel
        self.mask = mask
        self.recheck: int | None = None  # the kernel timer while callers wait

    @property
    def flags(self) -> int:
        return self._flags

    @flags.setter
    def flags(self, value: int) -> None:
        # F_SETFL and FIONBIO change the description: the host's reads must see O_NONBLOCK.
        old = self.__dict__.get("_flags", value)
        self._flags = value
        if (old ^ value) & O_NONBLOCK:
            fcntl.fcntl(self.host_copy, fcntl.F_SETFL, value & O_NONBLOCK)

    def read(self, size: int) -> bytes:
        # Only read and readv reach the signals (on the host); signalfd_fops has no
        # splice_read, so splice and sendfile fail with EINVAL.
        raise KernelError(errno.EINVAL, "a signalfd is read only by read and readv")

    def write(self, data: bytes) -> int:
        raise KernelError(errno.EINVAL, "write to a signalfd")  # no write op: EINVAL

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        return ()

    def poll(self) -> int:
        task = self.kernel.current
        if task is None:
            return 0
        masks = host_signal_masks(task.tid)
        pending = masks.get(b"SigPnd", 0) | masks.get(b"ShdPnd", 0)
        return POLLIN if pending & self.mask else 0

    def arm_wakeup(self, kernel: object, events: int) -> None:
        if self.recheck is None:
            self.recheck = self.kernel.add_timer(SIGNAL_RECHECK, self._rechecked)

    def _rechecked(self) -> None:
        self.recheck = None  # the loop retries the parked calls; those still waiting re-arm

    def fdinfo(self) -> bytes:
        return b"sigmask:\t%016x\n" % self.mask  # signalfd_show_fdinfo

    def release(self) -> None:
        if self.recheck is not None:
            self.kernel.cancel_timer(self.recheck)
            self.recheck = None
        os.close(self.host_copy)
