"""Files on the anonymous inode (Linux's anon_inodefs): eventfd and timerfd objects.

All of them share one inode, as on Linux: ``fstat`` shows mode 0600 without a file type,
and /proc/PID/fd/N reads ``anon_inode:[eventfd]`` (``anon_name``). Readiness (``poll``) and
wakeups (``WaitQueue``) follow fs/eventfd.c and fs/timerfd.c; a read or write that must
wait raises ``WouldBlock`` and the kernel loop retries it after something changed (a write
from another task, a timer).
"""

from __future__ import annotations

import errno
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
