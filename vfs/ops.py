"""The filesystem operations syscall handlers call.

Handlers decode arguments and pick the starting dentry (cwd or dirfd); everything else is
here, once. The model is gVisor's pkg/sentry/vfs and Linux's fs/namei.c: each docstring
lists the errors in the order Linux checks them, because programs and test suites depend on
which errno wins when several apply.

Functions taking a ``PathContext`` resolve a path; the ``*_dentry`` variants take a dentry
already found, for the fd-based calls (fchmod, fchown, futimens, fstatfs, reopening
/proc/self/fd/N).
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Callable
from dataclasses import dataclass

from compatd.errors import KernelError
from vfs import resolver
from vfs.base import Dentry, Inode, OpenFile, Stat, StatFs
from vfs.common import now_ns
from vfs.flags import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOATIME,
    O_NOCTTY,
    O_NOFOLLOW,
    O_PATH,
    O_RDWR,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
    writable,
)
from vfs.pipefs import open_fifo
from vfs.resolver import (
    PATH_MAX,
    RESOLVE_NO_XDEV,
    CredsLike,
    Parent,
    Walk,
    enter,
    may_access,
    resolve,
    resolve_parent,
)

MAY_EXEC = 1
MAY_WRITE = 2
MAY_READ = 4

# A policy's file_size limit (policies/limits.py) sets this: called with a regular file's
# size and the size a truncate or fallocate gives it, it raises FileTooBig past the
# writer's RLIMIT_FSIZE, as Linux's inode_newsize_ok does.
newsize_hook: Callable[[int, int], None] | None = None

_DOTS = (b".", b"..")

# Set while a policy with file rules is loaded (policies/engine.py): rename and link call it
# before they give a file a new name, with the old name (a dentry, or a directory and a
# name in it), the new one (directory, name) and whether the file is a directory; it raises
# KernelError to refuse. The resolver's hook checked each name for the call; this one keeps
# a new name from being a way out of a rule on the old one.
policy_rename_hook: Callable[[Dentry, bytes | None, Dentry, bytes, bool], None] | None = None

# statfs f_flags (ST_*)
ST_RDONLY = 0x1
ST_NOEXEC = 0x8
ST_VALID = 0x20
ST_RELATIME = 0x400


@dataclass(slots=True)
class PathContext:
    """Where and as whom a path is resolved: the task's root, the start (cwd or dirfd)."""

    root: Dentry
    start: Dentry
    creds: CredsLike
    umask: int = 0o022


class PathFile(OpenFile):
    """An O_PATH description: it names a file, and every data operation is EBADF."""

    def read(self, size: int) -> bytes:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def write(self, data: bytes) -> int:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def pread(self, size: int, offset: int) -> bytes:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def seek(self, offset: int, whence: int) -> int:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def readdir(self) -> list:  # type: ignore[type-arg]
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def ioctl(self, request: int, arg: int, task: object) -> int:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def truncate(self, size: int) -> None:
        raise KernelError(errno.EBADF, "O_PATH descriptor")

    def readable_bytes(self) -> int:
        raise KernelError(errno.EBADF, "O_PATH descriptor")


# permission helpers ----------------------------------------------------------------------

def _is_data(mode: int) -> bool:
    """Files whose writes a read-only filesystem refuses; devices, FIFOs and sockets are
    still writable on a read-only mount (sb_permission)."""
    return st.S_ISREG(mode) or st.S_ISDIR(mode) or st.S_ISLNK(mode)


def check_writable(d: Dentry) -> None:
    """EROFS if ``d``'s mount or filesystem is read-only."""
    d.mount.check_writable()


def permission(d: Dentry, creds: CredsLike, want: int, s: Stat | None = None) -> Stat:
    """inode_permission: EROFS for writing a file on a read-only mount, then EACCES.
    ``s`` is ``d``'s stat when the caller has just taken it."""
    if s is None:
        s = d.inode.stat()
    if want & MAY_WRITE and _is_data(s.mode):
        d.mount.check_writable()
    if not may_access(s, creds, want):
        raise KernelError(errno.EACCES, f"permission {want:o} denied on {d.name!r}")
    return s


def _may_create(dir: Dentry, creds: CredsLike) -> None:
    permission(dir, creds, MAY_WRITE | MAY_EXEC)


def _may_delete(dir: Dentry, victim: Inode, creds: CredsLike, isdir: bool) -> None:
    """may_delete: EACCES (w+x on the directory), EPERM (sticky), ENOTDIR / EISDIR."""
    ds = permission(dir, creds, MAY_WRITE | MAY_EXEC)
    vs = victim.stat()
    # Sticky directories (/tmp): only the file's owner, the directory's owner or root
    # may remove or rename an entry.
    if ds.mode & st.S_ISVTX and creds.fsuid not in (0, vs.uid, ds.uid):
        raise KernelError(errno.EPERM, "sticky directory: not the owner")
    if isdir and not st.S_ISDIR(vs.mode):
        raise KernelError(errno.ENOTDIR, "not a directory")
    if not isdir and st.S_ISDIR(vs.mode):
        raise KernelError(errno.EISDIR, "is a directory")


def _new_owner(dir: Dentry, creds: CredsLike, mode: int, isdir: bool) -> tuple[int, int, int]:
    """inode_init_owner: (mode, uid, gid) of a new inode; a setgid directory passes its group
    on (and its setgid bit to subdirectories)."""
    ds = dir.inode.stat()
    gid = creds.fsgid
    if ds.mode & st.S_ISGID:
        gid = ds.gid
        if isdir:
            mode |= st.S_ISGID
        elif (mode & (st.S_ISGID | st.S_IXGRP) == st.S_ISGID | st.S_IXGRP
              and creds.fsuid != 0 and not creds.in_group(gid)):
            mode &= ~st.S_ISGID
    return mode, creds.fsuid, gid


def _lookup_child(p: Parent) -> Inode | None:
    try:
        return p.dir.inode.lookup(p.name)
    except KernelError as e:
        if e.errno == errno.ENOENT:
            return None
        raise


def _child(p: Parent) -> Inode:
    inode = _lookup_child(p)
    if inode is None:
        raise KernelError(errno.ENOENT, f"{p.name!r} does not exist")
    return inode


def _is_mountpoint(dir: Dentry, inode: Inode) -> bool:
    return dir.mount.ns.child_mount(Dentry(mount=dir.mount, inode=inode)) is not None


def _is_ancestor(inode: Inode, d: Dentry) -> bool:
    """Whether ``inode`` is ``d`` or one of its ancestors within ``d``'s mount."""
    key = inode.key
    cur: Dentry | None = d
    while cur is not None and cur.mount is d.mount:
        if cur.inode.key == key:
            return True
        cur = cur.parent
    return False


# lookup and open -------------------------------------------------------------------------

def lookup(ctx: PathContext, path: bytes, follow: bool = True, how: int = 0) -> Dentry:
    """The dentry of ``path`` (see ``resolver.resolve`` for the errors; ``how`` holds
    openat2's RESOLVE_* restrictions)."""
    return resolve(ctx.root, ctx.start, path, follow=follow, creds=ctx.creds, how=how)


def open(ctx: PathContext, path: bytes, flags: int, mode: int = 0, how: int = 0) -> OpenFile:
    """open(2)/openat(2)/openat2(2); ``how`` holds openat2's RESOLVE_* restrictions.

    Errors, in Linux's order: EINVAL (O_CREAT|O_DIRECTORY), then O_TMPFILE's (``open_tmpfile``);
    the walk's (ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG; EXDEV and ELOOP for RESOLVE_*);
    with O_CREAT: EISDIR (trailing slash, or the name is ``.``/``..``), then for a new name
    EROFS and EACCES (w+x on the directory), for an existing one EEXIST (O_EXCL; a final
    symlink is not followed) and EISDIR (a directory); then as ``open_dentry``.
    """
    if flags & (O_CREAT | O_DIRECTORY) == O_CREAT | O_DIRECTORY:
        raise KernelError(errno.EINVAL, "O_CREAT|O_DIRECTORY")  # refused since Linux 6.4
    if flags & O_TMPFILE == O_TMPFILE:
        return open_tmpfile(ctx, path, flags, mode, how)
    if flags & O_PATH:
        # O_PATH ignores every flag but these, and checks no permission on the file.
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW
        d = lookup(ctx, path, follow=not flags & O_NOFOLLOW, how=how)
        if flags & O_DIRECTORY and not d.inode.is_dir():
            raise KernelError(errno.ENOTDIR, "O_DIRECTORY on a non-directory")
        f: OpenFile = PathFile(d.inode, flags)
        f.dentry = d
        return f
    if not flags & O_CREAT:
        d = lookup(ctx, path, follow=not flags & O_NOFOLLOW, how=how)
        return open_dentry(d, flags, ctx.creds)
    d, created = _lookup_or_create(ctx, path, flags, mode, how)
    if created:
        # A file this open created is opened without a permission check (a 0444 file
        # created with O_RDWR is writable through this descriptor) and is not truncated.
        f = d.inode.open(_file_flags(flags))
        f.dentry = d
        return f
    if flags & O_EXCL:
        raise KernelError(errno.EEXIST, "O_CREAT|O_EXCL on an existing name")
    if d.inode.is_dir():
        raise KernelError(errno.EISDIR, "O_CREAT on a directory")
    return open_dentry(d, flags, ctx.creds)


def _file_flags(flags: int) -> int:
    """What the open description keeps: Linux drops the creation-time flags, and FD_CLOEXEC
    belongs to the descriptor."""
    return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)


def _lookup_or_create(ctx: PathContext, path: bytes, flags: int, mode: int,
                      how: int = 0) -> tuple[Dentry, bool]:
    """The O_CREAT walk: (dentry, created).

    A final symlink is followed unless O_EXCL or O_NOFOLLOW, and a dangling one creates its
    target, as Linux does; the chain shares one walk's symlink budget and restrictions.
    """
    start = ctx.start
    walk = Walk(ctx.root, ctx.creds, how, start)
    while True:
        # The policy hears of the name only once it is known whether it will be created
        # here, or is an existing file (or a symlink, whose target it hears of instead).
        p = resolve_parent(ctx.root, start, path, walk=walk, checked=False)
        if p.name in _DOTS:
            return _reached(walk.walk(p.dir, p.name, True)), False
        if p.trailing_slash:
            raise KernelError(errno.EISDIR, "O_CREAT with a trailing slash")
        inode = _lookup_child(p)
        if inode is None:
            if resolver.policy_hook is not None:
                resolver.policy_hook(p.dir, p.name)
            p.dir.mount.check_writable()
            _may_create(p.dir, ctx.creds)
            m, uid, gid = _new_owner(p.dir, ctx.creds, mode & ~ctx.umask & 0o7777, False)
            inode = p.dir.inode.create(p.name, m, uid, gid)
            return Dentry(mount=p.dir.mount, inode=inode, name=p.name, parent=p.dir), True
        d = enter(p.dir, p.name, inode)
        if how & RESOLVE_NO_XDEV:  # the final component may not be a mount point either
            walk.no_xdev(p.dir, d)
        if flags & (O_EXCL | O_NOFOLLOW) or not d.inode.is_symlink():
            return _reached(d), False
        target = walk.final_link(d)
        if isinstance(target, Dentry):
            return target, False
        path = target
        start = p.dir


def _reached(d: Dentry) -> Dentry:
    """``d``, once the policy hook (if any) accepts it as a walk's end."""
    if resolver.policy_hook is not None:
        resolver.policy_hook(d, None)
    return d


def _acc_mode(flags: int) -> int:
    """The permission an open needs (Linux's ACC_MODE; O_ACCMODE==3 needs both)."""
    acc = (MAY_READ, MAY_WRITE, MAY_READ | MAY_WRITE, MAY_READ | MAY_WRITE)[flags & O_ACCMODE]
    if flags & O_TRUNC:
        acc |= MAY_WRITE
    return acc


def open_dentry(d: Dentry, flags: int, creds: CredsLike) -> OpenFile:
    """Open an existing file (do_open + may_open).

    Errors, in order: ENOTDIR (O_DIRECTORY), ELOOP (a symlink: O_NOFOLLOW), EISDIR (a
    directory for writing), EROFS (writing or truncating a regular file, directory or
    symlink on a read-only mount; devices and FIFOs stay writable), EACCES, EPERM
    (O_NOATIME by a non-owner), then what the filesystem's open gives (ENXIO for a FIFO or
    socket it cannot open).
    """
    inode = d.inode
    s = inode.stat()
    kind = st.S_IFMT(s.mode)
    if flags & O_DIRECTORY and kind != st.S_IFDIR:
        raise KernelError(errno.ENOTDIR, "O_DIRECTORY on a non-directory")
    if kind == st.S_IFLNK:
        raise KernelError(errno.ELOOP, "O_NOFOLLOW on a symbolic link")
    acc = _acc_mode(flags)
    if kind == st.S_IFDIR and acc & MAY_WRITE:
        raise KernelError(errno.EISDIR, "directory opened for writing")
    trunc = bool(flags & O_TRUNC) and kind == st.S_IFREG
    permission(d, creds, acc, s)
    if flags & O_NOATIME and creds.fsuid not in (0, s.uid):
        raise KernelError(errno.EPERM, "O_NOATIME by a non-owner")
    if trunc:
        inode.truncate(0)
    if kind == st.S_IFIFO and inode.fifo_in_pipefs:
        # Every FIFO, whatever filesystem holds it, is a pipe of pipefs (may block: WouldBlock).
        f = open_fifo(inode, _file_flags(flags))
    else:
        f = inode.open(_file_flags(flags))
    f.dentry = d
    return f


def open_tmpfile(ctx: PathContext, path: bytes, flags: int, mode: int, how: int = 0) -> OpenFile:
    """O_TMPFILE: an unnamed regular file in the directory ``path``'s filesystem, which
    linkat(AT_EMPTY_PATH) may name later unless O_EXCL.

    Errors: EINVAL (not opened for writing), the walk's, ENOTDIR, EROFS, EACCES (w+x on
    the directory). The file is made as a name and unlinked at once: every writable
    filesystem can, and an inode with no name lives as long as the open file.
    """
    if flags & O_ACCMODE not in (O_WRONLY, O_RDWR):
        raise KernelError(errno.EINVAL, "O_TMPFILE needs O_WRONLY or O_RDWR")
    d = lookup(ctx, path, how=how)
    if not d.inode.is_dir():
        raise KernelError(errno.ENOTDIR, "O_TMPFILE in a non-directory")
    check_writable(d)
    permission(d, ctx.creds, MAY_WRITE | MAY_EXEC)
    new_mode, uid, gid = _new_owner(d, ctx.creds, st.S_IFREG | (mode & ~ctx.umask & 0o7777),
                                    False)
    file_flags = _file_flags(flags & ~O_TMPFILE) | (flags & O_ACCMODE)
    host_tmpfile = getattr(d.inode, "open_tmpfile", None)
    if host_tmpfile is not None:
        f = host_tmpfile(file_flags, new_mode)
        inode = f.inode
    else:
        global _tmpfile_seq
        _tmpfile_seq += 1
        name = b".compatd-o_tmpfile-%d-%d" % (os.getpid(), _tmpfile_seq)
        inode = d.inode.create(name, new_mode, uid, gid)
        f = inode.open(file_flags)
        d.inode.unlink(name)
    assert inode is not None
    f.dentry = enter(d, b"#%d" % inode.ino, inode)
    f.linkable = not flags & O_EXCL  # type: ignore[attr-defined]
    return f


_tmpfile_seq = 0


# creating names --------------------------------------------------------------------------

def _create_target(ctx: PathContext, path: bytes, isdir: bool) -> Parent:
    """filename_create: EEXIST (``.``/``..`` or an existing name, symlinks not followed),
    ENOENT (a trailing slash on a new non-directory), EROFS."""
    p = resolve_parent(ctx.root, ctx.start, path, creds=ctx.creds)
    if p.name in _DOTS or _lookup_child(p) is not None:
        raise KernelError(errno.EEXIST, f"{p.name!r} exists")
    if p.trailing_slash and not isdir:
        raise KernelError(errno.ENOENT, "trailing slash on a new non-directory")
    p.dir.mount.check_writable()
    return p


def mkdir(ctx: PathContext, path: bytes, mode: int) -> None:
    """mkdir(2): the walk's errors, EEXIST, EROFS, EACCES (w+x on the parent)."""
    p = _create_target(ctx, path, True)
    _may_create(p.dir, ctx.creds)
    m, uid, gid = _new_owner(p.dir, ctx.creds, mode & ~ctx.umask & 0o1777, True)
    p.dir.inode.mkdir(p.name, m, uid, gid)


def mknod(ctx: PathContext, path: bytes, mode: int, rdev: int = 0) -> Inode:
    """mknod(2) of a regular file, FIFO, socket or (for root) device node.

    Errors, in Linux's order: EPERM (a directory), EINVAL (an unknown type), the walk's and
    the new name's (as mkdir), EACCES (w+x on the parent), EPERM (a device node without
    CAP_MKNOD, which fsuid 0 stands for). Returns the new inode (bind of an AF_UNIX
    socket keeps it).
    """
    kind = st.S_IFMT(mode)
    if kind == st.S_IFDIR:
        raise KernelError(errno.EPERM, "mknod of a directory")
    if kind not in (0, st.S_IFREG, st.S_IFIFO, st.S_IFSOCK, st.S_IFCHR, st.S_IFBLK):
        raise KernelError(errno.EINVAL, f"mknod of unknown type {kind:#o}")
    p = _create_target(ctx, path, False)
    _may_create(p.dir, ctx.creds)
    if kind in (st.S_IFCHR, st.S_IFBLK):
        if ctx.creds.fsuid != 0:
            raise KernelError(errno.EPERM, "device node without CAP_MKNOD")
    else:
        rdev = 0
    m, uid, gid = _new_owner(p.dir, ctx.creds, mode & ~ctx.umask & 0o7777, False)
    return p.dir.inode.mknod(p.name, (kind or st.S_IFREG) | m, rdev, uid, gid)


def symlink(target: bytes, ctx: PathContext, path: bytes) -> None:
    """symlink(2): ENOENT (empty target), ENAMETOOLONG (target of 4096+ bytes), then as
    mkdir (a trailing slash on the new name is ENOENT)."""
    if not target:
        raise KernelError(errno.ENOENT, "empty symlink target")
    if len(target) >= PATH_MAX:
        raise KernelError(errno.ENAMETOOLONG, "symlink target too long")
    p = _create_target(ctx, path, False)
    _may_create(p.dir, ctx.creds)
    _, uid, gid = _new_owner(p.dir, ctx.creds, 0o777, False)
    p.dir.inode.symlink(p.name, target, uid, gid)


def link(old_ctx: PathContext, old: bytes, new_ctx: PathContext, new: bytes,
         follow: bool = False) -> None:
    """link(2)/linkat(2).

    Errors: the old walk's, then the new name's (EEXIST, ENOENT, EROFS), EXDEV (different
    mounts), EACCES (w+x on the new parent), EPERM (a directory; or, as with Linux's
    protected_hardlinks, a file the caller neither owns nor may read and write), ENOENT (a
    file whose last name is gone).
    """
    src = lookup(old_ctx, old, follow=follow)
    link_dentry(src, new_ctx, new, file=src.file)


def link_dentry(src: Dentry, new_ctx: PathContext, new: bytes,
                file: OpenFile | None = None) -> None:
    """A new name for ``src``; with ``file`` (linkat with AT_EMPTY_PATH) for the file that
    open description holds, whose last name may be gone: an O_TMPFILE file opened without
    O_EXCL (``file.linkable``) may get one again. Errors as ``link``."""
    p = _create_target(new_ctx, new, False)
    if src.mount is not p.dir.mount:
        raise KernelError(errno.EXDEV, "hard link across mounts")
    _may_create(p.dir, new_ctx.creds)
    s = src.inode.stat() if file is None else file.stat()
    if st.S_ISDIR(s.mode):
        raise KernelError(errno.EPERM, "hard link to a directory")
    creds = new_ctx.creds
    if creds.fsuid not in (0, s.uid) and not (
            st.S_ISREG(s.mode) and not s.mode & st.S_ISUID
            and s.mode & (st.S_ISGID | st.S_IXGRP) != st.S_ISGID | st.S_IXGRP
            and may_access(s, creds, MAY_READ | MAY_WRITE)):
        raise KernelError(errno.EPERM, "protected_hardlinks: not the owner")
    if policy_rename_hook is not None:
        policy_rename_hook(src, None, p.dir, p.name, False)
    if file is None:
        p.dir.inode.link(p.name, src.inode)
        return
    if s.nlink == 0 and not getattr(file, "linkable", False):
        raise KernelError(errno.ENOENT, "the file has no name left")
    p.dir.inode.link_file(p.name, file)


# removing names --------------------------------------------------------------------------

def unlink(ctx: PathContext, path: bytes) -> None:
    """unlink(2).

    Errors: the walk's, EISDIR (``.``/``..``), EROFS, ENOENT, with a trailing slash EISDIR
    (a directory) or ENOTDIR, EACCES (w+x on the parent), EPERM (sticky), EISDIR, EBUSY (a
    mount point).
    """
    p = resolve_parent(ctx.root, ctx.start, path, creds=ctx.creds)
    if p.name in _DOTS:
        raise KernelError(errno.EISDIR, f"unlink of {p.name!r}")
    p.dir.mount.check_writable()
    inode = _child(p)
    if p.trailing_slash:
        raise KernelError(errno.EISDIR if inode.is_dir() else errno.ENOTDIR,
                          "unlink with a trailing slash")
    _may_delete(p.dir, inode, ctx.creds, False)
    if _is_mountpoint(p.dir, inode):
        raise KernelError(errno.EBUSY, f"{p.name!r} is a mount point")
    p.dir.inode.unlink(p.name)


def rmdir(ctx: PathContext, path: bytes) -> None:
    """rmdir(2).

    Errors: the walk's, EBUSY (``/``), ENOTEMPTY (``..``), EINVAL (``.``), EROFS, ENOENT,
    EACCES (w+x on the parent), EPERM (sticky), ENOTDIR, EBUSY (a mount point), ENOTEMPTY.
    """
    p = resolve_parent(ctx.root, ctx.start, path, creds=ctx.creds)
    if not path.strip(b"/"):
        raise KernelError(errno.EBUSY, "rmdir of the root")
    if p.name == b"..":
        raise KernelError(errno.ENOTEMPTY, "rmdir of '..'")
    if p.name == b".":
        raise KernelError(errno.EINVAL, "rmdir of '.'")
    p.dir.mount.check_writable()
    inode = _child(p)
    _may_delete(p.dir, inode, ctx.creds, True)
    if _is_mountpoint(p.dir, inode):
        raise KernelError(errno.EBUSY, f"{p.name!r} is a mount point")
    p.dir.inode.rmdir(p.name)


def rename(old_ctx: PathContext, old: bytes, new_ctx: PathContext, new: bytes,
           flags: int = 0) -> None:
    """rename(2)/renameat2(2).

    Errors, in Linux's order: EINVAL (unknown flags, EXCHANGE with NOREPLACE or WHITEOUT,
    WHITEOUT: not supported yet); both walks'; EXDEV (different mounts); EBUSY (old is
    ``.``/``..``); EEXIST with NOREPLACE else EBUSY (new is ``.``/``..``); EROFS; ENOENT (no
    old); EEXIST (NOREPLACE, new exists); ENOENT (EXCHANGE, no new); ENOTDIR (trailing
    slashes on a non-directory); EINVAL (old is an ancestor of new); ENOTEMPTY (new is an
    ancestor of old; EINVAL for EXCHANGE); success if both name one inode; EACCES/EPERM
    (may_delete of old, may_create or may_delete of new: ENOTDIR/EISDIR for a directory
    over a non-directory or the reverse); EACCES (moving a directory to another parent needs
    write permission on it, for its ``..``); EBUSY (a mount point); ENOTEMPTY (the
    filesystem: a non-empty directory replaced).
    """
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise KernelError(errno.EINVAL, f"rename flags {flags:#x}")
    if flags & RENAME_EXCHANGE and flags & (RENAME_NOREPLACE | RENAME_WHITEOUT):
        raise KernelError(errno.EINVAL, "RENAME_EXCHANGE with other flags")
    if flags & RENAME_WHITEOUT:
        raise KernelError(errno.EINVAL, "RENAME_WHITEOUT is not supported yet")
    exchange = bool(flags & RENAME_EXCHANGE)
    op = resolve_parent(old_ctx.root, old_ctx.start, old, creds=old_ctx.creds)
    np = resolve_parent(new_ctx.root, new_ctx.start, new, creds=new_ctx.creds)
    if op.dir.mount is not np.dir.mount:
        raise KernelError(errno.EXDEV, "rename across mounts")
    if op.name in _DOTS:
        raise KernelError(errno.EBUSY, f"rename of {op.name!r}")
    if np.name in _DOTS:
        raise KernelError(errno.EEXIST if flags & RENAME_NOREPLACE else errno.EBUSY,
                          f"rename onto {np.name!r}")
    op.dir.mount.check_writable()
    src = _child(op)
    dst = _lookup_child(np)
    if flags & RENAME_NOREPLACE and dst is not None:
        raise KernelError(errno.EEXIST, f"{np.name!r} exists")
    if exchange:
        if dst is None:
            raise KernelError(errno.ENOENT, f"{np.name!r} does not exist")
        if np.trailing_slash and not dst.is_dir():
            raise KernelError(errno.ENOTDIR, "trailing slash on a non-directory")
    src_dir = src.is_dir()
    if not src_dir and (op.trailing_slash or (not exchange and np.trailing_slash)):
        raise KernelError(errno.ENOTDIR, "trailing slash on a non-directory")
    if _is_ancestor(src, np.dir):
        raise KernelError(errno.EINVAL, "moving a directory into itself")
    if dst is not None and _is_ancestor(dst, op.dir):
        raise KernelError(errno.EINVAL if exchange else errno.ENOTEMPTY,
                          "replacing an ancestor of the source")
    if dst is not None and dst.key == src.key:
        return
    creds = new_ctx.creds
    _may_delete(op.dir, src, old_ctx.creds, src_dir)
    if dst is None:
        _may_create(np.dir, creds)
    else:
        _may_delete(np.dir, dst, creds, dst.is_dir() if exchange else src_dir)
    if op.dir.inode.key != np.dir.inode.key:
        if src_dir:
            permission(Dentry(mount=op.dir.mount, inode=src), old_ctx.creds, MAY_WRITE)
        if exchange and dst is not None and dst.is_dir():
            permission(Dentry(mount=np.dir.mount, inode=dst), creds, MAY_WRITE)
    if _is_mountpoint(op.dir, src) or (dst is not None and _is_mountpoint(np.dir, dst)):
        raise KernelError(errno.EBUSY, "rename of a mount point")
    if policy_rename_hook is not None:
        policy_rename_hook(op.dir, op.name, np.dir, np.name, src_dir)
        if exchange and dst is not None:
            policy_rename_hook(np.dir, np.name, op.dir, op.name, dst.is_dir())
    op.dir.inode.rename(op.name, np.dir.inode, np.name, flags)


# reading names and attributes ------------------------------------------------------------

def readlink(ctx: PathContext, path: bytes) -> bytes:
    """readlink(2): the walk's errors (the final link is not followed), EINVAL if not a
    symlink."""
    d = lookup(ctx, path, follow=False)
    if not d.inode.is_symlink():
        raise KernelError(errno.EINVAL, "not a symbolic link")
    return d.inode.readlink()


def stat(ctx: PathContext, path: bytes, follow: bool = True) -> Stat:
    return lookup(ctx, path, follow=follow).inode.stat()


def statfs_dentry(d: Dentry) -> StatFs:
    """statfs of the filesystem ``d`` is on, with the mount's flags in ``flags``."""
    sfs = d.mount.fs.statfs()
    flags = ST_VALID | ST_RELATIME
    if d.mount.readonly or d.mount.fs.readonly:
        flags |= ST_RDONLY
    if d.mount.noexec:
        flags |= ST_NOEXEC
    sfs.flags = flags
    return sfs


def statfs(ctx: PathContext, path: bytes) -> StatFs:
    return statfs_dentry(lookup(ctx, path))


def access_dentry(d: Dentry, creds: CredsLike, mode: int) -> None:
    """faccessat(2) on a resolved dentry (also AT_EMPTY_PATH on a descriptor).

    Errors: EINVAL (bits beyond R|W|X), EROFS (W_OK on a read-only mount, for regular
    files, directories and symlinks; Linux checks this first only for a read-only
    filesystem, we do for both), EACCES, EACCES (X_OK on a noexec mount).
    """
    if mode & ~0o7:
        raise KernelError(errno.EINVAL, f"access mode {mode:#o}")
    if not mode:
        return
    s = permission(d, creds, mode)
    if mode & MAY_EXEC and st.S_ISREG(s.mode) and d.mount.noexec:
        raise KernelError(errno.EACCES, "noexec mount")


def access(ctx: PathContext, path: bytes, mode: int, follow: bool = True) -> None:
    """faccessat(2) with ``ctx.creds`` (the handler passes real ids unless AT_EACCESS):
    EINVAL first, then the walk's errors, then as ``access_dentry``."""
    if mode & ~0o7:
        raise KernelError(errno.EINVAL, f"access mode {mode:#o}")
    access_dentry(lookup(ctx, path, follow=follow), ctx.creds, mode)


def chdir_target(ctx: PathContext, path: bytes) -> Dentry:
    """chdir(2)/chroot(2): the walk's errors, ENOTDIR, EACCES (no search permission)."""
    d = lookup(ctx, path)
    if not d.inode.is_dir():
        raise KernelError(errno.ENOTDIR, "not a directory")
    permission(d, ctx.creds, MAY_EXEC)
    return d


# changing attributes ---------------------------------------------------------------------

def chmod_dentry(d: Dentry, creds: CredsLike, mode: int) -> None:
    """chmod: EROFS, EOPNOTSUPP (a symlink), EPERM (not the owner or root). A caller outside
    the file's group loses S_ISGID, as setattr_prepare does."""
    d.mount.check_writable()
    s = d.inode.stat()
    if st.S_ISLNK(s.mode):
        raise KernelError(errno.EOPNOTSUPP, "chmod of a symbolic link")
    if creds.fsuid not in (0, s.uid):
        raise KernelError(errno.EPERM, "chmod by a non-owner")
    mode &= 0o7777
    if creds.fsuid != 0 and not creds.in_group(s.gid):
        mode &= ~st.S_ISGID
    d.inode.chmod(mode)


def chmod(ctx: PathContext, path: bytes, mode: int, follow: bool = True) -> None:
    chmod_dentry(lookup(ctx, path, follow=follow), ctx.creds, mode)


def chown_dentry(d: Dentry, creds: CredsLike, uid: int, gid: int) -> None:
    """chown: EROFS, EPERM (only root gives files away; the owner may change the group to
    one of its groups). Non-directories lose S_ISUID, and S_ISGID when group-executable,
    whoever changes them (chown_common's ATTR_KILL_SUID/SGID)."""
    d.mount.check_writable()
    s = d.inode.stat()
    if creds.fsuid != 0:
        if uid != -1 and not (creds.fsuid == s.uid == uid):
            raise KernelError(errno.EPERM, "chown to another user")
        if gid != -1 and not (creds.fsuid == s.uid
                              and (gid == s.gid or creds.in_group(gid))):
            raise KernelError(errno.EPERM, "chgrp to a group not ours")
    d.inode.chown(uid, gid)
    if st.S_ISDIR(s.mode) or st.S_ISLNK(s.mode):
        return
    mode = d.inode.stat().mode
    kill = st.S_ISUID | (st.S_ISGID if mode & st.S_IXGRP else 0)
    if mode & kill:
        d.inode.chmod(mode & 0o7777 & ~kill)


def chown(ctx: PathContext, path: bytes, uid: int, gid: int, follow: bool = True) -> None:
    chown_dentry(lookup(ctx, path, follow=follow), ctx.creds, uid, gid)


def utimes_dentry(d: Dentry, creds: CredsLike, atime_ns: int | None, mtime_ns: int | None,
                  *, touch: bool = False) -> None:
    """utimensat on a dentry. ``None`` leaves a time (UTIME_OMIT); ``touch`` means both are
    "now" (a NULL times pointer or both UTIME_NOW), for which write permission suffices.

    Errors: none if both are omitted; EROFS; then for a non-owner EACCES (touch without
    write permission) or EPERM (explicit times).
    """
    if not touch and atime_ns is None and mtime_ns is None:
        return
    d.mount.check_writable()
    s = d.inode.stat()
    if creds.fsuid not in (0, s.uid):
        if not touch:
            raise KernelError(errno.EPERM, "setting explicit times on a file not ours")
        if not may_access(s, creds, MAY_WRITE):
            raise KernelError(errno.EACCES, "no write permission to touch")
    if touch:
        atime_ns = mtime_ns = now_ns()
    d.inode.set_times(atime_ns, mtime_ns)


def utimes(ctx: PathContext, path: bytes, atime_ns: int | None, mtime_ns: int | None,
           follow: bool = True, *, touch: bool = False) -> None:
    utimes_dentry(lookup(ctx, path, follow=follow), ctx.creds, atime_ns, mtime_ns,
                  touch=touch)


def truncate_dentry(d: Dentry, creds: CredsLike, length: int) -> None:
    """vfs_truncate: EINVAL (negative), EISDIR, EINVAL (not a regular file), EROFS, EACCES."""
    if length < 0:
        raise KernelError(errno.EINVAL, "negative length")
    s = d.inode.stat()
    if st.S_ISDIR(s.mode):
        raise KernelError(errno.EISDIR, "truncate of a directory")
    if not st.S_ISREG(s.mode):
        raise KernelError(errno.EINVAL, "truncate of a non-regular file")
    permission(d, creds, MAY_WRITE)
    if newsize_hook is not None:
        newsize_hook(s.size, length)
    d.inode.truncate(length)


def truncate(ctx: PathContext, path: bytes, length: int) -> None:
    """truncate(2): EINVAL (negative, checked first), the walk's errors, then as
    ``truncate_dentry``."""
    if length < 0:
        raise KernelError(errno.EINVAL, "negative length")
    truncate_dentry(lookup(ctx, path), ctx.creds, length)


def ftruncate(f: OpenFile, length: int) -> None:
    """ftruncate(2): EINVAL (negative), EBADF (O_PATH), EINVAL (not a regular file or not
    open for writing)."""
    if length < 0:
        raise KernelError(errno.EINVAL, "negative length")
    if isinstance(f, PathFile):
        raise KernelError(errno.EBADF, "O_PATH descriptor")
    if f.inode is None or not st.S_ISREG(f.stat().mode) or not writable(f.flags):
        raise KernelError(errno.EINVAL, "ftruncate of a file not open for writing")
    if newsize_hook is not None:
        newsize_hook(f.size(), length)
    f.truncate(length)
