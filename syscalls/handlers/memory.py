"""Memory mappings: the host maps anonymous memory; file mappings need the loader issue."""

from __future__ import annotations

import errno

from compatd.errors import Unsupported
from compatd.kernel.task import Task
from syscalls.table import HostWhen, Level, syscall

MAP_ANONYMOUS = 0x20


# An anonymous mapping touches only the caller's address space, so the filter lets the
# host run it without a stop; a file-backed one traps here because the fd is virtual.
@syscall(
    "mmap",
    Level.PARTIAL,
    "addr:ptr length:size prot:flags/mmap_prot flags:flags/mmap_flags fd:fd offset:off",
    unsupported=("file-backed mappings: ENODEV until the dynamic-programs issue",),
    host_when=(HostWhen(3, MAP_ANONYMOUS, MAP_ANONYMOUS),),
)
def sys_mmap(t: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    t.fdt.get(fd)  # EBADF comes first, as in Linux
    raise Unsupported(errno.ENODEV, "file-backed mapping")
