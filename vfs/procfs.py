"""procfs: /proc generated on demand from the kernel model.

Nothing is stored: every lookup builds small inodes from the kernel's ``tasks``, ``groups``,
``current`` and mount table, and every read formats the file as Linux does. Host figures
(cpuinfo, meminfo, the memory and scheduling fields of stat/status) come from the host's own
/proc, with the model's identities (pids, parents, ids, names, umask) substituted and the
sandbox hidden (TracerPid 0, Seccomp 0, NoNewPrivs 0).

Only the sandbox's processes are listed. ``self`` and ``thread-self`` name the task whose
syscall is being handled (``kernel.current``). ``exe``, ``cwd``, ``root`` and ``fd/N`` are
magic links: ``magic_link()`` gives the resolver the dentry itself (so opening
/proc/self/fd/N reopens that file and chmod reaches it even when the name is gone), and
``readlink`` gives the path text, or ``pipe:[ino]``-style names for files without one.

The kernel object is duck-typed (see ``KernelLike``); vfs/ never imports compatd.kernel.
"""

from __future__ import annotations

import errno
import os
import re
import stat as st
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from compatd.errors import KernelError
from vfs.base import Dentry, DirEntry, Filesystem, Inode, OpenFile, Stat, StatFs, dtype_of
from vfs.common import DirFile, FileBase, stat_from_host
from vfs.flags import O_ACCMODE, O_PATH, O_RDONLY, O_RDWR, O_WRONLY
from vfs.resolver import resolve

if TYPE_CHECKING:
    from vfs.mount import Mount, MountTable

PROC_SUPER_MAGIC = 0x9FA0
PROC_DYNAMIC_FIRST = 0xF0000000  # Linux's inode numbers for self and thread-self
RLIM_INFINITY = (1 << 64) - 1
O_CLOEXEC = 0o2000000
TASK_COMM_LEN = 16


class KernelLike(Protocol):
    """What procfs reads from ``compatd.kernel.kernel.Kernel``."""

    tasks: dict[int, Any]   # tid -> Task (tid, group, fdt, fs)
    groups: dict[int, Any]  # tgid -> ThreadGroup
    current: Any            # the Task whose syscall is being handled, or None
    ns: MountTable


# formatting helpers ------------------------------------------------------------------------

def _host_read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def mangle(b: bytes) -> bytes:
    """Escape a name for mounts/mountinfo as Linux's seq_escape does (space, tab, newline,
    backslash as octal)."""
    out = bytearray()
    for c in b:
        if c in (0x20, 0x09, 0x0A, 0x5C):
            out += b"\\%03o" % c
        else:
            out.append(c)
    return bytes(out)


_LIMITS = (
    ("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
    ("Max stack size", "bytes"), ("Max core file size", "bytes"),
    ("Max resident set", "bytes"), ("Max processes", "processes"),
    ("Max open files", "files"), ("Max locked memory", "bytes"),
    ("Max address space", "bytes"), ("Max file locks", "locks"),
    ("Max pending signals", "signals"), ("Max msgqueue size", "bytes"),
    ("Max nice priority", ""), ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
)


def format_limits(rlimits: dict[int, list[int]]) -> bytes:
    """/proc/PID/limits exactly as fs/proc/base.c proc_pid_limits prints it."""
    lines = [f"{'Limit':<25} {'Soft Limit':<20} {'Hard Limit':<20} {'Units':<10}\n"]
    for i, (name, unit) in enumerate(_LIMITS):
        soft, hard = rlimits.get(i, [RLIM_INFINITY, RLIM_INFINITY])
        s = f"{name:<25} {'unlimited' if soft == RLIM_INFINITY else soft:<20} "
        s += f"{'unlimited' if hard == RLIM_INFINITY else hard:<20} "
        s += f"{unit:<10}\n" if unit else "\n"
        lines.append(s)
    return "".join(lines).encode()


_MAPS_LINE = re.compile(rb"^([0-9a-f]+-[0-9a-f]+ \S+ [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+)"
                        rb"\s*)(.*)$")


def rewrite_maps(text: bytes, names: dict[tuple[int, int], bytes]) -> bytes:
    """The host's maps/smaps with each mapped file's path replaced by its sandbox name
    (``names``: host (st_dev, st_ino) -> sandbox path); other lines as the host shows them."""
    if not names:
        return text
    out = []
    for line in text.split(b"\n"):
        m = _MAPS_LINE.match(line)
        if m is not None and m.group(5):
            key = (os.makedev(int(m.group(2), 16), int(m.group(3), 16)), int(m.group(4)))
            name = names.get(key)
            if name is not None:
                line = m.group(1) + name.replace(b"\n", b"\\012")
        out.append(line)
    return b"\n".join(out)


def _fd_size(files: dict[int, object]) -> int:
    """FDSize: the fd table's capacity, which Linux grows in powers of two from 64."""
    n = 64
    top = max(files, default=0)
    while n <= top:
        n *= 2
    return n


# inodes -------------------------------------------------------------------------------------

class ProcInode(Inode):
    __slots__ = ("pmode", "uid", "gid", "time_ns", "psize")

    fs: ProcFS

    def __init__(self, fs: ProcFS, key: tuple[Any, ...], mode: int,
                 owner: tuple[int, int] = (0, 0), time_ns: int = 0, size: int = 0) -> None:
        super().__init__(fs, fs.ino_for(key))
        self.pmode = mode
        self.uid, self.gid = owner
        self.time_ns = time_ns or fs.created_ns
        self.psize = size

    @property
    def mode(self) -> int:
        return self.pmode

    def nlink(self) -> int:
        return 1

    def stat(self) -> Stat:
        t = self.time_ns
        return Stat(dev=self.fs.dev, ino=self.ino, mode=self.pmode, nlink=self.nlink(),
                    uid=self.uid, gid=self.gid, size=self.psize, blksize=1024,
                    atime_ns=t, mtime_ns=t, ctime_ns=t)


Maker = Callable[[], ProcInode]


class ProcDir(ProcInode):
    """A directory whose entries are computed when asked: name -> inode maker."""

    __slots__ = ("entries_fn", "extra_lookup")

    def __init__(self, fs: ProcFS, key: tuple[Any, ...], entries: Callable[[], dict[bytes, Maker]],
                 mode: int = 0o555, owner: tuple[int, int] = (0, 0), time_ns: int = 0,
                 extra_lookup: Callable[[bytes], ProcInode | None] | None = None,
                 size: int = 0) -> None:
        super().__init__(fs, key, st.S_IFDIR | mode, owner, time_ns, size)
        self.entries_fn = entries
        self.extra_lookup = extra_lookup

    def nlink(self) -> int:
        return 2 + sum(1 for i in self._children() if st.S_ISDIR(i[1].pmode))

    def _children(self) -> Iterator[tuple[bytes, ProcInode]]:
        for name, make in self.entries_fn().items():
            try:
                yield name, make()
            except KernelError:
                continue  # gone meanwhile (a task exited, an fd closed)

    def lookup(self, name: bytes) -> Inode:
        make = self.entries_fn().get(name)
        if make is not None:
            return make()
        if self.extra_lookup is not None:
            found = self.extra_lookup(name)
            if found is not None:
                return found
        raise KernelError(errno.ENOENT, f"no {name!r} in /proc")

    def readdir(self) -> Iterator[DirEntry]:
        for name, inode in list(self._children()):
            yield DirEntry(name, inode.ino, dtype_of(inode.pmode))

    def open(self, flags: int) -> OpenFile:
        return DirFile(self, flags)

    # Nothing can be made here: Linux's lookup of a missing name fails first.
    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        raise KernelError(errno.ENOENT, "nothing can be created in /proc")

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        raise KernelError(errno.ENOENT, "nothing can be created in /proc")

    def mknod(self, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Inode:
        raise KernelError(errno.ENOENT, "nothing can be created in /proc")

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        raise KernelError(errno.ENOENT, "nothing can be created in /proc")


class ProcFile(ProcInode):
    """A generated file: ``gen()`` formats it; ``writer`` (if any) takes writes."""

    __slots__ = ("gen", "writer", "write_errno", "sysctl")

    def __init__(self, fs: ProcFS, key: tuple[Any, ...], gen: Callable[[], bytes],
                 mode: int = 0o444, owner: tuple[int, int] = (0, 0), time_ns: int = 0, *,
                 writer: Callable[[bytes], int] | None = None, write_errno: int = errno.EINVAL,
                 sysctl: bool = False) -> None:
        super().__init__(fs, key, st.S_IFREG | mode, owner, time_ns)
        self.gen = gen
        self.writer = writer
        self.write_errno = write_errno
        self.sysctl = sysctl

    def open(self, flags: int) -> OpenFile:
        if self.sysctl and flags & O_ACCMODE != O_RDONLY:
            # /proc/sys refuses writes its mode forbids, even to root (proc_sys_permission);
            # and here every sysctl is read-only.
            raise KernelError(errno.EACCES, "/proc/sys is read-only here")
        return ProcOpenFile(self, flags)

    def truncate(self, size: int) -> None:
        return None  # O_TRUNC on a proc file is ignored, as on Linux


class ProcOpenFile(FileBase):
    """Content is generated at the first read and again at every read from offset 0 (as
    seq_file regenerates on a rewind); reads page through that snapshot."""

    inode: ProcFile

    def __init__(self, inode: ProcFile, flags: int) -> None:
        super().__init__(inode, flags)
        self.data: bytes | None = None

    def read_at(self, size: int, offset: int) -> bytes:
        if self.data is None or offset == 0:
            self.data = self.inode.gen()
        return self.data[offset:offset + size]

    def write_at(self, data: bytes, offset: int) -> int:
        if self.inode.writer is None:
            raise KernelError(self.inode.write_errno, "this /proc file is not writable")
        return self.inode.writer(data)

    def seek(self, offset: int, whence: int) -> int:
        if whence == 2:
            raise KernelError(errno.EINVAL, "SEEK_END on a /proc file")
        return super().seek(offset, whence)


class ProcLink(ProcInode):
    """A symlink; with ``target`` a magic link whose ``magic_link()`` is the dentry."""

    __slots__ = ("text_fn", "target_fn")

    def __init__(self, fs: ProcFS, key: tuple[Any, ...], text: Callable[[], bytes],
                 target: Callable[[], Dentry] | None = None, mode: int = 0o777,
                 owner: tuple[int, int] = (0, 0), time_ns: int = 0, size: int = 0) -> None:
        super().__init__(fs, key, st.S_IFLNK | mode, owner, time_ns, size)
        self.text_fn = text
        self.target_fn = target

    def readlink(self) -> bytes:
        return self.text_fn()

    def magic_link(self) -> Dentry | None:
        return self.target_fn() if self.target_fn is not None else None


class HostFdInode(Inode):
    """What /proc/self/fd/N leads to for a supervisor stdio fd (a terminal, pipe or host
    file with no name in the sandbox): opening it reopens the host object, as Linux's
    reopen through /proc does."""

    fifo_in_pipefs = False  # it reopens the host pipe itself

    __slots__ = ("host_fd",)

    def __init__(self, fs: ProcFS, host_fd: int, ino: int) -> None:
        super().__init__(fs, ino)
        self.host_fd = host_fd

    def _host_stat(self) -> os.stat_result:
        try:
            return os.fstat(self.host_fd)
        except OSError as e:
            raise KernelError(e.errno or errno.EBADF, "host fd gone") from None

    def stat(self) -> Stat:
        s = self._host_stat()
        return stat_from_host(s, s.st_dev, s.st_ino)

    def truncate(self, size: int) -> None:
        try:
            fd = os.open(f"/proc/self/fd/{self.host_fd}", os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            raise KernelError(e.errno or errno.EIO, "reopen for truncate") from None
        try:
            os.ftruncate(fd, size)
        except OSError as e:
            raise KernelError(e.errno or errno.EIO, "truncate") from None
        finally:
            os.close(fd)

    def open(self, flags: int) -> OpenFile:
        from vfs.hostfd import HostFdFile

        acc = {O_WRONLY: os.O_WRONLY, O_RDWR: os.O_RDWR}.get(flags & O_ACCMODE, os.O_RDONLY)
        try:
            fd = os.open(f"/proc/self/fd/{self.host_fd}",
                         acc | (flags & os.O_APPEND) | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as e:
            raise KernelError(e.errno or errno.EIO, "reopen of a host fd") from None
        return HostFdFile(fd, flags, None, owns=True)


# the filesystem -----------------------------------------------------------------------------

_GLOBAL_HOST_FILES = (b"cpuinfo", b"meminfo", b"stat", b"uptime", b"loadavg", b"version",
                      b"vmstat", b"swaps")

# /proc/sys files copied from the host (read-only): relative path -> None, or a generator.
_SYSCTL: dict[bytes, Callable[[], bytes] | None] = {
    b"kernel/ostype": None, b"kernel/osrelease": None, b"kernel/version": None,
    b"kernel/hostname": None, b"kernel/domainname": None, b"kernel/pid_max": None,
    b"kernel/threads-max": None, b"kernel/ngroups_max": None, b"kernel/cap_last_cap": None,
    b"kernel/overflowuid": None, b"kernel/overflowgid": None,
    b"kernel/random/uuid": lambda: str(uuid.uuid4()).encode() + b"\n",
    b"kernel/random/boot_id": None, b"kernel/random/entropy_avail": None,
    b"kernel/random/poolsize": None,
    b"fs/nr_open": None, b"fs/file-max": None, b"fs/pipe-max-size": None,
    b"vm/overcommit_memory": None, b"vm/max_map_count": None,
    b"net/core/somaxconn": None,
}

# What our filesystems are called in mounts, mountinfo and /proc/filesystems.
_FS_TYPE = {"devfs": "devtmpfs"}
_OUR_TYPES = ("sysfs", "tmpfs", "proc", "devtmpfs", "overlay")


def _host_fstype(host_path: bytes) -> str:
    """The host filesystem type of the mount holding ``host_path`` (what a hostfs shows)."""
    best, fstype = -1, "ext4"
    data = _host_read("/proc/self/mountinfo") or b""
    for line in data.splitlines():
        left, _, right = line.partition(b" - ")
        parts = left.split()
        if len(parts) < 5 or not right:
            continue
        mp = parts[4].replace(b"\\040", b" ")
        if (host_path == mp or host_path.startswith(mp.rstrip(b"/") + b"/")) and len(mp) > best:
            best, fstype = len(mp), right.split()[0].decode()
    return fstype


class ProcFS(Filesystem):
    name = "proc"
    magic = PROC_SUPER_MAGIC

    def __init__(self, kernel: KernelLike) -> None:
        super().__init__(readonly=False)
        self.kernel = kernel
        self.created_ns = time.time_ns()
        self._inos: dict[tuple[Any, ...], int] = {}
        self._next_ino = 4096
        self._host_types: dict[int, str] = {}
        self._root = ProcDir(self, ("root",), self._root_entries,
                             extra_lookup=self._lookup_tid)
        # The root is inode 1, as on Linux.
        self._root.ino = 1

    @property
    def root(self) -> ProcDir:
        return self._root

    def statfs(self) -> StatFs:
        return StatFs(type=self.magic, bsize=4096, namelen=255, frsize=4096)

    def ino_for(self, key: tuple[Any, ...]) -> int:
        ino = self._inos.get(key)
        if ino is None:
            if key == ("self",):
                ino = PROC_DYNAMIC_FIRST
            elif key == ("thread-self",):
                ino = PROC_DYNAMIC_FIRST + 1
            else:
                ino = self.new_ino()
            self._inos[key] = ino
        return ino

    def mount(self) -> Mount:
        """The mount this procfs is on (for dentries of objects that have none)."""
        for m in self.kernel.ns.mounts():
            if m.fs is self:
                return m
        raise KernelError(errno.ENOENT, "procfs is not mounted")

    def fstype(self, fs: Filesystem) -> str:
        if fs.name == "hostfs":
            t = self._host_types.get(fs.dev)
            if t is None:
                t = self._host_types[fs.dev] = _host_fstype(getattr(fs, "host_root", b"/"))
            return t
        return _FS_TYPE.get(fs.name, fs.name)

    # the root ------------------------------------------------------------------------------
    def _current(self) -> Any:
        cur = self.kernel.current
        if cur is None:
            raise KernelError(errno.ENOENT, "no current task")
        return cur

    def _root_entries(self) -> dict[bytes, Maker]:
        e: dict[bytes, Maker] = {}
        for name in _GLOBAL_HOST_FILES:
            if os.path.exists(b"/proc/" + name):
                e[name] = self._host_file_maker(name)
        e[b"filesystems"] = lambda: ProcFile(self, ("filesystems",), self._filesystems)
        e[b"mounts"] = lambda: ProcLink(self, ("mounts",), lambda: b"self/mounts", size=11)
        e[b"self"] = lambda: ProcLink(
            self, ("self",), lambda: b"%d" % self._current().group.tgid)
        e[b"thread-self"] = lambda: ProcLink(
            self, ("thread-self",),
            lambda: b"%d/task/%d" % (self._current().group.tgid, self._current().tid))
        e[b"sys"] = lambda: self._sys_dir(b"")
        for tgid in sorted(self.kernel.groups):
            e[b"%d" % tgid] = self._pid_maker(tgid)
        return e

    def _host_file_maker(self, name: bytes) -> Maker:
        path = "/proc/" + name.decode()
        return lambda: ProcFile(self, ("g", name), lambda: _host_read(path) or b"",
                                write_errno=errno.EIO)

    def _lookup_tid(self, name: bytes) -> ProcInode | None:
        """/proc/TID of a thread that is not a group leader: present, but not listed."""
        if not name.isdigit():
            return None
        task = self.kernel.tasks.get(int(name))
        if task is None:
            return None
        return self._task_dir(task, ("tiddir", task.tid), per_process=True)

    def _pid_maker(self, tgid: int) -> Maker:
        def make() -> ProcInode:
            group = self.kernel.groups.get(tgid)
            if group is None:
                raise KernelError(errno.ENOENT, f"process {tgid} is gone")
            return self._task_dir(self._leader(group), ("pid", tgid), per_process=True)
        return make

    @staticmethod
    def _leader(group: Any) -> Any:
        task = group.tasks.get(group.tgid)
        if task is None:
            if not group.tasks:
                raise KernelError(errno.ENOENT, f"process {group.tgid} has no tasks")
            task = next(iter(group.tasks.values()))
        return task

    def _filesystems(self) -> bytes:
        lines = [f"nodev\t{t}\n" for t in _OUR_TYPES]
        seen = set(_OUR_TYPES)
        for m in self.kernel.ns.mounts():
            t = self.fstype(m.fs)
            if t not in seen:
                seen.add(t)
                lines.append(f"\t{t}\n")
        return "".join(lines).encode()

    # /proc/sys --------------------------------------------------------------------------------
    def _sys_dir(self, rel: bytes) -> ProcDir:
        def entries() -> dict[bytes, Maker]:
            e: dict[bytes, Maker] = {}
            prefix = rel + b"/" if rel else b""
            for path, gen in _SYSCTL.items():
                if not path.startswith(prefix):
                    continue
                rest = path[len(prefix):]
                name, slash, _ = rest.partition(b"/")
                if name in e:
                    continue
                if slash:
                    e[name] = (lambda sub=prefix + name: self._sys_dir(sub))
                elif gen is not None or os.path.exists(b"/proc/sys/" + path):
                    e[name] = self._sysctl_maker(path, gen)
            return e
        return ProcDir(self, ("sys", rel), entries)

    def _sysctl_maker(self, path: bytes, gen: Callable[[], bytes] | None) -> Maker:
        host = "/proc/sys/" + path.decode()

        def make() -> ProcInode:
            try:
                mode = st.S_IMODE(os.stat(host).st_mode)
            except OSError:
                mode = 0o444
            read = gen if gen is not None else (lambda: _host_read(host) or b"")
            return ProcFile(self, ("sysctl", path), read, mode, sysctl=True)
        return make

    # /proc/PID and /proc/PID/task/TID ---------------------------------------------------------
    def _task_dir(self, task: Any, key: tuple[Any, ...], per_process: bool) -> ProcDir:
        group = task.group
        owner = (group.creds.euid, group.creds.egid)
        t_ns = int(group.start_time * 1e9)

        def entries() -> dict[bytes, Maker]:
            return self._task_entries(task, key, per_process, owner, t_ns)
        return ProcDir(self, key, entries, owner=owner, time_ns=t_ns)

    def _task_entries(self, task: Any, key: tuple[Any, ...], per_process: bool,
                      owner: tuple[int, int], t_ns: int) -> dict[bytes, Maker]:
        group = task.group
        k = key

        def f(name: str, gen: Callable[[], bytes], mode: int = 0o444, **kw: Any) -> Maker:
            return lambda: ProcFile(self, (*k, name), gen, mode, owner, t_ns, **kw)

        def link(name: str, text: Callable[[], bytes], target: Callable[[], Dentry]) -> Maker:
            return lambda: ProcLink(self, (*k, name), text, target, 0o777, owner, t_ns)

        def cwd() -> Dentry:
            return task.fs.cwd

        def root() -> Dentry:
            return task.fs.root

        e: dict[bytes, Maker] = {
            b"cmdline": f("cmdline", lambda: b"".join(a + b"\0" for a in group.argv)),
            b"comm": f("comm", lambda: group.comm + b"\n", 0o644, writer=self._comm_writer(group)),
            b"environ": f("environ", lambda: b"".join(a + b"\0" for a in group.envp), 0o400),
            b"exe": link("exe", lambda: self._exe_dentry(task).path(),
                         lambda: self._exe_dentry(task)),
            b"cwd": link("cwd", lambda: cwd().path(), cwd),
            b"root": link("root", lambda: root().path(), root),
            b"fd": lambda: ProcDir(self, (*k, "fd"), lambda: self._fd_entries(task, k, owner),
                                   0o500, owner, t_ns, size=len(task.fdt.files)),
            b"fdinfo": lambda: ProcDir(self, (*k, "fdinfo"),
                                       lambda: self._fdinfo_entries(task, k, owner), 0o555,
                                       owner, t_ns),
            b"limits": f("limits", lambda: format_limits(group.rlimits)),
            b"maps": f("maps", lambda: self._maps(task, "maps")),
            b"smaps": f("smaps", lambda: self._maps(task, "smaps")),
            b"mountinfo": f("mountinfo", lambda: self._mountinfo(task)),
            b"mounts": f("mounts", lambda: self._mounts(task)),
            b"stat": f("stat", lambda: self._stat(task)),
            b"statm": f("statm", lambda: _host_read(f"/proc/{task.tid}/statm")
                        or b"0 0 0 0 0 0 0\n"),
            b"status": f("status", lambda: self._status(task)),
        }
        if per_process:
            e[b"task"] = lambda: ProcDir(self, (*k, "task"), lambda: self._thread_entries(group),
                                         0o555, owner, t_ns)
        return dict(sorted(e.items()))

    def _thread_entries(self, group: Any) -> dict[bytes, Maker]:
        def maker(tid: int) -> Maker:
            def make() -> ProcInode:
                task = group.tasks.get(tid)
                if task is None:
                    raise KernelError(errno.ENOENT, f"thread {tid} is gone")
                return self._task_dir(task, ("tid", group.tgid, tid), per_process=False)
            return make
        return {b"%d" % tid: maker(tid) for tid in sorted(group.tasks)}

    def _comm_writer(self, group: Any) -> Callable[[bytes], int]:
        def write(data: bytes) -> int:
            group.comm = data.split(b"\0", 1)[0][:TASK_COMM_LEN - 1]
            return len(data)
        return write

    def _exe_dentry(self, task: Any) -> Dentry:
        exe = task.group.exe
        if not exe:
            raise KernelError(errno.ENOENT, "no executable")
        root = task.fs.root
        return resolve(root, root, exe)

    # fd/ and fdinfo/ ----------------------------------------------------------------------------
    def _fd_entries(self, task: Any, k: tuple[Any, ...],
                    owner: tuple[int, int]) -> dict[bytes, Maker]:
        def maker(fd: int) -> Maker:
            def make() -> ProcInode:
                f = task.fdt.files.get(fd)
                if f is None:
                    raise KernelError(errno.ENOENT, f"fd {fd} is not open")
                acc = f.flags & O_ACCMODE
                mode = 0o500 if f.flags & O_PATH or acc == O_RDONLY else (
                    0o300 if acc == O_WRONLY else 0o700)
                return ProcLink(self, (*k, "fd", fd), lambda: self.fd_link_text(f),
                                lambda: self.fd_target(f, fd), mode, owner, size=64)
            return make
        return {b"%d" % fd: maker(fd) for fd in sorted(task.fdt.files)}

    def fd_link_text(self, f: OpenFile) -> bytes:
        """What readlink of /proc/PID/fd/N shows for the description ``f``."""
        if f.dentry is not None:
            return f.dentry.path()
        host_fd = getattr(f, "host_fd", None)
        fd = host_fd() if callable(host_fd) else None
        if f.inode is None and fd is not None:
            try:
                return os.fsencode(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        anon = getattr(f, "anon_name", None)
        if anon is not None:
            return b"anon_inode:" + anon
        if f.inode is not None:
            s = f.inode.stat()
            kind = st.S_IFMT(s.mode)
            if kind == st.S_IFIFO:
                return b"pipe:[%d]" % s.ino
            if kind == st.S_IFSOCK:
                return b"socket:[%d]" % s.ino
            return b"anon_inode:[%d]" % s.ino
        return b"anon_inode:[unknown]"

    def fd_target(self, f: OpenFile, fd: int) -> Dentry:
        """The dentry following /proc/PID/fd/N reaches: the file's own, or one made for it."""
        if f.dentry is not None:
            d = f.dentry
            return Dentry(mount=d.mount, inode=d.inode, name=d.name, parent=d.parent, file=f)
        mount = self.mount()
        if f.inode is not None:
            return Dentry(mount=mount, inode=f.inode, name=self.fd_link_text(f), parent=None)
        host_fd = getattr(f, "host_fd", None)
        hfd = host_fd() if callable(host_fd) else None
        if hfd is None:
            raise KernelError(errno.ENOENT, f"fd {fd} cannot be reopened")
        inode = HostFdInode(self, hfd, self.ino_for(("hostfd", id(f))))
        return Dentry(mount=mount, inode=inode, name=self.fd_link_text(f), parent=None)

    def _fdinfo_entries(self, task: Any, k: tuple[Any, ...],
                        owner: tuple[int, int]) -> dict[bytes, Maker]:
        def maker(fd: int) -> Maker:
            def make() -> ProcInode:
                if fd not in task.fdt.files:
                    raise KernelError(errno.ENOENT, f"fd {fd} is not open")
                return ProcFile(self, (*k, "fdinfo", fd), lambda: self._fdinfo(task, fd),
                                0o444, owner)
            return make
        return {b"%d" % fd: maker(fd) for fd in sorted(task.fdt.files)}

    def _fdinfo(self, task: Any, fd: int) -> bytes:
        f = task.fdt.files.get(fd)
        if f is None:
            raise KernelError(errno.ENOENT, f"fd {fd} is not open")
        pos = f.pos
        host_fd = getattr(f, "host_fd", None)
        hfd = host_fd() if callable(host_fd) else None
        if hfd is not None and f.inode is None:
            try:
                pos = os.lseek(hfd, 0, os.SEEK_CUR)
            except OSError:
                pos = 0
        flags = f.flags | (O_CLOEXEC if fd in task.fdt.cloexec else 0)
        mnt_id = 0
        if f.dentry is not None:
            mnt_id = f.dentry.mount.mount_id
        elif hfd is not None and f.inode is None:
            # A supervisor stdio fd: the mount its host path names here (/dev/null: devfs).
            path = self.fd_link_text(f)
            if path.startswith(b"/"):
                try:
                    mnt_id = resolve(task.fs.root, task.fs.root, path).mount.mount_id
                except KernelError:
                    pass
        try:
            ino = f.stat().ino
        except KernelError:
            ino = 0
        return b"pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n%s" % (pos, flags, mnt_id, ino,
                                                                   f.fdinfo())

    # mounts -----------------------------------------------------------------------------------
    def _mount_lines(self) -> Iterator[tuple[Mount, bytes, bytes, bytes]]:
        for m in self.kernel.ns.mounts():
            ro = m.readonly or m.fs.readonly
            opts = b"ro" if ro else b"rw"
            if m.noexec:
                opts += b",noexec"
            opts += b",relatime"
            yield m, opts, self.fstype(m.fs).encode(), mangle(m.source or b"none")

    def _mountinfo(self, task: Any) -> bytes:
        out = []
        for m, opts, fstype, source in self._mount_lines():
            parent = m.parent.mount_id if m.parent is not None else 1
            sb = b"ro" if m.fs.readonly else b"rw"
            out.append(b"%d %d %d:%d / %s %s - %s %s %s\n" % (
                m.mount_id, parent, os.major(m.fs.dev), os.minor(m.fs.dev), mangle(m.target),
                opts, fstype, source, sb))
        return b"".join(out)

    def _mounts(self, task: Any) -> bytes:
        return b"".join(b"%s %s %s %s 0 0\n" % (source, mangle(m.target), fstype, opts)
                        for m, opts, fstype, source in self._mount_lines())

    # host-backed per-task files ---------------------------------------------------------------
    def _maps(self, task: Any, which: str) -> bytes:
        data = _host_read(f"/proc/{task.tid}/{which}")
        if data is None:
            return b""
        return rewrite_maps(data, task.group.mapped_files)

    def _stat(self, task: Any) -> bytes:
        group = task.group
        comm = group.comm
        host = _host_read(f"/proc/{task.tid}/stat")
        if host is not None and b")" in host:
            rest = host[host.rindex(b")") + 2:].split(b" ")
        else:
            rest = [b"R"] + [b"0"] * 50
        rest[0] = self._state(task)[0]
        rest[1:4] = [b"%d" % group.ppid, b"%d" % group.pgid, b"%d" % group.sid]
        line = b" ".join(rest)
        if not line.endswith(b"\n"):
            line += b"\n"
        return b"%d (%s) %s" % (task.tid, comm, line)

    def _state(self, task: Any) -> tuple[bytes, bytes]:
        """The task's state as stat and status show it. The host sees our tracees in
        "tracing stop" whenever we handle one of their calls: the caller is running, and
        another task stopped by us is, as far as it knows, sleeping in a syscall."""
        host = _host_read(f"/proc/{task.tid}/stat")
        code = b"R"
        if host is not None and b")" in host:
            code = host[host.rindex(b")") + 2:][:1]
        if task is self.kernel.current:
            code = b"R"
        elif code == b"t":
            code = b"S"
        return code, _STATES.get(code, b"S (sleeping)")

    def _status(self, task: Any) -> bytes:
        group = task.group
        c = group.creds
        fdt = task.fdt
        ours: dict[bytes, bytes] = {
            b"Name": group.comm,
            b"Umask": b"%04o" % task.fs.umask,
            b"Tgid": b"%d" % group.tgid,
            b"Ngid": b"0",
            b"Pid": b"%d" % task.tid,
            b"PPid": b"%d" % group.ppid,
            b"TracerPid": b"0",
            b"Uid": b"%d\t%d\t%d\t%d" % (c.uid, c.euid, c.suid, c.fsuid),
            b"Gid": b"%d\t%d\t%d\t%d" % (c.gid, c.egid, c.sgid, c.fsgid),
            b"FDSize": b"%d" % _fd_size(fdt.files),
            # Linux ends the list with a space, even an empty one: "Groups:\t \n"
            b"Groups": b" ".join(b"%d" % g for g in c.groups) + b" ",
            b"State": self._state(task)[1],
            b"NStgid": b"%d" % group.tgid,
            b"NSpid": b"%d" % task.tid,
            b"NSpgid": b"%d" % group.pgid,
            b"NSsid": b"%d" % group.sid,
            b"Threads": b"%d" % len(group.tasks),
            b"NoNewPrivs": b"0",
            b"Seccomp": b"0",
            b"Seccomp_filters": b"0",
        }
        host = _host_read(f"/proc/{task.tid}/status")
        if host is None:
            host = b"".join(b"%s:\t\n" % k for k in ours) + _FALLBACK_STATUS
        out = []
        seen = set()
        for line in host.splitlines():
            name, sep, _ = line.partition(b":")
            if sep and name in ours:
                # Groups keeps Linux's trailing space: "Groups:\t1 2 "
                out.append(name + b":\t" + ours[name])
                seen.add(name)
            else:
                out.append(line)
        return b"\n".join(out) + b"\n"


_STATES = {b"R": b"R (running)", b"S": b"S (sleeping)", b"D": b"D (disk sleep)",
           b"T": b"T (stopped)", b"t": b"t (tracing stop)", b"X": b"X (dead)",
           b"Z": b"Z (zombie)", b"P": b"P (parked)", b"I": b"I (idle)"}

_FALLBACK_STATUS = (b"State:\tS (sleeping)\nSigQ:\t0/0\nSigPnd:\t0000000000000000\n"
                    b"ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n"
                    b"SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n"
                    b"CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
                    b"CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n"
                    b"CapAmb:\t0000000000000000\nCpus_allowed_list:\t0\n"
                    b"voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n")
