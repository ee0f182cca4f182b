"""Names in the tree: access, mkdir, mknod, link, unlink, rmdir, rename, symlink, readlink,
truncate, getcwd, chdir, fchdir, chroot."""

from __future__ import annotations

import errno

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import lookup_at, path_context, read_at_path
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import Dentry
from vfs.flags import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_REMOVEDIR,
    AT_SYMLINK_FOLLOW,
    AT_SYMLINK_NOFOLLOW,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
)

FULL = Level.FULL


def do_access(t: Task, dirfd: int, path_addr: int, mode: int, flags: int) -> int:
    if mode & ~7:
        raise KernelError(errno.EINVAL, f"access mode {mode:#o}")
    if flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"faccessat2 flags {flags:#x}")
    d = lookup_at(t, dirfd, path_addr, flags, follow=not flags & AT_SYMLINK_NOFOLLOW)
    # access(2) checks with the real ids unless AT_EACCESS; the emulated credentials keep
    # both, and they only differ after set*id calls, which arrive with the processes issue.
    ops.access_dentry(d, t.creds, mode)
    return 0


@syscall("access", FULL, "path:path mode:flags/access_mode")
def sys_access(t: Task, path: int, mode: int) -> int:
    return do_access(t, AT_FDCWD, path, mode, 0)


@syscall("faccessat", FULL, "dirfd:fd path:path mode:flags/access_mode")
def sys_faccessat(t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_access(t, dirfd, path, mode, 0)


@syscall("faccessat2", FULL, "dirfd:fd path:path mode:flags/access_mode flags:flags/at")
def sys_faccessat2(t: Task, dirfd: int, path: int, mode: int, flags: int) -> int:
    return do_access(t, dirfd, path, mode, flags)


def do_mkdirat(t: Task, dirfd: int, path_addr: int, mode: int) -> int:
    path = t.read_path(path_addr)
    ops.mkdir(path_context(t, dirfd, path), path, mode & 0o7777)
    return 0


@syscall("mkdir", FULL, "path:path mode:mode")
def sys_mkdir(t: Task, path: int, mode: int) -> int:
    return do_mkdirat(t, AT_FDCWD, path, mode)


@syscall("mkdirat", FULL, "dirfd:fd path:path mode:mode")
def sys_mkdirat(t: Task, dirfd: int, path: int, mode: int) -> int:
    return do_mkdirat(t, dirfd, path, mode)


def do_mknodat(t: Task, dirfd: int, path_addr: int, mode: int, dev: int) -> int:
    path = t.read_path(path_addr)
    ops.mknod(path_context(t, dirfd, path), path, mode, dev)
    return 0


@syscall("mknod", FULL, "path:path mode:mode dev:uint")
def sys_mknod(t: Task, path: int, mode: int, dev: int) -> int:
    return do_mknodat(t, AT_FDCWD, path, mode, dev)


@syscall("mknodat", FULL, "dirfd:fd path:path mode:mode dev:uint")
def sys_mknodat(t: Task, dirfd: int, path: int, mode: int, dev: int) -> int:
    return do_mknodat(t, dirfd, path, mode, dev)


def do_linkat(t: Task, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int,
              flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"linkat flags {flags:#x}")
    # AT_EMPTY_PATH: Linux 6.10+ lets the opener of the file (same credentials; ours never
    # change yet) name it, as CAP_DAC_READ_SEARCH always could.
    old, f = read_at_path(t, olddirfd, old_addr, flags)
    new = t.read_path(new_addr)
    new_ctx = path_context(t, newdirfd, new)
    if f is None:
        ops.link(path_context(t, olddirfd, old), old, new_ctx, new,
                 follow=bool(flags & AT_SYMLINK_FOLLOW))
        return 0
    if f.dentry is None:
        raise KernelError(errno.ENOENT, "descriptor has no name in the sandbox")
    ops.link_dentry(f.dentry, new_ctx, new, file=f)
    return 0


@syscall("link", FULL, "oldpath:path newpath:path")
def sys_link(t: Task, old: int, new: int) -> int:
    return do_linkat(t, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("linkat", FULL, "olddirfd:fd oldpath:path newdirfd:fd newpath:path flags:flags/at")
def sys_linkat(t: Task, olddirfd: int, old: int, newdirfd: int, new: int, flags: int) -> int:
    return do_linkat(t, olddirfd, old, newdirfd, new, flags)


def do_unlinkat(t: Task, dirfd: int, path_addr: int, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise KernelError(errno.EINVAL, f"unlinkat flags {flags:#x}")
    path = t.read_path(path_addr)
    ctx = path_context(t, dirfd, path)
    if flags & AT_REMOVEDIR:
        ops.rmdir(ctx, path)
    else:
        ops.unlink(ctx, path)
    return 0


@syscall("unlink", FULL, "path:path")
def sys_unlink(t: Task, path: int) -> int:
    return do_unlinkat(t, AT_FDCWD, path, 0)


@syscall("rmdir", FULL, "path:path")
def sys_rmdir(t: Task, path: int) -> int:
    return do_unlinkat(t, AT_FDCWD, path, AT_REMOVEDIR)


@syscall("unlinkat", FULL, "dirfd:fd path:path flags:flags/at")
def sys_unlinkat(t: Task, dirfd: int, path: int, flags: int) -> int:
    return do_unlinkat(t, dirfd, path, flags)


def do_renameat2(t: Task, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int,
                 flags: int) -> int:
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise KernelError(errno.EINVAL, f"renameat2 flags {flags:#x}")
    if flags & RENAME_EXCHANGE and flags & (RENAME_NOREPLACE | RENAME_WHITEOUT):
        raise KernelError(errno.EINVAL, "RENAME_EXCHANGE with another flag")
    old = t.read_path(old_addr)
    new = t.read_path(new_addr)
    ops.rename(path_context(t, olddirfd, old), old, path_context(t, newdirfd, new), new, flags)
    return 0


@syscall("rename", FULL, "oldpath:path newpath:path")
def sys_rename(t: Task, old: int, new: int) -> int:
    return do_renameat2(t, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("renameat", FULL, "olddirfd:fd oldpath:path newdirfd:fd newpath:path")
def sys_renameat(t: Task, olddirfd: int, old: int, newdirfd: int, new: int) -> int:
    return do_renameat2(t, olddirfd, old, newdirfd, new, 0)


@syscall(
    "renameat2",
    Level.PARTIAL,
    "olddirfd:fd oldpath:path newdirfd:fd newpath:path flags:flags/renameat2",
    unsupported=("RENAME_WHITEOUT: EINVAL until overlay whiteouts arrive",),
)
def sys_renameat2(t: Task, olddirfd: int, old: int, newdirfd: int, new: int, flags: int) -> int:
    return do_renameat2(t, olddirfd, old, newdirfd, new, flags)


def do_symlinkat(t: Task, target_addr: int, dirfd: int, path_addr: int) -> int:
    target = t.read_path(target_addr)
    path = t.read_path(path_addr)
    ops.symlink(target, path_context(t, dirfd, path), path)
    return 0


@syscall("symlink", FULL, "target:path linkpath:path")
def sys_symlink(t: Task, target: int, path: int) -> int:
    return do_symlinkat(t, target, AT_FDCWD, path)


@syscall("symlinkat", FULL, "target:path dirfd:fd linkpath:path")
def sys_symlinkat(t: Task, target: int, dirfd: int, path: int) -> int:
    return do_symlinkat(t, target, dirfd, path)


def do_readlinkat(t: Task, dirfd: int, path_addr: int, buf: int, bufsiz: int) -> int:
    if bufsiz <= 0:
        raise KernelError(errno.EINVAL, "bufsiz <= 0")
    # An empty path reads the symlink an O_PATH|O_NOFOLLOW descriptor names (Linux 2.6.39).
    path, f = read_at_path(t, dirfd, path_addr, AT_EMPTY_PATH)
    if f is not None:
        if f.inode is None:
            raise KernelError(errno.EINVAL, "not a symbolic link")
        target = f.inode.readlink()
    else:
        target = ops.readlink(path_context(t, dirfd, path), path)
    data = target[:bufsiz]
    t.mem.write(buf, data)
    return len(data)


@syscall("readlink", FULL, "path:path buf:buf_out bufsiz:int")
def sys_readlink(t: Task, path: int, buf: int, bufsiz: int) -> int:
    return do_readlinkat(t, AT_FDCWD, path, buf, bufsiz)


@syscall("readlinkat", FULL, "dirfd:fd path:path buf:buf_out bufsiz:int")
def sys_readlinkat(t: Task, dirfd: int, path: int, buf: int, bufsiz: int) -> int:
    return do_readlinkat(t, dirfd, path, buf, bufsiz)


@syscall("truncate", FULL, "path:path length:off")
def sys_truncate(t: Task, path_addr: int, length: int) -> int:
    path = t.read_path(path_addr)
    ops.truncate(path_context(t, AT_FDCWD, path), path, length)
    return 0


def path_under(d: Dentry, root: Dentry) -> bytes | None:
    """The path of ``d`` as seen from ``root`` (a chroot), or None if ``d`` is not under it."""
    parts: list[bytes] = []
    cur: Dentry | None = d
    while cur is not None and not cur.same(root):
        if cur.parent is None:
            return None
        parts.append(cur.name)
        cur = cur.parent
    return b"/" + b"/".join(reversed(parts))


@syscall("getcwd", FULL, "buf:buf_out size:size")
def sys_getcwd(t: Task, buf: int, size: int) -> int:
    rel = path_under(t.fs.cwd, t.fs.root)
    # A cwd outside the root (chroot without chdir) shows as "(unreachable)/path", as Linux.
    path = (rel if rel is not None else b"(unreachable)" + t.fs.cwd.path()) + b"\0"
    if size < len(path):
        raise KernelError(errno.ERANGE, "buffer too small for the working directory")
    t.mem.write(buf, path)
    return len(path)


@syscall("chdir", FULL, "path:path")
def sys_chdir(t: Task, path_addr: int) -> int:
    path = t.read_path(path_addr)
    t.fs.cwd = ops.chdir_target(path_context(t, AT_FDCWD, path), path)
    return 0


@syscall("fchdir", FULL, "fd:fd")
def sys_fchdir(t: Task, fd: int) -> int:
    f = t.fdt.get(fd)
    if f.dentry is None:
        raise KernelError(errno.ENOTDIR, "descriptor is not a directory")
    ctx = path_context(t, AT_FDCWD, b".")
    ctx.start = f.dentry
    t.fs.cwd = ops.chdir_target(ctx, b".")
    return 0


@syscall("chroot", FULL, "path:path")
def sys_chroot(t: Task, path_addr: int) -> int:
    """chroot(2): the walk's errors, ENOTDIR, EACCES (search), EPERM without CAP_SYS_CHROOT
    (an effective uid of 0 stands for it until capabilities are modelled)."""
    path = t.read_path(path_addr)
    d = ops.chdir_target(path_context(t, AT_FDCWD, path), path)
    if t.creds.euid != 0:
        raise KernelError(errno.EPERM, "chroot without CAP_SYS_CHROOT")
    t.fs.root = d
    return 0
