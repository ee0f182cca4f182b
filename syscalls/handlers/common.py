"""Shared pieces of the handlers: path contexts from dirfds, struct layouts, fd checks."""

from __future__ import annotations

import errno
import os
import stat as st
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from vfs import ops
from vfs.base import Dentry, OpenFile, Stat
from vfs.flags import AT_EMPTY_PATH, AT_FDCWD, O_ACCMODE, O_PATH, O_RDONLY, O_WRONLY
from vfs.resolver import reached

# Linux caps one read/write at INT_MAX rounded down to a page (MAX_RW_COUNT).
MAX_RW_COUNT = 0x7FFFF000


def copy_struct_from_user(t: Task, addr: int, size: int, layout: struct.Struct,
                          what: str) -> tuple[int, ...]:
    """Linux's copy_struct_from_user for an extensible struct (open_how, xattr_args…):
    EINVAL below the first version's size, E2BIG above a page or when bytes past what we
    know are not zero; EFAULT from the read."""
    if size < layout.size:
        raise KernelError(errno.EINVAL, f"{what} of {size} bytes")
    if size > 4096:
        raise KernelError(errno.E2BIG, f"{what} of {size} bytes")
    raw = t.mem.read(addr, size)
    if raw[layout.size:].strip(b"\0"):
        raise KernelError(errno.E2BIG, f"{what} has unknown non-zero fields")
    return layout.unpack_from(raw)


def path_context(task: Task, dirfd: int, path: bytes, scoped: bool = False) -> ops.PathContext:
    """Where a ``*at`` path starts: the root for absolute paths, cwd for AT_FDCWD, else the
    directory ``dirfd`` was opened on (EBADF if not open, ENOTDIR if not a directory).
    ``scoped`` (openat2's RESOLVE_BENEATH/IN_ROOT) uses ``dirfd`` for absolute paths too."""
    fs = task.fs
    if (path[:1] == b"/" and not scoped) or dirfd == AT_FDCWD:
        start = fs.cwd
    else:
        f = task.fdt.get(dirfd)
        if f.dentry is None or not f.dentry.inode.is_dir():
            raise KernelError(errno.ENOTDIR, f"dirfd {dirfd} is not a directory")
        start = f.dentry
    return ops.PathContext(fs.root, start, task.creds, fs.umask)


def read_at_path(task: Task, dirfd: int, addr: int, flags: int) -> tuple[bytes, OpenFile | None]:
    """A ``*at`` path argument; with AT_EMPTY_PATH and ``""`` the file ``dirfd`` itself.

    Returns (path, None), or (b"", file) for the empty-path case (AT_FDCWD: the cwd).
    """
    path = task.read_path(addr)
    if path:
        return path, None
    if not flags & AT_EMPTY_PATH:
        raise KernelError(errno.ENOENT, "empty path without AT_EMPTY_PATH")
    if dirfd == AT_FDCWD:
        return b".", None
    f = task.fdt.get(dirfd)
    if f.dentry is not None:
        reached(f.dentry)
    return b"", f


def lookup_at(t: Task, dirfd: int, path_addr: int, flags: int, *, follow: bool) -> Dentry:
    """The dentry a ``*at`` call names: the path, or with AT_EMPTY_PATH and ``""`` the file
    ``dirfd`` was opened on (EBADF if that descriptor has no name, like a host stdio fd)."""
    path, f = read_at_path(t, dirfd, path_addr, flags)
    if f is None:
        return ops.lookup(path_context(t, dirfd, path), path, follow=follow)
    if f.dentry is None:
        raise KernelError(errno.EBADF, "descriptor has no name in the sandbox")
    return f.dentry


def file_dentry(f: OpenFile) -> Dentry:
    """The dentry behind an fd for f* calls (fchmod, fchown…); O_PATH is EBADF there."""
    not_path(f)
    if f.dentry is None:
        raise KernelError(errno.EBADF, "descriptor has no name in the sandbox")
    return reached(f.dentry)


def readable(f: OpenFile) -> OpenFile:
    """EBADF unless the description was opened for reading (O_PATH never is)."""
    if f.flags & O_PATH or f.flags & O_ACCMODE == O_WRONLY:
        raise KernelError(errno.EBADF, "file not open for reading")
    return f


def writable(f: OpenFile) -> OpenFile:
    """EBADF unless the description was opened for writing."""
    if f.flags & O_PATH or f.flags & O_ACCMODE == O_RDONLY:
        raise KernelError(errno.EBADF, "file not open for writing")
    return f


def not_path(f: OpenFile) -> OpenFile:
    """EBADF for O_PATH descriptions, which only name a file."""
    if f.flags & O_PATH:
        raise KernelError(errno.EBADF, "O_PATH descriptor")
    return f


# struct stat on x86-64 (arch/x86/include/uapi/asm/stat.h): 144 bytes.
STAT_STRUCT = struct.Struct("<3Q4IQ3q6q24x")


def pack_stat(s: Stat) -> bytes:
    return STAT_STRUCT.pack(
        s.dev, s.ino, s.nlink, s.mode, s.uid, s.gid, 0, s.rdev, s.size, s.blksize, s.blocks,
        s.atime_ns // 1_000_000_000, s.atime_ns % 1_000_000_000,
        s.mtime_ns // 1_000_000_000, s.mtime_ns % 1_000_000_000,
        s.ctime_ns // 1_000_000_000, s.ctime_ns % 1_000_000_000,
    )  # fmt: skip


STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800
STATX_MNT_ID = 0x1000
STATX__RESERVED = 0x80000000
# struct statx (include/uapi/linux/stat.h): 256 bytes, timestamps as {s64 sec; u32 nsec; pad}.
STATX_STRUCT = struct.Struct("<IIQIIIHxxQQQQ" + "qI4x" * 4 + "IIIIQ" + "104x")


STATX_MTIME_CTIME = 0x40 | 0x80


def pack_statx(s: Stat, mnt_id: int, request: int) -> bytes:
    # Linux 6.13+ (multigrain timestamps) reports mtime and ctime only when asked for, and
    # btime only when asked for and known; the other basic fields always (measured on the
    # 6.18 host: a request of 0 returns 0x173f).
    mask = (STATX_BASIC_STATS & ~STATX_MTIME_CTIME) | (request & STATX_MTIME_CTIME)
    mask |= STATX_MNT_ID | (request & STATX_BTIME if s.btime_ns else 0)

    def ts(ns: int) -> tuple[int, int]:
        return ns // 1_000_000_000, ns % 1_000_000_000

    return STATX_STRUCT.pack(
        mask, s.blksize, 0, s.nlink, s.uid, s.gid, s.mode & 0xFFFF,
        s.ino, s.size, s.blocks, 0,
        *ts(s.atime_ns), *ts(s.btime_ns), *ts(s.ctime_ns), *ts(s.mtime_ns),
        os.major(s.rdev), os.minor(s.rdev), os.major(s.dev), os.minor(s.dev), mnt_id,
    )  # fmt: skip


def is_regular(f: OpenFile) -> bool:
    return f.inode is not None and st.S_ISREG(f.inode.mode)


def install_pair(t: Task, a: OpenFile, b: OpenFile, cloexec: bool, addr: int) -> int:
    """pipe2/socketpair: two new descriptors for ``a`` and ``b``, stored as two ints at
    ``addr``; on failure (EMFILE, EFAULT) neither stays open, as fd_install never ran."""
    fa = t.install_fd(a, cloexec=cloexec)
    try:
        fb = t.install_fd(b, cloexec=cloexec)
    except KernelError:
        t.fdt.close(fa)
        b.release()
        raise
    try:
        t.mem.write(addr, struct.pack("<ii", fa, fb))
    except KernelError:
        t.fdt.close(fa)
        t.fdt.close(fb)
        raise
    return 0
