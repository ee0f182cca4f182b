"""mqueuefs: POSIX message queues (ipc/mqueue.c), one instance per sandbox IPC namespace.

A queue is an inode of this filesystem, named in its root directory (what /dev/mqueue shows
natively; here the filesystem is mounted nowhere), and an mq_open descriptor is an open file
of it, as on Linux: fstat shows a regular file of FILENT_SIZE (80) bytes with the queue's
mode and owner, read gives its "QSIZE:… NOTIFY:… SIGNO:… NOTIFY_PID:…" line, write is
EINVAL, poll is POLLIN while it holds messages and POLLOUT while it is not full, and
/proc/PID/fd/N names it "/NAME". mq_unlink removes the name; the queue lives on until its
last descriptor is closed (Linux frees it with its inode).

Messages leave by priority, highest first, FIFO within a priority (msg_insert/msg_get).
Creation checks the limits of /proc/sys/fs/mqueue (read from the host, which is what the
sandbox's /proc/sys shows) and charges RLIMIT_MSGQUEUE per user as mqueue_get_inode does.
What the calls do with a queue (blocking, notification) is syscalls/handlers/mqueue.py.
"""

from __future__ import annotations

import errno
import heapq
import stat as st
from dataclasses import dataclass
from functools import cache
from typing import Any

from compatd.errors import KernelError
from vfs.base import (
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    Dentry,
    Filesystem,
    Inode,
    OpenFile,
    Stat,
    StatFs,
    WaitQueue,
)
from vfs.common import TimesInMemory, now_ns
from vfs.flags import O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC
from vfs.mount import MountTable

MQUEUE_MAGIC = 0x19800202
FILENT_SIZE = 80  # the size fstat reports, and the buffer the status line is cut to
MQ_PRIO_MAX = 32768
HARD_MSGMAX = 65536  # the limits with CAP_SYS_RESOURCE
HARD_MSGSIZEMAX = 16 * 1024 * 1024
# What a queue charges to RLIMIT_MSGQUEUE besides maxmsg * msgsize: a struct msg_msg per
# message and a struct posix_msg_tree_node per possible priority level (48 bytes each on
# x86-64; measured: a queue of one 1904-byte message fits a limit of 2000, 1905 does not).
MSG_MSG_SIZE = 48
TREE_NODE_SIZE = 48
# dentry_open keeps the open flags except these (do_dentry_open).
OPEN_ONLY_FLAGS = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC
SIGEV_SIGNAL = 0


@dataclass(frozen=True, slots=True)
class MqSysctl:
    """/proc/sys/fs/mqueue: the defaults of a queue created without attributes, the
    limits for a process without CAP_SYS_RESOURCE, and the number of queues."""

    msg_default: int = 10
    msgsize_default: int = 8192
    msg_max: int = 10
    msgsize_max: int = 8192
    queues_max: int = 256


@cache
def host_sysctl() -> MqSysctl:
    values: dict[str, int] = {}
    for name in MqSysctl.__dataclass_fields__:
        try:
            with open(f"/proc/sys/fs/mqueue/{name}", "rb") as f:
                values[name] = int(f.read())
        except (OSError, ValueError):
            pass  # no POSIX queues on the host: Linux's defaults
    return MqSysctl(**values)


@dataclass(slots=True)
class Notification:
    """An mq_notify registration: the process (its tgid, its descriptor table, which exec
    it is at) and what to do: SIGEV_NONE, or SIGEV_SIGNAL with ``signo`` and ``value``."""

    tgid: int
    files: object  # closing a descriptor of the queue through it ends the registration
    exec_id: int
    how: int
    signo: int
    value: int


class MqueueFS(Filesystem):
    """The queues of one IPC namespace, by name, with what they charge."""

    name = "mqueue"
    magic = MQUEUE_MAGIC

    def __init__(self, sysctl: MqSysctl | None = None) -> None:
        super().__init__(readonly=False)
        self.sysctl = sysctl or host_sysctl()
        self._root = MqRoot(self, self.new_ino())
        self.names: dict[bytes, MqInode] = {}
        self.count = 0  # mq_queues_count: queues alive, named or only still open
        self.charged: dict[int, int] = {}  # uid -> bytes charged to RLIMIT_MSGQUEUE
        self.mnt = MountTable(self).root_mount

    @property
    def root(self) -> Inode:
        return self._root

    def statfs(self) -> StatFs:
        return StatFs(type=self.magic, bsize=4096, namelen=255)

    def create(self, name: bytes, perm: int, owner: tuple[int, int], user: int,
               attr: tuple[int, int] | None, rlimit: int, privileged: bool) -> MqInode:
        """mqueue_create_attr: ENOSPC past queues_max, EINVAL for attributes out of range
        (the hard limits with CAP_SYS_RESOURCE, the sysctl ones without), EMFILE past
        RLIMIT_MSGQUEUE. ``owner`` is the creator's (fsuid, fsgid); the charge goes to
        ``user``, its real uid (the ucounts of its credentials)."""
        s = self.sysctl
        if self.count >= s.queues_max and not privileged:
            raise KernelError(errno.ENOSPC, "queues_max reached")
        if attr is None:
            maxmsg, msgsize = min(s.msg_max, s.msg_default), min(s.msgsize_max, s.msgsize_default)
        else:
            maxmsg, msgsize = attr
        limits = (HARD_MSGMAX, HARD_MSGSIZEMAX) if privileged else (s.msg_max, s.msgsize_max)
        if not (0 < maxmsg <= limits[0] and 0 < msgsize <= limits[1]):
            raise KernelError(errno.EINVAL, f"mq_maxmsg {maxmsg} mq_msgsize {msgsize}")
        charge = maxmsg * (msgsize + MSG_MSG_SIZE) + min(maxmsg, MQ_PRIO_MAX) * TREE_NODE_SIZE
        charged = self.charged.get(user, 0) + charge
        if charged > rlimit:
            raise KernelError(errno.EMFILE, "RLIMIT_MSGQUEUE exceeded")
        self.charged[user] = charged
        self.count += 1
        q = MqInode(self, name, perm, owner, (user, charge), (maxmsg, msgsize))
        self.names[name] = q
        return q

    def unlink(self, name: bytes) -> None:
        q = self.names.pop(name)
        q.nlink = 0
        q.ctime_ns = now_ns()
        q.free_if_unused()

    def freed(self, q: MqInode) -> None:
        """The queue's inode is gone (mqueue_evict_inode): its charge and its count."""
        self.count -= 1
        self.charged[q.user] -= q.charge

    def dentry(self, q: MqInode) -> Dentry:
        """What an open descriptor is reached by: "/NAME" in the queue's filesystem."""
        root = self.mnt.root_dentry()
        return Dentry(mount=self.mnt, inode=q, name=q.name, parent=root)


class MqRoot(Inode):
    """The root directory: sticky and writable by all, owned by root (mq_init_ns)."""

    __slots__ = ()

    def stat(self) -> Stat:
        return Stat(dev=self.fs.dev, ino=self.ino, mode=st.S_IFDIR | 0o1777, nlink=2)


class MqInode(TimesInMemory, Inode):
    """One queue: its attributes, its messages and who waits on it."""

    __slots__ = ("name", "perm", "uid", "gid", "user", "charge", "maxmsg", "msgsize",
                 "messages", "seq", "qsize", "nlink", "opens", "notify", "waitq", "receivers",
                 "senders", "atime_ns", "mtime_ns", "ctime_ns")

    fs: MqueueFS

    def __init__(self, fs: MqueueFS, name: bytes, perm: int, owner: tuple[int, int],
                 charged: tuple[int, int], attr: tuple[int, int]) -> None:
        super().__init__(fs, fs.new_ino())
        self.name = name
        self.perm = perm
        self.uid, self.gid = owner
        self.user, self.charge = charged  # who RLIMIT_MSGQUEUE bytes are charged to
        self.maxmsg, self.msgsize = attr
        # A heap of (-priority, arrival, data): the highest priority first, FIFO within it.
        self.messages: list[tuple[int, int, bytes]] = []
        self.seq = 0
        self.qsize = 0  # bytes of message text held (QSIZE)
        self.nlink = 1
        self.opens = 0
        self.notify: Notification | None = None
        self.waitq = WaitQueue()
        # Tasks parked in a receive (send) on this queue: tid -> the check their parked
        # call retries with (syscalls/handlers/mqueue.py tells live waiters from stale).
        self.receivers: dict[int, Any] = {}
        self.senders: dict[int, Any] = {}
        self.atime_ns = self.mtime_ns = self.ctime_ns = now_ns()

    # attributes ---------------------------------------------------------------------------
    def stat(self) -> Stat:
        return Stat(dev=self.fs.dev, ino=self.ino, mode=st.S_IFREG | self.perm, nlink=self.nlink,
                    uid=self.uid, gid=self.gid, size=FILENT_SIZE, atime_ns=self.atime_ns,
                    mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns)

    def chmod(self, mode: int) -> None:
        self.perm = mode & 0o7777
        self.ctime_ns = now_ns()

    def chown(self, uid: int, gid: int) -> None:
        if uid != -1:
            self.uid = uid
        if gid != -1:
            self.gid = gid
        self.ctime_ns = now_ns()

    def touch(self) -> None:
        """A send or receive sets every time (simple_inode_init_ts)."""
        self.atime_ns = self.mtime_ns = self.ctime_ns = now_ns()

    def changed(self) -> None:
        """mq_notify and a set attribute change the access and change times."""
        self.atime_ns = self.ctime_ns = now_ns()

    def open(self, flags: int) -> OpenFile:
        return MqFile(self, flags)

    def free_if_unused(self) -> None:
        if not self.nlink and not self.opens:
            self.messages.clear()
            self.fs.freed(self)

    # messages -----------------------------------------------------------------------------
    @property
    def curmsgs(self) -> int:
        return len(self.messages)

    def full(self) -> bool:
        return len(self.messages) >= self.maxmsg

    def insert(self, data: bytes, prio: int) -> None:
        self.seq += 1
        heapq.heappush(self.messages, (-prio, self.seq, data))
        self.qsize += len(data)
        self.touch()

    def take(self) -> tuple[int, bytes]:
        """The oldest message of the highest priority: (priority, text)."""
        neg_prio, _, data = heapq.heappop(self.messages)
        self.qsize -= len(data)
        self.touch()
        return -neg_prio, data

    def status(self) -> bytes:
        """What read(2) of a descriptor gives (mqueue_read_file)."""
        n = self.notify
        line = b"QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n" % (
            self.qsize, n.how if n else 0, n.signo if n and n.how == SIGEV_SIGNAL else 0,
            n.tgid if n else 0)
        return line if len(line) <= FILENT_SIZE else line[: FILENT_SIZE - 1] + b"\n"


class MqFile(OpenFile):
    """A message queue descriptor (mqueue_file_operations): read gives the status line,
    poll the queue's readiness; sending and receiving are the mq_* calls'."""

    flushes = True

    def __init__(self, q: MqInode, flags: int) -> None:
        super().__init__(q, flags & ~OPEN_ONLY_FLAGS)
        self.queue = q
        q.opens += 1

    def pread(self, size: int, offset: int) -> bytes:
        return self.queue.status()[offset : offset + size]

    def pwrite(self, data: bytes, offset: int) -> int:
        raise KernelError(errno.EINVAL, "write to a message queue descriptor")

    def write(self, data: bytes) -> int:
        raise KernelError(errno.EINVAL, "write to a message queue descriptor")

    def poll(self) -> int:
        """mqueue_poll_file, whatever the access mode."""
        q = self.queue
        mask = POLLIN | POLLRDNORM if q.messages else 0
        if not q.full():
            mask |= POLLOUT | POLLWRNORM
        return mask

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        return (self.queue.waitq,)

    def flush(self, files: object) -> None:
        """mqueue_flush_file: closing any descriptor of the queue in the process that
        registered for notification ends the registration (matched by descriptor table
        here: a process's threads share one)."""
        n = self.queue.notify
        if n is not None and n.files is files:
            self.queue.notify = None

    def release(self) -> None:
        q = self.queue
        q.opens -= 1
        q.free_if_unused()
