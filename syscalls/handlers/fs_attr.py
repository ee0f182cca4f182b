"""File attributes: chmod, chown and utimes families (path, fd and *at forms)."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import file_dentry, lookup_at
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import Dentry
from vfs.common import now_ns
from vfs.flags import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW

FULL = Level.FULL
AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH


def check_at_flags(flags: int, allowed: int = AT_FLAGS) -> None:
    if flags & ~allowed:
        raise KernelError(errno.EINVAL, f"flags {flags:#x}")


def at_dentry(t: Task, dirfd: int, path: int, flags: int) -> Dentry:
    return lookup_at(t, dirfd, path, flags, follow=not flags & AT_SYMLINK_NOFOLLOW)


# chmod ----------------------------------------------------------------------------------
@syscall("chmod", FULL, "path:path mode:mode")
def sys_chmod(t: Task, path: int, mode: int) -> int:
    ops.chmod_dentry(at_dentry(t, AT_FDCWD, path, 0), t.creds, mode)
    return 0


@syscall("fchmod", FULL, "fd:fd mode:mode")
def sys_fchmod(t: Task, fd: int, mode: int) -> int:
    ops.chmod_dentry(file_dentry(t.fdt.get(fd)), t.creds, mode)
    return 0


@syscall("fchmodat", FULL, "dirfd:fd path:path mode:mode")
def sys_fchmodat(t: Task, dirfd: int, path: int, mode: int) -> int:
    ops.chmod_dentry(at_dentry(t, dirfd, path, 0), t.creds, mode)
    return 0


@syscall("fchmodat2", FULL, "dirfd:fd path:path mode:mode flags:flags/at")
def sys_fchmodat2(t: Task, dirfd: int, path: int, mode: int, flags: int) -> int:
    check_at_flags(flags)
    # With AT_SYMLINK_NOFOLLOW on a symlink, chmod_dentry answers EOPNOTSUPP, as Linux.
    ops.chmod_dentry(at_dentry(t, dirfd, path, flags), t.creds, mode)
    return 0


# chown ----------------------------------------------------------------------------------
def owner_id(value: int) -> int:
    """uid_t/gid_t -1 (0xffffffff) means "leave unchanged"."""
    return -1 if value == 0xFFFFFFFF else value


def do_chown(t: Task, d: Dentry, uid: int, gid: int) -> int:
    ops.chown_dentry(d, t.creds, owner_id(uid), owner_id(gid))
    return 0


@syscall("chown", FULL, "path:path owner:uid group:gid")
def sys_chown(t: Task, path: int, uid: int, gid: int) -> int:
    return do_chown(t, at_dentry(t, AT_FDCWD, path, 0), uid, gid)


@syscall("lchown", FULL, "path:path owner:uid group:gid")
def sys_lchown(t: Task, path: int, uid: int, gid: int) -> int:
    return do_chown(t, at_dentry(t, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW), uid, gid)


@syscall("fchown", FULL, "fd:fd owner:uid group:gid")
def sys_fchown(t: Task, fd: int, uid: int, gid: int) -> int:
    return do_chown(t, file_dentry(t.fdt.get(fd)), uid, gid)


@syscall("fchownat", FULL, "dirfd:fd path:path owner:uid group:gid flags:flags/at")
def sys_fchownat(t: Task, dirfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    check_at_flags(flags)
    return do_chown(t, at_dentry(t, dirfd, path, flags), uid, gid)


# times ----------------------------------------------------------------------------------
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
TIMESPEC2 = struct.Struct("<qqqq")  # two struct timespec {tv_sec; tv_nsec}
TIMEVAL2 = struct.Struct("<qqqq")  # two struct timeval {tv_sec; tv_usec}
UTIMBUF = struct.Struct("<qq")  # struct utimbuf {actime; modtime}


def do_utimes(t: Task, d: Dentry, times: list[int | None] | None) -> int:
    """``times`` holds atime and mtime in ns, None for UTIME_OMIT; ``None`` means both now."""
    if times is None:
        ops.utimes_dentry(d, t.creds, None, None, touch=True)
    else:
        ops.utimes_dentry(d, t.creds, times[0], times[1])
    return 0


def read_timespecs(t: Task, addr: int) -> list[int | None] | None:
    """utimensat's times: NULL or both UTIME_NOW mean "touch" (write permission is enough)."""
    if not addr:
        return None
    a_sec, a_nsec, m_sec, m_nsec = TIMESPEC2.unpack(t.mem.read(addr, TIMESPEC2.size))
    out: list[int | None] = []
    now = 0
    for sec, nsec in ((a_sec, a_nsec), (m_sec, m_nsec)):
        if nsec == UTIME_OMIT:
            out.append(None)
        elif nsec == UTIME_NOW:
            now += 1
            out.append(-1)
        elif 0 <= nsec < 1_000_000_000:
            out.append(sec * 1_000_000_000 + nsec)
        else:
            raise KernelError(errno.EINVAL, f"tv_nsec {nsec}")
    if now == 2:
        return None
    if now:  # one UTIME_NOW beside an explicit or omitted time: "now" for that one
        stamp = now_ns()
        out = [stamp if v == -1 else v for v in out]
    return out


@syscall("utimensat", FULL, "dirfd:fd path:path times:struct_in flags:flags/at")
def sys_utimensat(t: Task, dirfd: int, path: int, times: int, flags: int) -> int:
    check_at_flags(flags)
    ts = read_timespecs(t, times)
    if not path:
        # A NULL path (futimens) names dirfd itself; AT_SYMLINK_NOFOLLOW is then EINVAL.
        if flags & AT_SYMLINK_NOFOLLOW:
            raise KernelError(errno.EINVAL, "NULL path with AT_SYMLINK_NOFOLLOW")
        if dirfd == AT_FDCWD:
            raise KernelError(errno.EFAULT, "NULL path with AT_FDCWD")
        f = t.fdt.get(dirfd)
        if f.dentry is None:
            raise KernelError(errno.EBADF, "descriptor has no name in the sandbox")
        return do_utimes(t, f.dentry, ts)
    return do_utimes(t, at_dentry(t, dirfd, path, flags), ts)


def read_timevals(t: Task, addr: int) -> list[int | None] | None:
    if not addr:
        return None
    a_sec, a_usec, m_sec, m_usec = TIMEVAL2.unpack(t.mem.read(addr, TIMEVAL2.size))
    if not (0 <= a_usec < 1_000_000 and 0 <= m_usec < 1_000_000):
        raise KernelError(errno.EINVAL, "tv_usec out of range")
    return [a_sec * 1_000_000_000 + a_usec * 1000, m_sec * 1_000_000_000 + m_usec * 1000]


@syscall("futimesat", FULL, "dirfd:fd path:path times:struct_in")
def sys_futimesat(t: Task, dirfd: int, path: int, times: int) -> int:
    return do_utimes(t, at_dentry(t, dirfd, path, 0), read_timevals(t, times))


@syscall("utimes", FULL, "path:path times:struct_in")
def sys_utimes(t: Task, path: int, times: int) -> int:
    return do_utimes(t, at_dentry(t, AT_FDCWD, path, 0), read_timevals(t, times))


@syscall("utime", FULL, "path:path times:struct_in")
def sys_utime(t: Task, path: int, times: int) -> int:
    ts: list[int | None] | None = None
    if times:
        actime, modtime = UTIMBUF.unpack(t.mem.read(times, UTIMBUF.size))
        ts = [actime * 1_000_000_000, modtime * 1_000_000_000]
    return do_utimes(t, at_dentry(t, AT_FDCWD, path, 0), ts)
