"""Memory mappings: the host maps anonymous memory; file mappings and the program break
are the model's, made in the task by injected calls (compatd.kernel.mm)."""

from __future__ import annotations

import errno

from compatd.errors import KernelError
from compatd.kernel.mm import MAP_SHARED, MAP_TYPE, TaskSpace
from compatd.kernel.task import Task
from syscalls.handlers.common import not_path
from syscalls.table import HostWhen, Level, syscall
from vfs.flags import O_ACCMODE, O_RDONLY, O_WRONLY
from vfs.hostfd import HostFdFile

MAP_ANONYMOUS = 0x20
MAP_SHARED_VALIDATE = 0x03
PROT_WRITE = 0x2
# Flags mmap(2) knows (MAP_SHARED_VALIDATE rejects anything else with EOPNOTSUPP).
KNOWN_MAP_FLAGS = 0x3F | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 \
    | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0xFC000000


# An anonymous mapping touches only the caller's address space, so the filter lets the
# host run it without a stop (unless a policy limits memory: policies/limits.py); a
# file-backed one traps here because the fd is virtual.
@syscall(
    "mmap",
    Level.PARTIAL,
    "addr:ptr length:size prot:flags/mmap_prot flags:flags/mmap_flags fd:fd offset:off",
    unsupported=(
        "MAP_SHARED of files with no host file behind them (procfs, pipes, devices): ENODEV",
    ),
    host_when=(HostWhen(3, MAP_ANONYMOUS, MAP_ANONYMOUS),), needs_stop=True)
def sys_mmap(t: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    # mm/mmap.c do_mmap: EBADF, then EINVAL for offset/length/type, then EACCES for modes.
    f = not_path(t.fdt.get(fd))
    if offset & 0xFFF or not length:
        raise KernelError(errno.EINVAL, "unaligned offset or zero length")
    kind = flags & MAP_TYPE
    if kind not in (MAP_SHARED, 0x02, MAP_SHARED_VALIDATE):
        raise KernelError(errno.EINVAL, f"mapping type {kind:#x}")
    if kind == MAP_SHARED_VALIDATE:
        if flags & ~KNOWN_MAP_FLAGS:
            raise KernelError(errno.EOPNOTSUPP, "unknown flags with MAP_SHARED_VALIDATE")
        flags = (flags & ~MAP_TYPE) | MAP_SHARED
    # A host fd with no inode in the model (a descriptor received from a process outside, a
    # host stdio file) is whatever the host has: the host's mmap decides (ENODEV for what
    # cannot be mapped).
    if (f.inode is None and not isinstance(f, HostFdFile)) or (
            f.inode is not None and f.inode.is_dir()):
        raise KernelError(errno.ENODEV, "file cannot be mapped")
    acc = f.flags & O_ACCMODE
    if acc == O_WRONLY:
        raise KernelError(errno.EACCES, "file not open for reading")
    if flags & MAP_TYPE == MAP_SHARED and prot & PROT_WRITE and acc == O_RDONLY:
        raise KernelError(errno.EACCES, "shared writable mapping of a read-only file")
    return TaskSpace(t).map_file(addr, length, prot, flags, f, offset)


@syscall("brk", Level.FULL, "brk:ptr", needs_stop=True)
def sys_brk(t: Task, addr: int) -> int:
    return TaskSpace(t).set_brk(addr)
