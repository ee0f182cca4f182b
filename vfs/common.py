"""Pieces shared by the filesystems: open-file bases, the directory file, host error mapping."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable

from compatd.errors import KernelError
from vfs.base import DirEntry, Inode, OpenFile, Stat, dtype_of
from vfs.flags import readable, writable


def now_ns() -> int:
    return time.time_ns()


class TimesInMemory:
    """``set_times`` for an inode that keeps its times itself (``atime_ns``, ``mtime_ns``,
    ``ctime_ns``): the times given (None: unchanged), and the change time is now, as
    utimensat sets it. Put it before ``Inode`` in the bases."""

    __slots__ = ()
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        if atime_ns is not None:
            self.atime_ns = atime_ns
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns
        self.ctime_ns = now_ns()


def host_error(e: OSError, why: str) -> KernelError:
    """The ``KernelError`` for a host ``OSError``: the same errno (the host is Linux too).

    Hot paths catch ``OSError`` themselves and call this, so the message is only built
    when something failed."""
    return KernelError(e.errno or errno.EIO, f"{why}: {e.strerror}")


class host_errors:  # noqa: N801 - used like the function it replaced: ``with host_errors(...)``
    """Context manager: a host ``OSError`` inside becomes the same errno for the tracee.

    A class with slots, not ``@contextmanager``: a generator context manager costs about
    2 µs per use, this a fraction of that."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: object) -> bool:
        if e is not None and isinstance(e, OSError):
            raise host_error(e, self.why) from None
        return False


def stat_from_host(s: os.stat_result, dev: int, ino: int) -> Stat:
    """A ``Stat`` from a host ``stat_result``, with the identity the VFS chooses.

    Positional arguments, in ``Stat``'s field order: half the cost of keywords, and this
    runs for every hostfs stat."""
    return Stat(dev, ino, s.st_mode, s.st_nlink, s.st_uid, s.st_gid, s.st_rdev, s.st_size,
                s.st_blksize, s.st_blocks, s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns)


SIGNAL_MASK_LINES = (b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn", b"SigCgt")


def host_signal_masks(tid: int) -> dict[bytes, int]:
    """The signal sets of host task ``tid`` from its /proc/TID/status: pending for the
    thread (SigPnd) and for its process (ShdPnd), blocked, ignored, caught. Signals stay
    with the host, so these are the truth; {} once the task is gone."""
    masks: dict[bytes, int] = {}
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                name, _, value = line.partition(b":")
                if name in SIGNAL_MASK_LINES:
                    masks[name] = int(value, 16)
    except (OSError, ValueError):
        pass
    return masks


class FileBase(OpenFile):
    """An open file whose data methods check the access mode first.

    Linux fails read(2) on a description opened without FMODE_READ (and write(2) without
    FMODE_WRITE) with EBADF before looking at the file; subclasses implement ``read_at`` and
    ``write_at`` and never see a call the access mode forbids.
    """

    def pread(self, size: int, offset: int) -> bytes:
        if not readable(self.flags):
            raise KernelError(errno.EBADF, "file not open for reading")
        if offset < 0:
            raise KernelError(errno.EINVAL, "negative offset")
        return self.read_at(size, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        if not writable(self.flags):
            raise KernelError(errno.EBADF, "file not open for writing")
        if offset < 0:
            raise KernelError(errno.EINVAL, "negative offset")
        return self.write_at(data, offset)

    def read_at(self, size: int, offset: int) -> bytes:
        raise KernelError(errno.EINVAL, "read not supported")

    def write_at(self, data: bytes, offset: int) -> int:
        raise KernelError(errno.EINVAL, "write not supported")


class DirFile(OpenFile):
    """An open directory of any filesystem: the listing is the inode's ``readdir``.

    The listing is taken when the offset is 0 (open, rewinddir) and kept while getdents64
    pages through it by ``pos``, so entries do not shift under a reader, as with Linux's
    cursor-based dcache_readdir.
    """

    def __init__(self, inode: Inode, flags: int) -> None:
        super().__init__(inode, flags)
        self._entries: list[DirEntry] | None = None

    def readdir(self) -> list[DirEntry]:
        if self._entries is None or self.pos == 0:
            self._entries = self._listing()
        return self._entries

    def _listing(self) -> list[DirEntry]:
        assert self.inode is not None
        me = self.inode.ino
        parent = me
        d = self.dentry
        # ".." of a mount root names the root itself, as Linux's parent_ino() does: d_parent
        # never leaves the filesystem.
        if d is not None and d.parent is not None and d.parent.mount is d.mount:
            parent = d.parent.inode.ino
        dt = dtype_of(0o040000)
        return [DirEntry(b".", me, dt), DirEntry(b"..", parent, dt), *self.children()]

    def children(self) -> Iterable[DirEntry]:
        """The entries other than ``.`` and ``..``, now."""
        assert self.inode is not None
        return self.inode.readdir()

    def pread(self, size: int, offset: int) -> bytes:
        raise KernelError(errno.EISDIR, "read of a directory")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise KernelError(errno.EBADF, "directory not open for writing")

    def readable_bytes(self) -> int:
        return 0
