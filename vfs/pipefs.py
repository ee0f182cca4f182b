"""pipefs: pipes and FIFOs, with Linux's capacity and atomicity rules (fs/pipe.c).

A ``Pipe`` is the shared buffer; ``PipeEnd`` is an open file description of one end. An
anonymous pipe (pipe/pipe2) has its own inode in the pipefs instance; a FIFO in any other
filesystem (mknod S_IFIFO) is connected to the one ``Pipe`` kept for its inode while any end
is open (``open_fifo``), so two opens of one path meet.

Rules, as Linux:
- the capacity is 16 pages (65536 bytes); F_SETPIPE_SZ rounds up to a power-of-two number
  of pages, refuses less than what the pipe holds (EBUSY) and, without CAP_SYS_RESOURCE
  (fsuid 0 stands for it), more than /proc/sys/fs/pipe-max-size (EPERM);
- data sits in page buffers, one slot each: a write of at most PIPE_BUF (4096) bytes is
  atomic (it merges into the newest page or takes one whole slot), a larger one writes
  what fits;
- writing with no reader is EPIPE plus SIGPIPE (``BrokenPipe``); reading with no writer and
  nothing buffered is end of file;
- with O_NONBLOCK what would block is EAGAIN; without it the call raises ``WouldBlock`` and
  the kernel loop parks the task and retries it when something else has happened. A large
  blocking write that made progress resumes where it stopped (its ``retry``).

Packet mode (O_DIRECT) and notification pipes are not modelled.
"""

from __future__ import annotations

import errno
import stat as st
import struct
from collections import deque
from functools import cache, partial
from typing import Any

from compatd.errors import BrokenPipe, KernelError, WouldBlock
from vfs.base import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    Filesystem,
    Inode,
    OpenFile,
    Stat,
    StatFs,
    WaitQueue,
)
from vfs.common import now_ns
from vfs.flags import O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY

PIPEFS_MAGIC = 0x50495045
PAGE_SIZE = 4096
PIPE_BUF = 4096
PIPE_DEF_BUFFERS = 16
DEFAULT_PIPE_SIZE = PIPE_DEF_BUFFERS * PAGE_SIZE
PIPE_MAX_SIZE = 1048576  # /proc/sys/fs/pipe-max-size
FIONREAD = 0x541B


class PipeFS(Filesystem):
    name = "pipefs"
    magic = PIPEFS_MAGIC


PIPEFS = PipeFS()


CAP_SYS_RESOURCE = 24


@cache
def host_has_cap(cap: int) -> bool:
    """Whether the supervisor itself holds capability ``cap``: a sandboxed root gets no more
    than the host granted us (in a container root often lacks CAP_SYS_RESOURCE)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return False


def round_pipe_size(size: int) -> int:
    """A size rounded up to a power-of-two number of pages (0 if absurd)."""
    if size > 1 << 31:
        return 0
    pages = max(1, (size + PAGE_SIZE - 1) // PAGE_SIZE)
    return (1 << (pages - 1).bit_length()) * PAGE_SIZE


class Pipe:
    """The buffer both ends share, and who has it open.

    As Linux, the data sits in page buffers (``capacity`` / 4096 slots): a write first
    merges its last partial page into the newest buffer if that fits, then fills new pages;
    a buffer's slot is free again once read empty. So odd-sized writes hold fewer than
    ``capacity`` bytes, exactly as natively."""

    __slots__ = ("bufs", "capacity", "readers", "writers", "r_counter", "w_counter",
                 "fifo_key", "rd_wait", "wr_wait")

    def __init__(self, fifo_key: tuple[int, int] | None = None) -> None:
        # Each buffer: [the unread bytes, end offset of the data within its page].
        self.bufs: deque[list[Any]] = deque()
        self.capacity = DEFAULT_PIPE_SIZE
        self.readers = 0
        self.writers = 0
        # Opens of each kind so far: a blocked FIFO open waits for the other kind to change.
        self.r_counter = 0
        self.w_counter = 0
        self.fifo_key = fifo_key
        # Wakeups for epoll: readers hear of data and of closes, writers of room and closes.
        self.rd_wait = WaitQueue()
        self.wr_wait = WaitQueue()

    def full(self) -> bool:
        """Every slot holds a page (pipe_full): no POLLOUT."""
        return len(self.bufs) >= self.capacity // PAGE_SIZE

    def buffered(self) -> int:
        return sum(len(b[0]) for b in self.bufs)

    def clear(self) -> None:
        self.bufs.clear()

    # data -------------------------------------------------------------------------------
    def read(self, size: int, nonblock: bool) -> bytes:
        """pipe_read: what is buffered, up to ``size``, across buffers."""
        if size == 0:
            return b""
        bufs = self.bufs
        if not bufs:
            if not self.writers:
                return b""
            if nonblock:
                raise KernelError(errno.EAGAIN, "pipe empty")
            raise WouldBlock("read of an empty pipe")
        was_full = self.full()
        out = bytearray()
        while bufs and len(out) < size:
            page = bufs[0][0]
            take = page[: size - len(out)]
            out += take
            del page[: len(take)]
            if not page:
                bufs.popleft()
        if was_full and self.wr_wait.entries:
            self.wr_wait.wake(POLLOUT | POLLWRNORM)
        return bytes(out)

    def write(self, data: bytes, nonblock: bool) -> int:
        """pipe_write: EPIPE without readers, the merge into the newest page, then pages."""
        if not data:
            return 0
        if not self.readers:
            raise BrokenPipe("write to a pipe without readers")
        done = 0
        chars = len(data) & (PAGE_SIZE - 1)
        bufs = self.bufs
        if chars and bufs and bufs[-1][1] + chars <= PAGE_SIZE:
            last = bufs[-1]
            last[0] += data[:chars]
            last[1] += chars
            done = chars
            if done == len(data):
                if self.rd_wait.entries:
                    self.rd_wait.wake(POLLIN | POLLRDNORM)
                return done
        return self._fill(memoryview(data)[done:], nonblock, done)

    def _fill(self, data: memoryview, nonblock: bool, done: int) -> int:
        """Fill free slots; readers hear of the data on every return, as pipe_write wakes
        them once the pipe has been polled."""
        before = len(self.bufs)
        try:
            return self._fill_slots(data, nonblock, done)
        finally:
            if self.rd_wait.entries and (len(self.bufs) > before or done):
                self.rd_wait.wake(POLLIN | POLLRDNORM)

    def _fill_slots(self, data: memoryview, nonblock: bool, done: int) -> int:
        pos = 0
        slots = self.capacity // PAGE_SIZE
        bufs = self.bufs
        while True:
            if not self.readers:
                if done:
                    return done  # what went in; SIGPIPE is still due (not modelled here)
                raise BrokenPipe("write to a pipe without readers")
            while len(bufs) < slots:
                chunk = bytes(data[pos : pos + PAGE_SIZE])
                bufs.append([bytearray(chunk), len(chunk)])
                pos += len(chunk)
                done += len(chunk)
                if pos == len(data):
                    return done
            if nonblock:
                if done:
                    return done
                raise KernelError(errno.EAGAIN, "pipe full")
            raise WouldBlock("write to a full pipe", partial(self._fill, data[pos:], False, done))

    def set_size(self, size: int, privileged: bool) -> int:
        """pipe_set_size: EINVAL (absurd), EPERM (past pipe-max-size unprivileged), EBUSY
        (fewer slots than the buffers in use)."""
        new = round_pipe_size(size)
        if not new:
            raise KernelError(errno.EINVAL, f"pipe size {size}")
        if new > PIPE_MAX_SIZE and not privileged:
            raise KernelError(errno.EPERM, "pipe size beyond pipe-max-size")
        if new // PAGE_SIZE < len(self.bufs):
            raise KernelError(errno.EBUSY, "pipe holds more than the new size")
        self.capacity = new
        return new


class PipeInode(Inode):
    """The inode of an anonymous pipe: S_IFIFO, 0600, owned by its creator."""

    __slots__ = ("uid", "gid", "atime_ns", "mtime_ns", "ctime_ns")

    def __init__(self, uid: int, gid: int) -> None:
        super().__init__(PIPEFS, PIPEFS.new_ino())
        self.uid = uid
        self.gid = gid
        self.atime_ns = self.mtime_ns = self.ctime_ns = now_ns()

    def stat(self) -> Stat:
        return Stat(dev=PIPEFS.dev, ino=self.ino, mode=st.S_IFIFO | 0o600, nlink=1,
                    uid=self.uid, gid=self.gid, blksize=PAGE_SIZE, atime_ns=self.atime_ns,
                    mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns)

    def chmod(self, mode: int) -> None:
        return None

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        if atime_ns is not None:
            self.atime_ns = atime_ns
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns


class PipeEnd(OpenFile):
    """An open end of a pipe (O_RDONLY, O_WRONLY, or both for a FIFO opened O_RDWR)."""

    seekable = False

    def __init__(self, pipe: Pipe, inode: Inode, flags: int) -> None:
        super().__init__(inode, flags)
        self.pipe = pipe
        acc = flags & O_ACCMODE
        self.reads = acc in (O_RDONLY, O_RDWR)
        self.writes = acc in (O_WRONLY, O_RDWR)
        # fifo_open's f_pipe: a FIFO reader opened O_NONBLOCK before any writer sees no
        # POLLHUP until a writer has come (and gone).
        self.hup_after = (pipe.w_counter if pipe.fifo_key is not None and not self.writes
                          and not pipe.writers and flags & O_NONBLOCK else -1)
        if (self.reads and not pipe.readers) or (self.writes and not pipe.writers):
            pipe.rd_wait.wake()  # wake_up_partner
        if self.reads:
            pipe.readers += 1
            pipe.r_counter += 1
        if self.writes:
            pipe.writers += 1
            pipe.w_counter += 1

    def read(self, size: int) -> bytes:
        if not self.reads:
            raise KernelError(errno.EBADF, "read of a pipe's write end")
        return self.pipe.read(size, bool(self.flags & O_NONBLOCK))

    def write(self, data: bytes) -> int:
        if not self.writes:
            raise KernelError(errno.EBADF, "write to a pipe's read end")
        return self.pipe.write(data, bool(self.flags & O_NONBLOCK))

    def readable_bytes(self) -> int:
        return self.pipe.buffered()

    def poll(self) -> int:
        """pipe_poll: data is POLLIN, a free slot POLLOUT; a read end without writers
        POLLHUP, a write end without readers POLLERR."""
        pipe = self.pipe
        mask = 0
        if self.reads:
            if pipe.bufs:
                mask |= POLLIN | POLLRDNORM
            if not pipe.writers and pipe.w_counter != self.hup_after:
                mask |= POLLHUP
        if self.writes:
            if not pipe.full():
                mask |= POLLOUT | POLLWRNORM
            if not pipe.readers:
                mask |= POLLERR
        return mask

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        pipe = self.pipe
        if self.reads and self.writes:
            return (pipe.rd_wait, pipe.wr_wait)
        return (pipe.rd_wait,) if self.reads else (pipe.wr_wait,)

    def ioctl(self, request: int, arg: int, task: Any) -> int:
        if request == FIONREAD:
            task.mem.write(arg, struct.pack("<i", self.pipe.buffered()))
            return 0
        raise KernelError(errno.ENOTTY, f"ioctl {request:#x} on a pipe")

    def statfs(self) -> tuple[StatFs, int]:
        """fstatfs of an anonymous pipe answers for pipefs; a FIFO for its filesystem."""
        if self.dentry is not None:
            from vfs.ops import statfs_dentry

            return statfs_dentry(self.dentry), self.dentry.mount.fs.dev
        return PIPEFS.statfs(), PIPEFS.dev

    def release(self) -> None:
        pipe = self.pipe
        if self.reads:
            pipe.readers -= 1
        if self.writes:
            pipe.writers -= 1
        if (not pipe.readers) != (not pipe.writers):
            # One side is gone: both sides hear it (POLLHUP, POLLERR), as pipe_release.
            pipe.rd_wait.wake()
            pipe.wr_wait.wake()
        if not pipe.readers and not pipe.writers:
            pipe.clear()  # Linux frees a FIFO's buffer with its last opener
            if pipe.fifo_key is not None:
                _FIFOS.pop(pipe.fifo_key, None)


def make_pipe(uid: int, gid: int, flags: int) -> tuple[PipeEnd, PipeEnd]:
    """pipe2: a new pipe's read and write ends (``flags`` may hold O_NONBLOCK)."""
    inode = PipeInode(uid, gid)
    # Registered as a FIFO under its inode: reopening /proc/self/fd/N of a pipe goes through
    # fifo_open on the same pipe (Linux keeps it in inode->i_pipe), not a new empty one.
    pipe = _FIFOS[inode.key] = Pipe(inode.key)
    extra = flags & O_NONBLOCK
    return PipeEnd(pipe, inode, O_RDONLY | extra), PipeEnd(pipe, inode, O_WRONLY | extra)


# FIFOs: named pipes in other filesystems ------------------------------------------------
_FIFOS: dict[tuple[int, int], Pipe] = {}


def open_fifo(inode: Inode, flags: int) -> OpenFile:
    """fifo_open: read-only waits for a writer (O_NONBLOCK: opens at once), write-only waits
    for a reader (O_NONBLOCK: ENXIO), read-write never waits. A waiting open raises
    ``WouldBlock`` whose ``retry`` gives the open file once the other side came (or came
    and went: the counters tell)."""
    key = inode.key
    pipe = _FIFOS.get(key)
    if pipe is None:
        pipe = _FIFOS[key] = Pipe(key)
    acc = flags & O_ACCMODE
    nonblock = bool(flags & O_NONBLOCK)
    if inode.fs is PIPEFS:
        # An anonymous pipe reopened through /proc/self/fd/N never waits for a partner
        # (fifo_open's is_pipe): it opens at once, whoever still holds the other end.
        return PipeEnd(pipe, inode, flags)
    if acc == O_RDONLY and not pipe.writers and not nonblock:
        return _wait(pipe, inode, flags, True)
    if acc == O_WRONLY and not pipe.readers:
        if nonblock:
            if not pipe.writers:
                _FIFOS.pop(key, None)
            raise KernelError(errno.ENXIO, "FIFO opened for writing without readers")
        return _wait(pipe, inode, flags, False)
    return PipeEnd(pipe, inode, flags)


def _wait(pipe: Pipe, inode: Inode, flags: int, reading: bool) -> OpenFile:
    """Block an open until the other side opens. The waiting opener already counts as a
    reader (writer), so the other side's open succeeds at once and wakes it, as Linux's
    wake_up_partner; it waits for the other side's counter to move."""
    if reading:
        pipe.readers += 1
        pipe.r_counter += 1
        counter, seen = "w_counter", pipe.w_counter
    else:
        pipe.writers += 1
        pipe.w_counter += 1
        counter, seen = "r_counter", pipe.r_counter

    def retry() -> OpenFile:
        if getattr(pipe, counter) == seen:
            raise WouldBlock("FIFO open waits for the other side", retry)
        # Stop counting as a waiting opener; the PipeEnd counts itself.
        if reading:
            pipe.readers -= 1
            pipe.r_counter -= 1
        else:
            pipe.writers -= 1
            pipe.w_counter -= 1
        return PipeEnd(pipe, inode, flags)

    raise WouldBlock("FIFO open waits for the other side", retry)


def pipe_of(f: OpenFile) -> Pipe | None:
    return f.pipe if isinstance(f, PipeEnd) else None

