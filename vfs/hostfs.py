"""hostfs: a host directory, read-only or read-write.

Security: the program must never reach a host file outside the mounted directory, not even
through a symlink it made in a read-write bind, and must never change anything through a
read-only hostfs. The VFS resolver interprets every symlink itself, inside the sandbox's
namespace, so this filesystem never lets the host follow one:

- an inode is its path relative to the host root directory, which is held open as an
  O_PATH fd taken at mount time;
- every access opens the parent directory by walking components from that fd with
  O_PATH|O_NOFOLLOW|O_DIRECTORY (a component swapped for a symlink fails with ELOOP or
  ENOTDIR instead of escaping), then acts on the final name with ``dir_fd=`` and
  ``follow_symlinks=False`` or O_NOFOLLOW;
- every mutating method calls ``check_writable()`` first; data files are opened for
  writing only through a writable filesystem.

Device nodes are never opened on the host (an open can have effects: a watchdog, a tape);
devfs serves /dev.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Iterator
from contextlib import contextmanager

from compatd.errors import KernelError
from vfs.base import DirEntry, Filesystem, Inode, OpenFile, Stat, StatFs, dtype_of
from vfs.common import DirFile, host_errors, stat_from_host
from vfs.flags import (
    O_ACCMODE,
    O_DSYNC,
    O_RDWR,
    O_SYNC,
    O_WRONLY,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
)
from vfs.hostfd import HostFdFile

# What gVisor reports for gofer-backed files: we cannot learn the host's f_type portably.
V9FS_MAGIC = 0x01021997

_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MASK64 = (1 << 64) - 1


class HostFS(Filesystem):
    name = "hostfs"
    magic = V9FS_MAGIC

    def __init__(self, host_root: bytes, readonly: bool = False) -> None:
        super().__init__(readonly)
        self.host_root = os.path.abspath(host_root)
        with host_errors(f"hostfs root {host_root!r}"):
            self.root_fd = os.open(self.host_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            s = os.fstat(self.root_fd)
        self._root_dev = s.st_dev
        self._devs: dict[int, int] = {}
        self._root = HostInode(self, b"", self.ino_of(s.st_dev, s.st_ino), s.st_mode)

    @property
    def root(self) -> HostInode:
        return self._root

    def close(self) -> None:
        os.close(self.root_fd)

    def ino_of(self, host_dev: int, host_ino: int) -> int:
        """Our inode number for a host file.

        Host submounts under the root (/proc, /sys, /dev under a hostfs of /) reuse inode
        numbers, and a mount's identity is (fs.dev, ino), so each other host device gets its
        own high bits: /dev (inode 2 on devtmpfs) must not cover /proc's inode 2.
        """
        if host_dev == self._root_dev:
            return host_ino
        idx = self._devs.setdefault(host_dev, len(self._devs) + 1)
        return (host_ino ^ (idx << 56)) & _MASK64

    @contextmanager
    def dir(self, rel: bytes) -> Iterator[int]:
        """An O_PATH fd of the directory ``rel``, reached without following any symlink."""
        fd = self.root_fd
        try:
            for comp in rel.split(b"/") if rel else ():
                with host_errors(f"hostfs walk to {rel!r}"):
                    nfd = os.open(comp, _WALK_FLAGS, dir_fd=fd)
                if fd != self.root_fd:
                    os.close(fd)
                fd = nfd
            yield fd
        finally:
            if fd != self.root_fd:
                os.close(fd)

    @contextmanager
    def at(self, rel: bytes) -> Iterator[tuple[int, bytes]]:
        """(parent directory fd, final name) for acting on ``rel`` itself; the root is
        (root fd, ``.``)."""
        head, _, name = rel.rpartition(b"/")
        with self.dir(head) as fd:
            yield fd, name or b"."

    def lstat(self, rel: bytes) -> os.stat_result:
        with self.at(rel) as (fd, name), host_errors(f"hostfs stat {rel!r}"):
            return os.stat(name, dir_fd=fd, follow_symlinks=False)

    def statfs(self) -> StatFs:
        with host_errors("hostfs statfs"):
            v = os.statvfs(self.root_fd)
        return StatFs(type=self.magic, bsize=v.f_bsize, blocks=v.f_blocks, bfree=v.f_bfree,
                      bavail=v.f_bavail, files=v.f_files, ffree=v.f_ffree,
                      namelen=v.f_namemax, frsize=v.f_frsize)


def _own(fd: int, name: bytes, uid: int, gid: int) -> None:
    """Give a new host file the creator's ids when the supervisor may (it runs as root, or
    the ids are its own); otherwise the host's choice stands. Done before any chmod, since a
    chown clears set-id bits."""
    try:
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    except PermissionError:
        pass


def _chmod_at(fd: int, name: bytes, mode: int) -> None:
    try:
        os.chmod(name, mode & 0o7777, dir_fd=fd, follow_symlinks=False)
    except (NotImplementedError, ValueError):
        # CPython's answer when fchmodat(AT_SYMLINK_NOFOLLOW) hits a symlink.
        raise KernelError(errno.EOPNOTSUPP, "chmod of a symbolic link") from None


class HostInode(Inode):
    __slots__ = ("rel", "fmt")

    fs: HostFS

    def __init__(self, fs: HostFS, rel: bytes, ino: int, mode: int) -> None:
        super().__init__(fs, ino)
        self.rel = rel
        self.fmt = st.S_IFMT(mode)  # a file's type never changes; its permissions may

    def _child_rel(self, name: bytes) -> bytes:
        return self.rel + b"/" + name if self.rel else name

    def stat(self) -> Stat:
        s = self.fs.lstat(self.rel)
        return stat_from_host(s, self.fs.dev, self.fs.ino_of(s.st_dev, s.st_ino))

    def is_dir(self) -> bool:
        return self.fmt == st.S_IFDIR

    def is_symlink(self) -> bool:
        return self.fmt == st.S_IFLNK

    def host_path(self) -> bytes:
        return os.path.join(self.fs.host_root, self.rel) if self.rel else self.fs.host_root

    # directories ------------------------------------------------------------------------
    def lookup(self, name: bytes) -> HostInode:
        rel = self._child_rel(name)
        s = self.fs.lstat(rel)
        return HostInode(self.fs, rel, self.fs.ino_of(s.st_dev, s.st_ino), s.st_mode)

    def readdir(self) -> Iterator[DirEntry]:
        entries: list[DirEntry] = []
        with self.fs.at(self.rel) as (pfd, name), host_errors(f"hostfs readdir {self.rel!r}"):
            dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=pfd)
            try:
                dev = os.fstat(dfd).st_dev
                with os.scandir(dfd) as it:
                    for e in it:
                        if e.is_symlink():
                            dt = dtype_of(st.S_IFLNK)
                        elif e.is_dir(follow_symlinks=False):
                            dt = dtype_of(st.S_IFDIR)
                        elif e.is_file(follow_symlinks=False):
                            dt = dtype_of(st.S_IFREG)
                        else:  # only FIFOs, sockets and devices need a stat
                            dt = dtype_of(e.stat(follow_symlinks=False).st_mode)
                        entries.append(DirEntry(os.fsencode(e.name), self.fs.ino_of(dev, e.inode()),
                                                dt))
            finally:
                os.close(dfd)
        return iter(entries)

    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs create {name!r}"):
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, mode & 0o7777, dir_fd=dfd)
            try:
                _own(dfd, name, uid, gid)
                os.fchmod(fd, mode & 0o7777)  # the supervisor's umask must not apply again
            finally:
                os.close(fd)
        return self.lookup(name)

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs mkdir {name!r}"):
            os.mkdir(name, mode & 0o7777, dir_fd=dfd)
            _own(dfd, name, uid, gid)
            _chmod_at(dfd, name, mode)
        return self.lookup(name)

    def mknod(self, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Inode:
        kind = st.S_IFMT(mode)
        if kind in (0, st.S_IFREG):
            return self.create(name, mode, uid, gid)
        if kind not in (st.S_IFIFO, st.S_IFSOCK):
            raise KernelError(errno.EPERM, "no device nodes on hostfs")
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs mknod {name!r}"):
            os.mknod(name, mode, 0, dir_fd=dfd)
            _own(dfd, name, uid, gid)
            _chmod_at(dfd, name, mode)
        return self.lookup(name)

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        # The target is stored as text; only our resolver ever interprets it.
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs symlink {name!r}"):
            os.symlink(target, name, dir_fd=dfd)
            _own(dfd, name, uid, gid)
        return self.lookup(name)

    def link(self, name: bytes, target: Inode) -> None:
        self.fs.check_writable()
        if not isinstance(target, HostInode) or target.fs is not self.fs:
            raise KernelError(errno.EXDEV, "hard link across filesystems")
        with self.fs.at(target.rel) as (sfd, sname), self.fs.dir(self.rel) as dfd, \
                host_errors(f"hostfs link {name!r}"):
            os.link(sname, name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)

    def unlink(self, name: bytes) -> None:
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs unlink {name!r}"):
            os.unlink(name, dir_fd=dfd)

    def rmdir(self, name: bytes) -> None:
        self.fs.check_writable()
        with self.fs.dir(self.rel) as dfd, host_errors(f"hostfs rmdir {name!r}"):
            os.rmdir(name, dir_fd=dfd)

    def rename(self, old_name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        """rename without renameat2 (no ctypes here): NOREPLACE checks first, EXCHANGE goes
        through a temporary name. The supervisor is single-threaded, so only other host
        processes could see the intermediate state."""
        self.fs.check_writable()
        if not isinstance(new_dir, HostInode) or new_dir.fs is not self.fs:
            raise KernelError(errno.EXDEV, "rename across filesystems")
        with self.fs.dir(self.rel) as sfd, self.fs.dir(new_dir.rel) as dfd, \
                host_errors(f"hostfs rename {old_name!r}"):
            if flags & (RENAME_NOREPLACE | RENAME_EXCHANGE):
                try:
                    os.stat(new_name, dir_fd=dfd, follow_symlinks=False)
                    exists = True
                except FileNotFoundError:
                    exists = False
                if flags & RENAME_NOREPLACE and exists:
                    raise KernelError(errno.EEXIST, f"{new_name!r} exists")
                if flags & RENAME_EXCHANGE:
                    if not exists:
                        raise KernelError(errno.ENOENT, f"{new_name!r} does not exist")
                    tmp = b".compatd-exchange-" + os.urandom(8).hex().encode()
                    os.rename(old_name, tmp, src_dir_fd=sfd, dst_dir_fd=sfd)
                    os.rename(new_name, old_name, src_dir_fd=dfd, dst_dir_fd=sfd)
                    os.rename(tmp, new_name, src_dir_fd=sfd, dst_dir_fd=dfd)
                    return
            os.rename(old_name, new_name, src_dir_fd=sfd, dst_dir_fd=dfd)

    # attributes -------------------------------------------------------------------------
    def chmod(self, mode: int) -> None:
        self.fs.check_writable()
        with self.fs.at(self.rel) as (fd, name), host_errors(f"hostfs chmod {self.rel!r}"):
            _chmod_at(fd, name, mode)

    def chown(self, uid: int, gid: int) -> None:
        self.fs.check_writable()
        with self.fs.at(self.rel) as (fd, name), host_errors(f"hostfs chown {self.rel!r}"):
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        self.fs.check_writable()
        with self.fs.at(self.rel) as (fd, name), host_errors(f"hostfs utimes {self.rel!r}"):
            # os.utime has no UTIME_OMIT: keep an omitted time by writing its current value.
            s = os.stat(name, dir_fd=fd, follow_symlinks=False)
            times = (s.st_atime_ns if atime_ns is None else atime_ns,
                     s.st_mtime_ns if mtime_ns is None else mtime_ns)
            os.utime(name, ns=times, dir_fd=fd, follow_symlinks=False)

    def truncate(self, size: int) -> None:
        self.fs.check_writable()
        if self.fmt != st.S_IFREG:
            super().truncate(size)
        with self.fs.at(self.rel) as (pfd, name), host_errors(f"hostfs truncate {self.rel!r}"):
            fd = _open_regular(pfd, name, os.O_WRONLY)
            try:
                os.ftruncate(fd, size)
            finally:
                os.close(fd)

    # symlinks and opening ---------------------------------------------------------------
    def readlink(self) -> bytes:
        if self.fmt != st.S_IFLNK:
            return super().readlink()
        with self.fs.at(self.rel) as (fd, name), host_errors(f"hostfs readlink {self.rel!r}"):
            return os.readlink(name, dir_fd=fd)

    def open(self, flags: int) -> OpenFile:
        if self.fmt == st.S_IFDIR:
            return DirFile(self, flags)
        if self.fmt in (st.S_IFCHR, st.S_IFBLK):
            raise KernelError(errno.EACCES, "host device nodes are not opened")
        if self.fmt in (st.S_IFIFO, st.S_IFSOCK):
            raise KernelError(errno.ENXIO, "host FIFOs and sockets are not opened")
        if self.fmt == st.S_IFLNK:
            raise KernelError(errno.ELOOP, "open of a symbolic link")
        acc = flags & O_ACCMODE
        host_acc = {O_WRONLY: os.O_WRONLY, O_RDWR: os.O_RDWR}.get(acc, os.O_RDONLY)
        if host_acc != os.O_RDONLY:
            self.fs.check_writable()
        with self.fs.at(self.rel) as (pfd, name), host_errors(f"hostfs open {self.rel!r}"):
            fd = _open_regular(pfd, name, host_acc | (flags & (O_SYNC | O_DSYNC)))
        return HostFile(fd, flags, self, owns=True)


def _open_regular(dir_fd: int, name: bytes, flags: int) -> int:
    """Open ``name`` only if it is still a regular file: O_NONBLOCK so a FIFO swapped in
    meanwhile cannot block us, O_NOFOLLOW so a symlink cannot redirect us."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    if not st.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise KernelError(errno.ENXIO, "host file changed type")
    os.set_blocking(fd, True)
    return fd


class HostFile(HostFdFile):
    """A hostfs regular file. Unlike a plain host fd, the offset is the description's own
    ``pos`` and data moves with pread/pwrite, so the generic OpenFile methods apply; stat
    uses fstat so it works after the file is unlinked."""

    inode: HostInode

    read = OpenFile.read
    write = OpenFile.write
    seek = OpenFile.seek
    readable_bytes = OpenFile.readable_bytes

    def stat(self) -> Stat:
        fs = self.inode.fs
        with host_errors("fstat"):
            s = os.fstat(self.fd)
        return stat_from_host(s, fs.dev, fs.ino_of(s.st_dev, s.st_ino))
