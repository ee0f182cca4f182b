"""The one path walker.

Everything that turns a path into a place goes through ``resolve`` or ``resolve_parent``;
filesystems only answer ``lookup`` of one name in one directory. The walk follows Linux's
``link_path_walk``: search permission on every directory looked up in, ``.`` and ``..`` by
the dentry chain (so ``..`` at a mount root leaves the mount and ``..`` at the task's root
stays there), mounts crossed downward after every step, symlinks expanded anywhere with at
most 40 traversals per resolution, and trailing slashes meaning "follow, and must be a
directory".
"""

from __future__ import annotations

import errno
import stat as st
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from compatd.errors import KernelError
from vfs.base import Dentry, Inode, Stat

MAXSYMLINKS = 40  # Linux's MAXSYMLINKS: link traversals per resolution
NAME_MAX = 255
PATH_MAX = 4096  # including the terminating NUL

MAY_EXEC = 1
MAY_WRITE = 2
MAY_READ = 4

# openat2's RESOLVE_* restrictions (include/uapi/linux/openat2.h); 0 is an ordinary walk.
RESOLVE_NO_XDEV = 0x01  # crossing a mount, either way, is EXDEV
RESOLVE_NO_MAGICLINKS = 0x02  # a magic link (/proc/self/fd/N) is ELOOP
RESOLVE_NO_SYMLINKS = 0x04  # any symlink is ELOOP
RESOLVE_BENEATH = 0x08  # leaving the start (absolute, "..", symlinks, magic links) is EXDEV
RESOLVE_IN_ROOT = 0x10  # the start is the root: "/" and ".." stop there
RESOLVE_CACHED = 0x20  # only what the dcache has: everything is "cached" here
RESOLVE_SCOPED = RESOLVE_BENEATH | RESOLVE_IN_ROOT

# Set while a policy with file rules is loaded (policies/engine.py): called with the dentry
# every resolution reaches, or with the directory and the name a call will create there,
# before the caller uses it; it raises KernelError to deny. Checking here, on the object
# the walk reached, is what makes path rules exact. None costs one global lookup.
policy_hook: Callable[[Dentry, bytes | None], None] | None = None


class CredsLike(Protocol):
    """What permission checks need from ``compatd.kernel.task.Creds``."""

    fsuid: int
    fsgid: int
    groups: list[int]

    def in_group(self, gid: int) -> bool: ...


def may_access(s: Stat, creds: CredsLike, want: int) -> bool:
    """Linux's ``generic_permission`` for ``want`` (MAY_READ|MAY_WRITE|MAY_EXEC bits).

    fsuid 0 stands for CAP_DAC_OVERRIDE: it may read and write anything and search any
    directory, but may execute a non-directory only if at least one x bit is set. Others get
    exactly one class of bits: the owner's if they own the file (even when the group or
    other bits would allow more), else the group's if they are in its group, else other's.
    """
    mode = s.mode
    if creds.fsuid == 0:
        if want & MAY_EXEC and not st.S_ISDIR(mode) and not mode & 0o111:
            return False
        return True
    if creds.fsuid == s.uid:
        bits = mode >> 6
    elif creds.in_group(s.gid):
        bits = mode >> 3
    else:
        bits = mode
    return (bits & want) == want


@dataclass(slots=True)
class Parent:
    """Where a path's final component lives: for create, unlink, rename and friends.

    ``name`` may be ``b"."`` or ``b".."``: each caller gives the errno its syscall gives.
    """

    dir: Dentry
    name: bytes
    trailing_slash: bool


def check_path(path: bytes) -> None:
    """The checks Linux's getname and walk make before any lookup."""
    if not path:
        raise KernelError(errno.ENOENT, "empty path")
    if len(path) >= PATH_MAX:
        raise KernelError(errno.ENAMETOOLONG, f"path of {len(path)} bytes")


def cross_mounts(d: Dentry) -> Dentry:
    """The topmost mount's root if something is mounted on ``d``, else ``d`` (follow_mount)."""
    m = d.mount.ns.child_mount(d)
    return m.root_dentry() if m is not None else d


def enter(parent: Dentry, name: bytes, inode: Inode) -> Dentry:
    """The dentry of ``inode`` found as ``name`` in ``parent``, with mounts on it crossed."""
    return cross_mounts(Dentry(mount=parent.mount, inode=inode, name=name, parent=parent))


def magic_target(inode: Inode) -> Dentry | None:
    """The object a magic link names, or None for an ordinary symlink.

    Magic links (/proc/PID/fd/N, /proc/PID/cwd…) name an object, not a path: following one
    gives that object's dentry, even if it has been unlinked or lies outside the root. An
    inode is one if it has a ``magic_link()`` method that returns a dentry.
    """
    magic: Callable[[], Dentry | None] | None = getattr(inode, "magic_link", None)
    return magic() if magic is not None else None


class Walk:
    """One resolution: the task's root, the credentials, the shared symlink budget and the
    RESOLVE_* restrictions (``how``)."""

    __slots__ = ("root", "creds", "links", "how")

    def __init__(self, root: Dentry, creds: CredsLike | None, how: int = 0,
                 start: Dentry | None = None) -> None:
        # RESOLVE_BENEATH and RESOLVE_IN_ROOT walk with the starting directory as the root.
        self.root = start if how & RESOLVE_SCOPED and start is not None else root
        self.creds = creds
        self.links = 0
        self.how = how

    def jump_root(self, d: Dentry) -> Dentry:
        """An absolute path or symlink restarts at the root (nd_jump_root)."""
        if self.how:
            if self.how & RESOLVE_BENEATH:
                raise KernelError(errno.EXDEV, "absolute path with RESOLVE_BENEATH")
            if self.how & RESOLVE_NO_XDEV and d.mount is not self.root.mount:
                raise KernelError(errno.EXDEV, "absolute path crosses a mount (RESOLVE_NO_XDEV)")
        return self.root

    def no_xdev(self, before: Dentry, after: Dentry) -> Dentry:
        if after.mount is not before.mount:
            raise KernelError(errno.EXDEV, "walk crosses a mount (RESOLVE_NO_XDEV)")
        return after

    def walk(self, start: Dentry, path: bytes, follow: bool) -> Dentry:
        d = self.jump_root(start) if path[:1] == b"/" else start
        comps = [c for c in path.split(b"/") if c]
        trailing = path[-1:] == b"/"
        if trailing:
            follow = True  # "link/" means the directory the link names
        last = len(comps) - 1
        for i, name in enumerate(comps):
            d = self.step(d, name)
            if (follow or i < last) and d.inode.is_symlink():
                d = self.follow(d)
        if trailing and not d.inode.is_dir():
            raise KernelError(errno.ENOTDIR, f"trailing slash on a non-directory {d.name!r}")
        return d

    def search(self, d: Dentry) -> None:
        """``d`` must be a directory the caller may search (may_lookup)."""
        s = d.inode.stat()
        if not st.S_ISDIR(s.mode):
            raise KernelError(errno.ENOTDIR, f"{d.name!r} is not a directory")
        if self.creds is not None and not may_access(s, self.creds, MAY_EXEC):
            raise KernelError(errno.EACCES, f"no search permission on {d.name!r}")

    def step(self, d: Dentry, name: bytes) -> Dentry:
        self.search(d)
        if name == b".":
            return d
        if name == b"..":
            # The task's root is a ceiling (chroot); the namespace root has no parent. A
            # mount root's parent is its mountpoint's parent, so this leaves the mount.
            if d.same(self.root) or d.parent is None:
                if self.how & RESOLVE_BENEATH:
                    raise KernelError(errno.EXDEV, "'..' above the start (RESOLVE_BENEATH)")
                return d
            up = cross_mounts(d.parent)
            return self.no_xdev(d, up) if self.how & RESOLVE_NO_XDEV else up
        if len(name) > NAME_MAX:
            raise KernelError(errno.ENAMETOOLONG, f"component of {len(name)} bytes")
        child = enter(d, name, d.inode.lookup(name))
        return self.no_xdev(d, child) if self.how & RESOLVE_NO_XDEV else child

    def follow(self, link: Dentry) -> Dentry:
        how = self.how
        if how & RESOLVE_NO_SYMLINKS:
            raise KernelError(errno.ELOOP, "symbolic link with RESOLVE_NO_SYMLINKS")
        self.links += 1
        if self.links > MAXSYMLINKS:
            raise KernelError(errno.ELOOP, "too many levels of symbolic links")
        target = magic_target(link.inode)
        if target is not None:
            return self.magic(link, target) if how else target
        text = link.inode.readlink()
        if not text:
            raise KernelError(errno.ENOENT, "empty symbolic link")
        # Relative targets are relative to the directory holding the link.
        return self.walk(link.parent if link.parent is not None else self.root, text, True)

    def magic(self, link: Dentry, target: Dentry) -> Dentry:
        """The checks nd_jump_link makes before a magic link is followed."""
        how = self.how
        if how & RESOLVE_NO_MAGICLINKS:
            raise KernelError(errno.ELOOP, "magic link with RESOLVE_NO_MAGICLINKS")
        if how & RESOLVE_NO_XDEV and target.mount is not link.mount:
            raise KernelError(errno.EXDEV, "magic link crosses a mount (RESOLVE_NO_XDEV)")
        if how & RESOLVE_SCOPED:
            raise KernelError(errno.EXDEV, "magic link in a scoped walk")
        return target

    def final_link(self, link: Dentry) -> Dentry | bytes:
        """For walkers that follow a final symlink themselves (O_CREAT): the magic link's
        target, or the symlink text, after the same checks and budget as ``follow``."""
        if self.how & RESOLVE_NO_SYMLINKS:
            raise KernelError(errno.ELOOP, "symbolic link with RESOLVE_NO_SYMLINKS")
        self.links += 1
        if self.links > MAXSYMLINKS:
            raise KernelError(errno.ELOOP, "too many levels of symbolic links")
        target = magic_target(link.inode)
        if target is not None:
            if policy_hook is not None:
                policy_hook(target, None)
            return self.magic(link, target) if self.how else target
        return link.inode.readlink()


def reached(d: Dentry) -> Dentry:
    """A dentry a call names without a walk (a descriptor with AT_EMPTY_PATH, execveat,
    fchmod): the policy sees it as if a walk had reached it."""
    if policy_hook is not None:
        policy_hook(d, None)
    return d


def resolve(root: Dentry, start: Dentry, path: bytes, *, follow: bool = True,
            creds: CredsLike | None = None, how: int = 0) -> Dentry:
    """The dentry ``path`` names.

    Absolute paths start at ``root`` (the task's root), relative ones at ``start`` (the cwd or
    a dirfd). A final symlink is followed only if ``follow`` or the path ends in a slash.
    Errors, in walk order: ENOENT (empty path or missing component), ENAMETOOLONG (path of
    4096+ bytes, component of 256+), ENOTDIR (non-directory in the middle, or a trailing
    slash on one), EACCES (no search permission, checked when ``creds`` is given), ELOOP
    (more than 40 symlinks). ``how`` holds openat2's RESOLVE_* restrictions: EXDEV (a mount
    crossed with NO_XDEV; leaving the start with BENEATH), ELOOP (a symlink with
    NO_SYMLINKS, a magic link with NO_MAGICLINKS).
    """
    check_path(path)
    d = Walk(root, creds, how, start).walk(start, path, follow)
    if policy_hook is not None:
        policy_hook(d, None)
    return d


def resolve_parent(root: Dentry, start: Dentry, path: bytes, *,
                   creds: CredsLike | None = None, how: int = 0,
                   walk: Walk | None = None, checked: bool = True) -> Parent:
    """The directory holding ``path``'s final component, and that component.

    Symlinks before the final component are followed; the final one is not looked up. The
    directory must be searchable, as Linux's walk checks may_lookup on it before it stops
    (EACCES), and a directory (ENOTDIR). ``/`` (only slashes) gives ``root`` and ``b"."``.
    ``how`` is as for ``resolve``; ``walk`` continues an earlier walk (its root, restrictions
    and symlink budget), for callers that follow a final symlink themselves. Unless
    ``checked`` is False (O_CREAT, which may find the name existing and follow it, calls
    ``policy_hook`` itself), the policy hook sees the directory and the name.
    """
    check_path(path)
    w = walk if walk is not None else Walk(root, creds, how, start)
    stripped = path.rstrip(b"/")
    if not stripped:
        return Parent(w.jump_root(start), b".", False)
    head, sep, name = stripped.rpartition(b"/")
    if sep:
        d = w.walk(start, head or b"/", True)
    else:
        d = start
    w.search(d)
    if len(name) > NAME_MAX:
        raise KernelError(errno.ENAMETOOLONG, f"component of {len(name)} bytes")
    if checked and policy_hook is not None:
        policy_hook(d, name)
    return Parent(d, name, len(stripped) != len(path))
