"""tmpfs: a filesystem in memory.

File data sits in a host memfd behind ``TmpFile.read_data``/``write_data``/``resize``, so the
host can mmap it (a program copied into /tmp runs): the open file's ``host_fd()`` gives it, as
hostfs's open files do. The memfd is made on the first write (or ``host_fd()``), so empty
files cost no host fd, and closed when the inode object goes. An inode lives
as long as a directory entry or an open description references it, which is how an unlinked
file stays readable through its open descriptors.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Callable, Iterator

from compatd.errors import KernelError
from vfs.base import DirEntry, Filesystem, Inode, OpenFile, Stat, StatFs, dtype_of
from vfs.common import DirFile, FileBase, now_ns
from vfs.flags import RENAME_EXCHANGE, RENAME_NOREPLACE
from vfs.xattrs import SimpleXattrs

TMPFS_MAGIC = 0x01021994
_RELATIME_NS = 24 * 3600 * 10**9


class TmpFS(Filesystem):
    name = "tmpfs"
    magic = TMPFS_MAGIC

    def __init__(self, readonly: bool = False, mode: int = 0o1777, uid: int = 0,
                 gid: int = 0) -> None:
        super().__init__(readonly)
        self._next_ino = 1
        self.inodes = 0
        self.bytes_used = 0
        self._root = TmpDir(self, st.S_IFDIR | (mode & 0o7777), uid, gid)

    @property
    def root(self) -> TmpDir:
        return self._root

    def statfs(self) -> StatFs:
        # Linux sizes a tmpfs at half of RAM by default and counts pages and inodes used.
        try:
            total = os.sysconf("SC_PHYS_PAGES") // 2
        except (ValueError, OSError):
            total = 1 << 20
        used = (self.bytes_used + 4095) // 4096
        free = max(0, total - used)
        files = total
        return StatFs(type=self.magic, bsize=4096, blocks=total, bfree=free, bavail=free,
                      files=files, ffree=max(0, files - self.inodes), namelen=255,
                      frsize=4096)


class TmpInode(Inode):
    """Attributes every tmpfs inode keeps."""

    __slots__ = ("imode", "uid", "gid", "nlink", "rdev", "atime_ns", "mtime_ns", "ctime_ns",
                 "btime_ns", "xattrs")

    fs: TmpFS

    def __init__(self, fs: TmpFS, mode: int, uid: int, gid: int, rdev: int = 0) -> None:
        super().__init__(fs, fs.new_ino())
        fs.inodes += 1
        self.imode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = 1
        self.rdev = rdev
        t = now_ns()
        self.atime_ns = self.mtime_ns = self.ctime_ns = self.btime_ns = t
        self.xattrs: SimpleXattrs | None = None  # made by the first setxattr

    @property
    def mode(self) -> int:
        return self.imode

    def size(self) -> int:
        return 0

    def stat(self) -> Stat:
        size = self.size()
        return Stat(dev=self.fs.dev, ino=self.ino, mode=self.imode, nlink=self.nlink,
                    uid=self.uid, gid=self.gid, rdev=self.rdev, size=size, blksize=4096,
                    blocks=(size + 4095) // 4096 * 8, atime_ns=self.atime_ns,
                    mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns, btime_ns=self.btime_ns)

    def touch_change(self) -> None:
        self.ctime_ns = now_ns()

    def touch_modify(self) -> None:
        self.mtime_ns = self.ctime_ns = now_ns()

    def touch_access(self) -> None:
        # relatime, Linux's default: update atime only if it is older than mtime/ctime or
        # more than a day old.
        t = now_ns()
        if (self.atime_ns <= self.mtime_ns or self.atime_ns <= self.ctime_ns
                or t - self.atime_ns >= _RELATIME_NS):
            self.atime_ns = t

    def dropped_link(self) -> None:
        self.nlink -= 1
        self.touch_change()
        if self.nlink <= 0:
            self.fs.inodes -= 1

    # attributes -------------------------------------------------------------------------
    def chmod(self, mode: int) -> None:
        self.fs.check_writable()
        self.imode = st.S_IFMT(self.imode) | (mode & 0o7777)
        self.touch_change()

    def chown(self, uid: int, gid: int) -> None:
        self.fs.check_writable()
        if uid != -1:
            self.uid = uid
        if gid != -1:
            self.gid = gid
        self.touch_change()

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        self.fs.check_writable()
        if atime_ns is not None:
            self.atime_ns = atime_ns
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns
        self.touch_change()

    # extended attributes: every namespace, kept in memory (shmem's simple_xattrs) ---------
    def getxattr(self, name: bytes) -> bytes:
        if self.xattrs is None:
            raise KernelError(errno.ENODATA, f"no xattr {name!r}")
        return self.xattrs.get(name)

    def setxattr(self, name: bytes, value: bytes, flags: int) -> None:
        self.fs.check_writable()
        if self.xattrs is None:
            self.xattrs = SimpleXattrs()
        self.xattrs.set(name, value, flags)
        self.touch_change()

    def listxattr(self) -> list[bytes]:
        return [] if self.xattrs is None else self.xattrs.names()

    def removexattr(self, name: bytes) -> None:
        self.fs.check_writable()
        if self.xattrs is None:
            raise KernelError(errno.ENODATA, f"no xattr {name!r}")
        self.xattrs.remove(name)
        self.touch_change()


def _memfd_error(e: OSError, why: str) -> KernelError:
    """A host error on a memfd (ENOSPC, ENOMEM, EMFILE): the same errno for the tracee."""
    return KernelError(e.errno or errno.EIO, f"{why}: {e.strerror}")


class TmpFile(TmpInode):
    __slots__ = ("fd", "_size")

    def __init__(self, fs: TmpFS, mode: int, uid: int, gid: int) -> None:
        super().__init__(fs, st.S_IFREG | (mode & 0o7777), uid, gid)
        self.fd = -1  # the memfd, made when the file first needs data
        self._size = 0  # cached: only we change the size (mappings cannot grow a file)

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def size(self) -> int:
        return self._size

    # the data store: the only methods that know it is a memfd ----------------------------
    def memfd(self) -> int:
        """The host memfd holding the data (made now if the file has none yet)."""
        if self.fd < 0:
            try:
                self.fd = os.memfd_create(f"tmpfs:{self.ino}", os.MFD_CLOEXEC)
                if self._size:
                    os.ftruncate(self.fd, self._size)
            except OSError as e:
                raise _memfd_error(e, "memfd_create") from None
        return self.fd

    def read_data(self, size: int, offset: int) -> bytes:
        if self.fd < 0 or offset >= self._size:
            return bytes(max(0, min(size, self._size - offset)))
        try:
            return os.pread(self.fd, min(size, self._size - offset), offset)
        except OSError as e:
            raise _memfd_error(e, "tmpfs read") from None

    def write_data(self, data: bytes, offset: int) -> None:
        end = offset + len(data)
        fd = self.memfd()
        try:
            n = os.pwrite(fd, data, offset)
            while n < len(data):  # memfd writes are complete unless memory runs out
                n += os.pwrite(fd, memoryview(data)[n:], offset + n)
        except OSError as e:
            if end > self._size:
                os.ftruncate(fd, self._size)  # a failed write leaves the size as it was
            raise _memfd_error(e, "tmpfs write") from None
        if end > self._size:
            self.fs.bytes_used += end - self._size
            self._size = end

    def resize(self, size: int) -> None:
        old = self._size
        if size == old:
            return
        if self.fd >= 0 or size:
            try:
                os.ftruncate(self.memfd(), size)
            except OSError as e:
                raise _memfd_error(e, "tmpfs truncate") from None
        self._size = size
        self.fs.bytes_used += size - old

    # ------------------------------------------------------------------------------------
    def truncate(self, size: int) -> None:
        self.fs.check_writable()
        if size < 0:
            raise KernelError(errno.EINVAL, "negative size")
        self.resize(size)
        self.touch_modify()

    def open(self, flags: int) -> OpenFile:
        return TmpOpenFile(self, flags)

    def dropped_link(self) -> None:
        super().dropped_link()
        # The data stays reachable from open descriptions that hold the inode; it is freed
        # with the inode object. Count it as freed for statfs once the last name is gone.
        if self.nlink <= 0:
            self.fs.bytes_used -= self._size


class TmpOpenFile(FileBase):
    inode: TmpFile

    def host_fd(self) -> int | None:
        """The memfd with the data, for mmap (the descriptor's offset is ``pos``, not the
        memfd's)."""
        return self.inode.memfd()

    def read_at(self, size: int, offset: int) -> bytes:
        data = self.inode.read_data(size, offset)
        self.inode.touch_access()
        return data

    def write_at(self, data: bytes, offset: int) -> int:
        self.inode.write_data(data, offset)
        self.inode.touch_modify()
        return len(data)


class TmpSymlink(TmpInode):
    __slots__ = ("target",)

    def __init__(self, fs: TmpFS, target: bytes, uid: int, gid: int) -> None:
        super().__init__(fs, st.S_IFLNK | 0o777, uid, gid)
        self.target = target

    def size(self) -> int:
        return len(self.target)

    def readlink(self) -> bytes:
        self.touch_access()
        return self.target


class TmpNode(TmpInode):
    """A FIFO, socket or device node: an inode only (opening a FIFO is ENXIO for now)."""

    __slots__ = ()


class TmpDir(TmpInode):
    __slots__ = ("entries",)

    def __init__(self, fs: TmpFS, mode: int, uid: int, gid: int) -> None:
        super().__init__(fs, st.S_IFDIR | (mode & 0o7777), uid, gid)
        self.nlink = 2  # its own "." and its entry in the parent (or ".." for the root)
        self.entries: dict[bytes, TmpInode] = {}

    def size(self) -> int:
        # What Linux's shmem reports: BOGO_DIRENT_SIZE (20) per entry.
        return 20 * (len(self.entries) + 2)

    def is_dir(self) -> bool:
        return True

    def open(self, flags: int) -> OpenFile:
        return DirFile(self, flags)

    def lookup(self, name: bytes) -> TmpInode:
        try:
            return self.entries[name]
        except KeyError:
            raise KernelError(errno.ENOENT, f"no {name!r} in tmpfs directory") from None

    def readdir(self) -> Iterator[DirEntry]:
        for name, inode in list(self.entries.items()):
            yield DirEntry(name, inode.ino, dtype_of(inode.imode))

    # making names -----------------------------------------------------------------------
    def _add(self, name: bytes, make: Callable[[], TmpInode]) -> TmpInode:
        if self.nlink == 0:
            # Removed (rmdir, or replaced by a rename) while an fd or a cwd still holds it:
            # Linux makes no names in a dead directory.
            raise KernelError(errno.ENOENT, "directory was removed")
        self.fs.check_writable()
        if name in self.entries:
            raise KernelError(errno.EEXIST, f"{name!r} exists")
        inode = make()
        self.entries[name] = inode
        if isinstance(inode, TmpDir):
            self.nlink += 1
        self.touch_modify()
        return inode

    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        return self._add(name, lambda: TmpFile(self.fs, mode, uid, gid))

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        return self._add(name, lambda: TmpDir(self.fs, mode, uid, gid))

    def mknod(self, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Inode:
        kind = st.S_IFMT(mode)
        if kind in (st.S_IFREG, 0):
            return self.create(name, mode, uid, gid)
        if kind in (st.S_IFIFO, st.S_IFSOCK, st.S_IFCHR, st.S_IFBLK):
            return self._add(name, lambda: TmpNode(self.fs, mode, uid, gid, rdev))
        raise KernelError(errno.EINVAL, f"mknod of file type {kind:#o}")

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        return self._add(name, lambda: TmpSymlink(self.fs, target, uid, gid))

    def link(self, name: bytes, target: Inode) -> None:
        if not isinstance(target, TmpInode) or target.fs is not self.fs:
            raise KernelError(errno.EXDEV, "hard link across filesystems")
        if isinstance(target, TmpDir):
            raise KernelError(errno.EPERM, "hard link to a directory")
        self._add(name, lambda: target)
        target.nlink += 1
        target.touch_change()

    # removing names ---------------------------------------------------------------------
    def _drop(self, name: bytes) -> TmpInode:
        inode = self.entries.pop(name)
        if isinstance(inode, TmpDir):
            self.nlink -= 1
            inode.nlink = 0
            inode.touch_change()
            self.fs.inodes -= 1
        else:
            inode.dropped_link()
        self.touch_modify()
        return inode

    def unlink(self, name: bytes) -> None:
        self.fs.check_writable()
        inode = self.lookup(name)
        if isinstance(inode, TmpDir):
            raise KernelError(errno.EISDIR, f"unlink of directory {name!r}")
        self._drop(name)

    def rmdir(self, name: bytes) -> None:
        self.fs.check_writable()
        inode = self.lookup(name)
        if not isinstance(inode, TmpDir):
            raise KernelError(errno.ENOTDIR, f"rmdir of non-directory {name!r}")
        if inode.entries:
            raise KernelError(errno.ENOTEMPTY, f"directory {name!r} not empty")
        self._drop(name)

    def rename(self, old_name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        """Move a name. The VFS layer has checked types, loops and permissions already."""
        self.fs.check_writable()
        if not isinstance(new_dir, TmpDir) or new_dir.fs is not self.fs:
            raise KernelError(errno.EXDEV, "rename across filesystems")
        src = self.lookup(old_name)
        if new_dir.nlink == 0:
            raise KernelError(errno.ENOENT, "target directory was removed")
        dst = new_dir.entries.get(new_name)
        if flags & RENAME_EXCHANGE:
            if dst is None:
                raise KernelError(errno.ENOENT, f"{new_name!r} does not exist")
            self.entries[old_name], new_dir.entries[new_name] = dst, src
            moved_dirs = isinstance(src, TmpDir) - isinstance(dst, TmpDir)
            self.nlink -= moved_dirs
            new_dir.nlink += moved_dirs
            for i in (src, dst, self, new_dir):
                i.touch_change()
            self.touch_modify()
            new_dir.touch_modify()
            return
        if dst is src:
            return  # two links to one inode: rename does nothing (POSIX)
        if dst is not None:
            if flags & RENAME_NOREPLACE:
                raise KernelError(errno.EEXIST, f"{new_name!r} exists")
            if isinstance(dst, TmpDir):
                if not isinstance(src, TmpDir):
                    raise KernelError(errno.EISDIR, f"{new_name!r} is a directory")
                if dst.entries:
                    raise KernelError(errno.ENOTEMPTY, f"{new_name!r} not empty")
            elif isinstance(src, TmpDir):
                raise KernelError(errno.ENOTDIR, f"{new_name!r} is not a directory")
            new_dir._drop(new_name)
        del self.entries[old_name]
        new_dir.entries[new_name] = src
        if isinstance(src, TmpDir):
            self.nlink -= 1
            new_dir.nlink += 1
        src.touch_change()
        self.touch_modify()
        new_dir.touch_modify()
