"""Descriptor operations: close, close_range, dup family, fcntl, ioctl."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError, Unsupported
from compatd.kernel.kernel import RUN_ON_HOST
from compatd.kernel.task import Task
from syscalls.handlers.common import is_regular, not_path
from syscalls.handlers.locks import LOCK_CMDS, do_fcntl_lock
from syscalls.handlers.memfd import F_ADD_SEALS, F_GET_SEALS, do_seals
from syscalls.table import Level, syscall
from vfs.flags import O_APPEND, O_CLOEXEC, O_DIRECT, O_NOATIME, O_NONBLOCK
from vfs.pipefs import CAP_SYS_RESOURCE, host_has_cap, pipe_of

FULL = Level.FULL


@syscall("close", FULL, "fd:fd")
def sys_close(t: Task, fd: int) -> int:
    fdt = t.fdt
    fdt.close(fd)
    if fdt.host and fdt.host.pop(fd, None) is not None:
        return RUN_ON_HOST  # the host closes its copy at that number (a signalfd) too
    return 0


CLOSE_RANGE_UNSHARE = 2
CLOSE_RANGE_CLOEXEC = 4


@syscall("close_range", FULL, "first:uint last:uint flags:flags/close_range")
def sys_close_range(t: Task, first: int, last: int, flags: int) -> int:
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        raise KernelError(errno.EINVAL, "bad flags or range")
    # CLOSE_RANGE_UNSHARE: the fd table is never shared until threads and CLONE_FILES
    # arrive, so unsharing is already done.
    fdt = t.fdt
    for fd in [fd for fd in fdt.files if first <= fd <= last]:
        if flags & CLOSE_RANGE_CLOEXEC:
            fdt.cloexec.add(fd)
        else:
            fdt.close(fd)
    return 0


@syscall("dup", FULL, "oldfd:fd")
def sys_dup(t: Task, oldfd: int) -> int:
    return t.install_fd(t.fdt.get(oldfd))


def do_dup3(t: Task, oldfd: int, newfd: int, cloexec: bool) -> int:
    f = t.fdt.get(oldfd)
    if not 0 <= newfd < t.group.nofile_limit():
        raise KernelError(errno.EBADF, f"newfd {newfd} outside RLIMIT_NOFILE")
    t.fdt.install_at(newfd, f, cloexec)
    return newfd


@syscall("dup2", FULL, "oldfd:fd newfd:fd")
def sys_dup2(t: Task, oldfd: int, newfd: int) -> int:
    if oldfd == newfd:
        t.fdt.get(oldfd)
        return newfd
    return do_dup3(t, oldfd, newfd, False)


@syscall("dup3", FULL, "oldfd:fd newfd:fd flags:flags/open")
def sys_dup3(t: Task, oldfd: int, newfd: int, flags: int) -> int:
    if flags & ~O_CLOEXEC:
        raise KernelError(errno.EINVAL, f"dup3 flags {flags:#x}")
    if oldfd == newfd:
        raise KernelError(errno.EINVAL, "dup3 with oldfd == newfd")
    return do_dup3(t, oldfd, newfd, bool(flags))


F_DUPFD = 0
F_GETFD = 1
F_SETFD = 2
F_GETFL = 3
F_SETFL = 4
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
FD_CLOEXEC = 1
# F_SETFL may change only these (fs/fcntl.c SETFL_MASK; O_ASYNC needs F_SETOWN's signals).
SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME
FCNTL_NAMES = {
    5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
    11: "F_GETSIG", 36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW",
    1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY", 1031: "F_SETPIPE_SZ",
    1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
}  # fmt: skip


@syscall(
    "fcntl",
    Level.PARTIAL,
    "fd:fd cmd:cmd/fcntl_cmd arg:ulong",
    unsupported=(
        "leases, F_NOTIFY, owners and signals (F_SETOWN, F_SETSIG…): EINVAL",
        "seals (memfds) are kept, F_SEAL_WRITE/GROW/SHRINK not enforced",
    ),
)
def sys_fcntl(t: Task, fd: int, cmd: int, arg: int) -> int:
    fdt = t.fdt
    f = fdt.get(fd)
    if cmd == F_DUPFD or cmd == F_DUPFD_CLOEXEC:
        minfd = arg & 0xFFFFFFFF
        if minfd >= t.group.nofile_limit():
            raise KernelError(errno.EINVAL, "F_DUPFD minimum beyond RLIMIT_NOFILE")
        return t.install_fd(f, cloexec=cmd == F_DUPFD_CLOEXEC, minfd=minfd)
    if cmd == F_GETFD:
        return FD_CLOEXEC if fd in fdt.cloexec else 0
    if cmd == F_SETFD:
        if arg & FD_CLOEXEC:
            fdt.cloexec.add(fd)
        else:
            fdt.cloexec.discard(fd)
        return 0
    if cmd == F_GETFL:
        return f.flags
    if cmd == F_SETFL:
        not_path(f)
        f.flags = (f.flags & ~SETFL_MASK) | (arg & SETFL_MASK)
        return 0
    if cmd in LOCK_CMDS:
        return do_fcntl_lock(t, f, cmd, arg)
    if cmd in (F_ADD_SEALS, F_GET_SEALS):
        return do_seals(f, cmd, arg & 0xFFFFFFFF)
    if cmd == F_GETPIPE_SZ or cmd == F_SETPIPE_SZ:
        pipe = pipe_of(f)
        if pipe is None:
            raise KernelError(errno.EBADF, "not a pipe")
        if cmd == F_GETPIPE_SZ:
            return pipe.capacity
        # CAP_SYS_RESOURCE (euid 0, if the host gave it to us) may go past
        # /proc/sys/fs/pipe-max-size.
        privileged = t.creds.euid == 0 and host_has_cap(CAP_SYS_RESOURCE)
        return pipe.set_size(arg & 0xFFFFFFFF, privileged)
    raise Unsupported(errno.EINVAL, FCNTL_NAMES.get(cmd, f"cmd {cmd}"))


FIONREAD = 0x541B
FIONCLEX = 0x5450
FIOCLEX = 0x5451
FIONBIO = 0x5421


@syscall(
    "ioctl",
    Level.PARTIAL,
    "fd:fd request:cmd/ioctl arg:ulong",
    unsupported=("requests other than the terminal ones, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX: "
                 "ENOTTY",),
)
def sys_ioctl(t: Task, fd: int, request: int, arg: int) -> int:
    fdt = t.fdt
    f = not_path(fdt.get(fd))
    if request == FIOCLEX:
        fdt.cloexec.add(fd)
        return 0
    if request == FIONCLEX:
        fdt.cloexec.discard(fd)
        return 0
    if request == FIONBIO:
        # fs/ioctl.c, for every file: the int argument sets or clears O_NONBLOCK.
        if struct.unpack("<i", t.mem.read(arg, 4))[0]:
            f.flags |= O_NONBLOCK
        else:
            f.flags &= ~O_NONBLOCK
        return 0
    if request == FIONREAD and is_regular(f):
        # fs/ioctl.c: for a regular file, the bytes between the offset and the end.
        t.mem.write(arg, struct.pack("<i", max(0, min(f.size() - f.pos, 0x7FFFFFFF))))
        return 0
    return f.ioctl(request, arg, t)
