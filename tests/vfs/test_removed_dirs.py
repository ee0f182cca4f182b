"""Directories removed while something still holds them (an open fd, a cwd): every filesystem.

Linux keeps the dead directory's inode: fstat on an fd of it works and reports nlink 0, and
nothing can be created in it (ENOENT), not even after a new directory took its name.
"""

from __future__ import annotations

import errno
import stat as st

import pytest

from tests.vfs.helpers import World, raises
from vfs import ops
from vfs.base import tick
from vfs.flags import O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_WRONLY


def _open_dir(world: World, path: bytes):
    return ops.open(world.ctx(), path, O_RDONLY | O_DIRECTORY)


def test_fstat_of_removed_directory(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o750)
    f = _open_dir(world, b"/d")
    try:
        before = f.stat()
        assert before.nlink == 2
        ops.rmdir(ctx, b"/d")
        tick()  # the next syscall
        s = f.stat()
        assert st.S_ISDIR(s.mode) and st.S_IMODE(s.mode) == 0o750
        assert s.nlink == 0
        assert s.ino == before.ino
        raises(errno.ENOENT, ops.stat, ctx, b"/d")
    finally:
        f.release()


def _creations(world: World, at, name: bytes):
    """Every way of making ``name`` in the directory ``at`` (a dentry: a dirfd or a cwd)."""
    ctx = world.ctx(start=at)
    return {
        "mkdir": lambda: ops.mkdir(ctx, name, 0o755),
        "open O_CREAT": lambda: ops.open(ctx, name, O_WRONLY | O_CREAT, 0o644),
        "open O_CREAT|O_EXCL": lambda: ops.open(ctx, name, O_WRONLY | O_CREAT | O_EXCL, 0o644),
        "symlink": lambda: ops.symlink(b"target", ctx, name),
        "mknod": lambda: ops.mknod(ctx, name, st.S_IFIFO | 0o644),
        "link": lambda: ops.link(world.ctx(), b"/src", ctx, name),
        "rename into": lambda: ops.rename(world.ctx(), b"/src", ctx, name),
    }


@pytest.mark.parametrize("replaced", [False, True], ids=["removed", "name-reused"])
def test_nothing_is_created_in_a_removed_directory(world: World, replaced: bool):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o755)
    world.write(b"/src", b"x")
    f = _open_dir(world, b"/d")
    cwd = ops.lookup(ctx, b"/d")  # a cwd is a dentry held like an fd's
    try:
        ops.rmdir(ctx, b"/d")
        if replaced:
            ops.mkdir(ctx, b"/d", 0o755)  # a new directory with the old one's name
        for holder in (f.dentry, cwd):
            for what, make in _creations(world, holder, b"z").items():
                tick()
                with pytest.raises(Exception) as ei:
                    make()
                assert getattr(ei.value, "errno", None) == errno.ENOENT, what
        assert f.stat().nlink == 0
        tick()
        if replaced:
            assert world.names(b"/d") == []
            assert ops.stat(ctx, b"/d").nlink == 2
        else:
            raises(errno.ENOENT, ops.stat, ctx, b"/d")
        assert world.read(b"/src") == b"x"  # rename and link left the source alone
    finally:
        f.release()


def test_renamed_directory_is_not_reached_by_its_old_name(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/a", 0o755)
    world.write(b"/a/f", b"old")
    assert world.read(b"/a/f") == b"old"
    ops.rename(ctx, b"/a", ctx, b"/b")
    tick()
    raises(errno.ENOENT, ops.stat, ctx, b"/a/f")
    ops.mkdir(ctx, b"/a", 0o755)
    raises(errno.ENOENT, ops.stat, ctx, b"/a/f")
    world.write(b"/a/f", b"new")
    tick()
    assert world.read(b"/a/f") == b"new"
    assert world.read(b"/b/f") == b"old"
