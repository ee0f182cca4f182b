"""Importing this package registers every syscall: one module per family."""

from syscalls.handlers import (  # noqa: F401
    credentials,
    declarations,
    eventfds,
    fd_ops,
    fs_attr,
    fs_dir,
    fs_open,
    fs_path,
    fs_stat,
    identity,
    memory,
    pipes,
    polling,
    prctl,
    process,
    read_write,
    resources,
    sched,
    sockets,
    xattr,
)
