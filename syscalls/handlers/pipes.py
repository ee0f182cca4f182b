"""Pipes: pipe, pipe2 (the pipe itself is vfs/pipefs.py; F_GETPIPE_SZ/F_SETPIPE_SZ are in
fcntl)."""

from __future__ import annotations

import errno

from compatd.errors import KernelError, Unsupported
from compatd.kernel.task import Task
from syscalls.handlers.common import install_pair
from syscalls.table import Level, syscall
from vfs.flags import O_CLOEXEC, O_DIRECT, O_EXCL, O_NONBLOCK
from vfs.pipefs import make_pipe

O_NOTIFICATION_PIPE = O_EXCL


def do_pipe2(t: Task, fds: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE):
        raise KernelError(errno.EINVAL, f"pipe2 flags {flags:#x}")
    if flags & O_DIRECT:
        raise Unsupported(errno.EINVAL, "O_DIRECT (packet-mode pipes)")
    if flags & O_NOTIFICATION_PIPE:
        raise Unsupported(errno.EINVAL, "O_NOTIFICATION_PIPE (watch queues)")
    creds = t.creds
    r, w = make_pipe(creds.fsuid, creds.fsgid, flags)
    return install_pair(t, r, w, bool(flags & O_CLOEXEC), fds)


@syscall("pipe", Level.FULL, "pipefd:struct_out")
def sys_pipe(t: Task, fds: int) -> int:
    return do_pipe2(t, fds, 0)


@syscall("pipe2", Level.PARTIAL, "pipefd:struct_out flags:flags/open",
         unsupported=("O_DIRECT packet mode and O_NOTIFICATION_PIPE: EINVAL",))
def sys_pipe2(t: Task, fds: int, flags: int) -> int:
    return do_pipe2(t, fds, flags)
