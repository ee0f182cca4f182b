"""File status: stat, fstat, lstat, newfstatat, statx; filesystem status: statfs, fstatfs."""

from __future__ import annotations

import errno
import struct

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
from vfs.base import Stat, StatFs
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


# struct statfs on x86-64 (asm-generic/statfs.h with 64-bit longs): 120 bytes.
STATFS_STRUCT = struct.Struct("<7q2i3q4q")


def pack_statfs(s: StatFs, dev: int) -> bytes:
    # f_fsid: Linux derives it from the device (or the filesystem's UUID); ours from dev.
    return STATFS_STRUCT.pack(
        s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
        dev & 0x7FFFFFFF, (dev >> 32) & 0x7FFFFFFF, s.namelen, s.frsize, s.flags, 0, 0, 0, 0,
    )  # fmt: skip


@syscall("statfs", FULL, "path:path buf:struct_out")
def sys_statfs(t: Task, path_addr: int, buf: int) -> int:
    path = t.read_path(path_addr)
    d = ops.lookup(path_context(t, AT_FDCWD, path), path)
    t.mem.write(buf, pack_statfs(ops.statfs_dentry(d), d.mount.fs.dev))
    return 0


@syscall("fstatfs", FULL, "fd:fd buf:struct_out")
def sys_fstatfs(t: Task, fd: int, buf: int) -> int:
    # O_PATH descriptors work here (fstatfs uses fdget_raw).
    f = t.fdt.get(fd)
    statfs = getattr(f, "statfs", None)
    if statfs is not None:  # files outside the mount tree (pipes, memfds) answer themselves
        s, dev = statfs()
    elif f.dentry is not None:
        s, dev = ops.statfs_dentry(f.dentry), f.dentry.mount.fs.dev
    else:
        raise KernelError(errno.EBADF, "descriptor has no filesystem in the sandbox")
    t.mem.write(buf, pack_statfs(s, dev))
    return 0
