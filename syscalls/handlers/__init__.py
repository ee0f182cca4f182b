"""Importing this package registers every syscall: one module per family."""

from syscalls.handlers import (  # noqa: F401
    credentials,
    declarations,
    fd_ops,
    fs_attr,
    fs_dir,
    fs_open,
    fs_path,
    fs_stat,
    identity,
    memory,
    pipes,
    prctl,
    process,
    read_write,
    resources,
    sched,
    xattr,
)
