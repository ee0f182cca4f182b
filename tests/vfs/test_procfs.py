"""procfs over a fake kernel: listing, self, per-process files, magic links, formats."""

from __future__ import annotations

import errno
import os
import re
import stat as st
from dataclasses import dataclass, field

import pytest

from compatd.kernel.fdtable import FDTable
from tests.vfs.helpers import USER, World, raises
from vfs import ops
from vfs.flags import O_CREAT, O_PATH, O_RDONLY, O_RDWR, O_WRONLY
from vfs.hostfd import HostFdFile
from vfs.mount import MountTable
from vfs.namespace import mount_proc
from vfs.procfs import PROC_SUPER_MAGIC, format_limits, rewrite_maps
from vfs.tmpfs import TmpFS

INF = (1 << 64) - 1


@dataclass
class FakeCreds:
    uid: int = 0
    euid: int = 0
    suid: int = 0
    fsuid: int = 0
    gid: int = 0
    egid: int = 0
    sgid: int = 0
    fsgid: int = 0
    groups: list[int] = field(default_factory=list)

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups


@dataclass
class FakeFS:
    root: object
    cwd: object
    umask: int = 0o022


class FakeGroup:
    def __init__(self, tgid: int, ppid: int) -> None:
        self.tgid = tgid
        self.ppid = ppid
        self.pgid = tgid
        self.sid = tgid
        self.creds = FakeCreds()
        self.rlimits = {i: [INF, INF] for i in range(16)}
        self.rlimits[7] = [1024, 4096]
        self.tasks: dict[int, FakeTask] = {}
        self.exe = b""
        self.comm = b""
        self.argv: list[bytes] = []
        self.envp: list[bytes] = []
        self.mapped_files: dict[tuple[int, int], bytes] = {}
        self.start_time = 1_700_000_000.0


class FakeTask:
    def __init__(self, tid: int, group: FakeGroup, fs: FakeFS) -> None:
        self.tid = tid
        self.group = group
        self.fdt = FDTable()
        self.fs = fs


class FakeKernel:
    def __init__(self, ns: MountTable) -> None:
        self.ns = ns
        self.tasks: dict[int, FakeTask] = {}
        self.groups: dict[int, FakeGroup] = {}
        self.current: FakeTask | None = None

    def add(self, tid: int, tgid: int, fs: FakeFS) -> FakeTask:
        group = self.groups.get(tgid)
        if group is None:
            group = self.groups[tgid] = FakeGroup(tgid, 1)
        task = FakeTask(tid, group, fs)
        group.tasks[tid] = task
        self.tasks[tid] = task
        return task


PID = os.getpid()  # a real host pid, so the host-backed files (status, stat, maps) exist
OTHER = 4_000_000  # a pid the host does not have: host-backed files fall back


@pytest.fixture
def proc() -> tuple[World, FakeKernel, FakeTask]:
    ns = MountTable(TmpFS())
    kernel = FakeKernel(ns)
    mount_proc(ns, kernel)
    w = World(ns)
    w.write(b"/hello.txt", b"hello\n")
    ops.mkdir(w.ctx(), b"/work", 0o755)
    ops.mkdir(w.ctx(), b"/bin", 0o755)
    w.write(b"/bin/prog", b"\x7fELF", mode=0o755)
    fs = FakeFS(root=w.root, cwd=ops.lookup(w.ctx(), b"/work"), umask=0o027)
    task = kernel.add(PID, PID, fs)
    g = task.group
    g.exe, g.comm = b"/bin/prog", b"prog"
    g.argv = [b"prog", b"-x", b"arg with space"]
    g.envp = [b"A=1", b"B=two"]
    kernel.add(OTHER, OTHER, fs).group.comm = b"other"
    kernel.add(OTHER + 1, OTHER, fs)  # a second thread of OTHER
    kernel.current = task
    return w, kernel, task


def test_listing_and_self(proc):
    w, kernel, task = proc
    names = w.names(b"/proc")
    assert b"%d" % PID in names and b"%d" % OTHER in names
    assert b"%d" % (OTHER + 1) not in names  # threads are not listed, but can be looked up
    assert ops.stat(w.ctx(), b"/proc/%d" % (OTHER + 1)).mode == st.S_IFDIR | 0o555
    for n in (b"self", b"thread-self", b"cpuinfo", b"meminfo", b"filesystems", b"mounts",
              b"sys", b"uptime", b"version", b"loadavg", b"stat"):
        assert n in names
    assert ops.readlink(w.ctx(), b"/proc/self") == b"%d" % PID
    assert ops.readlink(w.ctx(), b"/proc/thread-self") == b"%d/task/%d" % (PID, PID)
    assert ops.readlink(w.ctx(), b"/proc/mounts") == b"self/mounts"
    kernel.current = kernel.tasks[OTHER + 1]
    assert ops.readlink(w.ctx(), b"/proc/self") == b"%d" % OTHER
    assert w.read(b"/proc/self/comm") == b"other\n"
    assert w.names(b"/proc/self/task") == [b"%d" % OTHER, b"%d" % (OTHER + 1)]
    raises(errno.ENOENT, ops.lookup, w.ctx(), b"/proc/1")
    raises(errno.ENOENT, ops.lookup, w.ctx(), b"/proc/%d" % (OTHER + 2))
    assert ops.statfs(w.ctx(), b"/proc").type == PROC_SUPER_MAGIC
    assert ops.stat(w.ctx(), b"/proc").ino == 1


def test_pid_files(proc):
    w, _, task = proc
    assert w.read(b"/proc/self/cmdline") == b"prog\0-x\0arg with space\0"
    assert w.read(b"/proc/self/comm") == b"prog\n"
    assert w.read(b"/proc/self/environ") == b"A=1\0B=two\0"
    assert w.read(b"/proc/%d/task/%d/comm" % (PID, PID)) == b"prog\n"
    s = ops.stat(w.ctx(), b"/proc/self/cmdline")
    assert (s.mode, s.size) == (st.S_IFREG | 0o444, 0)
    assert ops.stat(w.ctx(), b"/proc/self/environ").mode == st.S_IFREG | 0o400
    assert ops.stat(w.ctx(), b"/proc/self/fd").mode == st.S_IFDIR | 0o500
    assert ops.stat(w.ctx(), b"/proc/self/exe", follow=False).mode == st.S_IFLNK | 0o777


def test_status_stat_substituted(proc):
    w, _, task = proc
    status = w.read(b"/proc/self/status").decode()
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Name"] == "\tprog"
    assert fields["Umask"] == "\t0027"
    assert fields["Pid"] == f"\t{PID}" and fields["Tgid"] == f"\t{PID}"
    assert fields["PPid"] == "\t1"
    assert fields["TracerPid"] == "\t0" and fields["Seccomp"] == "\t0"
    assert fields["NoNewPrivs"] == "\t0"
    assert fields["Uid"] == "\t0\t0\t0\t0"
    assert fields["FDSize"] == "\t64"
    assert fields["Groups"] == "\t "
    assert fields["State"] == "\tR (running)"
    for key in ("State", "VmPeak", "Threads", "SigBlk", "CapEff", "Cpus_allowed_list",
                "voluntary_ctxt_switches", "Groups", "Ngid"):
        assert key in fields
    stat = w.read(b"/proc/self/stat").decode()
    assert stat.startswith(f"{PID} (prog) ")
    assert stat.split(") ")[1].split()[1:4] == ["1", str(PID), str(PID)]
    assert len(w.read(b"/proc/self/statm").split()) == 7
    # A process the host does not know still gets a well-formed status.
    other = w.read(b"/proc/%d/status" % OTHER).decode()
    assert "Name:\tother\n" in other and "TracerPid:\t0\n" in other


def test_limits_format(proc):
    w, _, _ = proc
    text = w.read(b"/proc/self/limits")
    lines = text.decode().splitlines(keepends=True)
    assert lines[0] == f"{'Limit':26}{'Soft Limit':21}{'Hard Limit':21}{'Units':10}\n"
    assert lines[1] == f"{'Max cpu time':26}{'unlimited':21}{'unlimited':21}{'seconds':10}\n"
    assert lines[8] == f"{'Max open files':26}{'1024':21}{'4096':21}{'files':10}\n"
    assert lines[14] == f"{'Max nice priority':26}{'unlimited':21}{'unlimited':21}\n"
    assert len(lines) == 17
    # The host's own table, for its own limits, comes out identical.
    import resource
    host = {i: [x & INF for x in resource.getrlimit(i)] for i in range(16)}
    assert format_limits(host) == open("/proc/self/limits", "rb").read()


def test_links_and_magic(proc):
    w, kernel, task = proc
    assert ops.readlink(w.ctx(), b"/proc/self/exe") == b"/bin/prog"
    assert ops.readlink(w.ctx(), b"/proc/self/cwd") == b"/work"
    assert ops.readlink(w.ctx(), b"/proc/self/root") == b"/"
    assert ops.lookup(w.ctx(), b"/proc/self/cwd").same(task.fs.cwd)
    assert ops.lookup(w.ctx(), b"/proc/self/exe").path() == b"/bin/prog"
    w.write(b"/proc/self/cwd/made.txt", b"via cwd")
    assert w.read(b"/work/made.txt") == b"via cwd"


def test_fd_links_reopen_and_chmod(proc):
    w, kernel, task = proc
    f = ops.open(w.ctx(), b"/hello.txt", O_RDONLY)
    task.fdt.install_at(3, f)
    p = ops.open(w.ctx(), b"/work", O_PATH)
    task.fdt.install_at(4, p)
    g = ops.open(w.ctx(), b"/hello.txt", O_WRONLY)
    task.fdt.install_at(5, g, cloexec=True)
    assert w.names(b"/proc/self/fd") == [b"3", b"4", b"5"]
    assert ops.readlink(w.ctx(), b"/proc/self/fd/3") == b"/hello.txt"
    assert ops.readlink(w.ctx(), b"/proc/self/fd/4") == b"/work"
    s = ops.stat(w.ctx(), b"/proc/self/fd/3", follow=False)
    assert (s.mode, s.size) == (st.S_IFLNK | 0o500, 64)
    assert ops.stat(w.ctx(), b"/proc/self/fd/5", follow=False).mode == st.S_IFLNK | 0o300
    # Reopening gives a new description of the same file, at offset 0.
    f.read(2)
    again = ops.open(w.ctx(), b"/proc/self/fd/3", O_RDWR)
    assert again is not f and again.read(100) == b"hello\n"
    assert again.dentry.same(f.dentry)
    # Even after the name is gone, as on Linux.
    ops.unlink(w.ctx(), b"/hello.txt")
    assert ops.open(w.ctx(), b"/proc/self/fd/3", O_RDONLY).read(100) == b"hello\n"
    # chmod through an O_PATH descriptor's link reaches the directory (tar does this).
    ops.chmod(w.ctx(), b"/proc/self/fd/4", 0o700)
    assert ops.stat(w.ctx(), b"/work").mode == st.S_IFDIR | 0o700
    ops.chmod(w.ctx(), b"/proc/self/fd/4/", 0o755)
    raises(errno.ENOENT, ops.lookup, w.ctx(), b"/proc/self/fd/9")
    # fdinfo: pos, octal flags (O_CLOEXEC shown for a close-on-exec fd), mnt_id, ino
    info = w.read(b"/proc/self/fdinfo/3").decode()
    assert re.fullmatch(r"pos:\t2\nflags:\t0\d+\nmnt_id:\t\d+\nino:\t\d+\n", info)
    assert f"mnt_id:\t{f.dentry.mount.mount_id}\n" in info
    assert f"ino:\t{f.stat().ino}\n" in info
    assert "flags:\t02000001\n" in w.read(b"/proc/self/fdinfo/5").decode()
    assert w.names(b"/proc/self/fdinfo") == [b"3", b"4", b"5"]


def test_fd_link_to_host_stdio(proc, tmp_path):
    w, _, task = proc
    r, wr = os.pipe()
    try:
        task.fdt.install_at(1, HostFdFile(wr, os.O_WRONLY))
        host = os.readlink(f"/proc/self/fd/{wr}").encode()
        assert ops.readlink(w.ctx(), b"/proc/self/fd/1") == host
        assert ops.readlink(w.ctx(), b"/proc/self/fd/1").startswith(b"pipe:[")
        # echo > /dev/stdout: reopening the host pipe writes into it.
        out = ops.open(w.ctx(), b"/proc/self/fd/1", O_WRONLY)
        assert out.write(b"through the link") == 16
        out.release()
        assert os.read(r, 100) == b"through the link"
    finally:
        os.close(r)
        os.close(wr)


def test_mountinfo_and_mounts(proc):
    w, kernel, _ = proc
    info = w.read(b"/proc/self/mountinfo").decode().splitlines()
    assert len(info) == 2
    root, procline = info
    assert re.fullmatch(r"\d+ 1 \d+:\d+ / / rw,relatime - tmpfs none rw", root)
    ids = [int(line.split()[0]) for line in info]
    assert re.fullmatch(rf"{ids[1]} {ids[0]} \d+:\d+ / /proc rw,relatime - proc proc rw", procline)
    mounts = w.read(b"/proc/mounts").decode().splitlines()
    assert mounts[1] == "proc /proc proc rw,relatime 0 0"
    fs = w.read(b"/proc/filesystems").decode()
    for t in ("proc", "tmpfs", "devtmpfs", "sysfs", "overlay"):
        assert f"nodev\t{t}\n" in fs


def test_maps_rewrite():
    text = (b"55d0-55d1 r--p 00000000 fe:00 1234                       /host/path/prog\n"
            b"55d1-55d2 rw-p 00000000 00:00 0 \n"
            b"7ffc-7ffd rw-p 00000000 00:00 0                          [stack]\n")
    names = {(os.makedev(0xFE, 0), 1234): b"/sandbox/prog"}
    out = rewrite_maps(text, names).splitlines()
    assert out[0] == b"55d0-55d1 r--p 00000000 fe:00 1234                       /sandbox/prog"
    assert out[1:] == text.splitlines()[1:]


def test_maps_from_host(proc):
    w, _, task = proc
    maps = w.read(b"/proc/self/maps")
    assert b"[stack]" in maps
    exe = os.stat("/proc/self/exe")
    task.group.mapped_files[(exe.st_dev, exe.st_ino)] = b"/sandbox/python"
    assert b"/sandbox/python" in w.read(b"/proc/self/maps")
    assert b"/sandbox/python" in w.read(b"/proc/self/smaps")


def test_read_only_and_comm_write(proc):
    w, _, task = proc
    raises(errno.EACCES, ops.open, w.ctx(USER), b"/proc/self/cmdline", O_WRONLY)
    raises(errno.EACCES, ops.open, w.ctx(USER), b"/proc/cpuinfo", O_WRONLY)
    # Root may open a 0444 proc file for writing, as on Linux, but the write fails.
    f = ops.open(w.ctx(), b"/proc/self/cmdline", O_WRONLY)
    raises(errno.EINVAL, f.write, b"x")
    raises(errno.EIO, ops.open(w.ctx(), b"/proc/cpuinfo", O_WRONLY).write, b"x")
    raises(errno.EACCES, ops.open, w.ctx(), b"/proc/sys/kernel/hostname", O_WRONLY)
    raises(errno.ENOENT, ops.open, w.ctx(), b"/proc/newfile", O_CREAT | O_WRONLY, 0o644)
    raises(errno.ENOENT, ops.mkdir, w.ctx(), b"/proc/newdir", 0o755)
    raises(errno.EPERM, ops.chmod, w.ctx(), b"/proc/self/cmdline", 0o777)
    c = ops.open(w.ctx(), b"/proc/self/comm", O_WRONLY)
    assert c.write(b"a-very-long-name-indeed\n") == 24
    assert task.group.comm == b"a-very-long-nam"
    assert w.read(b"/proc/self/comm") == b"a-very-long-nam\n"


def test_sys_and_globals(proc):
    w, _, _ = proc
    assert w.read(b"/proc/sys/kernel/ostype") == b"Linux\n"
    assert w.read(b"/proc/sys/kernel/osrelease") == open("/proc/sys/kernel/osrelease", "rb").read()
    a, b = w.read(b"/proc/sys/kernel/random/uuid"), w.read(b"/proc/sys/kernel/random/uuid")
    assert a != b and re.fullmatch(rb"[0-9a-f-]{36}\n", a)
    assert w.read(b"/proc/sys/kernel/pid_max").strip().isdigit()
    assert w.read(b"/proc/sys/fs/nr_open").strip().isdigit()
    assert w.read(b"/proc/cpuinfo").startswith(b"processor")
    assert b"MemTotal:" in w.read(b"/proc/meminfo")
    assert len(w.read(b"/proc/uptime").split()) == 2
    # A proc file keeps its snapshot while read in pieces and regenerates at offset 0.
    f = ops.open(w.ctx(), b"/proc/cpuinfo", O_RDONLY)
    head = f.read(10)
    assert head == b"processor\t"
    assert f.seek(0, 0) == 0 and f.read(10) == head
