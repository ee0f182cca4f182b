"""The sandbox's System V IPC namespace: shared memory segments (keys, owners, modes,
attachments per process).

A segment's pages are a real host segment the supervisor created with IPC_PRIVATE, and the
id the program sees is the host id: a process outside the sandbox (an X server doing MIT-SHM)
attaches the segment by the id the program sends it. Keys live only here, so a sandboxed
``shmget(key)`` never meets a host segment of the same key, and ids the program did not get
from us are refused (EINVAL) before anything reaches the host. The namespace dies with the
sandbox, as an IPC namespace does: every segment still present is removed on the host then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
class IpcNamespace:
    shm: dict[int, ShmSegment] = field(default_factory=dict)  # host shmid -> segment
    shm_keys: dict[int, int] = field(default_factory=dict)  # key -> host shmid
    # Attachments per process: tgid -> {address: (shmid, length)}; copied at fork, dropped
    # at exec and exit (the host detaches then too).
    attaches: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    remove_host: Callable[[int], None] | None = None  # set by the handlers

    def fork(self, parent: int, child: int) -> None:
        if parent in self.attaches:
            self.attaches[child] = dict(self.attaches[parent])

    def forget(self, tgid: int) -> None:
        self.attaches.pop(tgid, None)

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
