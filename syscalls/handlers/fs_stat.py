"""File status: stat, fstat, lstat, newfstatat, statx."""

from __future__ import annotations

import errno

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import (
    STATX__RESERVED,
    pack_stat,
    pack_statx,
    path_context,
    read_at_path,
)
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import Stat
from vfs.flags import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW

FULL = Level.FULL
AT_NO_AUTOMOUNT = 0x800
AT_STATX_SYNC_TYPE = 0x6000  # FORCE_SYNC / DONT_SYNC: nothing is cached remotely here


def stat_at(t: Task, dirfd: int, path_addr: int, flags: int) -> tuple[Stat, int]:
    """The Stat a ``*at`` call names, and the mount id it lives on."""
    path, f = read_at_path(t, dirfd, path_addr, flags)
    if f is not None:
        d = f.dentry
        return f.stat(), d.mount.mount_id if d is not None else 0
    ctx = path_context(t, dirfd, path)
    d = ops.lookup(ctx, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    return d.inode.stat(), d.mount.mount_id


@syscall("newfstatat", FULL, "dirfd:fd path:path statbuf:struct_out flags:flags/at")
def sys_newfstatat(t: Task, dirfd: int, path: int, statbuf: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT):
        raise KernelError(errno.EINVAL, f"newfstatat flags {flags:#x}")
    s, _ = stat_at(t, dirfd, path, flags)
    t.mem.write(statbuf, pack_stat(s))
    return 0


@syscall("stat", FULL, "path:path statbuf:struct_out")
def sys_stat(t: Task, path: int, statbuf: int) -> int:
    return sys_newfstatat(t, AT_FDCWD, path, statbuf, 0)


@syscall("lstat", FULL, "path:path statbuf:struct_out")
def sys_lstat(t: Task, path: int, statbuf: int) -> int:
    return sys_newfstatat(t, AT_FDCWD, path, statbuf, AT_SYMLINK_NOFOLLOW)


@syscall("fstat", FULL, "fd:fd statbuf:struct_out")
def sys_fstat(t: Task, fd: int, statbuf: int) -> int:
    t.mem.write(statbuf, pack_stat(t.fdt.get(fd).stat()))
    return 0


@syscall("statx", FULL, "dirfd:fd path:path flags:flags/at mask:flags/statx_mask buf:struct_out")
def sys_statx(t: Task, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    if mask & STATX__RESERVED:
        raise KernelError(errno.EINVAL, "STATX__RESERVED in mask")
    allowed = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE
    if flags & ~allowed or flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE:
        raise KernelError(errno.EINVAL, f"statx flags {flags:#x}")
    s, mnt_id = stat_at(t, dirfd, path, flags)
    t.mem.write(buf, pack_statx(s, mnt_id, mask))
    return 0
