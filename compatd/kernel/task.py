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
    from compatd.platform.events import Event
    from vfs.base import Dentry

PATH_MAX = 4096


def _host_caps() -> tuple[int, int, int, int, int]:
    """The supervisor's own capability sets (CapInh, CapPrm, CapEff, CapBnd, CapAmb): what a
    program started by the same user natively would have."""
    caps = dict.fromkeys((b"CapInh", b"CapPrm", b"CapEff", b"CapBnd", b"CapAmb"), 0)
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                name, _, value = line.partition(b":")
                if name in caps:
                    caps[name] = int(value.strip(), 16)
    except (OSError, ValueError):
        pass
    return tuple(caps.values())  # type: ignore[return-value]


# Capabilities the model checks (include/uapi/linux/capability.h).
CAP_CHOWN = 0
CAP_DAC_OVERRIDE = 1
CAP_FOWNER = 3
CAP_SETGID = 6
CAP_SETUID = 7
CAP_SETPCAP = 8
CAP_SYS_NICE = 23
# The capabilities an fsuid change from/to 0 drops/raises (CAP_FS_SET): CHOWN,
# DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, MKNOD, MAC_OVERRIDE.
CAP_FS_MASK = 0x1F | 1 << 27 | 1 << 32
# securebits (include/uapi/linux/securebits.h)
SECURE_NOROOT = 1 << 0
SECURE_NO_SETUID_FIXUP = 1 << 2
SECURE_KEEP_CAPS = 1 << 4


@dataclass(slots=True)
class Creds:
    """The emulated credentials (real, effective, saved, filesystem ids; groups) and the
    capability sets, which follow Linux's rules for root (commoncap.c): a process whose
    effective uid is 0 holds what its permitted set allows, and changing ids away from 0
    drops them (unless SECURE_KEEP_CAPS). The host process keeps its real ids and caps."""

    uid: int
    euid: int
    suid: int
    fsuid: int
    gid: int
    egid: int
    sgid: int
    fsgid: int
    groups: list[int] = field(default_factory=list)
    cap_inh: int = 0
    cap_prm: int = 0
    cap_eff: int = 0
    cap_bnd: int = 0
    cap_amb: int = 0
    securebits: int = 0

    @classmethod
    def from_host(cls) -> Creds:
        ruid, euid, suid = os.getresuid()
        rgid, egid, sgid = os.getresgid()
        inh, prm, eff, bnd, amb = _host_caps()
        return cls(ruid, euid, suid, euid, rgid, egid, sgid, egid, os.getgroups(),
                   inh, prm, eff, bnd, amb)

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups

    def capable(self, cap: int) -> bool:
        """Whether ``cap`` is in the effective set (ns_capable in the one user namespace)."""
        return bool(self.cap_eff >> cap & 1)

    def fix_setuid(self, old_uid: int, old_euid: int, old_suid: int, old_fsuid: int) -> None:
        """cap_emulate_setxuid: what a uid change does to the capability sets."""
        if self.securebits & SECURE_NO_SETUID_FIXUP:
            return
        if 0 in (old_uid, old_euid, old_suid) and 0 not in (self.uid, self.euid, self.suid):
            if not self.securebits & SECURE_KEEP_CAPS:
                self.cap_prm = self.cap_eff = 0
            self.cap_amb = 0
        if old_euid == 0 and self.euid != 0:
            self.cap_eff = 0
        if old_euid != 0 and self.euid == 0:
            self.cap_eff = self.cap_prm
        self.fix_setfsuid(old_fsuid)

    def fix_setfsuid(self, old_fsuid: int) -> None:
        """An fsuid change from 0 drops the filesystem capabilities; to 0 raises them."""
        if self.securebits & SECURE_NO_SETUID_FIXUP:
            return
        if old_fsuid == 0 and self.fsuid != 0:
            self.cap_eff &= ~CAP_FS_MASK
        elif old_fsuid != 0 and self.fsuid == 0:
            self.cap_eff |= self.cap_prm & CAP_FS_MASK

    def exec_caps(self) -> None:
        """The sets after exec of a file without file capabilities (no set-id exec either):
        root gets its bounding set (unless SECURE_NOROOT), others keep only ambient caps."""
        root = not self.securebits & SECURE_NOROOT and 0 in (self.uid, self.euid)
        self.cap_prm = (self.cap_bnd | self.cap_inh) if root else self.cap_amb
        self.cap_eff = self.cap_prm if root and self.euid == 0 else self.cap_amb
        self.securebits &= ~SECURE_KEEP_CAPS


@dataclass(slots=True)
class FSContext:
    """What Linux keeps in ``fs_struct``: the root, the working directory and the umask."""

    root: Dentry
    cwd: Dentry
    umask: int = 0o022

    def copy(self) -> FSContext:
        return FSContext(self.root, self.cwd, self.umask)


def suid_dumpable() -> int:
    """/proc/sys/fs/suid_dumpable: what dumpable becomes when credentials change."""
    try:
        with open("/proc/sys/fs/suid_dumpable", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


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
                 "scratch", "dumpable", "child_subreaper", "host_zombies")

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
        self.host_zombies: list[int] = []  # children reaped in the model, not yet on the host
        self.dumpable = 1  # prctl(PR_SET_DUMPABLE): kept with the memory, as Linux's mm
        self.child_subreaper = False  # prctl(PR_SET_CHILD_SUBREAPER)

    def nofile_limit(self) -> int:
        return self.rlimits[resource.RLIMIT_NOFILE][0]


class Task:
    """A thread: its tid, its process, and the contexts it may share with other threads."""

    __slots__ = ("tid", "group", "fdt", "fs", "mem", "kernel", "pending_exec",
                 "pending_clone", "comm", "pdeathsig", "no_new_privs", "affinity", "call")

    def __init__(self, tid: int, group: ThreadGroup, fdt: FDTable, fs: FSContext,
                 mem: Memory, kernel: Kernel) -> None:
        self.tid = tid
        self.kernel = kernel
        self.pending_exec: ExecPlan | None = None  # loaded when the task reaches the stub
        self.pending_clone = 0  # the flags of the clone the host is carrying out
        self.group = group
        self.fdt = fdt.attach()
        self.fs = fs
        self.mem = mem
        self.comm: bytes | None = None  # a thread's own name (PR_SET_NAME); None: the group's
        self.pdeathsig = 0  # prctl(PR_SET_PDEATHSIG); the host delivers it
        self.no_new_privs = False  # prctl(PR_SET_NO_NEW_PRIVS), per thread as in Linux
        # The CPUs sched_setaffinity allowed while the platform pins every task to one CPU
        # (None: all the CPUs compatd was started with).
        self.affinity: frozenset[int] | None = None
        # Under a policy whose path or network rules need it: the syscall being handled
        # (its hooks run deep inside handlers, and in retried parked calls).
        self.call: Event | None = None

    @property
    def creds(self) -> Creds:
        return self.group.creds

    @property
    def name(self) -> bytes:
        """The thread's comm: its own once set, else its process's (the leader's)."""
        return self.group.comm if self.comm is None else self.comm

    def inherit(self, parent: Task) -> None:
        """What a new task takes from the task that cloned it (copy_process): its name,
        no_new_privs and, for a new process, the dumpable flag of the memory it copies.
        pdeathsig and the child-subreaper flag start cleared."""
        self.no_new_privs = parent.no_new_privs
        self.affinity = parent.affinity
        if self.group is parent.group:
            self.comm = parent.name
        else:
            self.group.comm = parent.name
            self.group.dumpable = parent.group.dumpable

    def exec_reset(self) -> None:
        """What exec resets (begin_new_exec): the name (set from the file by the caller),
        dumpable (fs.suid_dumpable when the ids differ), the capability sets."""
        self.comm = None
        c = self.group.creds
        self.group.dumpable = 1 if c.euid == c.uid and c.egid == c.gid else suid_dumpable()
        c.exec_caps()

    def read_path(self, addr: int) -> bytes:
        """A path argument: EFAULT for a bad pointer, ENAMETOOLONG past PATH_MAX."""
        if addr == 0:
            raise KernelError(errno.EFAULT, "NULL path")
        return self.mem.read_cstring(addr, PATH_MAX - 1)

    def install_fd(self, f, cloexec: bool = False, minfd: int = 0) -> int:  # noqa: ANN001
        return self.fdt.install(f, self.group.nofile_limit(), cloexec, minfd)
