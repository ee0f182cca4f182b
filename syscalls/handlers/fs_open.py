"""Opening files by path: open, openat, creat."""

from __future__ import annotations

from compatd.kernel.task import Task
from syscalls.handlers.common import path_context
from syscalls.table import Level, syscall
from vfs import ops
from vfs.flags import (
    AT_FDCWD,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_LARGEFILE,
    O_NOCTTY,
    O_TRUNC,
    O_WRONLY,
)

# What F_GETFL does not report: open-time-only flags (fs/open.c build_open_flags). On a
# 64-bit kernel every open is O_LARGEFILE (force_o_largefile), so F_GETFL shows it.
OPEN_ONLY = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC

OPEN_UNSUPPORTED = ("O_TMPFILE: EOPNOTSUPP until the file-family issue",)


def do_open(t: Task, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    path = t.read_path(path_addr)
    f = ops.open(path_context(t, dirfd, path), path, flags, mode & 0o7777)
    f.flags = (flags & ~OPEN_ONLY) | O_LARGEFILE
    return t.install_fd(f, cloexec=bool(flags & O_CLOEXEC))


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
