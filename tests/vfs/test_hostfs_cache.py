"""hostfs caches lstat results and directory fds for one generation (one syscall): what it
may keep, and what it must notice."""

from __future__ import annotations

import errno
import os

from tests.vfs.helpers import World, raises
from vfs import ops
from vfs.base import tick
from vfs.hostfs import HostFS
from vfs.mount import MountTable


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_directory_fd_cache_is_bounded(tmp_path):
    for i in range(3 * HostFS.DIR_CACHE):
        d = tmp_path / f"d{i:03}" / "sub"
        d.mkdir(parents=True)
        (d / "f").write_bytes(b"%d" % i)
    fs = HostFS(bytes(tmp_path))
    w = World(MountTable(fs))
    before = _open_fds()
    for _ in range(2):
        for i in range(3 * HostFS.DIR_CACHE):
            tick()
            assert w.read(b"/d%03d/sub/f" % i) == b"%d" % i
    assert _open_fds() - before <= HostFS.DIR_CACHE + 1
    fs.close()


def test_host_changes_are_seen_at_the_next_syscall(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"one")
    w = World(MountTable(HostFS(bytes(tmp_path))))
    ctx = w.ctx()
    assert w.read(b"/a/f") == b"one"
    size = ops.stat(ctx, b"/a/f").size
    # Another host process moves the directory away and puts a new one in its place.
    os.rename(tmp_path / "a", tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"second")
    tick()
    assert w.read(b"/a/f") == b"second"
    assert ops.stat(ctx, b"/a/f").size == size + 3
    assert w.read(b"/b/f") == b"one"
    os.chmod(tmp_path / "a", 0o700)
    tick()
    assert ops.stat(ctx, b"/a").mode & 0o777 == 0o700
    os.rename(tmp_path / "a", tmp_path / "c")
    tick()
    raises(errno.ENOENT, ops.stat, ctx, b"/a/f")


def test_own_changes_are_seen_at_once(world: World):
    """No tick between the calls: a change we make ends the generation itself."""
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o755)
    assert ops.stat(ctx, b"/d").nlink == 2
    ops.mkdir(ctx, b"/d/e", 0o700)
    assert ops.stat(ctx, b"/d").nlink == 3
    world.write(b"/d/e/f", b"12345")
    assert ops.stat(ctx, b"/d/e/f").size == 5
    ops.chmod(ctx, b"/d/e/f", 0o600)
    assert ops.stat(ctx, b"/d/e/f").mode & 0o777 == 0o600
    ops.rename(ctx, b"/d/e", ctx, b"/d/g")
    raises(errno.ENOENT, ops.stat, ctx, b"/d/e/f")
    assert world.read(b"/d/g/f") == b"12345"
    ops.truncate(ctx, b"/d/g/f", 2)
    assert ops.stat(ctx, b"/d/g/f").size == 2
