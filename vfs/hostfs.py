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
import fcntl
import os
import stat as st
from collections.abc import Iterator
from contextlib import contextmanager

from compatd.errors import KernelError
from vfs import base as _base
from vfs.base import DirEntry, Filesystem, Inode, OpenFile, Stat, StatFs, dtype_of
from vfs.common import DirFile, host_error, host_errors, stat_from_host
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


class _DirFd:
    """A cached O_PATH fd of a host directory and the (ino, dev) it had when last checked."""

    __slots__ = ("fd", "gen", "ino", "dev")

    def __init__(self, fd: int, gen: int, ino: int, dev: int) -> None:
        self.fd = fd
        self.gen = gen
        self.ino = ino
        self.dev = dev


class HostFS(Filesystem):
    name = "hostfs"
    magic = V9FS_MAGIC
    DIR_CACHE = 64  # O_PATH directory fds kept open

    def __init__(self, host_root: bytes, readonly: bool = False) -> None:
        super().__init__(readonly)
        self.host_root = os.path.abspath(host_root)
        with host_errors(f"hostfs root {host_root!r}"):
            self.root_fd = os.open(self.host_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            s = os.fstat(self.root_fd)
        self._root_dev = s.st_dev
        self._devs: dict[int, int] = {}
        # The root never moves: its entry is always valid.
        self._root_dir = _DirFd(self.root_fd, -1, s.st_ino, s.st_dev)
        # lstat results of the current generation, by relative path.
        self._gen = -1
        self._stats: dict[bytes, os.stat_result] = {}
        # Directory fds by relative path, least recently validated first.
        self._dirs: dict[bytes, _DirFd] = {}
        self._root = HostInode(self, b"", self.ino_of(s.st_dev, s.st_ino), s.st_mode)

    @property
    def root(self) -> HostInode:
        return self._root

    def close(self) -> None:
        for e in self._dirs.values():
            os.close(e.fd)
        self._dirs.clear()
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

    # the walk ---------------------------------------------------------------------------
    def dirfd(self, rel: bytes) -> _DirFd:
        """An O_PATH fd of the directory ``rel``, reached without following any symlink.

        The fd is cached. An entry checked in the current generation is used as it is;
        an older one is used only if ``rel`` (looked up through its parent's checked fd)
        still names the same host directory, so a directory renamed, removed or swapped
        for a symlink since is never used through its old name. The fd belongs to the
        cache: use it right away, and never close it.
        """
        if not rel:
            return self._root_dir
        dirs = self._dirs
        e = dirs.get(rel)
        gen = _base.generation
        if e is not None and e.gen == gen:
            return e
        try:
            s = self.lstat(rel)
        except KernelError:
            if e is not None:
                del dirs[rel]
                os.close(e.fd)
            raise
        if e is not None:
            del dirs[rel]
            if e.ino == s.st_ino and e.dev == s.st_dev:
                e.gen = gen
                dirs[rel] = e  # now the most recently used
                return e
            os.close(e.fd)
        head, _, name = rel.rpartition(b"/")
        pfd = self.dirfd(head).fd
        try:
            fd = os.open(name, _WALK_FLAGS, dir_fd=pfd)
        except OSError as err:
            raise host_error(err, f"hostfs walk to {rel!r}") from None
        e = _DirFd(fd, gen, s.st_ino, s.st_dev)
        dirs[rel] = e
        if len(dirs) > self.DIR_CACHE:
            # Close the least recently used entry not handed out in this generation (a
            # caller may still be about to use those).
            for k, old in dirs.items():
                if old.gen != gen:
                    del dirs[k]
                    os.close(old.fd)
                    break
        return e

    def at(self, rel: bytes) -> tuple[int, bytes]:
        """(parent directory fd, final name) for acting on ``rel`` itself; the root is
        (root fd, ``.``). The fd is the cache's (see ``dirfd``)."""
        head, _, name = rel.rpartition(b"/")
        return self.dirfd(head).fd, name or b"."

    def cached_lstat(self, rel: bytes) -> os.stat_result | None:
        """The lstat of ``rel`` taken in the current generation, if any."""
        gen = _base.generation
        if self._gen != gen:
            self._stats.clear()
            self._gen = gen
            return None
        return self._stats.get(rel)

    def lstat_at(self, fd: int, name: bytes, rel: bytes) -> os.stat_result:
        """lstat ``name`` in the directory ``fd`` (which is ``rel``'s parent), and cache it."""
        try:
            s = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as e:
            raise host_error(e, f"hostfs stat {rel!r}") from None
        if self._gen == _base.generation:
            self._stats[rel] = s
        return s

    def lstat(self, rel: bytes) -> os.stat_result:
        s = self.cached_lstat(rel)
        if s is None:
            fd, name = self.at(rel)
            s = self.lstat_at(fd, name, rel)
        return s

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
    __slots__ = ("rel", "fmt", "_st", "_gen")

    fs: HostFS

    def __init__(self, fs: HostFS, rel: bytes, ino: int, mode: int) -> None:
        self.fs = fs  # Inode.__init__, inlined: one inode per lookup
        self.ino = ino
        self.rel = rel
        self.fmt = st.S_IFMT(mode)  # a file's type never changes; its permissions may
        self._st: Stat | None = None  # the Stat of generation _gen
        self._gen = -1

    def _child_rel(self, name: bytes) -> bytes:
        return self.rel + b"/" + name if self.rel else name

    @contextmanager
    def _changing(self, what: str) -> Iterator[int]:
        """One change in this directory: EROFS first, then the directory's fd (ENOENT if it
        was removed) with host errors mapped; cached stats are stale afterwards."""
        self.fs.check_writable()
        try:
            dfd = self._dir()
            with host_errors(what):
                yield dfd
        finally:
            _base.tick()

    def _dir(self) -> int:
        """This directory's fd, for acting on names in it: ENOENT if the directory this
        inode stands for was removed or replaced, as Linux gives for a dead directory (we
        must not create anything in whatever now has its name)."""
        fs = self.fs
        e = fs.dirfd(self.rel)
        if fs.ino_of(e.dev, e.ino) != self.ino:
            raise KernelError(errno.ENOENT, f"hostfs directory {self.rel!r} was removed")
        return e.fd

    def stat(self) -> Stat:
        gen = _base.generation
        if self._gen == gen:
            return self._st  # type: ignore[return-value]
        fs = self.fs
        s = fs.lstat(self.rel)
        ino = fs.ino_of(s.st_dev, s.st_ino)
        if ino != self.ino and self.fmt == st.S_IFDIR:
            raise KernelError(errno.ENOENT, f"hostfs directory {self.rel!r} was removed")
        r = self._st = stat_from_host(s, fs.dev, ino)
        self._gen = gen
        return r

    def host_identity(self) -> tuple[int, int] | None:
        # What has the name now, only if it is still the file this inode was looked up as.
        try:
            s = self.fs.lstat(self.rel)
        except KernelError:
            return None
        return (s.st_dev, s.st_ino) if self.fs.ino_of(s.st_dev, s.st_ino) == self.ino else None

    @property
    def mode(self) -> int:
        return self.stat().mode

    def is_dir(self) -> bool:
        return self.fmt == st.S_IFDIR

    def is_symlink(self) -> bool:
        return self.fmt == st.S_IFLNK

    def host_path(self) -> bytes:
        return os.path.join(self.fs.host_root, self.rel) if self.rel else self.fs.host_root

    # directories ------------------------------------------------------------------------
    def lookup(self, name: bytes) -> HostInode:
        fs = self.fs
        rel = self.rel + b"/" + name if self.rel else name
        fd = self._dir()
        s = fs.cached_lstat(rel)
        if s is None:
            s = fs.lstat_at(fd, name, rel)
        return HostInode(fs, rel, fs.ino_of(s.st_dev, s.st_ino), s.st_mode)

    def readdir(self) -> Iterator[DirEntry]:
        pfd, name = self.fs.at(self.rel)
        with host_errors(f"hostfs readdir {self.rel!r}"):
            dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=pfd)
            try:
                return iter(_scan(self.fs, dfd))
            finally:
                os.close(dfd)

    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        with self._changing(f"hostfs create {name!r}") as dfd:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, mode & 0o7777, dir_fd=dfd)
            try:
                _own(dfd, name, uid, gid)
                os.fchmod(fd, mode & 0o7777)  # the supervisor's umask must not apply again
            finally:
                os.close(fd)
        return self.lookup(name)

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        with self._changing(f"hostfs mkdir {name!r}") as dfd:
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
        with self._changing(f"hostfs mknod {name!r}") as dfd:
            os.mknod(name, mode, 0, dir_fd=dfd)
            _own(dfd, name, uid, gid)
            _chmod_at(dfd, name, mode)
        return self.lookup(name)

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        # The target is stored as text; only our resolver ever interprets it.
        with self._changing(f"hostfs symlink {name!r}") as dfd:
            os.symlink(target, name, dir_fd=dfd)
            _own(dfd, name, uid, gid)
        return self.lookup(name)

    def link(self, name: bytes, target: Inode) -> None:
        self.fs.check_writable()
        if not isinstance(target, HostInode) or target.fs is not self.fs:
            raise KernelError(errno.EXDEV, "hard link across filesystems")
        try:
            # Both fds stay valid: the cache closes none handed out in this generation.
            sfd, sname = self.fs.at(target.rel)
            dfd = self._dir()
            with host_errors(f"hostfs link {name!r}"):
                os.link(sname, name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
        finally:
            _base.tick()

    def open_tmpfile(self, flags: int, mode: int) -> OpenFile:
        """O_TMPFILE in this host directory: the host's own, so the file stays linkable
        (linkat through /proc/self/fd) while it has no name."""
        self.fs.check_writable()
        acc = os.O_WRONLY if flags & O_ACCMODE == O_WRONLY else os.O_RDWR
        try:
            dfd = self._dir()
            with host_errors("hostfs O_TMPFILE"):
                fd = os.open(".", os.O_TMPFILE | acc | os.O_CLOEXEC, mode & 0o7777, dir_fd=dfd)
        finally:
            _base.tick()
        s = os.fstat(fd)
        inode = HostInode(self.fs, self._child_rel(b"#%d" % s.st_ino),
                          self.fs.ino_of(s.st_dev, s.st_ino), s.st_mode)
        return HostFile(fd, flags, inode, owns=True)

    def link_file(self, name: bytes, f: OpenFile) -> None:
        """Link the host file behind ``f`` (its name may be gone, or it is an O_TMPFILE file)
        through the supervisor's own /proc/self/fd: linkat(AT_SYMLINK_FOLLOW) of an fd link
        names the open file itself."""
        host_fd = getattr(f, "host_fd", None)
        fd = host_fd() if host_fd is not None else None
        if fd is None or not isinstance(f.inode, HostInode) or f.inode.fs is not self.fs:
            return super().link_file(name, f)
        with self._changing(f"hostfs link {name!r}") as dfd:
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dfd, follow_symlinks=True)

    def unlink(self, name: bytes) -> None:
        with self._changing(f"hostfs unlink {name!r}") as dfd:
            os.unlink(name, dir_fd=dfd)

    def rmdir(self, name: bytes) -> None:
        with self._changing(f"hostfs rmdir {name!r}") as dfd:
            os.rmdir(name, dir_fd=dfd)

    def rename(self, old_name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        """rename without renameat2 (no ctypes here): NOREPLACE checks first, EXCHANGE goes
        through a temporary name. The supervisor is single-threaded, so only other host
        processes could see the intermediate state."""
        self.fs.check_writable()
        if not isinstance(new_dir, HostInode) or new_dir.fs is not self.fs:
            raise KernelError(errno.EXDEV, "rename across filesystems")
        try:
            sfd = self._dir()
            dfd = new_dir._dir()
            with host_errors(f"hostfs rename {old_name!r}"):
                _rename(sfd, old_name, dfd, new_name, flags)
        finally:
            _base.tick()

    # attributes -------------------------------------------------------------------------
    def chmod(self, mode: int) -> None:
        self.fs.check_writable()
        try:
            fd, name = self.fs.at(self.rel)
            with host_errors(f"hostfs chmod {self.rel!r}"):
                _chmod_at(fd, name, mode)
        finally:
            _base.tick()

    def chown(self, uid: int, gid: int) -> None:
        self.fs.check_writable()
        try:
            fd, name = self.fs.at(self.rel)
            with host_errors(f"hostfs chown {self.rel!r}"):
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
        finally:
            _base.tick()

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        self.fs.check_writable()
        try:
            fd, name = self.fs.at(self.rel)
            with host_errors(f"hostfs utimes {self.rel!r}"):
                # os.utime has no UTIME_OMIT: keep an omitted time by writing its current
                # value.
                s = os.stat(name, dir_fd=fd, follow_symlinks=False)
                times = (s.st_atime_ns if atime_ns is None else atime_ns,
                         s.st_mtime_ns if mtime_ns is None else mtime_ns)
                os.utime(name, ns=times, dir_fd=fd, follow_symlinks=False)
        finally:
            _base.tick()

    def truncate(self, size: int) -> None:
        self.fs.check_writable()
        if self.fmt != st.S_IFREG:
            super().truncate(size)
        try:
            pfd, name = self.fs.at(self.rel)
            with host_errors(f"hostfs truncate {self.rel!r}"):
                fd = _open_regular(pfd, name, os.O_WRONLY)
                try:
                    os.ftruncate(fd, size)
                finally:
                    os.close(fd)
        finally:
            _base.tick()

    # extended attributes: the host file's own -------------------------------------------
    def _xattr_path(self) -> str:
        """The file as a path the host resolves without following the final name: the
        parent's cached O_PATH fd through our own /proc/self/fd, then the name (os.*xattr
        take no dir_fd)."""
        fd, name = self.fs.at(self.rel)
        return f"/proc/self/fd/{fd}/{os.fsdecode(name)}"

    def getxattr(self, name: bytes) -> bytes:
        with host_errors(f"hostfs getxattr {self.rel!r}"):
            return os.getxattr(self._xattr_path(), name, follow_symlinks=False)

    def setxattr(self, name: bytes, value: bytes, flags: int) -> None:
        self.fs.check_writable()
        try:
            with host_errors(f"hostfs setxattr {self.rel!r}"):
                os.setxattr(self._xattr_path(), name, value, flags, follow_symlinks=False)
        finally:
            _base.tick()

    def listxattr(self) -> list[bytes]:
        with host_errors(f"hostfs listxattr {self.rel!r}"):
            return [os.fsencode(n)
                    for n in os.listxattr(self._xattr_path(), follow_symlinks=False)]

    def removexattr(self, name: bytes) -> None:
        self.fs.check_writable()
        try:
            with host_errors(f"hostfs removexattr {self.rel!r}"):
                os.removexattr(self._xattr_path(), name, follow_symlinks=False)
        finally:
            _base.tick()

    # symlinks and opening ---------------------------------------------------------------
    def readlink(self) -> bytes:
        if self.fmt != st.S_IFLNK:
            return super().readlink()
        fd, name = self.fs.at(self.rel)
        with host_errors(f"hostfs readlink {self.rel!r}"):
            return os.readlink(name, dir_fd=fd)

    def open(self, flags: int) -> OpenFile:
        fmt = self.fmt
        if fmt == st.S_IFDIR:
            return self._open_dir(flags)
        if fmt in (st.S_IFCHR, st.S_IFBLK):
            raise KernelError(errno.EACCES, "host device nodes are not opened")
        if fmt in (st.S_IFIFO, st.S_IFSOCK):
            raise KernelError(errno.ENXIO, "host FIFOs and sockets are not opened")
        if fmt == st.S_IFLNK:
            raise KernelError(errno.ELOOP, "open of a symbolic link")
        acc = flags & O_ACCMODE
        if acc == O_WRONLY:
            host_acc = os.O_WRONLY
        elif acc == O_RDWR:
            host_acc = os.O_RDWR
        else:  # O_RDONLY, and 3 (ioctl-only: no data access)
            host_acc = os.O_RDONLY
        if host_acc != os.O_RDONLY:
            self.fs.check_writable()
        pfd, name = self.fs.at(self.rel)
        try:
            fd = _open_regular(pfd, name, host_acc | (flags & (O_SYNC | O_DSYNC)))
        except OSError as e:
            raise host_error(e, f"hostfs open {self.rel!r}") from None
        return HostFile(fd, flags, self, owns=True)

    def _open_dir(self, flags: int) -> OpenFile:
        """An open directory holds its own host fd, so it can still be stat'ed (nlink 0)
        and read after the directory is removed, as on Linux."""
        pfd, name = self.fs.at(self.rel)
        try:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            except PermissionError:
                # The host refuses to list it (our permission check allowed it): keep an
                # O_PATH fd for stat; reading the directory will fail with EACCES.
                fd = os.open(name, _WALK_FLAGS, dir_fd=pfd)
            s = os.fstat(fd)
        except OSError as e:
            raise host_error(e, f"hostfs open {self.rel!r}") from None
        if self.fs.ino_of(s.st_dev, s.st_ino) != self.ino:
            os.close(fd)
            raise KernelError(errno.ENOENT, f"hostfs directory {self.rel!r} was replaced")
        return HostDirFile(self, flags, fd)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _rename(sfd: int, old_name: bytes, dfd: int, new_name: bytes, flags: int) -> None:
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


def _scan(fs: HostFS, dfd: int) -> list[DirEntry]:
    """The entries of the open host directory ``dfd`` (scandir rewinds it when done)."""
    entries: list[DirEntry] = []
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
            entries.append(DirEntry(os.fsencode(e.name), fs.ino_of(dev, e.inode()), dt))
    return entries


def _open_regular(dir_fd: int, name: bytes, flags: int) -> int:
    """Open ``name`` only if it is still a regular file: O_NONBLOCK so a FIFO swapped in
    meanwhile cannot block us, O_NOFOLLOW so a symlink cannot redirect us."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    try:
        if not st.S_ISREG(os.fstat(fd).st_mode):
            raise KernelError(errno.ENXIO, "host file changed type")
        # Clear O_NONBLOCK again: one F_SETFL (it cannot change the O_SYNC bits we keep).
        fcntl.fcntl(fd, fcntl.F_SETFL, 0)
    except BaseException:
        os.close(fd)
        raise
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

    def pwrite(self, data: bytes, offset: int) -> int:
        try:
            return os.pwrite(self.fd, data, offset)
        except OSError as e:
            raise host_error(e, "pwrite") from None
        finally:
            _base.tick()  # size and times changed: cached stats are stale

    def truncate(self, size: int) -> None:
        try:
            super().truncate(size)
        finally:
            _base.tick()

    def stat(self) -> Stat:
        fs = self.inode.fs
        try:
            s = os.fstat(self.fd)
        except OSError as e:
            raise host_error(e, "fstat") from None
        return stat_from_host(s, fs.dev, fs.ino_of(s.st_dev, s.st_ino))


class HostDirFile(DirFile):
    """An open hostfs directory over its own O_RDONLY host fd (O_PATH if the host would not
    let us read it): stat and the listing come from the fd, release closes it."""

    inode: HostInode

    def __init__(self, inode: HostInode, flags: int, fd: int) -> None:
        super().__init__(inode, flags)
        self.fd = fd

    def stat(self) -> Stat:
        fs = self.inode.fs
        try:
            s = os.fstat(self.fd)
        except OSError as e:
            raise host_error(e, "fstat") from None
        return stat_from_host(s, fs.dev, fs.ino_of(s.st_dev, s.st_ino))

    def size(self) -> int:
        return self.stat().size

    def children(self) -> list[DirEntry]:
        try:
            return _scan(self.inode.fs, self.fd)
        except OSError as e:
            if e.errno == errno.EBADF:  # an O_PATH fd: the host would not let us list it
                raise KernelError(errno.EACCES, "hostfs directory not readable") from None
            raise host_error(e, f"hostfs readdir {self.inode.rel!r}") from None

    def release(self) -> None:
        os.close(self.fd)
