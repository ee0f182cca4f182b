"""overlay-specific behaviour: copy-up, whiteouts, opaque directories, merged listings.

The lower layer is a read-only hostfs over a directory populated here; every test also
checks that the directory on disk is untouched.
"""

from __future__ import annotations

import errno
import os
import stat as st
from pathlib import Path

import pytest

from tests.vfs.helpers import ROOT, USER, World, raises
from vfs import ops
from vfs.flags import O_APPEND, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from vfs.hostfs import HostFS
from vfs.mount import MountTable
from vfs.overlay import OVERLAYFS_MAGIC, OverlayFS
from vfs.tmpfs import TmpFS

T0 = 1_500_000_000


def _populate(lower: Path) -> None:
    (lower / "etc" / "sub").mkdir(parents=True)
    (lower / "etc" / "passwd").write_bytes(b"root:x:0:0\n")
    (lower / "etc" / "sub" / "deep").write_bytes(b"deep")
    (lower / "etc" / "big").write_bytes(bytes(range(256)) * 5000)
    (lower / "dir" / "inner").mkdir(parents=True)
    (lower / "dir" / "a").write_bytes(b"a")
    (lower / "dir" / "inner" / "x").write_bytes(b"x")
    (lower / "empty").mkdir()
    (lower / "owned").write_bytes(b"mine")
    os.chown(lower / "owned", 1000, 1000)
    os.chmod(lower / "owned", 0o640)
    os.symlink("etc/passwd", lower / "link")
    for p in [*lower.rglob("*"), lower]:
        os.utime(p, (T0, T0), follow_symlinks=False)
    os.chmod(lower, 0o755)


def _disk(lower: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for p in sorted(lower.rglob("*")):
        s = p.lstat()
        data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
        out[str(p.relative_to(lower))] = (s.st_mode, s.st_uid, s.st_mtime_ns, data)
    return out


@pytest.fixture
def ov(tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    _populate(lower)
    before = _disk(lower)
    fs = OverlayFS(HostFS(bytes(lower), readonly=True).root, TmpFS().root)
    w = World(MountTable(fs), "overlay")
    yield w, fs
    assert _disk(lower) == before, "the lower layer changed on disk"


def test_read_lower_without_copy_up(ov):
    w, fs = ov
    f = ops.open(w.ctx(), b"/etc/passwd", O_RDONLY)
    assert f.read(100) == b"root:x:0:0\n"
    fd = f.host_fd()
    assert fd is not None and os.fstat(fd).st_size == 11  # the lower file: mmap-able
    s = f.stat()
    assert s.dev == fs.dev and s.mtime_ns == T0 * 10**9
    f.release()
    assert fs.root.upper is None and not fs.copied
    assert ops.statfs(w.ctx(), b"/").type == OVERLAYFS_MAGIC


def test_copy_up_on_write_keeps_attributes_and_inode(ov):
    w, fs = ov
    ctx = w.ctx()
    ino = ops.stat(ctx, b"/etc/passwd").ino
    f = ops.open(ctx, b"/etc/passwd", O_WRONLY | O_APPEND)
    f.write(b"user:x:1000:1000\n")
    f.release()
    assert w.read(b"/etc/passwd") == b"root:x:0:0\nuser:x:1000:1000\n"
    s = ops.stat(ctx, b"/etc/passwd")
    assert s.ino == ino and s.dev == fs.dev
    # the parent was copied up with its attributes, and still lists the lower entries
    assert ops.stat(ctx, b"/etc").mtime_ns == T0 * 10**9
    assert sorted(w.names(b"/etc")) == [b"big", b"passwd", b"sub"]
    assert w.read(b"/etc/sub/deep") == b"deep"


def test_copy_up_big_file_and_truncate(ov):
    w, _ = ov
    ctx = w.ctx()
    assert w.read(b"/etc/big") == bytes(range(256)) * 4096  # World.read reads 1 MiB
    f = ops.open(ctx, b"/etc/big", O_RDWR)
    f.pwrite(b"X", 1_000_000)
    assert f.pread(3, 999_999) == bytes([999_999 % 256]) + b"X" + bytes([1_000_001 % 256])
    assert f.stat().size == 1_280_000
    f.release()
    ops.truncate(ctx, b"/etc/passwd", 4)
    assert w.read(b"/etc/passwd") == b"root"
    ops.open(ctx, b"/dir/a", O_WRONLY | O_TRUNC).release()
    assert w.read(b"/dir/a") == b""


def test_copy_up_on_chmod_chown_utimes(ov):
    w, _ = ov
    ctx = w.ctx()
    ops.chmod(ctx, b"/owned", 0o600)
    s = ops.stat(ctx, b"/owned")
    assert st.S_IMODE(s.mode) == 0o600 and (s.uid, s.gid) == (1000, 1000)
    assert s.mtime_ns == T0 * 10**9 and w.read(b"/owned") == b"mine"
    ops.chown(ctx, b"/dir/a", 5, 6)
    assert (ops.stat(ctx, b"/dir/a").uid, ops.stat(ctx, b"/dir/a").gid) == (5, 6)
    ops.utimes(ctx, b"/etc/sub/deep", 7, 8)
    assert ops.stat(ctx, b"/etc/sub/deep").mtime_ns == 8
    ops.chmod(ctx, b"/empty", 0o700)  # a directory: copied up alone
    assert st.S_IMODE(ops.stat(ctx, b"/empty").mode) == 0o700
    # permission checks see the lower owner before any copy-up
    raises(errno.EPERM, ops.chmod, w.ctx(USER), b"/etc/passwd", 0o777)


def test_open_fd_sees_copy_up_made_through_another_path(ov):
    w, _ = ov
    ctx = w.ctx()
    cwd = ops.chdir_target(ctx, b"/etc")  # found before the copy-up
    w.write(b"/etc/new", b"n")
    assert ops.open(w.ctx(start=cwd), b"new", O_RDONLY).read(10) == b"n"
    ops.chmod(ctx, b"/etc", 0o700)
    assert st.S_IMODE(cwd.inode.stat().mode) == 0o700


def test_unlink_leaves_whiteout_and_recreate(ov):
    w, fs = ov
    ctx = w.ctx()
    ops.unlink(ctx, b"/etc/passwd")
    raises(errno.ENOENT, ops.stat, ctx, b"/etc/passwd")
    assert b"passwd" not in w.names(b"/etc")
    raises(errno.ENOENT, ops.unlink, ctx, b"/etc/passwd")
    w.write(b"/etc/passwd", b"new")
    assert w.read(b"/etc/passwd") == b"new"
    assert w.names(b"/etc").count(b"passwd") == 1
    ops.unlink(ctx, b"/link")
    assert b"link" not in w.names(b"/")


def test_rmdir_whiteout_and_opaque_dir(ov):
    w, _ = ov
    ctx = w.ctx()
    raises(errno.ENOTEMPTY, ops.rmdir, ctx, b"/dir")
    ops.unlink(ctx, b"/dir/a")
    ops.unlink(ctx, b"/dir/inner/x")
    ops.rmdir(ctx, b"/dir/inner")
    assert w.names(b"/dir") == []
    ops.rmdir(ctx, b"/dir")
    raises(errno.ENOENT, ops.stat, ctx, b"/dir")
    ops.mkdir(ctx, b"/dir", 0o755)  # opaque: the lower /dir's entries stay hidden
    assert w.names(b"/dir") == []
    raises(errno.ENOENT, ops.stat, ctx, b"/dir/a")
    w.write(b"/dir/a", b"fresh")
    assert w.names(b"/dir") == [b"a"] and w.read(b"/dir/a") == b"fresh"
    assert ops.stat(ctx, b"/dir").nlink == 2


def test_readdir_merges_and_inodes_match(ov):
    w, _ = ov
    ctx = w.ctx()
    w.write(b"/dir/b", b"upper")
    ops.chmod(ctx, b"/dir/a", 0o600)  # copied up: listed once
    ops.mkdir(ctx, b"/dir/newdir", 0o755)
    f = ops.open(ctx, b"/dir", O_RDONLY | O_DIRECTORY)
    entries = {e.name: e for e in f.readdir()[2:]}
    f.release()
    assert sorted(entries) == [b"a", b"b", b"inner", b"newdir"]
    for name, e in entries.items():
        s = ops.stat(ctx, b"/dir/" + name, follow=False)
        assert e.ino == s.ino, name
        assert e.dtype == st.S_IFMT(s.mode) >> 12
    assert ops.stat(ctx, b"/dir").nlink == 1  # merged: as Linux's overlay


def test_rename_directory_in_lower_is_exdev(ov):
    w, _ = ov
    ctx = w.ctx()
    raises(errno.EXDEV, ops.rename, ctx, b"/dir", ctx, b"/moved", 0)
    raises(errno.EXDEV, ops.rename, ctx, b"/dir/inner", ctx, b"/dir/inner2", 0)
    ops.mkdir(ctx, b"/updir", 0o755)
    w.write(b"/updir/f", b"f")
    ops.rename(ctx, b"/updir", ctx, b"/updir2", 0)  # only the upper has it: fine
    assert w.read(b"/updir2/f") == b"f"


def test_rename_files_across_layers(ov):
    w, _ = ov
    ctx = w.ctx()
    ino = ops.stat(ctx, b"/dir/a").ino
    ops.rename(ctx, b"/dir/a", ctx, b"/etc/a", 0)
    assert w.read(b"/etc/a") == b"a" and ops.stat(ctx, b"/etc/a").ino == ino
    raises(errno.ENOENT, ops.stat, ctx, b"/dir/a")
    assert b"a" not in w.names(b"/dir")
    ops.rename(ctx, b"/etc/a", ctx, b"/etc/passwd", 0)  # over a lower file
    assert w.read(b"/etc/passwd") == b"a" and w.names(b"/etc").count(b"passwd") == 1
    ops.mkdir(ctx, b"/newdir", 0o755)
    ops.rename(ctx, b"/newdir", ctx, b"/empty", 0)  # over an empty lower directory
    assert w.names(b"/empty") == []


def test_link_copies_up(ov):
    w, _ = ov
    ctx = w.ctx()
    ops.link(ctx, b"/etc/passwd", ctx, b"/etc/passwd2")
    assert ops.stat(ctx, b"/etc/passwd").ino == ops.stat(ctx, b"/etc/passwd2").ino
    assert ops.stat(ctx, b"/etc/passwd2").nlink == 2
    w.write(b"/etc/passwd2", b"changed")
    assert w.read(b"/etc/passwd") == b"changed"


def test_unlinked_open_file_stays_readable(ov):
    w, _ = ov
    f = ops.open(w.ctx(), b"/etc/passwd", O_RDONLY)
    ops.unlink(w.ctx(), b"/etc/passwd")
    assert f.pread(4, 0) == b"root"
    f.release()


def test_symlink_in_lower_and_copy_up(ov):
    w, _ = ov
    ctx = w.ctx()
    assert ops.readlink(ctx, b"/link") == b"etc/passwd"
    assert w.read(b"/link") == b"root:x:0:0\n"
    ops.chown(ctx, b"/link", 3, 3, follow=False)
    assert ops.readlink(ctx, b"/link") == b"etc/passwd"
    assert ops.stat(ctx, b"/link", follow=False).uid == 3


def test_lower_only_overlay_root_attributes(ov):
    w, _ = ov
    s = ops.stat(w.ctx(ROOT), b"/")
    assert st.S_IMODE(s.mode) == 0o755
    w.write(b"/top", b"t")  # copies the root up: attributes stay the lower root's
    assert st.S_IMODE(ops.stat(w.ctx(), b"/").mode) == 0o755
