"""Reading directories: getdents64 (the legacy getdents is declared with the file family)."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import not_path
from syscalls.table import Level, syscall

DIRENT64_HEAD = struct.Struct("<QqHB")  # d_ino, d_off, d_reclen, d_type; then the name


@syscall("getdents64", Level.FULL, "fd:fd dirp:buf_out count:uint")
def sys_getdents64(t: Task, fd: int, dirp: int, count: int) -> int:
    f = not_path(t.fdt.get(fd))
    listing = f.readdir()  # ENOTDIR for a non-directory; a snapshot kept from offset 0
    out = bytearray()
    pos = f.pos
    while pos < len(listing):
        e = listing[pos]
        reclen = (DIRENT64_HEAD.size + len(e.name) + 1 + 7) & ~7
        if len(out) + reclen > count:
            break
        # d_off is the position to seek to for the next entry: here its index.
        out += DIRENT64_HEAD.pack(e.ino, pos + 1, reclen, e.dtype)
        out += e.name.ljust(reclen - DIRENT64_HEAD.size, b"\0")
        pos += 1
    if not out and pos < len(listing):
        raise KernelError(errno.EINVAL, "buffer too small for the next entry")
    t.mem.write(dirp, bytes(out))
    f.pos = pos
    return len(out)
