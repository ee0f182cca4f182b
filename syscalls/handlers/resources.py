"""The system and its limits: uname, sysinfo, getrandom, rlimits, umask."""

from __future__ import annotations

import errno
import os
import resource
import struct
import time

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.numbers import NUMBERS
from syscalls.table import Level, syscall

FULL = Level.FULL


def _domainname() -> bytes:
    try:
        with open("/proc/sys/kernel/domainname", "rb") as f:
            return f.read().strip()
    except OSError:
        return b"(none)"


@syscall("uname", FULL, "buf:struct_out")
def sys_uname(t: Task, buf: int) -> int:
    # The host's identity: programs compare it with what they were built for, and the
    # tests compare output with a native run. struct utsname: six 65-byte fields.
    u = os.uname()
    fields = (u.sysname, u.nodename, u.release, u.version, u.machine)
    data = b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields)
    t.mem.write(buf, data + _domainname()[:64].ljust(65, b"\0"))
    return 0


# struct sysinfo on x86-64: long uptime; ulong loads[3]; ulong ram/swap figures (6);
# ushort procs; (pad) ulong totalhigh, freehigh; uint mem_unit; padding to 112 bytes.
SYSINFO = struct.Struct("<q3Q6QH6xQQI4x")


@syscall("sysinfo", FULL, "info:struct_out")
def sys_sysinfo(t: Task, info: int) -> int:
    import psutil  # imported here: it costs 12 ms of start-up and few programs call sysinfo

    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    loads = tuple(int(x * 65536) for x in os.getloadavg())  # SI_LOAD_SHIFT = 16
    uptime = int(time.time() - psutil.boot_time())
    procs = len(psutil.pids())
    data = SYSINFO.pack(
        uptime, *loads, vm.total, vm.available, getattr(vm, "shared", 0),
        getattr(vm, "buffers", 0), sw.total, sw.free, min(procs, 0xFFFF), 0, 0, 1,
    )  # fmt: skip
    t.mem.write(info, data)
    return 0


GRND_NONBLOCK = 1
GRND_RANDOM = 2
GRND_INSECURE = 4


@syscall("getrandom", FULL, "buf:buf_out count:size flags:flags/getrandom")
def sys_getrandom(t: Task, buf: int, count: int, flags: int) -> int:
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        raise KernelError(errno.EINVAL, f"unknown getrandom flags {flags:#x}")
    if flags & GRND_INSECURE and flags & GRND_RANDOM:
        raise KernelError(errno.EINVAL, "GRND_INSECURE with GRND_RANDOM")
    # Linux returns at most 32 MiB - 1 per call (get_random_bytes_user's cap is per chunk,
    # but a large request is cut short at MAX_RW_COUNT and on signals; keep it bounded).
    n = min(count, 0x1FFFFFF)
    t.mem.write(buf, os.urandom(n))
    return n


RLIM_NLIMITS = 16
RLIMIT_NOFILE = resource.RLIMIT_NOFILE
NR_OPEN = 1 << 20  # fs.nr_open default: RLIMIT_NOFILE above it is EPERM
# Limits the host enforces on the tracee's own execution (CPU time, memory, stack…): set
# on the host process too. The others (files, processes, locks) are enforced by the model.
HOST_ENFORCED = {
    resource.RLIMIT_CPU, resource.RLIMIT_DATA, resource.RLIMIT_STACK, resource.RLIMIT_CORE,
    resource.RLIMIT_AS, resource.RLIMIT_MEMLOCK, resource.RLIMIT_RSS, resource.RLIMIT_NICE,
    resource.RLIMIT_RTPRIO, resource.RLIMIT_RTTIME, resource.RLIMIT_SIGPENDING,
}  # fmt: skip
RLIMIT = struct.Struct("<QQ")
U64 = (1 << 64) - 1


def do_prlimit(t: Task, pid: int, res: int, new: int, old: int) -> int:
    """prlimit64's rules; getrlimit and setrlimit are this with one side NULL."""
    if pid not in (0, t.group.tgid):
        raise KernelError(errno.ESRCH, f"pid {pid} is not in the sandbox")
    if not 0 <= res < RLIM_NLIMITS:
        raise KernelError(errno.EINVAL, f"resource {res}")
    limits = t.group.rlimits[res]
    new_limits = None
    if new:
        soft, hard = RLIMIT.unpack(t.mem.read(new, RLIMIT.size))
        if soft > hard:
            raise KernelError(errno.EINVAL, "soft limit above hard limit")
        if hard > limits[1] and t.group.creds.euid != 0:
            raise KernelError(errno.EPERM, "raising the hard limit needs CAP_SYS_RESOURCE")
        if res == RLIMIT_NOFILE and hard > NR_OPEN:
            raise KernelError(errno.EPERM, "RLIMIT_NOFILE above fs.nr_open")
        policy = t.kernel.limits
        if policy is not None and hard > policy.ceiling(res):
            # A policy's limit binds root too: EPERM, as for an unprivileged raise.
            raise KernelError(errno.EPERM, "raising a hard limit past the policy's")
        new_limits = [soft, hard]
    if old:
        t.mem.write(old, RLIMIT.pack(*limits))
    if new_limits is not None:
        if res in HOST_ENFORCED:
            as_host = tuple(resource.RLIM_INFINITY if v == U64 else v for v in new_limits)
            try:
                resource.prlimit(t.group.tgid, res, as_host)
            except OSError as e:
                raise KernelError(e.errno or errno.EPERM, "host refused the limit") from e
        limits[:] = new_limits
    return 0


@syscall(
    "prlimit64",
    Level.PARTIAL,
    "pid:pid resource:int new:struct_in old:struct_out",
    unsupported=(
        "other processes' limits (ESRCH until the processes issue)",
        "RLIMIT_NPROC, RLIMIT_LOCKS and RLIMIT_MSGQUEUE are kept, not enforced; RLIMIT_FSIZE "
        "only under a policy's file_size limit",
    ),
)
def sys_prlimit64(t: Task, pid: int, res: int, new: int, old: int) -> int:
    return do_prlimit(t, pid, res, new, old)


@syscall("getrlimit", FULL, "resource:int rlim:struct_out")
def sys_getrlimit(t: Task, res: int, rlim: int) -> int:
    return do_prlimit(t, 0, res, 0, rlim)


@syscall(
    "setrlimit",
    Level.PARTIAL,
    "resource:int rlim:struct_in",
    unsupported=("RLIMIT_NPROC, RLIMIT_LOCKS and RLIMIT_MSGQUEUE are not enforced; RLIMIT_FSIZE "
                 "only under a policy's file_size limit",),
)
def sys_setrlimit(t: Task, res: int, rlim: int) -> int:
    if not rlim:
        raise KernelError(errno.EFAULT, "NULL rlimit")
    return do_prlimit(t, 0, res, rlim, 0)


@syscall("umask", FULL, "mask:mode")
def sys_umask(t: Task, mask: int) -> int:
    old = t.fs.umask
    t.fs.umask = mask & 0o777
    return old




# The host keeps CPU times and maxrss, and adds a child's to its parent's when the parent
# reaps it on the host. The model reaps first (wait4 answers at once) and the host zombie
# later, at the parent's next ptrace stop: these two calls stop there, reap, and have the
# host answer in the task itself (its own buffer, registers only).
NR_GETRUSAGE = NUMBERS["getrusage"]
NR_TIMES = NUMBERS["times"]


@syscall("getrusage", FULL, "who:int usage:struct_out", needs_stop=True)
def sys_getrusage(t: Task, who: int, usage: int) -> int:
    t.kernel.reap_on_host(t)
    return t.kernel.platform.inject(t.tid, NR_GETRUSAGE, who, usage)


@syscall("times", FULL, "buf:struct_out", needs_stop=True)
def sys_times(t: Task, buf: int) -> int:
    t.kernel.reap_on_host(t)
    return t.kernel.platform.inject(t.tid, NR_TIMES, buf)
