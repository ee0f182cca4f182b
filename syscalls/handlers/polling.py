"""Readiness and waiting: poll, ppoll, select, pselect6 and the epoll family.

One readiness model: every open file answers ``poll()`` with POLL* bits (vfs/base.py). A
call with nothing ready parks the task (``WouldBlock``); the kernel loop retries it after
every completed syscall, exit, timer and ready host fd, and a timeout is a kernel timer that
marks the wait expired. A 0 timeout never waits, a negative one (or a NULL pointer) waits
forever.

Signals are the host's: on the notification lane a signal withdraws the parked call and the
host would restart it or fail it with EINTR as SA_RESTART says. These calls are never
restarted after a handler on Linux: each parked retry carries ``interrupted``, which
``Kernel.parked_call_interrupted`` calls at the signal stop: EINTR when a handler runs (the
time left written back first, as select/ppoll/pselect6 do); otherwise the host restarts the
call, and a restarted poll or epoll_wait keeps its first deadline (``RESTARTS``), as Linux's
restart block does (select and the p* calls read the time left they wrote back).

The temporary signal mask of ppoll, pselect6, epoll_pwait and epoll_pwait2 cannot be
applied by the model (the mask is the host's, rt_sigprocmask runs there): a mask equal to
the one the thread already has changes nothing and is accepted; any other is refused with
EINVAL and recorded (``SIGMASK_UNSUPPORTED``).
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable

from compatd.errors import KernelError, Unsupported, WouldBlock
from compatd.kernel.task import Task
from syscalls.table import Level, syscall
from vfs.base import POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, OpenFile
from vfs.common import host_signal_masks
from vfs.epoll import (
    EPOLLEXCLUSIVE,
    EPOLLEXCLUSIVE_OK_BITS,
    EpollFile,
    epoll_of,
    would_loop,
)
from vfs.flags import O_CLOEXEC, O_PATH

FULL = Level.FULL
PARTIAL = Level.PARTIAL
NS = 1_000_000_000
TIMESPEC = struct.Struct("<qq")
POLLFD = struct.Struct("<ihH")
EPOLL_EVENT = struct.Struct("<IQ")  # packed on x86-64: 12 bytes
SIGSET_SIZE = 8
# SIGKILL and SIGSTOP cannot be blocked: the kernel drops them from any mask.
UNBLOCKABLE = (1 << 8) | (1 << 18)
SIGMASK_UNSUPPORTED = (
    "a signal mask other than the thread's current one: EINVAL (the mask is the host's; "
    "the model cannot swap it for the wait)",
)


# waiting ---------------------------------------------------------------------------------
# A poll or epoll_wait the host restarts after a signal without a handler: tid -> (the
# call's arguments, its deadline in monotonic ns).
RESTARTS: dict[int, tuple[tuple[int, ...], int]] = {}


def restarted_timeout(t: Task, key: tuple[int, ...], timeout_ns: int | None) -> int | None:
    """The timeout of a call that may be the host's restart of one a signal interrupted."""
    if RESTARTS:
        saved = RESTARTS.pop(t.tid, None)
        if saved is not None and saved[0] == key and timeout_ns:
            return remaining(saved[1])
    return timeout_ns


def wait_for(t: Task, check: Callable[[bool], int | None], timeout_ns: int | None,
             why: str, restart_key: tuple[int, ...] | None = None, *,
             restartable: bool = False) -> int:
    """``check(final)`` gives the result, or None while nothing is ready (``final``: the
    time is up, it must answer). Wait ``timeout_ns`` (None: forever, 0: not at all).

    A signal that a handler catches fails the wait with EINTR; a ``restartable`` one
    (Linux's -ERESTARTSYS: mq_timedsend, mq_timedreceive) is left to the host, which
    restarts it under SA_RESTART. The parked retry carries ``check``, so a caller can tell
    whether a task still waits on it (``kernel.parked[tid].check``)."""
    res = check(timeout_ns == 0)
    if res is not None:
        return res
    kernel = t.kernel
    expired = [False]
    handle = None
    end = None
    if timeout_ns is not None:
        end = time.monotonic_ns() + timeout_ns
        handle = kernel.add_timer(timeout_ns / NS, lambda: expired.__setitem__(0, True))

    def retry() -> int:
        res = check(expired[0])
        if res is None:
            raise WouldBlock(why, retry)
        if handle is not None and not expired[0]:
            kernel.cancel_timer(handle)
        return res

    def interrupted(handler: bool) -> int | None:
        if handle is not None:
            kernel.cancel_timer(handle)
        if handler and not restartable:
            return -errno.EINTR
        if restart_key is not None and end is not None:
            RESTARTS[t.tid] = (restart_key, end)
        return None

    retry.interrupted = interrupted  # type: ignore[attr-defined]
    retry.check = check  # type: ignore[attr-defined]
    raise WouldBlock(why, retry)


def read_timespec(t: Task, addr: int) -> int:
    """A relative struct timespec as nanoseconds: EFAULT, EINVAL if invalid."""
    sec, nsec = TIMESPEC.unpack(t.mem.read(addr, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < NS:
        raise KernelError(errno.EINVAL, "invalid timespec")
    return sec * NS + nsec


def check_sigmask(t: Task, addr: int, size: int) -> None:
    """set_user_sigmask: EINVAL for a size other than 8, EFAULT; then our limit."""
    if not addr:
        return
    if size != SIGSET_SIZE:
        raise KernelError(errno.EINVAL, f"sigsetsize {size}")
    mask = struct.unpack("<Q", t.mem.read(addr, SIGSET_SIZE))[0] & ~UNBLOCKABLE
    if mask != current_sigmask(t.tid):
        raise Unsupported(errno.EINVAL, "a temporary signal mask")


def current_sigmask(tid: int) -> int:
    return host_signal_masks(tid).get(b"SigBlk", -1)


def remaining(end_ns: int) -> int:
    return max(0, end_ns - time.monotonic_ns())


def write_remaining(t: Task, addr: int, end_ns: int | None, timeval: bool) -> None:
    """poll_select_finish: the time left goes back to a non-zero timeout."""
    if not addr or end_ns is None:
        return
    left = remaining(end_ns)
    sec, nsec = divmod(left, NS)
    try:
        t.mem.write(addr, TIMESPEC.pack(sec, nsec // 1000 if timeval else nsec))
    except KernelError:
        pass  # Linux ignores it too (the call's own result stands)


def lookup(t: Task, fd: int) -> OpenFile | None:
    """What fdget finds: nothing for a closed fd or an O_PATH one."""
    f = t.fdt.files.get(fd)
    if f is None or f.flags & O_PATH:
        return None
    return f


# poll ------------------------------------------------------------------------------------
def do_poll(t: Task, ufds: int, nfds: int, timeout_ns: int | None,
            restart_key: tuple[int, ...] | None = None) -> int:
    if nfds > t.group.nofile_limit():
        raise KernelError(errno.EINVAL, "nfds beyond RLIMIT_NOFILE")
    raw = t.mem.read(ufds, nfds * POLLFD.size) if nfds else b""
    entries = [POLLFD.unpack_from(raw, i * POLLFD.size)[:2] for i in range(nfds)]
    kernel = t.kernel

    def check(final: bool) -> int | None:
        revents = []
        count = 0
        for fd, events in entries:
            rev = 0
            if fd >= 0:
                f = lookup(t, fd)
                if f is None:
                    rev = POLLNVAL
                else:
                    rev = f.poll() & ((events & 0xFFFF) | POLLERR | POLLHUP)
            revents.append(rev)
            if rev:
                count += 1
        if not count and not final:
            for fd, events in entries:
                f = lookup(t, fd) if fd >= 0 else None
                if f is not None:
                    f.arm_wakeup(kernel, (events & 0xFFFF) | POLLERR | POLLHUP)
            return None
        if nfds:
            t.mem.write(ufds, b"".join(POLLFD.pack(fd, ev, rev)
                                       for (fd, ev), rev in zip(entries, revents, strict=True)))
        return count

    return wait_for(t, check, timeout_ns, "poll", restart_key)


@syscall("poll", FULL, "fds:struct_inout nfds:uint timeout:int")
def sys_poll(t: Task, fds: int, nfds: int, timeout: int) -> int:
    key = (fds, nfds, timeout)
    timeout_ns = restarted_timeout(t, key, None if timeout < 0 else timeout * 1_000_000)
    return do_poll(t, fds, nfds, timeout_ns, key)


@syscall("ppoll", PARTIAL, "fds:struct_inout nfds:uint tmo_p:struct_inout "
         "sigmask:struct_in sigsetsize:size", unsupported=SIGMASK_UNSUPPORTED)
def sys_ppoll(t: Task, fds: int, nfds: int, tmo: int, sigmask: int, sigsetsize: int) -> int:
    timeout_ns = read_timespec(t, tmo) if tmo else None
    end = time.monotonic_ns() + timeout_ns if timeout_ns else None
    check_sigmask(t, sigmask, sigsetsize)
    return time_back(t, tmo, end, False, lambda: do_poll(t, fds, nfds, timeout_ns))


# select ----------------------------------------------------------------------------------
POLLIN_SET = POLLIN | 0x40 | 0x80 | POLLHUP | POLLERR  # RDNORM, RDBAND
POLLOUT_SET = POLLOUT | 0x100 | 0x200 | POLLERR  # WRNORM, WRBAND
POLLEX_SET = POLLPRI


def max_fds(t: Task) -> int:
    """The size of the fd table's bitmaps (fdt->max_fds): at least 64, doubled as fds
    above it were opened. Bits past it are ignored."""
    top = max(t.fdt.files, default=0)
    size = 64
    while size <= top:
        size *= 2
    return size


def do_select(t: Task, n: int, inp: int, outp: int, exp: int, timeout_ns: int | None) -> int:
    if n < 0:
        raise KernelError(errno.EINVAL, "negative nfds")
    n = min(n, max_fds(t))
    nbytes = (n + 63) // 64 * 8

    def get(addr: int) -> int:
        if not addr or not n:
            return 0
        return int.from_bytes(t.mem.read(addr, nbytes), "little") & ((1 << n) - 1)

    sets = (get(inp), get(outp), get(exp))
    wanted = sets[0] | sets[1] | sets[2]
    fds = [fd for fd in range(n) if wanted >> fd & 1]
    for fd in fds:
        if lookup(t, fd) is None:
            raise KernelError(errno.EBADF, f"fd {fd} in a select set is not open")
    kernel = t.kernel

    def check(final: bool) -> int | None:
        res = [0, 0, 0]
        count = 0
        for fd in fds:
            f = lookup(t, fd)
            if f is None:
                raise KernelError(errno.EBADF, f"fd {fd} closed during select")
            mask = f.poll()
            bit = 1 << fd
            for i, interest in enumerate((POLLIN_SET, POLLOUT_SET, POLLEX_SET)):
                if sets[i] & bit and mask & interest:
                    res[i] |= bit
                    count += 1
        if not count and not final:
            for fd in fds:
                f = lookup(t, fd)
                if f is not None:
                    bit = 1 << fd
                    events = ((POLLIN if sets[0] & bit else 0) | (POLLOUT if sets[1] & bit else 0)
                              | (POLLPRI if sets[2] & bit else 0))
                    f.arm_wakeup(kernel, events)
            return None
        for addr, value in zip((inp, outp, exp), res, strict=True):
            if addr and n:
                t.mem.write(addr, value.to_bytes(nbytes, "little"))
        return count

    return wait_for(t, check, timeout_ns, "select")


TIMEVAL = struct.Struct("<qq")


def time_back(t: Task, addr: int, end: int | None, timeval: bool,
              call: Callable[[], int]) -> int:
    """Run ``call`` (and its retries while it waits); when it ends, with a result or an
    error, the time left goes back to ``addr`` as poll_select_finish writes it."""
    try:
        ret = call()
    except WouldBlock as e:
        retry = e.retry
        assert retry is not None

        def again() -> int:
            return time_back(t, addr, end, timeval, retry)

        inner = getattr(retry, "interrupted", None)
        if inner is not None:
            def interrupted(handler: bool) -> int | None:
                write_remaining(t, addr, end, timeval)
                return inner(handler)

            again.interrupted = interrupted  # type: ignore[attr-defined]
        raise WouldBlock(e.why, again) from None
    except KernelError:
        write_remaining(t, addr, end, timeval)
        raise
    write_remaining(t, addr, end, timeval)
    return ret


@syscall("select", FULL, "nfds:int readfds:struct_inout writefds:struct_inout "
         "exceptfds:struct_inout timeout:struct_inout")
def sys_select(t: Task, n: int, inp: int, outp: int, exp: int, tvp: int) -> int:
    timeout_ns = None
    if tvp:
        sec, usec = TIMEVAL.unpack(t.mem.read(tvp, TIMEVAL.size))
        # tv_usec beyond a second carries into the seconds; negative parts are EINVAL.
        sec, nsec = sec + int(usec / 1_000_000), int(_rem(usec, 1_000_000)) * 1000
        if sec < 0 or not 0 <= nsec < NS:
            raise KernelError(errno.EINVAL, "invalid timeval")
        timeout_ns = sec * NS + nsec
    end = time.monotonic_ns() + timeout_ns if timeout_ns else None
    return time_back(t, tvp, end, True,
                          lambda: do_select(t, n, inp, outp, exp, timeout_ns))


def _rem(a: int, b: int) -> int:
    """C's % (the sign of the dividend)."""
    r = abs(a) % b
    return -r if a < 0 else r


@syscall("pselect6", PARTIAL, "nfds:int readfds:struct_inout writefds:struct_inout "
         "exceptfds:struct_inout timeout:struct_inout sigmask:struct_in",
         unsupported=SIGMASK_UNSUPPORTED)
def sys_pselect6(t: Task, n: int, inp: int, outp: int, exp: int, tsp: int, sig: int) -> int:
    ss, ss_len = (struct.unpack("<QQ", t.mem.read(sig, 16)) if sig else (0, 0))
    timeout_ns = read_timespec(t, tsp) if tsp else None
    check_sigmask(t, ss, ss_len)
    end = time.monotonic_ns() + timeout_ns if timeout_ns else None
    return time_back(t, tsp, end, False,
                          lambda: do_select(t, n, inp, outp, exp, timeout_ns))


# epoll -----------------------------------------------------------------------------------
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT.size


@syscall("epoll_create", FULL, "size:int")
def sys_epoll_create(t: Task, size: int) -> int:
    if size <= 0:
        raise KernelError(errno.EINVAL, "epoll_create size must be positive")
    return t.install_fd(EpollFile())


@syscall("epoll_create1", FULL, "flags:flags/epoll")
def sys_epoll_create1(t: Task, flags: int) -> int:
    if flags & ~O_CLOEXEC:
        raise KernelError(errno.EINVAL, f"epoll_create1 flags {flags:#x}")
    return t.install_fd(EpollFile(), cloexec=bool(flags))


@syscall("epoll_ctl", FULL, "epfd:fd op:int/epoll_ctl fd:fd event:struct_in")
def sys_epoll_ctl(t: Task, epfd: int, op: int, fd: int, event: int) -> int:
    """do_epoll_ctl's order: EFAULT (the event), EBADF (epfd, fd), EPERM (no poll), EINVAL
    (not an epoll, itself, EPOLLEXCLUSIVE misuse), ELOOP, then EEXIST/ENOENT/EINVAL."""
    has_event = op != EPOLL_CTL_DEL
    events = data = 0
    if has_event:
        events, data = EPOLL_EVENT.unpack(t.mem.read(event, EPOLL_EVENT.size))
    ep_file = lookup(t, epfd)
    if ep_file is None:
        raise KernelError(errno.EBADF, f"epfd {epfd} is not open")
    f = lookup(t, fd)
    if f is None:
        raise KernelError(errno.EBADF, f"fd {fd} is not open")
    if not f.can_poll():
        raise KernelError(errno.EPERM, "the file does not support poll (regular file?)")
    if f is ep_file or not isinstance(ep_file, EpollFile):
        raise KernelError(errno.EINVAL, "not an epoll file, or the epoll file itself")
    ep = ep_file
    if has_event and events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD:
            raise KernelError(errno.EINVAL, "EPOLLEXCLUSIVE with EPOLL_CTL_MOD")
        if op == EPOLL_CTL_ADD and (isinstance(f, EpollFile)
                                    or events & ~EPOLLEXCLUSIVE_OK_BITS):
            raise KernelError(errno.EINVAL, "EPOLLEXCLUSIVE with other events or an epoll")
    if op == EPOLL_CTL_ADD and isinstance(f, EpollFile) and would_loop(ep, f):
        raise KernelError(errno.ELOOP, "epoll nesting loops or is too deep")
    item = ep.find(f, fd)
    if op == EPOLL_CTL_ADD:
        if item is not None:
            raise KernelError(errno.EEXIST, f"fd {fd} is already registered")
        ep.insert(f, fd, events, data)
        return 0
    if op == EPOLL_CTL_DEL:
        if item is None:
            raise KernelError(errno.ENOENT, f"fd {fd} is not registered")
        ep.remove(item)
        return 0
    if op == EPOLL_CTL_MOD:
        if item is None:
            raise KernelError(errno.ENOENT, f"fd {fd} is not registered")
        if item.events & EPOLLEXCLUSIVE:
            raise KernelError(errno.EINVAL, "EPOLL_CTL_MOD of an EPOLLEXCLUSIVE interest")
        ep.modify(item, events, data)
        return 0
    raise KernelError(errno.EINVAL, f"epoll_ctl op {op}")


def do_epoll_wait(t: Task, epfd: int, events: int, maxevents: int,
                  timeout_ns: int | None, restart_key: tuple[int, ...] | None = None) -> int:
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise KernelError(errno.EINVAL, f"maxevents {maxevents}")
    if events + maxevents * EPOLL_EVENT.size > 1 << 47:
        raise KernelError(errno.EFAULT, "events array outside user space")
    f = lookup(t, epfd)
    if f is None:
        raise KernelError(errno.EBADF, f"epfd {epfd} is not open")
    ep = epoll_of(f)
    kernel = t.kernel

    def check(final: bool) -> int | None:
        reported = ep.collect(maxevents)
        if not reported:
            if final:
                ep.commit([])
                return 0
            ep.arm_wakeup(kernel, POLLIN)
            return None
        t.mem.write(events, b"".join(EPOLL_EVENT.pack(rev, item.data)
                                     for item, rev in reported))
        ep.commit(reported)
        return len(reported)

    return wait_for(t, check, timeout_ns, "epoll_wait", restart_key)


@syscall("epoll_wait", FULL, "epfd:fd events:struct_out maxevents:int timeout:int")
def sys_epoll_wait(t: Task, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    key = (epfd, events, maxevents, timeout)
    timeout_ns = restarted_timeout(t, key, None if timeout < 0 else timeout * 1_000_000)
    return do_epoll_wait(t, epfd, events, maxevents, timeout_ns, key)


@syscall("epoll_pwait", PARTIAL, "epfd:fd events:struct_out maxevents:int timeout:int "
         "sigmask:struct_in sigsetsize:size", unsupported=SIGMASK_UNSUPPORTED)
def sys_epoll_pwait(t: Task, epfd: int, events: int, maxevents: int, timeout: int,
                    sigmask: int, sigsetsize: int) -> int:
    check_sigmask(t, sigmask, sigsetsize)
    return do_epoll_wait(t, epfd, events, maxevents,
                         None if timeout < 0 else timeout * 1_000_000)


@syscall("epoll_pwait2", PARTIAL, "epfd:fd events:struct_out maxevents:int "
         "timeout:struct_in sigmask:struct_in sigsetsize:size",
         unsupported=SIGMASK_UNSUPPORTED)
def sys_epoll_pwait2(t: Task, epfd: int, events: int, maxevents: int, timeout: int,
                     sigmask: int, sigsetsize: int) -> int:
    timeout_ns = read_timespec(t, timeout) if timeout else None
    check_sigmask(t, sigmask, sigsetsize)
    return do_epoll_wait(t, epfd, events, maxevents, timeout_ns)
