"""Reading directories: getdents64 and the legacy getdents."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import not_path
from syscalls.table import Level, syscall
from vfs.base import DirEntry

DIRENT64_HEAD = struct.Struct("<QqHB")  # d_ino, d_off, d_reclen, d_type; then the name
DIRENT_HEAD = struct.Struct("<QqH")  # d_ino, d_off, d_reclen; name, NUL, pad, d_type last


def dirent64(e: DirEntry, off: int) -> bytes:
    reclen = (DIRENT64_HEAD.size + len(e.name) + 1 + 7) & ~7
    return (DIRENT64_HEAD.pack(e.ino, off, reclen, e.dtype)
            + e.name.ljust(reclen - DIRENT64_HEAD.size, b"\0"))


def dirent(e: DirEntry, off: int) -> bytes:
    """struct linux_dirent: the name, its NUL, padding, and d_type in the record's last byte."""
    reclen = (DIRENT_HEAD.size + len(e.name) + 2 + 7) & ~7
    return (DIRENT_HEAD.pack(e.ino, off, reclen)
            + e.name.ljust(reclen - DIRENT_HEAD.size - 1, b"\0") + bytes((e.dtype,)))


def do_getdents(t: Task, fd: int, dirp: int, count: int,
                record: Callable[[DirEntry, int], bytes]) -> int:
    f = not_path(t.fdt.get(fd))
    listing = f.readdir()  # ENOTDIR for a non-directory; a snapshot kept from offset 0
    out = bytearray()
    pos = f.pos
    while pos < len(listing):
        # d_off is the position to seek to for the next entry: here its index.
        rec = record(listing[pos], pos + 1)
        if len(out) + len(rec) > count:
            break
        out += rec
        pos += 1
    if not out and pos < len(listing):
        raise KernelError(errno.EINVAL, "buffer too small for the next entry")
    t.mem.write(dirp, bytes(out))
    f.pos = pos
    return len(out)


@syscall("getdents64", Level.FULL, "fd:fd dirp:buf_out count:uint")
def sys_getdents64(t: Task, fd: int, dirp: int, count: int) -> int:
    return do_getdents(t, fd, dirp, count, dirent64)


@syscall("getdents", Level.FULL, "fd:fd dirp:buf_out count:uint")
def sys_getdents(t: Task, fd: int, dirp: int, count: int) -> int:
    # EOVERFLOW for an inode number wider than unsigned long cannot happen on x86-64.
    return do_getdents(t, fd, dirp, count, dirent)
