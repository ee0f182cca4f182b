"""The sandbox's System V IPC namespace: shared memory segments (keys, owners, modes,
attachments per process), message queues and semaphore sets.

A segment's pages are a real host segment the supervisor created with IPC_PRIVATE, and the
id the program sees is the host id: a process outside the sandbox (an X server doing MIT-SHM)
attaches the segment by the id the program sends it. Keys live only here, so a sandboxed
``shmget(key)`` never meets a host segment of the same key, and ids the program did not get
from us are refused (EINVAL) before anything reaches the host. The namespace dies with the
sandbox, as an IPC namespace does: every segment still present is removed on the host then.

Message queues and semaphore sets live only here (a host queue or set is reached by key by
every host process, so HOST would be wrong): ids are the model's, blocking calls park.
So do POSIX message queues (vfs/mqueuefs.py), which Linux also keeps per IPC namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vfs.mqueuefs import MqueueFS

IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
S_IRUGO = 0o444
S_IWUGO = 0o222
CAP_IPC_OWNER = 15


@dataclass
class ShmSegment:
    shmid: int  # the host's id, which the program sees
    key: int
    size: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int  # permission bits (0o777)
    cpid: int
    removed: bool = False  # IPC_RMID done: the host destroys it at the last detach


@dataclass
class IpcObject:
    """A message queue or a semaphore set: the ipc_perm fields and the times."""

    id: int
    key: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int
    ctime: int
    removed: bool = False


@dataclass
class MsgQueue(IpcObject):
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    qbytes: int = 16384  # MSGMNB
    stime: int = 0
    rtime: int = 0
    lspid: int = 0
    lrpid: int = 0

    def cbytes(self) -> int:
        return sum(len(m) for _, m in self.messages)


@dataclass
class SemSet(IpcObject):
    values: list[int] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    otime: int = 0


@dataclass
class IpcNamespace:
    shm: dict[int, ShmSegment] = field(default_factory=dict)  # host shmid -> segment
    shm_keys: dict[int, int] = field(default_factory=dict)  # key -> host shmid
    # Attachments per process: tgid -> {address: (shmid, length)}; copied at fork, dropped
    # at exec and exit (the host detaches then too).
    attaches: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    remove_host: Callable[[int], None] | None = None  # set by the handlers
    msg: dict[int, MsgQueue] = field(default_factory=dict)
    msg_keys: dict[int, int] = field(default_factory=dict)
    sem: dict[int, SemSet] = field(default_factory=dict)
    sem_keys: dict[int, int] = field(default_factory=dict)
    next_id: int = 0
    # SEM_UNDO adjustments: tgid -> {(semid, num): adjustment}, applied when it exits.
    sem_undo: dict[int, dict[tuple[int, int], int]] = field(default_factory=dict)
    # Tasks parked in semop: tid -> (semid, num, waits for zero).
    sem_waiters: dict[int, list[tuple[int, int, bool]]] = field(default_factory=dict)
    # POSIX message queues (syscalls/handlers/mqueue.py makes it at the first mq_open).
    mqueue: MqueueFS | None = None

    def fork(self, parent: int, child: int) -> None:
        if parent in self.attaches:
            self.attaches[child] = dict(self.attaches[parent])

    def forget(self, tgid: int) -> None:
        self.attaches.pop(tgid, None)

    def exited(self, tgid: int) -> None:
        """The process is gone: its attachments, and its SEM_UNDO adjustments applied
        (clamped at 0 and SEMVMX, as Linux's exit_sem)."""
        self.forget(tgid)
        for (semid, num), adj in self.sem_undo.pop(tgid, {}).items():
            s = self.sem.get(semid)
            if s is not None and num < len(s.values):
                s.values[num] = max(0, min(32767, s.values[num] + adj))
                s.pids[num] = tgid

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def drop(self, seg: ShmSegment) -> None:
        self.shm.pop(seg.shmid, None)
        if self.shm_keys.get(seg.key) == seg.shmid:
            del self.shm_keys[seg.key]

    def release(self) -> None:
        """The sandbox is gone: remove every segment it left on the host."""
        for seg in list(self.shm.values()):
            if self.remove_host is not None and not seg.removed:
                self.remove_host(seg.shmid)
            self.drop(seg)
