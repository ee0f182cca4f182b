"""overlay: a read-only lower layer under a writable upper layer, as Linux's overlayfs.

The lower is any directory inode (in practice a read-only hostfs of the host's ``/``), the
upper a directory of a writable filesystem (a tmpfs). Nothing is ever written to the lower.

- Lookup merges: a name in the upper wins; a directory in both layers is *merged* (its
  listing is the union) unless the upper one is *opaque*.
- A file is *copied up* (data, mode, owner, times; its parent directories first) on the first
  open for writing, truncate, chmod/chown/utimes and link. Opening a lower file read-only
  does not copy it: reads go to the lower file, whose host fd serves mmap (``host_fd()``).
- Removing (unlink, rmdir, rename away) a name the lower has leaves a *whiteout* in the upper
  directory; a directory made where a lower entry was whited out is opaque. Whiteouts and
  opaque marks are kept here, keyed by the upper directory's inode, never as entries a
  program could see.
- Renaming a directory that exists in the lower is EXDEV, as Linux's overlay without
  ``redirect_dir`` (``mv`` then copies); files are copied up and renamed.
- Inode numbers are the lower file's (a copied-up file keeps its origin's number), or the
  upper's with bit 63 set for files only the upper has; ``st_dev`` is the overlay's own.
"""

from __future__ import annotations

import errno
import stat as st
from collections.abc import Iterator

from compatd.errors import KernelError
from vfs import base
from vfs.base import DirEntry, Filesystem, Inode, OpenFile, Stat, StatFs, dtype_of
from vfs.common import DirFile
from vfs.flags import O_ACCMODE, O_RDONLY, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE
from vfs.xattrs import copy_xattrs

OVERLAYFS_MAGIC = 0x794C7630
_UPPER_ONLY = 1 << 63  # inode numbers of files only the upper layer has
_DT_DIR = dtype_of(st.S_IFDIR)
_CHUNK = 1 << 20


def _opt(dir: Inode, name: bytes) -> Inode | None:
    """``dir.lookup(name)``, or None when the name does not exist."""
    try:
        return dir.lookup(name)
    except KernelError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def _fmt(inode: Inode) -> int:
    """The file type of a layer inode, without a stat where the filesystem keeps it."""
    f = getattr(inode, "fmt", None)  # hostfs
    if f is None:
        f = st.S_IFMT(getattr(inode, "imode", None) or inode.mode)  # tmpfs, others
    return f


class OverlayFS(Filesystem):
    name = "overlay"
    magic = OVERLAYFS_MAGIC

    def __init__(self, lower: Inode | None, upper: Inode, readonly: bool = False) -> None:
        """``lower``: the lower layer's root directory (None: the upper alone);
        ``upper``: the upper layer's root, a directory of a writable filesystem."""
        super().__init__(readonly)
        if not upper.is_dir() or (lower is not None and not lower.is_dir()):
            raise KernelError(errno.ENOTDIR, "overlay layers must be directories")
        self.lower_root = lower
        self.upper_root = upper
        # upper directory key -> names whited out in it
        self.whiteouts: dict[tuple[int, int], set[bytes]] = {}
        # upper directory keys whose lower counterpart is hidden
        self.opaque: set[tuple[int, int]] = set()
        # (lower directory key, name) -> the upper inode that lower entry was copied up to:
        # lets an inode object found before the copy-up (an open file, a cwd) see it
        self.copied: dict[tuple[tuple[int, int], bytes], Inode] = {}
        # upper inode key -> the inode number of the lower file it was copied up from
        self.origin: dict[tuple[int, int], int] = {}
        # our Stat of a lower Stat object, for the generation the lower handed that out in
        self._gen = -1
        self._stats: dict[int, tuple[Stat, Stat]] = {}
        self._root_up = lower is None  # the upper root gets the lower root's attributes once
        self._root = OverlayInode(self, None, b"", upper if lower is None else None, lower)

    @property
    def root(self) -> OverlayInode:
        return self._root

    def statfs(self) -> StatFs:
        s = self.upper_root.fs.statfs()
        s.type = self.magic
        return s

    def whited_out(self, upper_dir: Inode, name: bytes) -> bool:
        wh = self.whiteouts.get(upper_dir.key)
        return wh is not None and name in wh

    def add_whiteout(self, upper_dir: Inode, name: bytes) -> None:
        self.whiteouts.setdefault(upper_dir.key, set()).add(name)

    def clear_whiteout(self, upper_dir: Inode, name: bytes) -> bool:
        wh = self.whiteouts.get(upper_dir.key)
        if wh is None or name not in wh:
            return False
        wh.discard(name)
        return True

    def forget_dir(self, upper_dir: Inode) -> None:
        self.whiteouts.pop(upper_dir.key, None)
        self.opaque.discard(upper_dir.key)


class OverlayInode(Inode):
    """One name in the merged tree: its upper inode (once there is one) and lower inode."""

    __slots__ = ("parent", "name", "upper", "lower", "fmt")

    fs: OverlayFS

    def __init__(self, fs: OverlayFS, parent: OverlayInode | None, name: bytes,
                 upper: Inode | None, lower: Inode | None) -> None:
        self.parent = parent
        self.name = name
        self.upper = upper
        self.lower = lower
        if lower is not None:
            ino = lower.ino
        else:
            assert upper is not None
            o = fs.origin.get(upper.key)
            ino = o if o is not None else _UPPER_ONLY | upper.ino
        super().__init__(fs, ino)
        self.fmt = _fmt(upper if upper is not None else lower)  # type: ignore[arg-type]

    # layers -------------------------------------------------------------------------------
    def up(self) -> Inode | None:
        """The upper inode, also when another inode object of this file copied it up."""
        u = self.upper
        if u is None:
            fs = self.fs
            p = self.parent
            if p is None:
                if fs._root_up:
                    u = self.upper = fs.upper_root
            elif fs.copied and p.lower is not None:
                u = self.upper = fs.copied.get((p.lower.key, self.name))
        return u

    def real(self) -> Inode:
        u = self.up()
        return u if u is not None else self.lower  # type: ignore[return-value]

    def host_identity(self) -> tuple[int, int] | None:
        return self.real().host_identity()

    def _merged_lower(self) -> Inode | None:
        """The lower directory whose entries show through this directory, if any."""
        if self.lower is None:
            return None
        u = self.up()
        if u is not None and u.key in self.fs.opaque:
            return None
        return self.lower

    def copy_up(self, limit: int | None = None) -> Inode:
        """The upper inode, made now from the lower one (with at most ``limit`` bytes of
        data, for a truncate) if there is none yet."""
        u = self.up()
        if u is not None:
            return u
        fs = self.fs
        lower = self.lower
        assert lower is not None
        s = lower.stat()
        p = self.parent
        if p is None:  # the root: the upper root takes the lower root's attributes
            u = fs.upper_root
            fs._root_up = True
            _copy_attrs(u, s)
            self.upper = u
            return u
        pu = p.copy_up()
        ps = pu.stat()  # a copy-up is no change to the directory: its times are restored
        if fs.whited_out(pu, self.name) or _opt(pu, self.name) is not None:
            # This file was removed or replaced since it was looked up (an open fd or a cwd
            # holds it): copy it up as an orphan, as Linux does into its work directory.
            name = b".compatd-orphan-%d" % self.ino
            u = _copy_object(lower, s, pu, name, limit)
            if u.is_dir():
                pu.rmdir(name)
            else:
                pu.unlink(name)
        else:
            u = _copy_object(lower, s, pu, self.name, limit)
        pu.set_times(ps.atime_ns, ps.mtime_ns)
        fs.copied[(p.lower.key, self.name)] = u  # type: ignore[union-attr]
        fs.origin[u.key] = self.ino
        self.upper = u
        return u

    # attributes -------------------------------------------------------------------------
    def stat(self) -> Stat:
        u = self.up()
        if u is None:
            # A lower file: a filesystem may hand out one Stat per generation (hostfs does),
            # so ours for it is kept as long (walks stat every directory on the way).
            s = self.lower.stat()  # type: ignore[union-attr]
            fs = self.fs
            if fs._gen != base.generation:
                fs._gen = base.generation
                fs._stats.clear()
            hit = fs._stats.get(id(s))
            if hit is not None and hit[0] is s:
                return hit[1]
            ours = Stat(fs.dev, self.ino, s.mode, s.nlink, s.uid, s.gid, s.rdev, s.size,
                        s.blksize, s.blocks, s.atime_ns, s.mtime_ns, s.ctime_ns, s.btime_ns)
            fs._stats[id(s)] = (s, ours)
            return ours
        s = u.stat()
        nlink = s.nlink
        if self.fmt == st.S_IFDIR and self._merged_lower():
            nlink = 1  # as Linux's ovl_getattr: a merged directory's count is unknown
        return Stat(self.fs.dev, self.ino, s.mode, nlink, s.uid, s.gid, s.rdev, s.size,
                    s.blksize, s.blocks, s.atime_ns, s.mtime_ns, s.ctime_ns, s.btime_ns)

    @property
    def mode(self) -> int:
        return self.real().mode

    def is_dir(self) -> bool:
        return self.fmt == st.S_IFDIR

    def is_symlink(self) -> bool:
        return self.fmt == st.S_IFLNK

    def chmod(self, mode: int) -> None:
        self.copy_up().chmod(mode)

    def chown(self, uid: int, gid: int) -> None:
        self.copy_up().chown(uid, gid)

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        self.copy_up().set_times(atime_ns, mtime_ns)

    def truncate(self, size: int) -> None:
        if self.fmt != st.S_IFREG:
            self.real().truncate(size)
            return
        self.copy_up(limit=size).truncate(size)

    def readlink(self) -> bytes:
        return self.real().readlink()

    def getxattr(self, name: bytes) -> bytes:
        return self.real().getxattr(name)

    def setxattr(self, name: bytes, value: bytes, flags: int) -> None:
        self.copy_up().setxattr(name, value, flags)

    def listxattr(self) -> list[bytes]:
        return self.real().listxattr()

    def removexattr(self, name: bytes) -> None:
        if self.up() is None:
            self.lower.getxattr(name)  # type: ignore[union-attr]  # ENODATA: no copy-up
        self.copy_up().removexattr(name)

    def host_path(self) -> bytes | None:
        return self.real().host_path()

    # directories ------------------------------------------------------------------------
    def _child(self, name: bytes) -> OverlayInode | None:
        if self.fmt != st.S_IFDIR:
            raise KernelError(errno.ENOTDIR, "lookup in a non-directory")
        fs = self.fs
        u = self.up()
        if u is not None:
            cu = _opt(u, name)
            if cu is not None:
                cl = None
                if cu.is_dir() and cu.key not in fs.opaque:
                    lo = self._merged_lower()
                    if lo is not None:
                        cl = _opt(lo, name)
                        if cl is not None and not cl.is_dir():
                            cl = None
                return OverlayInode(fs, self, name, cu, cl)
            if fs.whited_out(u, name):
                return None
            if u.key in fs.opaque:
                return None
        if self.lower is None:
            return None
        cl = _opt(self.lower, name)
        return OverlayInode(fs, self, name, None, cl) if cl is not None else None

    def lookup(self, name: bytes) -> OverlayInode:
        c = self._child(name)
        if c is None:
            raise KernelError(errno.ENOENT, f"no {name!r} in overlay directory")
        return c

    def readdir(self) -> Iterator[DirEntry]:
        fs = self.fs
        u = self.up()
        lo = self._merged_lower()
        if u is None:
            return self.lower.readdir()  # type: ignore[union-attr]
        lower_entries: dict[bytes, DirEntry] = {}
        if lo is not None:
            lower_entries = {e.name: e for e in lo.readdir()}
        out: list[DirEntry] = []
        dev = u.fs.dev
        for e in u.readdir():
            le = lower_entries.pop(e.name, None)
            key = (dev, e.ino)
            if (le is not None and e.dtype == _DT_DIR and le.dtype == _DT_DIR
                    and key not in fs.opaque):
                ino = le.ino
            else:
                o = fs.origin.get(key)
                ino = o if o is not None else _UPPER_ONLY | e.ino
            out.append(DirEntry(e.name, ino, e.dtype))
        if lower_entries:
            wh = fs.whiteouts.get(u.key, ())
            out.extend(e for n, e in lower_entries.items() if n not in wh)
        return iter(out)

    def _is_empty(self) -> bool:
        return next(iter(self.readdir()), None) is None

    def _new(self, name: bytes, make: str, *args: object) -> OverlayInode:
        if self.fmt != st.S_IFDIR:
            raise KernelError(errno.ENOTDIR, "not a directory")
        if self._child(name) is not None:
            raise KernelError(errno.EEXIST, f"{name!r} exists")
        u = self.copy_up()
        inode = getattr(u, make)(name, *args)
        if self.fs.clear_whiteout(u, name) and make == "mkdir":
            self.fs.opaque.add(inode.key)  # the lower entry stays hidden under it
        return OverlayInode(self.fs, self, name, inode, None)

    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        return self._new(name, "create", mode, uid, gid)

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        return self._new(name, "mkdir", mode, uid, gid)

    def mknod(self, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Inode:
        return self._new(name, "mknod", mode, rdev, uid, gid)

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        return self._new(name, "symlink", target, uid, gid)

    def link(self, name: bytes, target: Inode) -> None:
        if not isinstance(target, OverlayInode) or target.fs is not self.fs:
            raise KernelError(errno.EXDEV, "hard link across filesystems")
        if self._child(name) is not None:
            raise KernelError(errno.EEXIST, f"{name!r} exists")
        tu = target.copy_up()
        u = self.copy_up()
        u.link(name, tu)
        self.fs.clear_whiteout(u, name)

    def _lower_has(self, name: bytes) -> bool:
        lo = self._merged_lower()
        return lo is not None and _opt(lo, name) is not None

    def _remove(self, name: bytes, isdir: bool) -> None:
        c = self.lookup(name)
        if isdir and not c.is_dir():
            raise KernelError(errno.ENOTDIR, f"rmdir of non-directory {name!r}")
        if not isdir and c.is_dir():
            raise KernelError(errno.EISDIR, f"unlink of directory {name!r}")
        if isdir and not c._is_empty():
            raise KernelError(errno.ENOTEMPTY, f"directory {name!r} not empty")
        whiteout = self._lower_has(name)
        u = self.copy_up() if whiteout else self.up()
        if c.upper is not None and u is not None:
            if isdir:
                u.rmdir(name)
                self.fs.forget_dir(c.upper)
            else:
                u.unlink(name)
        if whiteout:
            self.fs.add_whiteout(u, name)  # type: ignore[arg-type]

    def unlink(self, name: bytes) -> None:
        self._remove(name, False)

    def rmdir(self, name: bytes) -> None:
        self._remove(name, True)

    def rename(self, old_name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        """Files are copied up and renamed in the upper; a directory the lower has is EXDEV
        (Linux's overlay without redirect_dir), so programs fall back to copying."""
        if not isinstance(new_dir, OverlayInode) or new_dir.fs is not self.fs:
            raise KernelError(errno.EXDEV, "rename across filesystems")
        fs = self.fs
        src = self.lookup(old_name)
        dst = new_dir._child(new_name)
        if src.is_dir() and src.lower is not None:
            raise KernelError(errno.EXDEV, "rename of a directory the lower layer has")
        exchange = bool(flags & RENAME_EXCHANGE)
        if exchange:
            if dst is None:
                raise KernelError(errno.ENOENT, f"{new_name!r} does not exist")
            if dst.is_dir() and dst.lower is not None:
                raise KernelError(errno.EXDEV, "rename of a directory the lower layer has")
        elif dst is not None:
            if flags & RENAME_NOREPLACE:
                raise KernelError(errno.EEXIST, f"{new_name!r} exists")
            if dst.is_dir():
                if not src.is_dir():
                    raise KernelError(errno.EISDIR, f"{new_name!r} is a directory")
                if not dst._is_empty():
                    raise KernelError(errno.ENOTEMPTY, f"{new_name!r} not empty")
            elif src.is_dir():
                raise KernelError(errno.ENOTDIR, f"{new_name!r} is not a directory")
        src.copy_up()
        if exchange:
            dst.copy_up()  # type: ignore[union-attr]
        old_up = self.copy_up()
        new_up = new_dir.copy_up()
        old_whiteout = not exchange and self._lower_has(old_name)
        # A target only the lower has is hidden by the name the upper rename makes.
        dst_upper = _opt(new_up, new_name)
        old_up.rename(old_name, new_up, new_name, flags & RENAME_EXCHANGE)
        if dst_upper is not None and dst_upper.is_dir() and not exchange:
            fs.forget_dir(dst_upper)
        fs.clear_whiteout(new_up, new_name)
        # A directory only the upper had now sits where the lower may have one: opaque.
        for moved in (src, dst if exchange else None):
            if moved is not None and moved.is_dir():
                fs.opaque.add(moved.copy_up().key)
        if old_whiteout:
            fs.add_whiteout(old_up, old_name)

    # opening ----------------------------------------------------------------------------
    def open(self, flags: int) -> OpenFile:
        if self.fmt == st.S_IFDIR:
            return DirFile(self, flags)
        if self.fmt != st.S_IFREG:
            # FIFOs, sockets and devices: the layer's own file (a pipe has no offset or data
            # to forward), even though its fstat then names the layer's inode
            return self.real().open(flags)
        if flags & O_ACCMODE != O_RDONLY:
            real = self.copy_up().open(flags)
        else:
            real = self.real().open(flags)
        return OverlayFile(self, real, flags)


def _copy_attrs(u: Inode, s: Stat) -> None:
    u.chown(s.uid, s.gid)
    u.chmod(s.mode & 0o7777)
    u.set_times(s.atime_ns, s.mtime_ns)


def _copy_object(lower: Inode, s: Stat, pu: Inode, name: bytes, limit: int | None) -> Inode:
    """A copy of ``lower`` (whose stat is ``s``) named ``name`` in the upper directory ``pu``:
    the data (at most ``limit`` bytes), mode, owner and times; a directory without its
    entries."""
    kind = st.S_IFMT(s.mode)
    perm = s.mode & 0o7777
    if kind == st.S_IFDIR:
        u = pu.mkdir(name, perm, s.uid, s.gid)
    elif kind == st.S_IFREG:
        u = pu.create(name, perm, s.uid, s.gid)
        size = s.size if limit is None else min(limit, s.size)
        if size:
            src = lower.open(O_RDONLY)
            dst = u.open(O_WRONLY)
            try:
                off = 0
                while off < size:
                    data = src.pread(min(_CHUNK, size - off), off)
                    if not data:
                        break
                    dst.pwrite(data, off)
                    off += len(data)
            finally:
                src.release()
                dst.release()
    elif kind == st.S_IFLNK:
        u = pu.symlink(name, lower.readlink(), s.uid, s.gid)
    else:
        u = pu.mknod(name, s.mode, s.rdev, s.uid, s.gid)
    copy_xattrs(lower, u)
    if kind != st.S_IFLNK:
        u.chmod(perm)  # create applied the mode as given; chown may have cleared set-id bits
    u.set_times(s.atime_ns, s.mtime_ns)
    return u


class OverlayFile(OpenFile):
    """An open overlay file: the description (offset, flags, identity) is the overlay's, the
    data goes to the layer file opened beneath (the lower one for read-only opens of files
    not copied up)."""

    inode: OverlayInode

    def __init__(self, inode: OverlayInode, real: OpenFile, flags: int) -> None:
        super().__init__(inode, flags)
        self.real = real

    def host_fd(self) -> int | None:
        """The layer file's host fd (hostfs: the real file; tmpfs: its memfd), for mmap."""
        get = getattr(self.real, "host_fd", None)
        return get() if get is not None else None

    def pread(self, size: int, offset: int) -> bytes:
        return self.real.pread(size, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        return self.real.pwrite(data, offset)

    def size(self) -> int:
        return self.real.size()

    def fsync(self) -> None:
        self.real.fsync()

    def truncate(self, size: int) -> None:
        self.real.truncate(size)

    def ioctl(self, request: int, arg: int, task: object) -> int:
        return self.real.ioctl(request, arg, task)

    def release(self) -> None:
        self.real.release()
