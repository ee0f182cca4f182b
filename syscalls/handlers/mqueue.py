"""POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify and
mq_getsetattr (ipc/mqueue.c). The queues are files of vfs/mqueuefs.py, one filesystem per
sandbox, kept in its IPC namespace (``kernel.ipc.mqueue``) as Linux keeps them in the
task's: a queue made in the sandbox never meets a host queue of the same name.

Names reach the kernel without glibc's leading slash and are one path component: "" is
ENOENT, a "/" anywhere or "." or ".." is EACCES, more than NAME_MAX bytes ENAMETOOLONG.
A descriptor is always close-on-exec (do_mq_open's get_unused_fd_flags(O_CLOEXEC)).

Waiting: a send to a full queue or a receive from an empty one parks (``wait_for``) and is
retried whenever anything changed; an absolute CLOCK_REALTIME timeout becomes a supervisor
timer at the call (the sandbox cannot set the clock; a change of the host's clock during
the wait is not followed, so the two timed calls are PARTIAL). A signal withdraws the wait as
wq_sleep's -ERESTARTSYS does: the host restarts it under SA_RESTART (with the same
absolute timeout), else it fails with EINTR. As Linux's pipelined_send/pipelined_receive
hand a message straight to a blocked receiver (or take a blocked sender's into the queue),
a message that a parked receiver will take wakes no poller and fires no notification, and a
receive that a parked sender refills wakes no poller.

mq_notify: one registration per queue (EBUSY), by process; it fires when a message arrives
on an empty queue with no receiver waiting, and ends then, at mq_notify(NULL) by its
process, or when that process closes a descriptor of the queue (mqueue_flush_file; exec
and exit close them). SIGEV_SIGNAL sends the signal with si_code SI_MESGQ, the sender's pid
and uid and the registered value (rt_sigqueueinfo from the supervisor), right after the
sending call has been answered (``Kernel.when_answered``): queued earlier to the sender's
own process, it would withdraw that very call. SIGEV_THREAD hands a cookie to a netlink
socket, and the sandbox has none.
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable
from typing import Any

from compatd.errors import KernelError, Unsupported
from compatd.kernel.task import Task
from syscalls.handlers.polling import NS, TIMESPEC, wait_for
from syscalls.table import Level, syscall
from vfs.flags import O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK, readable, writable
from vfs.mqueuefs import MQ_PRIO_MAX, SIGEV_SIGNAL, MqFile, MqInode, MqueueFS, Notification
from vfs.resolver import MAY_READ, MAY_WRITE, may_access
from vfs.sockfs import AF_NETLINK, socket_of

FULL = Level.FULL
NAME_MAX = 255
SIGEV_NONE = 1
SIGEV_THREAD = 2
SI_MESGQ = -3
NSIG = 64
NOTIFY_COOKIE_LEN = 32
CAP_FOWNER = 3
CAP_SYS_RESOURCE = 24
RLIMIT_MSGQUEUE = 12
# struct mq_attr: mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs, four reserved longs.
MQ_ATTR = struct.Struct("<qqqq32x")
# struct sigevent: sigev_value, sigev_signo, sigev_notify, then a 48-byte union.
SIGEVENT = struct.Struct("<Qii48x")
# siginfo_t of an SI_MESGQ signal (the _rt member): signo, errno, code, pid, uid, value.
SIGINFO_RT = struct.Struct("<iii4xiIQ")
SIGINFO_SIZE = 128
ACCESS = {0: MAY_READ, 1: MAY_WRITE, 2: MAY_READ | MAY_WRITE}  # oflag2acc


def mqueues(t: Task) -> MqueueFS:
    ns = t.kernel.ipc
    if ns.mqueue is None:
        ns.mqueue = MqueueFS()
    return ns.mqueue


def getname(t: Task, addr: int) -> bytes:
    """getname: EFAULT, ENAMETOOLONG past PATH_MAX, ENOENT for an empty name."""
    name = t.read_path(addr)
    if not name:
        raise KernelError(errno.ENOENT, "empty queue name")
    return name


def check_component(name: bytes) -> None:
    """lookup_one_len in the queues' directory: one component, not "." or ".."."""
    if b"/" in name or name in (b".", b".."):
        raise KernelError(errno.EACCES, f"queue name {name!r} is not one component")
    if len(name) > NAME_MAX:
        raise KernelError(errno.ENAMETOOLONG, "queue name longer than NAME_MAX")


def mq_file(t: Task, fd: int) -> MqFile:
    f = t.fdt.files.get(fd)
    if not isinstance(f, MqFile):
        raise KernelError(errno.EBADF, f"fd {fd} is not a message queue")
    return f


def abs_timeout(t: Task, addr: int) -> int | None:
    """prepare_timeout: the absolute CLOCK_REALTIME timeout as nanoseconds from now (0 if
    past; None without one). EFAULT, and EINVAL for an invalid timespec, come first,
    whether or not the call would wait (Linux checks before anything else)."""
    if not addr:
        return None
    sec, nsec = TIMESPEC.unpack(t.mem.read(addr, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < NS:
        raise KernelError(errno.EINVAL, "invalid timespec")
    return max(0, sec * NS + nsec - time.time_ns())


def waiting(t: Task, waiters: dict[int, Any]) -> bool:
    """Whether a task still waits in one of the parked calls that registered in
    ``waiters``: its parked retry is the one with that check and no signal withdrew it.
    Stale entries (the call was interrupted or its task exited) are dropped."""
    kernel = t.kernel
    for tid, check in list(waiters.items()):
        if getattr(kernel.parked.get(tid), "check", None) is check \
                and kernel.platform.still_waiting(tid):
            return True
        del waiters[tid]
    return False


def blocking(t: Task, f: MqFile, timeout: int | None, waiters: dict[int, Any],
             attempt: Callable[[], int | None], why: str) -> int:
    """Do ``attempt`` (None: it would block) now, or EAGAIN with O_NONBLOCK, or park
    until it succeeds or the timeout passes (ETIMEDOUT), registered in ``waiters``."""
    nonblock = bool(f.flags & O_NONBLOCK)  # as it is when the call would block
    tid = t.tid

    def check(final: bool) -> int | None:
        waiters.pop(tid, None)
        res = attempt()
        if res is not None:
            return res
        if nonblock:
            raise KernelError(errno.EAGAIN, why)
        if final:
            raise KernelError(errno.ETIMEDOUT, why)
        waiters[tid] = check
        return None

    return wait_for(t, check, timeout, why, restartable=True)


# mq_open, mq_unlink ----------------------------------------------------------------------
# Linux arms an absolute CLOCK_REALTIME timer, which follows a change of the clock.
TIMEOUT_NOTE = ("the absolute timeout becomes a supervisor timer when the call starts: a "
                "change of the host's realtime clock during the wait is not followed",)


@syscall("mq_open", FULL, "name:str oflag:flags/open mode:mode attr:struct_in")
def sys_mq_open(t: Task, name_addr: int, oflag: int, mode: int, attr_addr: int) -> int:
    """do_mq_open's order: EFAULT (attr, read whenever given), the name (EFAULT,
    ENAMETOOLONG, ENOENT), EMFILE, the component (EACCES, ENAMETOOLONG); then ENOENT
    without O_CREAT, or the creation's ENOSPC/EINVAL/EMFILE; for an existing queue EEXIST
    with O_CREAT|O_EXCL, EINVAL for access mode 3, EACCES by its mode."""
    attr = MQ_ATTR.unpack(t.mem.read(attr_addr, MQ_ATTR.size)) if attr_addr else None
    name = getname(t, name_addr)
    t.fdt.lowest_free(0, t.group.nofile_limit())
    check_component(name)
    fs = mqueues(t)
    q = fs.names.get(name)
    c = t.creds
    if q is None:
        if not oflag & O_CREAT:
            raise KernelError(errno.ENOENT, f"no queue {name!r}")
        # vfs_mkobj: the permission bits (setuid/setgid/sticky included) less the umask.
        q = fs.create(name, mode & ~t.fs.umask & 0o7777, (c.fsuid, c.fsgid), c.uid,
                      (attr[1], attr[2]) if attr is not None else None,
                      t.group.rlimits[RLIMIT_MSGQUEUE][0], c.capable(CAP_SYS_RESOURCE))
    else:
        if oflag & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL:
            raise KernelError(errno.EEXIST, f"queue {name!r} exists")
        acc = oflag & O_ACCMODE
        if acc == O_ACCMODE:
            raise KernelError(errno.EINVAL, "access mode 3 on an existing queue")
        if not may_access(q.stat(), c, ACCESS[acc]):
            raise KernelError(errno.EACCES, f"queue {name!r} mode")
    # A new queue opens with whatever access mode was asked, 3 included (then neither
    # sending nor receiving), as dentry_open does.
    f = q.open(oflag)
    f.dentry = fs.dentry(q)
    return t.install_fd(f, cloexec=True)  # a free fd was found above


@syscall("mq_unlink", FULL, "name:str")
def sys_mq_unlink(t: Task, name_addr: int) -> int:
    """ENOENT, EACCES, ENAMETOOLONG for the name; EPERM from the directory's sticky bit
    (neither the queue's owner nor root, who owns the directory, nor CAP_FOWNER)."""
    name = getname(t, name_addr)
    check_component(name)
    fs = mqueues(t)
    q = fs.names.get(name)
    if q is None:
        raise KernelError(errno.ENOENT, f"no queue {name!r}")
    c = t.creds
    if c.fsuid not in (q.uid, 0) and not c.capable(CAP_FOWNER):
        raise KernelError(errno.EPERM, "sticky directory: not the queue's owner")
    fs.unlink(name)
    return 0


# sending and receiving ---------------------------------------------------------------------
@syscall("mq_timedsend", Level.PARTIAL, "mqdes:fd msg:buf_in msg_len:size msg_prio:uint "
         "abs_timeout:struct_in", unsupported=TIMEOUT_NOTE)
def sys_mq_timedsend(t: Task, mqdes: int, msg: int, msg_len: int, prio: int,
                     timeout_addr: int) -> int:
    """EFAULT/EINVAL (timeout), EINVAL (priority), EBADF (not a queue, not open for
    writing), EMSGSIZE, EFAULT (the message); then EAGAIN or ETIMEDOUT on a full queue."""
    timeout = abs_timeout(t, timeout_addr)
    if prio >= MQ_PRIO_MAX:
        raise KernelError(errno.EINVAL, f"priority {prio}")
    f = mq_file(t, mqdes)
    if not writable(f.flags):
        raise KernelError(errno.EBADF, "queue descriptor not open for writing")
    q = f.queue
    if msg_len > q.msgsize:
        raise KernelError(errno.EMSGSIZE, f"{msg_len} bytes > mq_msgsize {q.msgsize}")
    data = t.mem.read(msg, msg_len)

    def send() -> int | None:
        if q.full():
            return None
        received = waiting(t, q.receivers)  # pipelined_send: it goes to that receiver
        q.insert(data, prio)
        if not received:
            if q.notify is not None and q.curmsgs == 1:
                notify(t, q)
            q.waitq.wake()
        return 0

    return blocking(t, f, timeout, q.senders, send, "mq_timedsend on a full queue")


@syscall("mq_timedreceive", Level.PARTIAL, "mqdes:fd msg:buf_out msg_len:size "
         "msg_prio:struct_out abs_timeout:struct_in", unsupported=TIMEOUT_NOTE)
def sys_mq_timedreceive(t: Task, mqdes: int, msg: int, msg_len: int, prio_addr: int,
                        timeout_addr: int) -> int:
    """EFAULT/EINVAL (timeout), EBADF (not a queue, not open for reading), EMSGSIZE (a
    buffer shorter than mq_msgsize); EAGAIN or ETIMEDOUT on an empty queue. The message
    is taken before it is copied out: an EFAULT then loses it, as on Linux."""
    timeout = abs_timeout(t, timeout_addr)
    f = mq_file(t, mqdes)
    if not readable(f.flags):
        raise KernelError(errno.EBADF, "queue descriptor not open for reading")
    q = f.queue
    if msg_len < q.msgsize:
        raise KernelError(errno.EMSGSIZE, f"buffer of {msg_len} < mq_msgsize {q.msgsize}")

    def receive() -> int | None:
        if not q.curmsgs:
            return None
        refilled = waiting(t, q.senders)  # pipelined_receive: that sender fills the slot
        prio, data = q.take()
        if not refilled:
            q.waitq.wake()
        if prio_addr:
            t.mem.write(prio_addr, struct.pack("<I", prio))
        t.mem.write(msg, data)
        return len(data)

    return blocking(t, f, timeout, q.receivers, receive, "mq_timedreceive on an empty queue")


# notification --------------------------------------------------------------------------------
def notify(t: Task, q: MqInode) -> None:
    """__do_notify: the registration ends; SIGEV_SIGNAL (with a signal: 0 sends nothing)
    queues its signal to the registered process unless it exec'd since. ``t`` sends."""
    n = q.notify
    assert n is not None
    q.notify = None
    if n.how != SIGEV_SIGNAL or not n.signo:
        return
    kernel = t.kernel
    owner = kernel.groups.get(n.tgid)
    if owner is None or not owner.tasks or owner.exec_id != n.exec_id:
        return
    info = SIGINFO_RT.pack(n.signo, 0, SI_MESGQ, t.group.tgid, t.creds.uid, n.value)
    platform = kernel.platform
    kernel.when_answered(lambda: platform.queue_signal(n.tgid, n.signo,
                                                       info.ljust(SIGINFO_SIZE, b"\0")))


@syscall("mq_notify", Level.PARTIAL, "mqdes:fd sevp:struct_in",
         unsupported=("SIGEV_THREAD on a netlink socket: EINVAL (the sandbox has no "
                      "AF_NETLINK sockets, so glibc's SIGEV_THREAD fails with ENOSYS "
                      "before it calls mq_notify; any other descriptor fails as on Linux)",))
def sys_mq_notify(t: Task, mqdes: int, sevp: int) -> int:
    """do_mq_notify's order: EFAULT, EINVAL (sigev_notify, the signal); for SIGEV_THREAD
    EFAULT (the cookie), EBADF, ENOTSOCK, EINVAL (not netlink); then EBADF (mqdes), EBUSY
    when registered already (by anyone). NULL ends the caller's process's registration."""
    ev = SIGEVENT.unpack(t.mem.read(sevp, SIGEVENT.size)) if sevp else None
    if ev is not None:
        value, signo, how = ev
        if how not in (SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD):
            raise KernelError(errno.EINVAL, f"sigev_notify {how}")
        if how == SIGEV_SIGNAL and not 0 <= signo <= NSIG:
            raise KernelError(errno.EINVAL, f"signal {signo}")
        if how == SIGEV_THREAD:
            t.mem.read(value, NOTIFY_COOKIE_LEN)
            if socket_of(t.fdt.get(signo)).family != AF_NETLINK:
                raise KernelError(errno.EINVAL, "SIGEV_THREAD without a netlink socket")
            raise Unsupported(errno.EINVAL, "SIGEV_THREAD (netlink notification)")
    q = mq_file(t, mqdes).queue
    g = t.group
    if ev is None:
        if q.notify is not None and q.notify.tgid == g.tgid:
            q.notify = None
    elif q.notify is not None:
        raise KernelError(errno.EBUSY, "a process is registered already")
    else:
        q.notify = Notification(g.tgid, t.fdt, g.exec_id, ev[2], ev[1], ev[0])
    q.changed()
    return 0


@syscall("mq_getsetattr", FULL, "mqdes:fd newattr:struct_in oldattr:struct_out")
def sys_mq_getsetattr(t: Task, mqdes: int, new_addr: int, old_addr: int) -> int:
    """EFAULT, EINVAL (mq_flags other than O_NONBLOCK), EBADF. Only the descriptor's
    O_NONBLOCK changes; the old attributes are written after the change is made."""
    new = MQ_ATTR.unpack(t.mem.read(new_addr, MQ_ATTR.size)) if new_addr else None
    if new is not None and new[0] & ~O_NONBLOCK:
        raise KernelError(errno.EINVAL, f"mq_flags {new[0]:#x}")
    f = mq_file(t, mqdes)
    q = f.queue
    old = MQ_ATTR.pack(f.flags & O_NONBLOCK, q.maxmsg, q.msgsize, q.curmsgs)
    if new is not None:
        f.flags = (f.flags & ~O_NONBLOCK) | (new[0] & O_NONBLOCK)
        q.changed()
    if old_addr:
        t.mem.write(old_addr, old)
    return 0
