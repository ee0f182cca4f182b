"""Process lifetime: exit and exit_group (fork, exec and wait arrive with the processes issue)."""

from __future__ import annotations

from compatd.kernel.kernel import RUN_ON_HOST
from compatd.kernel.task import Task
from syscalls.table import Level, syscall


# The model's bookkeeping (exit status, fds closed) happens when the host reports the exit,
# so a thread killed by a signal is accounted for the same way; the host ends the thread.
@syscall("exit", Level.FULL, "status:int")
def sys_exit(t: Task, status: int) -> int:
    return RUN_ON_HOST


@syscall("exit_group", Level.FULL, "status:int")
def sys_exit_group(t: Task, status: int) -> int:
    return RUN_ON_HOST
