"""Tasks (threads), thread groups (processes), credentials and filesystem contexts."""

from __future__ import annotations

import errno
import os
import resource
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compatd.errors import KernelError
from compatd.kernel.fdtable import FDTable

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel
    from compatd.loader import ExecPlan
    from compatd.platform.base import Memory
    from vfs.base import Dentry

PATH_MAX = 4096


@dataclass(slots=True)
class Creds:
    """The emulated credentials (real, effective, saved, filesystem ids; groups)."""

    uid: int
    euid: int
    suid: int
    fsuid: int
    gid: int
    egid: int
    sgid: int
    fsgid: int
    groups: list[int] = field(default_factory=list)

    @classmethod
    def from_host(cls) -> Creds:
        ruid, euid, suid = os.getresuid()
        rgid, egid, sgid = os.getresgid()
        return cls(ruid, euid, suid, euid, rgid, egid, sgid, egid, os.getgroups())

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups


@dataclass(slots=True)
class FSContext:
    """What Linux keeps in ``fs_struct``: the root, the working directory and the umask."""

    root: Dentry
    cwd: Dentry
    umask: int = 0o022

    def copy(self) -> FSContext:
        return FSContext(self.root, self.cwd, self.umask)


RLIM_INFINITY = resource.RLIM_INFINITY & ((1 << 64) - 1)


def host_rlimits() -> dict[int, list[int]]:
    """The limits the first process starts with: the host's own, as Linux would inherit them."""
    out = {}
    for res in range(16):  # RLIMIT_CPU .. RLIMIT_RTTIME
        soft, hard = resource.getrlimit(res)
        out[res] = [soft & ((1 << 64) - 1), hard & ((1 << 64) - 1)]
    return out


class ThreadGroup:
    """A process: what its threads share (pid, parent, credentials, limits, fd table…)."""

    __slots__ = ("tgid", "ppid", "pgid", "sid", "creds", "rlimits", "tasks", "exit_status",
                 "exe", "comm", "argv", "envp", "mapped_files", "start_time", "brk_start", "brk",
                 "scratch")

    def __init__(self, tgid: int, ppid: int, creds: Creds, rlimits: dict[int, list[int]]) -> None:
        self.tgid = tgid
        self.ppid = ppid
        self.pgid = tgid
        self.sid = tgid
        self.creds = creds
        self.rlimits = rlimits
        self.tasks: dict[int, Task] = {}
        self.exit_status: int | None = None  # the wait status once the group has exited
        self.exe: bytes = b""
        self.comm: bytes = b""
        self.argv: list[bytes] = []
        self.envp: list[bytes] = []
        # Host (st_dev, st_ino) of every file this process mapped -> its sandbox path, so
        # /proc/PID/maps can show the host's true layout under the sandbox's names.
        self.mapped_files: dict[tuple[int, int], bytes] = {}
        self.start_time = time.time()
        self.brk_start = 0  # the program break: emulated, placed after the program as Linux
        self.brk = 0
        self.scratch = 0  # a page compatd mapped in the process for fd transfers

    def nofile_limit(self) -> int:
        return self.rlimits[resource.RLIMIT_NOFILE][0]


class Task:
    """A thread: its tid, its process, and the contexts it may share with other threads."""

    __slots__ = ("tid", "group", "fdt", "fs", "mem", "kernel", "started", "pending_exec",
                 "pending_clone")

    def __init__(self, tid: int, group: ThreadGroup, fdt: FDTable, fs: FSContext,
                 mem: Memory, kernel: Kernel) -> None:
        self.tid = tid
        self.kernel = kernel
        self.pending_exec: ExecPlan | None = None  # loaded when the task reaches the stub
        self.pending_clone = 0  # the flags of the clone the host is carrying out
        self.group = group
        self.fdt = fdt
        self.fs = fs
        self.mem = mem
        self.started = False  # becomes True at the first exec: before it, calls are the spawner's

    @property
    def creds(self) -> Creds:
        return self.group.creds

    def read_path(self, addr: int) -> bytes:
        """A path argument: EFAULT for a bad pointer, ENAMETOOLONG past PATH_MAX."""
        if addr == 0:
            raise KernelError(errno.EFAULT, "NULL path")
        return self.mem.read_cstring(addr, PATH_MAX - 1)

    def install_fd(self, f, cloexec: bool = False, minfd: int = 0) -> int:  # noqa: ANN001
        return self.fdt.install(f, self.group.nofile_limit(), cloexec, minfd)
