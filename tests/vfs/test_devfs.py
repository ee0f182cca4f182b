"""devfs: the character devices, the symlinks, and nothing creatable."""

from __future__ import annotations

import errno
import os
import stat as st

import pytest

from tests.vfs.helpers import USER, World, raises
from vfs import ops
from vfs.devfs import DevFS
from vfs.flags import O_CREAT, O_RDONLY, O_RDWR, O_WRONLY
from vfs.hostfd import HostFdFile
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS


@pytest.fixture
def dev() -> World:
    ns = MountTable(TmpFS())
    ns.mount(DevFS(), b"/dev")
    return World(ns)


def test_null(dev: World):
    f = ops.open(dev.ctx(USER), b"/dev/null", O_RDWR)
    assert f.read(100) == b""
    assert f.write(b"gone") == 4
    assert f.seek(0, 0) == 0


def test_zero_and_full(dev: World):
    z = ops.open(dev.ctx(), b"/dev/zero", O_RDWR)
    assert z.read(7) == bytes(7)
    assert z.write(b"x" * 10) == 10
    full = ops.open(dev.ctx(), b"/dev/full", O_RDWR)
    assert full.read(3) == bytes(3)
    raises(errno.ENOSPC, full.write, b"x")


def test_random(dev: World):
    for name in (b"/dev/random", b"/dev/urandom"):
        f = ops.open(dev.ctx(), name, O_RDONLY)
        a, b = f.read(32), f.read(32)
        assert len(a) == 32 and a != b
        raises(errno.EBADF, f.write, b"x")


def test_device_numbers_and_modes(dev: World):
    expect = {b"null": (1, 3), b"zero": (1, 5), b"full": (1, 7), b"random": (1, 8),
              b"urandom": (1, 9), b"tty": (5, 0)}
    for name, (major, minor) in expect.items():
        s = ops.stat(dev.ctx(), b"/dev/" + name)
        assert st.S_ISCHR(s.mode) and st.S_IMODE(s.mode) == 0o666
        assert (os.major(s.rdev), os.minor(s.rdev)) == (major, minor)


def test_symlinks_and_dirs(dev: World):
    ctx = dev.ctx()
    assert ops.readlink(ctx, b"/dev/fd") == b"/proc/self/fd"
    assert ops.readlink(ctx, b"/dev/stdin") == b"/proc/self/fd/0"
    assert ops.readlink(ctx, b"/dev/stdout") == b"/proc/self/fd/1"
    assert ops.readlink(ctx, b"/dev/stderr") == b"/proc/self/fd/2"
    assert dev.names(b"/dev/pts") == [] and dev.names(b"/dev/shm") == []
    assert set(dev.names(b"/dev")) >= {b"null", b"zero", b"tty", b"fd", b"pts", b"shm"}
    assert ops.statfs(ctx, b"/dev").type == 0x1373


def test_nothing_can_be_created(dev: World):
    ctx = dev.ctx()
    raises(errno.EPERM, ops.open, ctx, b"/dev/new", O_CREAT | O_WRONLY, 0o644)
    raises(errno.EPERM, ops.mkdir, ctx, b"/dev/d", 0o755)
    raises(errno.EPERM, ops.unlink, ctx, b"/dev/null")
    raises(errno.EPERM, ops.symlink, b"x", ctx, b"/dev/s")


def test_tty_is_the_host_terminal_or_enxio(dev: World):
    try:
        f = ops.open(dev.ctx(), b"/dev/tty", O_RDWR)
    except Exception as e:  # no controlling terminal, as under CI
        assert getattr(e, "errno", None) == errno.ENXIO
    else:
        assert isinstance(f, HostFdFile)
        f.release()
