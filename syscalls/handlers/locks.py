"""Advisory locks: flock, and fcntl's record locks (F_GETLK/F_SETLK/F_SETLKW) and OFD locks
(F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW), which fcntl (fd_ops.py) hands to ``do_fcntl_lock``.
The lock table is vfs/locks.py."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.table import Level, syscall
from vfs import locks
from vfs.base import OpenFile
from vfs.flags import O_PATH, readable, writable
from vfs.locks import F_RDLCK, F_UNLCK, F_WRLCK, OFFSET_MAX, Lock

LOCK_SH = 1
LOCK_EX = 2
LOCK_NB = 4
LOCK_UN = 8
LOCK_MAND = 32

F_GETLK = 5
F_SETLK = 6
F_SETLKW = 7
F_OFD_GETLK = 36
F_OFD_SETLK = 37
F_OFD_SETLKW = 38
LOCK_CMDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
# struct flock on x86-64: short l_type, l_whence; off_t l_start, l_len; pid_t l_pid.
FLOCK = struct.Struct("<hh4xqqi4x")
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2


def lock_key(f: OpenFile) -> tuple[int, int]:
    if f.inode is None:
        raise KernelError(errno.EBADF, "descriptor without an inode")
    return f.inode.key


@syscall("flock", Level.FULL, "fd:fd operation:int/flock")
def sys_flock(t: Task, fd: int, operation: int) -> int:
    """EINVAL (an unknown operation; LOCK_MAND is ignored as Linux 5.17+ does), EBADF (not
    open, O_PATH, or neither readable nor writable), EWOULDBLOCK with LOCK_NB, EINTR."""
    if operation & LOCK_MAND:
        return 0
    op = operation & ~LOCK_NB
    type = {LOCK_SH: F_RDLCK, LOCK_EX: F_WRLCK, LOCK_UN: F_UNLCK}.get(op)
    if type is None:
        raise KernelError(errno.EINVAL, f"flock operation {operation:#x}")
    f = t.fdt.get(fd)
    if f.flags & O_PATH:
        raise KernelError(errno.EBADF, "O_PATH descriptor")
    if type != F_UNLCK and not (readable(f.flags) or writable(f.flags)):
        raise KernelError(errno.EBADF, "descriptor opened for neither reading nor writing")
    return locks.flock(lock_key(f), f, type, bool(operation & LOCK_NB))


def to_range(f: OpenFile, whence: int, start: int, length: int) -> tuple[int, int]:
    """flock64_to_posix_lock: the inclusive byte range [start, end]."""
    if whence == SEEK_SET:
        base = 0
    elif whence == SEEK_CUR:
        base = f.pos
    elif whence == SEEK_END:
        base = f.size()
    else:
        raise KernelError(errno.EINVAL, f"l_whence {whence}")
    if start > OFFSET_MAX - base:
        raise KernelError(errno.EOVERFLOW, "l_start overflows")
    start += base
    if start < 0:
        raise KernelError(errno.EINVAL, "lock starts before the file")
    if length > 0:
        if length - 1 > OFFSET_MAX - start:
            raise KernelError(errno.EOVERFLOW, "l_len overflows")
        return start, start + length - 1
    if length < 0:
        if start + length < 0:
            raise KernelError(errno.EINVAL, "lock starts before the file")
        return start + length, start - 1
    return start, OFFSET_MAX


def do_fcntl_lock(t: Task, f: OpenFile, cmd: int, arg: int) -> int:
    """fcntl_getlk/fcntl_setlk. Errors, in Linux's order: EBADF (O_PATH), EFAULT; for
    OFD commands EINVAL unless l_pid is 0; F_GETLK: EINVAL unless F_RDLCK/F_WRLCK; the
    range (EINVAL, EOVERFLOW), EINVAL (l_type), EBADF (the access mode for the lock type);
    EAGAIN, EDEADLK, EINTR."""
    if f.flags & O_PATH:
        raise KernelError(errno.EBADF, "O_PATH descriptor")
    raw = t.mem.read(arg, FLOCK.size)
    ltype, whence, start, length, pid = FLOCK.unpack(raw)
    ofd = cmd in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
    if cmd in (F_GETLK, F_OFD_GETLK):
        if ofd and pid != 0:
            raise KernelError(errno.EINVAL, "OFD lock with l_pid set")
        if ltype not in (F_RDLCK, F_WRLCK):
            raise KernelError(errno.EINVAL, f"F_GETLK l_type {ltype}")
        lo, hi = to_range(f, whence, start, length)
        owner: object = f if ofd else t.fdt
        found = locks.test_lock(lock_key(f), Lock(lo, hi, ltype, owner, 0, ofd))
        if found is None:
            t.mem.write(arg, struct.pack("<h", F_UNLCK))
            return 0
        out_len = 0 if found.end == OFFSET_MAX else found.end - found.start + 1
        t.mem.write(arg, FLOCK.pack(found.type, SEEK_SET, found.start, out_len,
                                    -1 if found.ofd else found.pid))
        return 0
    lo, hi = to_range(f, whence, start, length)
    if ltype not in (F_RDLCK, F_WRLCK, F_UNLCK):
        raise KernelError(errno.EINVAL, f"l_type {ltype}")
    if ltype == F_RDLCK and not readable(f.flags):
        raise KernelError(errno.EBADF, "read lock on a descriptor not open for reading")
    if ltype == F_WRLCK and not writable(f.flags):
        raise KernelError(errno.EBADF, "write lock on a descriptor not open for writing")
    if ofd and pid != 0:
        raise KernelError(errno.EINVAL, "OFD lock with l_pid set")
    req = Lock(lo, hi, ltype, f if ofd else t.fdt, -1 if ofd else t.group.tgid, ofd)
    return locks.set_lock(lock_key(f), req, cmd in (F_SETLKW, F_OFD_SETLKW))
