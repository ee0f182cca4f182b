"""The default namespace (overlay of the host /, /tmp tmpfs, /dev devfs, the cwd bound
read-write) and the --root, --bind, --tmpfs, --ro variants."""

from __future__ import annotations

import errno
import os

import pytest

from tests.vfs.helpers import World, raises
from vfs import ops
from vfs.devfs import DevFS
from vfs.flags import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY
from vfs.namespace import bind, build_namespace, default_namespace, parse_bind, tmpfs
from vfs.overlay import OverlayFS
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


def test_root_is_overlay_of_host(tmp_path):
    w, ctx = _world_at(bytes(tmp_path))
    assert ops.stat(w.ctx(), b"/etc/passwd").size == os.stat("/etc/passwd").st_size
    assert isinstance(w.ns.root_mount.fs, OverlayFS) and not w.ns.root_mount.readonly
    # the program may change any file and sees its change; the host is untouched
    host = open("/etc/passwd", "rb").read()
    ops.open(w.ctx(), b"/etc/passwd", O_WRONLY | O_TRUNC).write(b"mine\n")
    assert w.read(b"/etc/passwd") == b"mine\n"
    ops.unlink(w.ctx(), b"/etc/hostname")
    raises(errno.ENOENT, ops.stat, w.ctx(), b"/etc/hostname")
    ops.open(w.ctx(), b"/etc/compatd-test", O_CREAT | O_WRONLY, 0o644).write(b"x")
    assert open("/etc/passwd", "rb").read() == host
    assert os.path.exists("/etc/hostname") and not os.path.exists("/etc/compatd-test")


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
    (tmp_path / "ro").mkdir()
    bind(w.ns, bytes(tmp_path / "ro"), b"/mnt/ro", readonly=True)
    raises(errno.ENOENT, tmpfs, w.ns, b"/mnt/ro/no-such-dir/x")
    assert not (tmp_path / "ro" / "no-such-dir").exists()


def test_cwd_root():
    w = World(default_namespace(b"/"))
    assert [m.target for m in w.ns.mounts()] == [b"/", b"/sys", b"/tmp", b"/dev", b"/dev/shm"]


def _tree(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"tool")
    (root / "home" / "u").mkdir(parents=True)
    data = tmp_path / "data"
    data.mkdir()
    (data / "d").write_bytes(b"data")
    return root, data


def test_root_option(tmp_path):
    root, data = _tree(tmp_path)
    ns, cwd = build_namespace(bytes(root / "home" / "u"), root=bytes(root))
    w = World(ns)
    assert cwd == b"/home/u"
    assert w.read(b"/bin/tool") == b"tool"
    raises(errno.ENOENT, ops.stat, w.ctx(), b"/etc/passwd")  # not the host's /
    assert w.names(b"/tmp") == []
    w.write(b"/bin/tool", b"changed")
    assert (root / "bin" / "tool").read_bytes() == b"tool"
    # a cwd outside the root: the program starts at /
    assert build_namespace(bytes(data), root=bytes(root))[1] == b"/"
    # ... unless a bind holds it
    ns, cwd = build_namespace(bytes(data), root=bytes(root),
                              binds=[(bytes(data), b"/work", False)])
    assert cwd == b"/work"
    World(ns).write(b"/work/out", b"o")
    assert (data / "out").read_bytes() == b"o"


def test_bind_tmpfs_and_ro(tmp_path):
    root, data = _tree(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    ns, sandbox_cwd = build_namespace(
        bytes(cwd), binds=[(bytes(data), b"/srv/data", True), (bytes(root), b"/srv/r", False)],
        tmpfs_paths=[b"/srv/scratch"])
    w = World(ns)
    assert sandbox_cwd == bytes(cwd)
    assert w.read(b"/srv/data/d") == b"data"
    raises(errno.EROFS, w.write, b"/srv/data/new", b"x")
    w.write(b"/srv/r/new", b"x")  # a read-write bind reaches the host
    assert (root / "new").read_bytes() == b"x"
    w.write(b"/srv/scratch/s", b"s")
    assert isinstance(ops.lookup(w.ctx(), b"/srv/scratch").mount.fs, TmpFS)
    assert not os.path.exists("/srv/scratch")
    # --ro: the cwd and the read-write binds are overlays; nothing reaches the host
    ns, _ = build_namespace(bytes(cwd), binds=[(bytes(root), b"/srv/r", False)], ro=True)
    w = World(ns)
    w.write(bytes(cwd / "made"), b"m")
    w.write(b"/srv/r/new2", b"m")
    assert w.read(bytes(cwd / "made")) == b"m"
    assert not (cwd / "made").exists() and not (root / "new2").exists()


@pytest.mark.parametrize("spec", ["", "/x", "/x:", ":/y", "/x:y", "/x:/y:rx", "/no/such/dir:/y"])
def test_parse_bind_rejects(spec):
    with pytest.raises(ValueError):
        parse_bind(spec)


def test_parse_bind(tmp_path):
    assert parse_bind(f"{tmp_path}:/y") == (bytes(tmp_path), b"/y", False)
    assert parse_bind(f"{tmp_path}:/y/:ro") == (bytes(tmp_path), b"/y", True)
