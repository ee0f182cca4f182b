"""hostfs must never reach host files outside its directory, nor change a read-only one."""

from __future__ import annotations

import errno
import os
import stat as st
from pathlib import Path

import pytest

from compatd.errors import KernelError
from tests.vfs.helpers import World, raises
from vfs import ops
from vfs.base import tick
from vfs.flags import O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, RENAME_EXCHANGE, W_OK
from vfs.hostfs import HostFS
from vfs.mount import MountTable
from vfs.namespace import bind
from vfs.pipefs import PipeEnd
from vfs.tmpfs import TmpFS


@pytest.fixture
def sandbox(tmp_path) -> tuple[World, Path]:
    """A tmpfs root with a fake /etc/passwd and a read-write bind of a host dir at /work."""
    host = tmp_path / "bind"
    host.mkdir()
    ns = MountTable(TmpFS())
    w = World(ns)
    ops.mkdir(w.ctx(), b"/etc", 0o755)
    w.write(b"/etc/passwd", b"sandbox passwd")
    bind(ns, bytes(host), b"/work")
    return w, host


def test_symlink_to_etc_resolves_in_the_sandbox(sandbox):
    w, host = sandbox
    ctx = w.ctx()
    ops.symlink(b"/etc", ctx, b"/work/esc")
    assert os.readlink(host / "esc") == "/etc"  # on the host it is just text
    assert w.read(b"/work/esc/passwd") == b"sandbox passwd"
    ops.symlink(b"../../../../../../../../etc/passwd", ctx, b"/work/up")
    assert w.read(b"/work/up") == b"sandbox passwd"
    assert ops.lookup(ctx, b"/work/..").same(w.root)  # .. of the bind is the sandbox's


def test_host_planted_symlinks_resolve_in_the_sandbox(sandbox):
    w, host = sandbox
    os.symlink("/etc/passwd", host / "planted")
    os.symlink("/etc", host / "planted-dir")
    assert w.read(b"/work/planted") == b"sandbox passwd"
    assert w.read(b"/work/planted-dir/passwd") == b"sandbox passwd"
    raises(errno.ENOENT, ops.lookup, w.ctx(), b"/work/planted-dir/hostname")


def test_swapped_directory_component_does_not_escape(tmp_path):
    host = tmp_path / "root"
    (host / "dir").mkdir(parents=True)
    (host / "dir" / "hostname").write_text("inside")
    fs = HostFS(bytes(host))
    inode = fs.root.lookup(b"dir").lookup(b"hostname")
    # Another host process replaces the directory by a symlink to the host's /etc after
    # the lookup, before the next syscall.
    os.rename(host / "dir", host / "old")
    os.symlink("/etc", host / "dir")
    tick()
    for call in (inode.stat, lambda: inode.open(O_RDONLY),
                 lambda: inode.truncate(0), lambda: inode.chmod(0o777)):
        with pytest.raises(KernelError) as ei:
            call()
        assert ei.value.errno in (errno.ELOOP, errno.ENOTDIR)


def test_swap_within_one_syscall_uses_the_old_directory(tmp_path):
    """Directory fds are cached for a generation: a swap between two steps of one syscall
    acts on the directory that was there (as if the swap came just after), never on what
    the symlink points to."""
    host = tmp_path / "root"
    (host / "dir").mkdir(parents=True)
    (host / "dir" / "hostname").write_text("inside")
    fs = HostFS(bytes(host))
    inode = fs.root.lookup(b"dir").lookup(b"hostname")
    os.rename(host / "dir", host / "old")
    os.symlink("/etc", host / "dir")
    f = inode.open(O_RDONLY)
    try:
        assert f.read(100) == b"inside"
    finally:
        f.release()
    tick()
    raises(errno.ENOTDIR, inode.open, O_RDONLY)


def test_swapped_final_component_does_not_escape(tmp_path):
    host = tmp_path / "root"
    host.mkdir()
    (host / "f").write_text("inside")
    fs = HostFS(bytes(host))
    inode = fs.root.lookup(b"f")
    os.unlink(host / "f")
    os.symlink("/etc/passwd", host / "f")
    raises(errno.ELOOP, inode.open, O_RDONLY)
    raises(errno.ELOOP, inode.truncate, 0)
    mode = os.stat("/etc/passwd").st_mode
    raises(errno.EOPNOTSUPP, inode.chmod, 0o777)
    assert os.stat("/etc/passwd").st_mode == mode


def test_readonly_hostfs_refuses_every_mutation(tmp_path):
    host = tmp_path / "ro"
    (host / "d").mkdir(parents=True)
    (host / "f").write_bytes(b"original")
    (host / "d" / "g").write_bytes(b"g")
    os.symlink("f", host / "l")
    before = sorted((p.name, p.lstat().st_mode, p.lstat().st_mtime_ns) for p in host.rglob("*"))
    w = World(MountTable(HostFS(bytes(host), readonly=True)))
    ctx = w.ctx()
    assert w.read(b"/f") == b"original"
    assert w.names(b"/d") == [b"g"]
    for flags in (O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_CREAT):
        raises(errno.EROFS, ops.open, ctx, b"/f", flags, 0o644)
    mutations = [
        lambda: ops.open(ctx, b"/new", O_CREAT | O_WRONLY, 0o644),
        lambda: ops.mkdir(ctx, b"/nd", 0o755),
        lambda: ops.mknod(ctx, b"/fifo", st.S_IFIFO | 0o644),
        lambda: ops.unlink(ctx, b"/f"),
        lambda: ops.rmdir(ctx, b"/d"),
        lambda: ops.rename(ctx, b"/f", ctx, b"/f2", 0),
        lambda: ops.rename(ctx, b"/f", ctx, b"/d", RENAME_EXCHANGE),
        lambda: ops.symlink(b"x", ctx, b"/s"),
        lambda: ops.link(ctx, b"/f", ctx, b"/h"),
        lambda: ops.truncate(ctx, b"/f", 0),
        lambda: ops.chmod(ctx, b"/f", 0o777),
        lambda: ops.chown(ctx, b"/f", 1, 1),
        lambda: ops.utimes(ctx, b"/f", 1, 1),
        lambda: ops.access(ctx, b"/f", W_OK),
    ]
    for m in mutations:
        raises(errno.EROFS, m)
    # The inodes themselves refuse too, whoever calls them.
    root = w.root.inode
    f = root.lookup(b"f")
    inode_calls = [
        lambda: root.create(b"x", 0o644, 0, 0), lambda: root.mkdir(b"x", 0o755, 0, 0),
        lambda: root.mknod(b"x", st.S_IFIFO | 0o644, 0, 0, 0),
        lambda: root.symlink(b"x", b"t", 0, 0), lambda: root.link(b"x", f),
        lambda: root.unlink(b"f"), lambda: root.rmdir(b"d"),
        lambda: root.rename(b"f", root, b"z", 0), lambda: f.chmod(0o777),
        lambda: f.chown(1, 1), lambda: f.set_times(1, 1), lambda: f.truncate(0),
        lambda: f.open(O_WRONLY), lambda: f.open(O_RDWR),
    ]
    for call in inode_calls:
        raises(errno.EROFS, call)
    after = sorted((p.name, p.lstat().st_mode, p.lstat().st_mtime_ns) for p in host.rglob("*"))
    assert before == after
    assert (host / "f").read_bytes() == b"original"


def test_host_devices_and_fifos_are_not_opened(tmp_path):
    w = World(MountTable(HostFS(b"/dev", readonly=True)))
    raises(errno.EACCES, ops.open, w.ctx(), b"/null", O_RDONLY)
    host = tmp_path / "r"
    host.mkdir()
    os.mkfifo(host / "fifo")
    w2 = World(MountTable(HostFS(bytes(host))))
    # A FIFO opens as a pipe of the sandbox's pipefs: the host FIFO itself is never opened
    # (a host process on its other side cannot reach the sandbox through it).
    f = ops.open(w2.ctx(), b"/fifo", O_RDONLY | os.O_NONBLOCK)
    assert isinstance(f, PipeEnd) and not hasattr(f, "fd")
    f.release()


def test_host_inode_numbers_are_distinct_across_host_mounts():
    fs = HostFS(b"/", readonly=True)
    proc = fs.root.lookup(b"proc")
    dev = fs.root.lookup(b"dev")
    assert proc.key != dev.key


def test_host_path(tmp_path):
    (tmp_path / "x").write_text("")
    fs = HostFS(bytes(tmp_path))
    assert fs.root.lookup(b"x").host_path() == bytes(tmp_path / "x")
    assert fs.root.host_path() == bytes(tmp_path)
