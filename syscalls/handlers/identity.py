"""Who am I: process and thread ids, credentials as the model holds them."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.table import Level, syscall

FULL = Level.FULL


@syscall("getpid", FULL)
def sys_getpid(t: Task) -> int:
    return t.group.tgid


@syscall("gettid", FULL)
def sys_gettid(t: Task) -> int:
    return t.tid


@syscall("getppid", FULL)
def sys_getppid(t: Task) -> int:
    return t.group.ppid


@syscall("getuid", FULL)
def sys_getuid(t: Task) -> int:
    return t.group.creds.uid


@syscall("geteuid", FULL)
def sys_geteuid(t: Task) -> int:
    return t.group.creds.euid


@syscall("getgid", FULL)
def sys_getgid(t: Task) -> int:
    return t.group.creds.gid


@syscall("getegid", FULL)
def sys_getegid(t: Task) -> int:
    return t.group.creds.egid


def do_getres(t: Task, ids: tuple[int, int, int], addrs: tuple[int, int, int]) -> int:
    """getresuid/getresgid: three u32 stores, each its own pointer (EFAULT on any)."""
    for value, addr in zip(ids, addrs, strict=True):
        t.mem.write(addr, struct.pack("<I", value))
    return 0


@syscall("getresuid", FULL, "ruid:struct_out euid:struct_out suid:struct_out")
def sys_getresuid(t: Task, ruid: int, euid: int, suid: int) -> int:
    c = t.group.creds
    return do_getres(t, (c.uid, c.euid, c.suid), (ruid, euid, suid))


@syscall("getresgid", FULL, "rgid:struct_out egid:struct_out sgid:struct_out")
def sys_getresgid(t: Task, rgid: int, egid: int, sgid: int) -> int:
    c = t.group.creds
    return do_getres(t, (c.gid, c.egid, c.sgid), (rgid, egid, sgid))


@syscall("getgroups", FULL, "size:int list:struct_out")
def sys_getgroups(t: Task, size: int, addr: int) -> int:
    groups = t.group.creds.groups
    if size < 0:
        raise KernelError(errno.EINVAL, "negative size")
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise KernelError(errno.EINVAL, f"{len(groups)} groups do not fit in {size}")
    t.mem.write(addr, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)
