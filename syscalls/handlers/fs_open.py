"""Opening files by path: open, openat, openat2, creat; file handles."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from compatd.errors import KernelError, Unsupported, WouldBlock
from compatd.kernel.task import Task
from syscalls.handlers.common import copy_struct_from_user, lookup_at, path_context
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import OpenFile
from vfs.flags import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_FOLLOW,
    O_ACCMODE,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECT,
    O_DIRECTORY,
    O_DSYNC,
    O_EXCL,
    O_LARGEFILE,
    O_NOATIME,
    O_NOCTTY,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_SYNC,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
)
from vfs.resolver import RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT

# What F_GETFL does not report: open-time-only flags (fs/open.c build_open_flags). On a
# 64-bit kernel every open is O_LARGEFILE (force_o_largefile), so F_GETFL shows it.
OPEN_ONLY = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC

OPEN_UNSUPPORTED = ("O_DIRECT is accepted, but I/O stays buffered (no alignment rules)",)


def do_open(t: Task, dirfd: int, path_addr: int, flags: int, mode: int, how: int = 0) -> int:
    path = t.read_path(path_addr)
    ctx = path_context(t, dirfd, path, scoped=bool(how & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)))
    try:
        f = ops.open(ctx, path, flags, mode & 0o7777, how)
    except WouldBlock as e:
        # A FIFO open waiting for its other side: park, then finish the same open.
        if e.retry is None:
            raise
        raise WouldBlock(e.why, finish_later(t, e.retry, flags)) from None
    return install_opened(t, f, flags)


def install_opened(t: Task, f: OpenFile, flags: int) -> int:
    f.flags = (flags & ~OPEN_ONLY) | O_LARGEFILE
    return t.install_fd(f, cloexec=bool(flags & O_CLOEXEC))


def finish_later(t: Task, opening: Callable[[], OpenFile], flags: int) -> Callable[[], int]:
    """The parked form of an open: the VFS's retry gives the file, this installs it."""

    def retry() -> int:
        try:
            f = opening()
        except WouldBlock as e:
            raise WouldBlock(e.why, finish_later(t, e.retry or opening, flags)) from None
        return install_opened(t, f, flags)

    return retry


@syscall("open", Level.PARTIAL, "path:path flags:flags/open mode:mode",
         unsupported=OPEN_UNSUPPORTED)
def sys_open(t: Task, path: int, flags: int, mode: int) -> int:
    return do_open(t, AT_FDCWD, path, flags, mode)


@syscall("openat", Level.PARTIAL, "dirfd:fd path:path flags:flags/open mode:mode",
         unsupported=OPEN_UNSUPPORTED)
def sys_openat(t: Task, dirfd: int, path: int, flags: int, mode: int) -> int:
    return do_open(t, dirfd, path, flags, mode)


@syscall("creat", Level.FULL, "path:path mode:mode")
def sys_creat(t: Task, path: int, mode: int) -> int:
    return do_open(t, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)


# openat2 --------------------------------------------------------------------------------
OPEN_HOW = struct.Struct("<QQQ")  # struct open_how {u64 flags; u64 mode; u64 resolve;}
FASYNC = 0o20000
VALID_OPEN_FLAGS = (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK
                    | O_SYNC | O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY
                    | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE)
VALID_RESOLVE = 0x3F
O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH


def read_open_how(t: Task, how: int, size: int) -> tuple[int, int, int]:
    """struct open_how (version 0: 24 bytes)."""
    return copy_struct_from_user(t, how, size, OPEN_HOW, "open_how")  # type: ignore[return-value]


def check_open_how(flags: int, mode: int, resolve: int) -> None:
    """build_open_flags' checks for openat2, which (unlike open) rejects unknown bits."""
    flags &= ~O_CLOEXEC
    if flags & ~VALID_OPEN_FLAGS:
        raise KernelError(errno.EINVAL, f"open flags {flags:#x}")
    if resolve & ~VALID_RESOLVE:
        raise KernelError(errno.EINVAL, f"resolve flags {resolve:#x}")
    if resolve & RESOLVE_BENEATH and resolve & RESOLVE_IN_ROOT:
        raise KernelError(errno.EINVAL, "RESOLVE_BENEATH with RESOLVE_IN_ROOT")
    if flags & (O_CREAT | O_TMPFILE & ~O_DIRECTORY):
        if mode & ~0o7777:
            raise KernelError(errno.EINVAL, f"mode {mode:#o}")
    elif mode:
        raise KernelError(errno.EINVAL, "mode without O_CREAT or O_TMPFILE")
    if flags & O_DIRECTORY and flags & O_CREAT:
        raise KernelError(errno.EINVAL, "O_CREAT|O_DIRECTORY")
    if flags & O_TMPFILE & ~O_DIRECTORY:
        if flags & O_TMPFILE != O_TMPFILE:
            raise KernelError(errno.EINVAL, "O_TMPFILE without O_DIRECTORY")
        if flags & O_ACCMODE == O_RDONLY:
            raise KernelError(errno.EINVAL, "O_TMPFILE without write access")
    if flags & O_PATH and flags & ~O_PATH_FLAGS:
        raise KernelError(errno.EINVAL, "O_PATH with other flags")
    if resolve & RESOLVE_CACHED and flags & (O_TRUNC | O_CREAT | O_TMPFILE & ~O_DIRECTORY):
        raise KernelError(errno.EAGAIN, "RESOLVE_CACHED with O_CREAT, O_TRUNC or O_TMPFILE")


@syscall("openat2", Level.FULL, "dirfd:fd path:path how:struct_in size:size")
def sys_openat2(t: Task, dirfd: int, path: int, how: int, size: int) -> int:
    flags, mode, resolve = read_open_how(t, how, size)
    check_open_how(flags, mode, resolve)
    enforcer = t.kernel.enforcer
    if enforcer is not None:
        enforcer.opening(t, flags)  # the policy judges the flags read here, once
    # RESOLVE_CACHED: every lookup here is as good as cached, so nothing is EAGAIN.
    return do_open(t, dirfd, path, flags, mode, resolve & ~RESOLVE_CACHED)


# file handles ---------------------------------------------------------------------------
AT_HANDLE_FID = 0x200
AT_HANDLE_MNT_ID_UNIQUE = 0x001
MAX_HANDLE_SZ = 128


@syscall(
    "name_to_handle_at",
    Level.PARTIAL,
    "dirfd:fd path:path handle:struct_inout mount_id:struct_out flags:flags/at",
    unsupported=("file handles: EOPNOTSUPP, as a filesystem that cannot export them",),
)
def sys_name_to_handle_at(t: Task, dirfd: int, path: int, handle: int, mount_id: int,
                          flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE):
        raise KernelError(errno.EINVAL, f"name_to_handle_at flags {flags:#x}")
    lookup_at(t, dirfd, path, flags, follow=bool(flags & AT_SYMLINK_FOLLOW))
    raise Unsupported(errno.EOPNOTSUPP, "file handles")


@syscall(
    "open_by_handle_at",
    Level.PARTIAL,
    "mount_fd:fd handle:struct_in flags:flags/open",
    unsupported=("file handles: no handle is ever issued, so every one is stale (ESTALE)",),
)
def sys_open_by_handle_at(t: Task, mount_fd: int, handle: int, flags: int) -> int:
    if t.creds.euid != 0:
        raise KernelError(errno.EPERM, "open_by_handle_at without CAP_DAC_READ_SEARCH")
    if mount_fd != AT_FDCWD:
        t.fdt.get(mount_fd)
    size, _ = struct.unpack("<Ii", t.mem.read(handle, 8))
    if size > MAX_HANDLE_SZ or size == 0:
        raise KernelError(errno.EINVAL, f"handle of {size} bytes")
    raise Unsupported(errno.ESTALE, "file handles")
