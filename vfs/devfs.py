"""devfs: the /dev a program expects, served by us (devtmpfs's f_type).

null, zero, full, random, urandom and tty are character devices with Linux's numbers; fd,
stdin, stdout and stderr are symlinks into /proc/self/fd; pts and shm are empty
directories (mount a tmpfs on /dev/shm for POSIX shared memory). Nothing can be created
or removed here: the Inode defaults answer EPERM.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Callable, Iterator

from compatd.errors import KernelError, Unsupported
from vfs.base import DirEntry, Filesystem, Inode, OpenFile, Stat, dtype_of
from vfs.common import DirFile, FileBase, TimesInMemory, now_ns
from vfs.flags import O_ACCMODE, O_RDONLY, O_WRONLY
from vfs.hostfd import HostFdFile

DEVFS_MAGIC = 0x1373  # TMPFS_MAGIC's cousin: what statfs on a devtmpfs /dev reports


class DevInode(TimesInMemory, Inode):
    """A device or directory of devfs. touch(1) on /dev/null works on Linux: the times
    change, nothing else does."""

    __slots__ = ("imode", "rdev", "atime_ns", "mtime_ns", "ctime_ns")

    fs: DevFS

    def __init__(self, fs: DevFS, mode: int, rdev: int = 0) -> None:
        super().__init__(fs, fs.new_ino())
        self.imode = mode
        self.rdev = rdev
        self.atime_ns = self.mtime_ns = self.ctime_ns = fs.created_ns

    @property
    def mode(self) -> int:
        return self.imode

    def nlink(self) -> int:
        return 1

    def size(self) -> int:
        return 0

    def stat(self) -> Stat:
        return Stat(dev=self.fs.dev, ino=self.ino, mode=self.imode, nlink=self.nlink(),
                    rdev=self.rdev, size=self.size(), atime_ns=self.atime_ns,
                    mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns)

    # devtmpfs keeps xattrs; none is ever set here, and setting them is not modelled.
    def getxattr(self, name: bytes) -> bytes:
        raise KernelError(errno.ENODATA, f"no xattr {name!r}")

    def setxattr(self, name: bytes, value: bytes, flags: int) -> None:
        raise Unsupported(errno.EOPNOTSUPP, "xattrs on devfs")

    def removexattr(self, name: bytes) -> None:
        raise KernelError(errno.ENODATA, f"no xattr {name!r}")


class DevDir(DevInode):
    __slots__ = ("entries",)

    def __init__(self, fs: DevFS) -> None:
        super().__init__(fs, st.S_IFDIR | 0o755)
        self.entries: dict[bytes, DevInode] = {}

    def nlink(self) -> int:
        return 2 + sum(isinstance(i, DevDir) for i in self.entries.values())

    def size(self) -> int:
        return 20 * (len(self.entries) + 2)

    def lookup(self, name: bytes) -> Inode:
        try:
            return self.entries[name]
        except KeyError:
            raise KernelError(errno.ENOENT, f"no /dev/{name.decode(errors='replace')}") from None

    def readdir(self) -> Iterator[DirEntry]:
        for name, inode in self.entries.items():
            yield DirEntry(name, inode.ino, dtype_of(inode.imode))

    def open(self, flags: int) -> OpenFile:
        return DirFile(self, flags)


class DevSymlink(DevInode):
    __slots__ = ("target",)

    def __init__(self, fs: DevFS, target: bytes) -> None:
        super().__init__(fs, st.S_IFLNK | 0o777)
        self.target = target

    def size(self) -> int:
        return len(self.target)

    def readlink(self) -> bytes:
        return self.target


Opener = Callable[["DevChar", int], OpenFile]


class DevChar(DevInode):
    __slots__ = ("opener",)

    def __init__(self, fs: DevFS, major: int, minor: int, opener: Opener) -> None:
        super().__init__(fs, st.S_IFCHR | 0o666, os.makedev(major, minor))
        self.opener = opener

    def open(self, flags: int) -> OpenFile:
        return self.opener(self, flags)


class DevFile(FileBase):
    """A character device whose reads and writes are plain functions of the request."""

    def __init__(self, inode: Inode, flags: int, reader: Callable[[int], bytes],
                 writer: Callable[[bytes], int]) -> None:
        super().__init__(inode, flags)
        self.reader = reader
        self.writer = writer

    def read_at(self, size: int, offset: int) -> bytes:
        return self.reader(size)

    def write_at(self, data: bytes, offset: int) -> int:
        return self.writer(data)

    def fsync(self) -> None:
        raise KernelError(errno.EINVAL, "character device without fsync")

    def seek(self, offset: int, whence: int) -> int:
        # drivers/char/mem.c: null, zero and full seek to 0 whatever is asked (null_lseek);
        # random and urandom keep their position (noop_llseek).
        if self.reader is not os.urandom:
            self.pos = 0
        return self.pos


def _eof(size: int) -> bytes:
    return b""


def _swallow(data: bytes) -> int:
    return len(data)


def _no_space(data: bytes) -> int:
    raise KernelError(errno.ENOSPC, "/dev/full")


def _device(reader: Callable[[int], bytes], writer: Callable[[bytes], int]) -> Opener:
    return lambda inode, flags: DevFile(inode, flags, reader, writer)


def _open_tty(inode: DevChar, flags: int) -> OpenFile:
    """The supervisor's controlling terminal, or ENXIO when it has none (as Linux)."""
    acc = flags & O_ACCMODE
    host_acc = os.O_RDONLY if acc == O_RDONLY else os.O_WRONLY if acc == O_WRONLY else os.O_RDWR
    try:
        fd = os.open("/dev/tty", host_acc | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(errno.ENXIO, f"no controlling terminal: {e.strerror}") from None
    return HostFdFile(fd, flags, inode, owns=True)


class DevFS(Filesystem):
    name = "devfs"
    magic = DEVFS_MAGIC

    def __init__(self) -> None:
        super().__init__(readonly=False)
        self.created_ns = now_ns()
        root = self._root = DevDir(self)
        chars: list[tuple[bytes, int, int, Opener]] = [
            (b"null", 1, 3, _device(_eof, _swallow)),
            (b"zero", 1, 5, _device(bytes, _swallow)),
            (b"full", 1, 7, _device(bytes, _no_space)),
            (b"random", 1, 8, _device(os.urandom, _swallow)),
            (b"urandom", 1, 9, _device(os.urandom, _swallow)),
            (b"tty", 5, 0, _open_tty),
        ]
        for name, major, minor, opener in chars:
            root.entries[name] = DevChar(self, major, minor, opener)
        for name, target in ((b"fd", b"/proc/self/fd"), (b"stdin", b"/proc/self/fd/0"),
                             (b"stdout", b"/proc/self/fd/1"), (b"stderr", b"/proc/self/fd/2")):
            root.entries[name] = DevSymlink(self, target)
        for name in (b"pts", b"shm"):
            root.entries[name] = DevDir(self)

    @property
    def root(self) -> DevDir:
        return self._root
