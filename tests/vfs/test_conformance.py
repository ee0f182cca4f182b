"""The conformance suite: every writable filesystem, through vfs.ops and the resolver."""

from __future__ import annotations

import errno
import stat as st

import pytest

from compatd.errors import WouldBlock
from tests.vfs.helpers import OTHER, ROOT, USER, World, raises
from vfs import ops
from vfs.flags import (
    O_APPEND,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    R_OK,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
    W_OK,
    X_OK,
)
from vfs.ops import PathFile
from vfs.tmpfs import TmpFS

# files: create, read, write, seek, truncate ------------------------------------------------


def test_create_write_read_seek(world: World):
    ctx = world.ctx()
    f = ops.open(ctx, b"/f", O_RDWR | O_CREAT, 0o666)
    assert f.dentry is not None and f.dentry.path() == b"/f"
    assert f.write(b"hello world") == 11
    assert f.seek(0, 0) == 0
    assert f.read(5) == b"hello"
    assert f.seek(-5, 2) == 6
    assert f.read(100) == b"world"
    assert f.read(100) == b""
    assert f.pwrite(b"HELLO", 0) == 5
    assert f.pread(5, 0) == b"HELLO"
    assert f.seek(20, 0) == 20
    f.write(b"!")
    assert f.stat().size == 21
    assert f.pread(100, 0) == b"HELLO world" + bytes(9) + b"!"
    raises(errno.EINVAL, f.seek, -1, 0)
    f.release()
    s = ops.stat(ctx, b"/f")
    assert st.S_ISREG(s.mode) and st.S_IMODE(s.mode) == 0o644  # umask 022
    assert s.size == 21 and s.nlink == 1


def test_append_and_access_modes(world: World):
    world.write(b"/f", b"abc")
    f = ops.open(world.ctx(), b"/f", O_WRONLY | O_APPEND)
    f.write(b"def")
    raises(errno.EBADF, f.read, 1)
    f.release()
    r = ops.open(world.ctx(), b"/f", O_RDONLY)
    raises(errno.EBADF, r.write, b"x")
    assert r.read(10) == b"abcdef"


def test_truncate(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"0123456789")
    ops.truncate(ctx, b"/f", 4)
    assert world.read(b"/f") == b"0123"
    ops.truncate(ctx, b"/f", 6)
    assert world.read(b"/f") == b"0123\0\0"
    raises(errno.EINVAL, ops.truncate, ctx, b"/f", -1)
    ops.mkdir(ctx, b"/d", 0o755)
    raises(errno.EISDIR, ops.truncate, ctx, b"/d", 0)
    f = ops.open(ctx, b"/f", O_RDWR | O_TRUNC)
    assert f.stat().size == 0
    ops.ftruncate(f, 3)
    assert f.stat().size == 3
    raises(errno.EINVAL, ops.ftruncate, ops.open(ctx, b"/f", O_RDONLY), 0)


def test_open_flags(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"x")
    ops.mkdir(ctx, b"/d", 0o755)
    raises(errno.ENOENT, ops.open, ctx, b"/missing", O_RDONLY)
    raises(errno.EEXIST, ops.open, ctx, b"/f", O_CREAT | O_EXCL | O_WRONLY, 0o644)
    raises(errno.ENOTDIR, ops.open, ctx, b"/f", O_RDONLY | O_DIRECTORY)
    raises(errno.EISDIR, ops.open, ctx, b"/d", O_WRONLY)
    raises(errno.EISDIR, ops.open, ctx, b"/d", O_RDWR)
    raises(errno.EISDIR, ops.open, ctx, b"/d", O_CREAT | O_RDONLY, 0o644)
    raises(errno.EISDIR, ops.open, ctx, b"/", O_CREAT | O_RDONLY, 0o644)
    raises(errno.EINVAL, ops.open, ctx, b"/g", O_CREAT | O_DIRECTORY, 0o644)
    # O_TMPFILE: an unnamed file in the directory; it needs write access and a directory
    raises(errno.EINVAL, ops.open, ctx, b"/d", O_TMPFILE | O_RDONLY, 0o600)
    raises(errno.ENOTDIR, ops.open, ctx, b"/f", O_TMPFILE | O_RDWR, 0o600)
    tmp = ops.open(ctx, b"/d", O_TMPFILE | O_RDWR, 0o600)
    assert tmp.write(b"unnamed") == 7
    assert tmp.stat().nlink == 0 and tmp.stat().size == 7
    tmp.release()
    d = ops.open(ctx, b"/d", O_RDONLY | O_DIRECTORY)
    raises(errno.EISDIR, d.read, 10)
    # O_CREAT without O_EXCL opens the existing file, O_TRUNC truncates it
    f = ops.open(ctx, b"/f", O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    assert f.stat().size == 0
    assert st.S_IMODE(f.stat().mode) == 0o644  # mode only applies to new files


def test_open_created_file_ignores_its_mode(world: World):
    # A file created read-only is still writable through the descriptor that created it.
    ops.chmod(world.ctx(), b"/", 0o777)
    f = ops.open(world.ctx(USER, umask=0), b"/ro", O_CREAT | O_RDWR, 0o444)
    assert f.write(b"ok") == 2
    raises(errno.EACCES, ops.open, world.ctx(USER), b"/ro", O_RDWR)


def test_o_path(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"x")
    ops.symlink(b"f", ctx, b"/l")
    p = ops.open(ctx, b"/l", O_PATH | O_NOFOLLOW)
    assert isinstance(p, PathFile) and p.stat().mode & st.S_IFMT(p.stat().mode) == st.S_IFLNK
    for call in (lambda: p.read(1), lambda: p.write(b"x"), lambda: p.pread(1, 0),
                 lambda: p.seek(0, 0)):
        raises(errno.EBADF, call)
    raises(errno.EBADF, ops.ftruncate, p, 0)
    q = ops.open(ctx, b"/l", O_PATH)
    assert st.S_ISREG(q.stat().mode)
    raises(errno.ENOTDIR, ops.open, ctx, b"/f", O_PATH | O_DIRECTORY)
    # O_PATH needs no read permission
    world.write(b"/secret", b"s", mode=0o000)
    assert isinstance(ops.open(world.ctx(USER), b"/secret", O_PATH), PathFile)


def test_trailing_slash_rules(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"x")
    ops.mkdir(ctx, b"/d", 0o755)
    ops.symlink(b"d", ctx, b"/ld")
    ops.symlink(b"f", ctx, b"/lf")
    raises(errno.ENOTDIR, ops.lookup, ctx, b"/f/")
    raises(errno.ENOTDIR, ops.open, ctx, b"/f/", O_RDONLY)
    raises(errno.EISDIR, ops.open, ctx, b"/new/", O_CREAT | O_WRONLY, 0o644)
    raises(errno.EISDIR, ops.open, ctx, b"/f/", O_CREAT | O_WRONLY, 0o644)
    assert ops.lookup(ctx, b"/d/").inode.is_dir()
    assert ops.lookup(ctx, b"/ld/", follow=False).inode.is_dir()  # slash forces following
    assert ops.lookup(ctx, b"/ld", follow=False).inode.is_symlink()
    raises(errno.ENOTDIR, ops.lookup, ctx, b"/lf/")
    ops.mkdir(ctx, b"/e/", 0o755)
    raises(errno.ENOENT, ops.mknod, ctx, b"/n/", st.S_IFREG | 0o644)
    raises(errno.ENOENT, ops.symlink, b"f", ctx, b"/s/")
    raises(errno.ENOTDIR, ops.unlink, ctx, b"/f/")
    raises(errno.EISDIR, ops.unlink, ctx, b"/d/")
    ops.rmdir(ctx, b"/e/")
    raises(errno.ENOTDIR, ops.rename, ctx, b"/f/", ctx, b"/g", 0)
    raises(errno.ENOTDIR, ops.rename, ctx, b"/f", ctx, b"/g/", 0)
    ops.rename(ctx, b"/d/", ctx, b"/d2/", 0)


def test_repeated_slashes_and_dots(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/a", 0o755)
    ops.mkdir(ctx, b"/a/b", 0o755)
    world.write(b"/a/b/f", b"x")
    assert world.read(b"//a///b/./../b//f") == b"x"
    d = ops.lookup(ctx, b"/a/b/../..")
    assert d.same(world.root)
    assert ops.lookup(ctx, b"/../../..").same(world.root)
    raises(errno.ENOTDIR, ops.lookup, ctx, b"/a/b/f/..")
    raises(errno.ENOENT, ops.lookup, ctx, b"")
    rel = world.ctx(start=ops.lookup(ctx, b"/a/b"))
    assert ops.lookup(rel, b"f").path() == b"/a/b/f"
    assert ops.lookup(rel, b"..").path() == b"/a"


# directories -------------------------------------------------------------------------------


def test_mkdir_rmdir(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o777)
    s = ops.stat(ctx, b"/d")
    assert st.S_ISDIR(s.mode) and st.S_IMODE(s.mode) == 0o755
    raises(errno.EEXIST, ops.mkdir, ctx, b"/d", 0o755)
    raises(errno.EEXIST, ops.mkdir, ctx, b"/d/.", 0o755)
    raises(errno.EEXIST, ops.mkdir, ctx, b"/", 0o755)
    raises(errno.ENOENT, ops.mkdir, ctx, b"/x/y", 0o755)
    ops.mkdir(ctx, b"/d/sub", 0o755)
    world.write(b"/d/f", b"")
    raises(errno.ENOTEMPTY, ops.rmdir, ctx, b"/d")
    raises(errno.EINVAL, ops.rmdir, ctx, b"/d/sub/.")
    raises(errno.ENOTEMPTY, ops.rmdir, ctx, b"/d/sub/..")
    raises(errno.EBUSY, ops.rmdir, ctx, b"/")
    raises(errno.ENOTDIR, ops.rmdir, ctx, b"/d/f")
    raises(errno.ENOENT, ops.rmdir, ctx, b"/d/nope")
    ops.rmdir(ctx, b"/d/sub")
    ops.unlink(ctx, b"/d/f")
    ops.rmdir(ctx, b"/d")
    raises(errno.ENOENT, ops.stat, ctx, b"/d")


def test_dir_nlink(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o755)
    assert ops.stat(ctx, b"/d").nlink == 2
    ops.mkdir(ctx, b"/d/a", 0o755)
    ops.mkdir(ctx, b"/d/b", 0o755)
    assert ops.stat(ctx, b"/d").nlink == 4
    ops.rmdir(ctx, b"/d/a")
    assert ops.stat(ctx, b"/d").nlink == 3


def test_readdir(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o755)
    for n in (b"c", b"a", b"b"):
        world.write(b"/d/" + n, n)
    ops.mkdir(ctx, b"/d/sub", 0o755)
    ops.symlink(b"a", ctx, b"/d/lnk")
    f = ops.open(ctx, b"/d", O_RDONLY | O_DIRECTORY)
    entries = f.readdir()
    assert [e.name for e in entries[:2]] == [b".", b".."]
    assert entries[0].ino == ops.stat(ctx, b"/d").ino
    assert entries[1].ino == ops.stat(ctx, b"/").ino
    by = {e.name: e for e in entries[2:]}
    assert set(by) == {b"a", b"b", b"c", b"sub", b"lnk"}
    assert by[b"sub"].dtype == 4 and by[b"a"].dtype == 8 and by[b"lnk"].dtype == 10
    assert by[b"a"].ino == ops.stat(ctx, b"/d/a").ino
    if world.kind == "tmpfs":
        assert [e.name for e in entries[2:]] == [b"c", b"a", b"b", b"sub", b"lnk"]


def test_unlink(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"data")
    ops.mkdir(ctx, b"/d", 0o755)
    raises(errno.EISDIR, ops.unlink, ctx, b"/d")
    raises(errno.EISDIR, ops.unlink, ctx, b"/d/.")
    raises(errno.ENOENT, ops.unlink, ctx, b"/nope")
    f = ops.open(ctx, b"/f", O_RDWR)
    ops.unlink(ctx, b"/f")
    raises(errno.ENOENT, ops.stat, ctx, b"/f")
    assert f.pread(10, 0) == b"data"  # the open description keeps the data
    f.pwrite(b"DATA", 0)
    assert f.pread(10, 0) == b"DATA"
    assert f.stat().nlink == 0


# rename ------------------------------------------------------------------------------------


def test_rename_files(world: World):
    ctx = world.ctx()
    world.write(b"/a", b"A")
    world.write(b"/b", b"B")
    ops.rename(ctx, b"/a", ctx, b"/c", 0)
    assert world.read(b"/c") == b"A"
    raises(errno.ENOENT, ops.stat, ctx, b"/a")
    ops.rename(ctx, b"/c", ctx, b"/b", 0)  # replaces
    assert world.read(b"/b") == b"A"
    assert world.names(b"/") == [b"b"]
    world.write(b"/x", b"X")
    raises(errno.EEXIST, ops.rename, ctx, b"/x", ctx, b"/b", RENAME_NOREPLACE)
    ops.rename(ctx, b"/x", ctx, b"/y", RENAME_NOREPLACE)
    ops.rename(ctx, b"/y", ctx, b"/b", RENAME_EXCHANGE)
    assert world.read(b"/b") == b"X" and world.read(b"/y") == b"A"
    raises(errno.ENOENT, ops.rename, ctx, b"/y", ctx, b"/zz", RENAME_EXCHANGE)
    raises(errno.EINVAL, ops.rename, ctx, b"/y", ctx, b"/b", RENAME_EXCHANGE | RENAME_NOREPLACE)
    raises(errno.EINVAL, ops.rename, ctx, b"/y", ctx, b"/b", RENAME_WHITEOUT)
    raises(errno.EINVAL, ops.rename, ctx, b"/y", ctx, b"/b", 8)
    raises(errno.ENOENT, ops.rename, ctx, b"/nope", ctx, b"/b", 0)
    ops.rename(ctx, b"/y", ctx, b"/y", 0)  # same name: nothing happens
    ops.link(ctx, b"/y", ctx, b"/y2")
    ops.rename(ctx, b"/y", ctx, b"/y2", 0)  # two links to one inode: nothing happens
    assert sorted(world.names(b"/")) == [b"b", b"y", b"y2"]


def test_rename_dirs(world: World):
    ctx = world.ctx()
    for d in (b"/d", b"/d/sub", b"/e", b"/full", b"/full/x"):
        ops.mkdir(ctx, d, 0o755)
    world.write(b"/f", b"")
    raises(errno.EINVAL, ops.rename, ctx, b"/d", ctx, b"/d/sub/inside", 0)
    raises(errno.EINVAL, ops.rename, ctx, b"/d", ctx, b"/d/new", 0)
    raises(errno.ENOTEMPTY, ops.rename, ctx, b"/d/sub", ctx, b"/d", 0)
    raises(errno.ENOTEMPTY, ops.rename, ctx, b"/e", ctx, b"/full", 0)
    raises(errno.ENOTDIR, ops.rename, ctx, b"/e", ctx, b"/f", 0)
    raises(errno.EISDIR, ops.rename, ctx, b"/f", ctx, b"/e", 0)
    raises(errno.EBUSY, ops.rename, ctx, b"/d/.", ctx, b"/z", 0)
    raises(errno.EBUSY, ops.rename, ctx, b"/e", ctx, b"/d/..", 0)
    ops.rename(ctx, b"/e", ctx, b"/d/sub", 0)  # an empty directory is replaced
    ops.rename(ctx, b"/d", ctx, b"/full/x/d", 0)
    assert ops.lookup(ctx, b"/full/x/d/sub").inode.is_dir()
    assert ops.stat(ctx, b"/full/x").nlink == 3
    ops.rename(ctx, b"/f", ctx, b"/full/x/d", RENAME_EXCHANGE)
    assert ops.lookup(ctx, b"/f/sub").inode.is_dir()
    assert st.S_ISREG(ops.stat(ctx, b"/full/x/d").mode)


def test_rename_across_mounts_is_exdev(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"")
    world.ns.mount(TmpFS(), b"/m")
    raises(errno.EXDEV, ops.rename, ctx, b"/f", ctx, b"/m/f", 0)
    raises(errno.EXDEV, ops.link, ctx, b"/f", ctx, b"/m/f")
    raises(errno.EBUSY, ops.rmdir, ctx, b"/m")
    raises(errno.EXDEV, ops.rename, ctx, b"/m/..", ctx, b"/z", 0)  # EXDEV comes first
    raises(errno.EBUSY, ops.rename, ctx, b"/m", ctx, b"/z", 0)


# symlinks ----------------------------------------------------------------------------------


def test_symlinks(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/d", 0o755)
    ops.mkdir(ctx, b"/d/e", 0o755)
    world.write(b"/d/e/f", b"target")
    ops.symlink(b"e/f", ctx, b"/d/rel")
    ops.symlink(b"/d/e", ctx, b"/abs")
    ops.symlink(b"../e/../../d/e/f", ctx, b"/d/e/up")
    ops.symlink(b"nowhere", ctx, b"/dangling")
    assert world.read(b"/d/rel") == b"target"
    assert world.read(b"/abs/f") == b"target"
    assert world.read(b"/d/e/up") == b"target"
    assert ops.readlink(ctx, b"/abs") == b"/d/e"
    raises(errno.EINVAL, ops.readlink, ctx, b"/d")
    assert ops.lookup(ctx, b"/abs/..").path() == b"/d"  # .. of the target, not of the link
    s = ops.stat(ctx, b"/abs", follow=False)
    assert st.S_ISLNK(s.mode) and s.size == 4
    raises(errno.ENOENT, ops.stat, ctx, b"/dangling")
    assert st.S_ISLNK(ops.stat(ctx, b"/dangling", follow=False).mode)
    raises(errno.EEXIST, ops.symlink, b"x", ctx, b"/dangling")
    raises(errno.ENOENT, ops.symlink, b"", ctx, b"/empty")
    raises(errno.ELOOP, ops.open, ctx, b"/d/rel", O_RDONLY | O_NOFOLLOW)
    # O_CREAT through a dangling symlink creates its target; O_EXCL does not follow
    raises(errno.EEXIST, ops.open, ctx, b"/dangling", O_CREAT | O_EXCL | O_WRONLY, 0o644)
    ops.open(ctx, b"/dangling", O_CREAT | O_WRONLY, 0o644).write(b"made")
    assert world.read(b"/nowhere") == b"made"
    ops.unlink(ctx, b"/abs")  # removes the link, not the directory
    assert ops.lookup(ctx, b"/d/e").inode.is_dir()


def test_symlink_loops(world: World):
    ctx = world.ctx()
    ops.symlink(b"b", ctx, b"/a")
    ops.symlink(b"a", ctx, b"/b")
    raises(errno.ELOOP, ops.lookup, ctx, b"/a")
    raises(errno.ELOOP, ops.open, ctx, b"/a", O_CREAT | O_WRONLY, 0o644)
    ops.symlink(b"self/x", ctx, b"/self")
    raises(errno.ELOOP, ops.lookup, ctx, b"/self")


def test_symlink_limit_is_40(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"end")
    ops.symlink(b"f", ctx, b"/l40")
    for i in range(39, -1, -1):
        ops.symlink(b"l%d" % (i + 1), ctx, b"/l%d" % i)
    assert world.read(b"/l1") == b"end"  # 40 links
    raises(errno.ELOOP, ops.lookup, ctx, b"/l0")  # 41 links
    assert ops.lookup(ctx, b"/l0", follow=False).inode.is_symlink()


def test_name_too_long(world: World):
    ctx = world.ctx()
    world.write(b"/" + b"n" * 255, b"ok")
    assert world.read(b"/" + b"n" * 255) == b"ok"
    raises(errno.ENAMETOOLONG, ops.open, ctx, b"/" + b"n" * 256, O_CREAT | O_WRONLY, 0o644)
    raises(errno.ENAMETOOLONG, ops.stat, ctx, b"/" + b"n" * 256)
    raises(errno.ENAMETOOLONG, ops.mkdir, ctx, b"/" + b"n" * 256, 0o755)
    raises(errno.ENAMETOOLONG, ops.stat, ctx, b"/" + b"a/" * 2048)
    assert ops.lookup(ctx, b"/" + b"./" * 2000).same(world.root)


# hard links --------------------------------------------------------------------------------


def test_hard_links(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"one")
    ops.link(ctx, b"/f", ctx, b"/g")
    assert ops.stat(ctx, b"/f").nlink == 2
    assert ops.stat(ctx, b"/f").ino == ops.stat(ctx, b"/g").ino
    world.write(b"/g", b"two")
    assert world.read(b"/f") == b"two"
    ops.unlink(ctx, b"/f")
    assert ops.stat(ctx, b"/g").nlink == 1
    ops.mkdir(ctx, b"/d", 0o755)
    raises(errno.EPERM, ops.link, ctx, b"/d", ctx, b"/d2")
    raises(errno.EEXIST, ops.link, ctx, b"/g", ctx, b"/d")
    raises(errno.ENOENT, ops.link, ctx, b"/nope", ctx, b"/n")
    ops.symlink(b"g", ctx, b"/s")
    ops.link(ctx, b"/s", ctx, b"/s-link")  # the symlink itself
    assert ops.stat(ctx, b"/s-link", follow=False).nlink == 2
    ops.link(ctx, b"/s", ctx, b"/g-link", follow=True)
    assert ops.stat(ctx, b"/g").nlink == 2


# mounts ------------------------------------------------------------------------------------


def test_dotdot_across_mounts(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/top", 0o755)
    inner = TmpFS()
    world.ns.mount(inner, b"/top/m/n")  # creates /top/m/n like mkdir -p
    world.write(b"/top/m/n/file", b"inner")
    assert ops.lookup(ctx, b"/top/m/n/file").mount.fs is inner
    d = ops.lookup(ctx, b"/top/m/n")
    assert d.mount.fs is inner and d.path() == b"/top/m/n"
    up = ops.lookup(ctx, b"/top/m/n/..")
    assert up.mount.fs is not inner and up.path() == b"/top/m"
    assert ops.lookup(ctx, b"/top/m/n/../../..").same(world.root)
    assert world.names(b"/top/m/n") == [b"file"]
    # stacking: the newest mount wins; .. still leaves through the original mountpoint
    world.ns.mount(TmpFS(), b"/top/m/n")
    assert world.names(b"/top/m/n") == []
    assert ops.lookup(ctx, b"/top/m/n/..").path() == b"/top/m"
    assert [m.target for m in world.ns.mounts()] == [b"/", b"/top/m/n", b"/top/m/n"]
    # a symlink into a mount crosses it too
    ops.symlink(b"/top/m/n", ctx, b"/ln")
    assert ops.lookup(ctx, b"/ln").mount is world.ns.mounts()[-1]


def test_chroot_root_is_a_ceiling(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/jail", 0o755)
    world.write(b"/jail/f", b"in jail")
    world.write(b"/f", b"outside")
    jail = ops.chdir_target(ctx, b"/jail")
    jctx = ops.PathContext(jail, jail, ROOT)
    assert ops.lookup(jctx, b"../../..").same(jail)
    ops.symlink(b"/f", ctx, b"/jail/abs")
    f = ops.open(jctx, b"abs", O_RDONLY)
    assert f.read(100) == b"in jail"


# read-only mounts --------------------------------------------------------------------------


def test_readonly_mount_flag(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/ro", 0o755)
    world.write(b"/ro/f", b"x")
    sub = ops.lookup(ctx, b"/ro").inode
    world.ns.mount(world.ns.root_mount.fs, b"/ro", root=sub, readonly=True)  # a ro bind
    assert world.read(b"/ro/f") == b"x"
    raises(errno.EROFS, ops.open, ctx, b"/ro/f", O_WRONLY)
    raises(errno.EROFS, ops.open, ctx, b"/ro/f", O_RDONLY | O_TRUNC)
    raises(errno.EROFS, ops.open, ctx, b"/ro/new", O_CREAT | O_WRONLY, 0o644)
    raises(errno.EEXIST, ops.open, ctx, b"/ro/f", O_CREAT | O_EXCL | O_WRONLY, 0o644)
    raises(errno.EROFS, ops.mkdir, ctx, b"/ro/d", 0o755)
    raises(errno.EEXIST, ops.mkdir, ctx, b"/ro/f", 0o755)  # EEXIST wins over EROFS
    raises(errno.EROFS, ops.unlink, ctx, b"/ro/f")
    raises(errno.EROFS, ops.chmod, ctx, b"/ro/f", 0o600)
    raises(errno.EROFS, ops.access, ctx, b"/ro/f", W_OK)
    ops.access(ctx, b"/ro/f", R_OK)
    assert ops.statfs(ctx, b"/ro").flags & ops.ST_RDONLY
    assert not ops.statfs(ctx, b"/").flags & ops.ST_RDONLY
    world.write(b"/f", b"still writable outside")


# permissions -------------------------------------------------------------------------------


def test_permissions_non_root(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/private", 0o700)
    world.write(b"/private/f", b"secret")
    world.write(b"/mine", b"x", mode=0o600)
    ops.chown(ctx, b"/mine", USER.fsuid, USER.fsgid)
    user = world.ctx(USER)
    raises(errno.EACCES, ops.stat, user, b"/private/f")
    raises(errno.EACCES, ops.open, user, b"/private", O_RDONLY)
    raises(errno.EACCES, ops.open, user, b"/private/f", O_RDONLY)
    raises(errno.EACCES, ops.mkdir, user, b"/private/d", 0o755)
    raises(errno.EACCES, ops.chdir_target, user, b"/private")
    raises(errno.EACCES, ops.mkdir, user, b"/newdir", 0o755)  # / is 0755 root
    raises(errno.EACCES, ops.access, user, b"/private", X_OK)
    assert ops.stat(user, b"/private").uid == 0
    raises(errno.EPERM, ops.chmod, user, b"/private", 0o777)
    raises(errno.EPERM, ops.chown, user, b"/mine", OTHER.fsuid, -1)
    raises(errno.EPERM, ops.utimes, user, b"/private", 1, 1)
    raises(errno.EACCES, ops.utimes, user, b"/private", None, None, touch=True)
    assert world.read(b"/mine", USER) == b"x"
    raises(errno.EACCES, world.read, b"/mine", OTHER)
    ops.chmod(user, b"/mine", 0o640)
    raises(errno.EACCES, ops.truncate, world.ctx(OTHER), b"/mine", 0)
    ops.access(user, b"/mine", R_OK | W_OK)
    raises(errno.EACCES, ops.access, user, b"/mine", X_OK)
    # root: everything but executing a file with no x bit
    ops.access(ctx, b"/private/f", R_OK | W_OK)
    raises(errno.EACCES, ops.access, ctx, b"/private/f", X_OK)
    ops.chmod(ctx, b"/private/f", 0o100)
    ops.access(ctx, b"/private/f", X_OK)


def test_group_and_owner_bits(world: World):
    ctx = world.ctx()
    world.write(b"/g", b"group", mode=0o640)
    ops.chown(ctx, b"/g", 0, 1000)
    assert world.read(b"/g", USER) == b"group"  # group 1000 may read
    raises(errno.EACCES, world.read, b"/g", OTHER)
    world.write(b"/o", b"other", mode=0o044)
    ops.chown(ctx, b"/o", USER.fsuid, 0)
    raises(errno.EACCES, world.read, b"/o", USER)  # the owner bits, not other's, apply


def test_sticky_directory(world: World):
    ctx = world.ctx()
    ops.mkdir(ctx, b"/tmp", 0o777)
    ops.chmod(ctx, b"/tmp", 0o1777)
    world.write(b"/tmp/users", b"", creds=USER)
    world.write(b"/tmp/users2", b"", creds=USER)
    assert ops.stat(ctx, b"/tmp/users").uid == USER.fsuid
    other = world.ctx(OTHER)
    raises(errno.EPERM, ops.unlink, other, b"/tmp/users")
    raises(errno.EPERM, ops.rename, other, b"/tmp/users", other, b"/tmp/x", 0)
    world.write(b"/tmp/others", b"", creds=OTHER)
    raises(errno.EPERM, ops.rename, other, b"/tmp/others", other, b"/tmp/users", 0)
    ops.unlink(world.ctx(USER), b"/tmp/users")
    ops.unlink(ctx, b"/tmp/users2")  # root may


def test_chmod_chown_utimes(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"")
    ops.chmod(ctx, b"/f", 0o4755)
    assert st.S_IMODE(ops.stat(ctx, b"/f").mode) == 0o4755
    ops.chown(ctx, b"/f", 1000, 1000)
    s = ops.stat(ctx, b"/f")
    assert (s.uid, s.gid) == (1000, 1000)
    assert st.S_IMODE(s.mode) == 0o755  # chown drops set-user-ID
    ops.symlink(b"f", ctx, b"/l")
    raises(errno.EOPNOTSUPP, ops.chmod, ctx, b"/l", 0o600, follow=False)
    ops.utimes(ctx, b"/f", 1_000_000_000, 2_000_000_000)
    s = ops.stat(ctx, b"/f")
    assert (s.atime_ns, s.mtime_ns) == (1_000_000_000, 2_000_000_000)
    ops.utimes(ctx, b"/f", None, 3_000_000_000)
    s = ops.stat(ctx, b"/f")
    assert (s.atime_ns, s.mtime_ns) == (1_000_000_000, 3_000_000_000)
    ops.utimes(ctx, b"/f", None, None, touch=True)
    assert ops.stat(ctx, b"/f").mtime_ns > 3_000_000_000
    # utimes on a writable file by a non-owner: "now" is allowed, explicit times are not
    ops.chmod(ctx, b"/f", 0o666)
    ops.utimes(world.ctx(OTHER), b"/f", None, None, touch=True)
    raises(errno.EPERM, ops.utimes, world.ctx(OTHER), b"/f", 5, 5)


def test_write_updates_mtime(world: World):
    ctx = world.ctx()
    world.write(b"/f", b"a")
    ops.utimes(ctx, b"/f", 0, 0)
    f = ops.open(ctx, b"/f", O_WRONLY)
    f.write(b"b")
    assert ops.stat(ctx, b"/f").mtime_ns > 0
    ops.utimes(ctx, b"/f", 0, 0)
    ops.truncate(ctx, b"/f", 0)
    assert ops.stat(ctx, b"/f").mtime_ns > 0


def test_mknod(world: World):
    ctx = world.ctx()
    ops.mknod(ctx, b"/fifo", st.S_IFIFO | 0o644)
    assert st.S_ISFIFO(ops.stat(ctx, b"/fifo").mode)
    # A FIFO is a pipe: write-only without readers is ENXIO with O_NONBLOCK, read-only
    # with O_NONBLOCK opens at once, and a blocking open waits for the other side.
    raises(errno.ENXIO, ops.open, ctx, b"/fifo", O_WRONLY | O_NONBLOCK)
    r = ops.open(ctx, b"/fifo", O_RDONLY | O_NONBLOCK)
    w = ops.open(ctx, b"/fifo", O_WRONLY)
    assert w.write(b"through") == 7 and r.read(100) == b"through"
    with pytest.raises(WouldBlock):
        r.flags = O_RDONLY
        r.read(100)
    w.release()
    assert r.read(100) == b""
    r.release()
    with pytest.raises(WouldBlock):
        ops.open(ctx, b"/fifo", O_RDONLY)
    ops.mknod(ctx, b"/reg", st.S_IFREG | 0o600)
    assert st.S_ISREG(ops.stat(ctx, b"/reg").mode)
    ops.mkdir(ctx, b"/u", 0o777)
    ops.chmod(ctx, b"/u", 0o777)
    # A device node needs CAP_MKNOD (fsuid 0 here), checked after the parent's permission.
    raises(errno.EPERM, ops.mknod, world.ctx(USER), b"/u/chr", st.S_IFCHR | 0o600, 0x103)
    raises(errno.EACCES, ops.mknod, world.ctx(USER), b"/chr", st.S_IFCHR | 0o600, 0x103)
    raises(errno.EPERM, ops.mknod, ctx, b"/dir", st.S_IFDIR | 0o600)
    raises(errno.EPERM, ops.mknod, ctx, b"/reg", st.S_IFDIR | 0o600)  # before EEXIST
    raises(errno.EINVAL, ops.mknod, ctx, b"/bad", 0o170000 | 0o600)
    raises(errno.EEXIST, ops.mknod, ctx, b"/reg", st.S_IFREG | 0o600)


def test_statfs(world: World):
    s = ops.statfs(world.ctx(), b"/")
    assert s.bsize > 0 and s.blocks > 0 and s.namelen == 255


@pytest.mark.parametrize("path", [b"/", b"/d", b"/d/"])
def test_chdir_target(world: World, path: bytes):
    ops.mkdir(world.ctx(), b"/d", 0o755)
    assert ops.chdir_target(world.ctx(), path).inode.is_dir()
    world.write(b"/f", b"")
    raises(errno.ENOTDIR, ops.chdir_target, world.ctx(), b"/f")
