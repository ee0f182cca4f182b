"""The default namespace: host / read-only, /tmp tmpfs, /dev devfs, the cwd bound read-write."""

from __future__ import annotations

import errno
import os

from tests.vfs.helpers import World, raises
from vfs import ops
from vfs.devfs import DevFS
from vfs.flags import O_CREAT, O_RDONLY, O_WRONLY
from vfs.hostfs import HostFS
from vfs.namespace import default_namespace, tmpfs
from vfs.tmpfs import TmpFS


def _world_at(cwd: bytes) -> tuple[World, ops.PathContext]:
    w = World(default_namespace(cwd))
    ctx = w.ctx(start=ops.chdir_target(w.ctx(), cwd))
    return w, ctx


def test_cwd_inside_tmp(tmp_path):
    cwd = tmp_path / "work" / "x"
    cwd.mkdir(parents=True)
    (cwd / "existing").write_text("from host")
    w, ctx = _world_at(bytes(cwd))
    assert ops.open(ctx, b"existing", O_RDONLY).read(100) == b"from host"
    ops.open(ctx, b"made-here", O_CREAT | O_WRONLY, 0o644).write(b"out")
    assert (cwd / "made-here").read_bytes() == b"out"
    # /tmp is a tmpfs: the sandbox's /tmp writes do not reach the host
    scratch = b"/tmp/compatd-vfs-scratch-%d" % os.getpid()
    ops.open(w.ctx(), scratch, O_CREAT | O_WRONLY, 0o644).write(b"x")
    assert not os.path.exists(scratch)
    assert isinstance(ops.lookup(w.ctx(), b"/tmp").mount.fs, TmpFS)
    assert ops.lookup(ctx, b".").path() == bytes(cwd)
    assert isinstance(ops.lookup(ctx, b"..").mount.fs, TmpFS)
    assert not (tmp_path / "work" / "scratch").exists()


def test_root_is_readonly_host(tmp_path):
    w, ctx = _world_at(bytes(tmp_path))
    assert ops.stat(w.ctx(), b"/etc/passwd").size == os.stat("/etc/passwd").st_size
    raises(errno.EROFS, ops.open, w.ctx(), b"/etc/compatd-test", O_CREAT | O_WRONLY, 0o644)
    raises(errno.EROFS, ops.open, w.ctx(), b"/etc/passwd", O_WRONLY)
    assert isinstance(w.ns.root_mount.fs, HostFS) and w.ns.root_mount.readonly


def test_dev_and_mount_order(tmp_path):
    w, _ = _world_at(bytes(tmp_path))
    assert ops.open(w.ctx(), b"/dev/null", O_WRONLY).write(b"x") == 1
    assert isinstance(ops.lookup(w.ctx(), b"/dev").mount.fs, DevFS)
    assert isinstance(ops.lookup(w.ctx(), b"/dev/shm").mount.fs, TmpFS)
    targets = [m.target for m in w.ns.mounts()]
    assert targets == [b"/", b"/sys", b"/tmp", b"/dev", b"/dev/shm", bytes(tmp_path)]
    m = tmpfs(w.ns, b"/tmp/a/b")  # mkdir -p in the writable /tmp
    assert ops.lookup(w.ctx(), b"/tmp/a/b").mount is m


def test_mount_point_under_readonly_fs_is_enoent(tmp_path):
    w, _ = _world_at(bytes(tmp_path))
    raises(errno.ENOENT, tmpfs, w.ns, b"/compatd-no-such-dir/x")


def test_cwd_root():
    w = World(default_namespace(b"/"))
    assert [m.target for m in w.ns.mounts()] == [b"/", b"/sys", b"/tmp", b"/dev", b"/dev/shm"]
