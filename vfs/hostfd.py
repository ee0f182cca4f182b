"""An open file over a host file descriptor: the supervisor's stdio, /dev/tty, hostfs files.

The host fd is used as it is: reads and writes go to the host kernel and its errors come
back with the same errno (ESPIPE for pread on a pipe, EBADF for reading a write-only fd).
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import stat as st
import struct
from typing import TYPE_CHECKING, Protocol, cast

from compatd.errors import KernelError
from vfs.base import POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, Inode, OpenFile, Stat
from vfs.common import host_error, host_errors, stat_from_host

if TYPE_CHECKING:
    from compatd.platform.base import Memory

TCGETS = 0x5401
TCSETS = 0x5402
TCSETSW = 0x5403
TCSETSF = 0x5404
TIOCGPGRP = 0x540F
TIOCSPGRP = 0x5410
TIOCGSID = 0x5429
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
FIONREAD = 0x541B

# The kernel's struct termios (not glibc's 60-byte one): 4 flag words, c_line and 19 c_cc
# bytes. glibc's tcgetattr passes a 36-byte struct __kernel_termios, so writing more would
# overrun the caller's buffer.
KERNEL_TERMIOS_SIZE = 36

# request -> (argument size, True if the kernel writes it to the caller)
_TTY_IOCTLS: dict[int, tuple[int, bool]] = {
    TCGETS: (KERNEL_TERMIOS_SIZE, True),
    TCSETS: (KERNEL_TERMIOS_SIZE, False),
    TCSETSW: (KERNEL_TERMIOS_SIZE, False),
    TCSETSF: (KERNEL_TERMIOS_SIZE, False),
    TIOCGWINSZ: (8, True),
    TIOCSWINSZ: (8, False),
    TIOCGPGRP: (4, True),
    # Job control: shells make their jobs the terminal's foreground group. The model's
    # process groups are the host's (setpgid/setsid run on the host after the model's
    # checks), and the host only accepts a group of the terminal's session.
    TIOCSPGRP: (4, False),
    TIOCGSID: (4, True),
}


class _TaskLike(Protocol):
    mem: Memory


class _KernelLike(Protocol):
    def watch_host_fd(self, fd: int, events: int, callback: object) -> None: ...

    def unwatch_host_fd(self, fd: int) -> None: ...


# Host fds the loop watches for parked callers: fd -> poll events. A watch is one-shot:
# once the fd is ready it is dropped and parked calls are retried; a caller that still
# waits arms it again (so a caller that went away leaves at most one wakeup behind, and a
# ready fd nobody waits for does not keep waking the loop).
_ARMED: dict[int, int] = {}
DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM


class HostFdFile(OpenFile):
    """A host fd as an open file description; it closes the fd on release only if it
    ``owns`` it. The host fd's own offset is the description's offset."""

    def __init__(self, fd: int, flags: int, inode: Inode | None = None, *,
                 owns: bool = False) -> None:
        super().__init__(inode, flags)
        self.fd = fd
        self.owns = owns

    def host_fd(self) -> int | None:
        """The host fd (for mmap, and for the loop to poll)."""
        return self.fd

    # data -------------------------------------------------------------------------------
    # The data methods are on every read and write: plain try/except, no context manager.
    def read(self, size: int) -> bytes:
        try:
            return os.read(self.fd, size)
        except OSError as e:
            raise host_error(e, "read") from None

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.fd, data)
        except OSError as e:
            raise host_error(e, "write") from None

    def pread(self, size: int, offset: int) -> bytes:
        try:
            return os.pread(self.fd, size, offset)
        except OSError as e:
            raise host_error(e, "pread") from None

    def pwrite(self, data: bytes, offset: int) -> int:
        try:
            return os.pwrite(self.fd, data, offset)
        except OSError as e:
            raise host_error(e, "pwrite") from None

    def seek(self, offset: int, whence: int) -> int:
        try:
            self.pos = os.lseek(self.fd, offset, whence)
        except OSError as e:
            raise host_error(e, "lseek") from None
        return self.pos

    def size(self) -> int:
        try:
            return os.fstat(self.fd).st_size
        except OSError as e:
            raise host_error(e, "fstat") from None

    def stat(self) -> Stat:
        if self.inode is not None:
            return self.inode.stat()
        try:
            s = os.fstat(self.fd)
        except OSError as e:
            raise host_error(e, "fstat") from None
        return stat_from_host(s, s.st_dev, s.st_ino)

    def fsync(self) -> None:
        with host_errors("fsync"):
            os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        with host_errors("ftruncate"):
            os.ftruncate(self.fd, size)

    # readiness -------------------------------------------------------------------------
    def poll(self) -> int:
        """The host's answer for the host fd, without waiting; a regular file or directory
        has no poll of its own (always ready)."""
        if not self.can_poll():
            return DEFAULT_POLLMASK
        p = select.poll()
        p.register(self.fd, select.POLLIN | select.POLLPRI | select.POLLOUT | POLLRDNORM
                   | POLLWRNORM | select.POLLRDHUP)
        try:
            ready = p.poll(0)
        except OSError as e:
            raise host_error(e, "poll") from None
        return ready[0][1] if ready else 0

    def can_poll(self) -> bool:
        try:
            s = os.fstat(self.fd)
        except OSError:
            return False
        mode = s.st_mode
        if st.S_ISCHR(mode) and os.major(s.st_rdev) == 1 and os.minor(s.st_rdev) in (3, 5, 7):
            return False  # /dev/null, /dev/zero, /dev/full have no poll either
        return not (st.S_ISREG(mode) or st.S_ISDIR(mode))

    def arm_wakeup(self, kernel: object, events: int) -> None:
        fd = self.fd
        k = cast(_KernelLike, kernel)
        want = _ARMED.get(fd, 0) | events
        if want == _ARMED.get(fd):
            return

        def fired() -> None:
            _ARMED.pop(fd, None)
            k.unwatch_host_fd(fd)

        _ARMED[fd] = want
        k.watch_host_fd(fd, want, fired)

    # control ----------------------------------------------------------------------------
    def readable_bytes(self) -> int:
        with host_errors("FIONREAD"):
            return int(struct.unpack("i", fcntl.ioctl(self.fd, FIONREAD, bytes(4)))[0])

    def ioctl(self, request: int, arg: int, task: object) -> int:
        """Terminal ioctls are forwarded to the host terminal; ENOTTY on anything else."""
        mem = cast(_TaskLike, task).mem
        if request == FIONREAD:
            mem.write(arg, struct.pack("i", self.readable_bytes()))
            return 0
        spec = _TTY_IOCTLS.get(request)
        if spec is None or not os.isatty(self.fd):
            raise KernelError(errno.ENOTTY, f"ioctl {request:#x} on a non-terminal")
        size, out = spec
        if out:
            with host_errors(f"ioctl {request:#x}"):
                data = fcntl.ioctl(self.fd, request, bytes(size))
            mem.write(arg, data)
        else:
            data = mem.read(arg, size)
            with host_errors(f"ioctl {request:#x}"):
                fcntl.ioctl(self.fd, request, data)
        return 0

    def release(self) -> None:
        if self.owns:
            os.close(self.fd)
