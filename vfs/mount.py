"""Mounts and mount namespaces.

A mount is identified by object, a mountpoint by ``(parent mount, inode key)``: the same
directory reached by any path is covered. Mounting on a mountpoint that is already covered
stacks on the topmost mount there, and the newest mount wins, as on Linux.
"""

from __future__ import annotations

import errno

from compatd.errors import KernelError
from vfs.base import Dentry, Filesystem, Inode
from vfs.resolver import enter, resolve


class Mount:
    """One mount: a filesystem (or a subtree of one, for a bind) placed in a namespace."""

    __slots__ = ("ns", "fs", "root", "parent", "mountpoint", "readonly", "noexec", "source",
                 "target", "mount_id")
    _next_id = 20  # ids as /proc/PID/mountinfo and statx's stx_mnt_id show them

    def __init__(self, ns: MountTable, fs: Filesystem, root: Inode, parent: Mount | None,
                 mountpoint: Dentry | None, *, readonly: bool = False, noexec: bool = False,
                 source: bytes = b"", target: bytes = b"/") -> None:
        self.ns = ns
        self.fs = fs
        self.root = root
        self.parent = parent
        self.mountpoint = mountpoint
        self.readonly = readonly
        self.noexec = noexec
        self.source = source
        self.target = target
        Mount._next_id += 1
        self.mount_id = Mount._next_id

    def root_dentry(self) -> Dentry:
        """The mount's root, named and parented like the dentry it covers.

        So ``..`` from a mount root reaches the mountpoint's parent through the ordinary
        dentry chain, and ``Dentry.path()`` gives the mount's place in the tree.
        """
        mp = self.mountpoint
        if mp is None:
            return Dentry(mount=self, inode=self.root, name=b"/", parent=None)
        return Dentry(mount=self, inode=self.root, name=mp.name, parent=mp.parent)

    def check_writable(self) -> None:
        """EROFS when either the mount or its filesystem is read-only (mnt_want_write)."""
        if self.readonly:
            raise KernelError(errno.EROFS, f"{self.target!r} is mounted read-only")
        self.fs.check_writable()

    def __repr__(self) -> str:
        return f"<Mount {self.fs.name} {self.source!r} on {self.target!r}>"


class MountTable:
    """A mount namespace: the root mount and the mounts on top of it, in mount order."""

    def __init__(self, fs: Filesystem, *, root: Inode | None = None, readonly: bool = False,
                 noexec: bool = False, source: bytes = b"") -> None:
        self.root_mount = Mount(self, fs, root if root is not None else fs.root, None, None,
                                readonly=readonly, noexec=noexec, source=source)
        self._mounts: list[Mount] = [self.root_mount]
        # (id(parent mount), mountpoint inode key) -> the mount directly on it. Mounts are
        # kept alive by _mounts, so their ids are not reused.
        self._children: dict[tuple[int, tuple[int, int]], Mount] = {}

    def root_dentry(self) -> Dentry:
        """The namespace's ``/``: the topmost mount on the root mount's root."""
        d = self.root_mount.root_dentry()
        top = self.child_mount(d)
        return top.root_dentry() if top is not None else d

    def child_mount(self, dentry: Dentry) -> Mount | None:
        """The topmost mount on ``dentry``'s (mount, inode), or None."""
        m = self._children.get((id(dentry.mount), dentry.inode.key))
        if m is None:
            return None
        while (top := self._children.get((id(m), m.root.key))) is not None:
            m = top
        return m

    def mounts(self) -> list[Mount]:
        return list(self._mounts)

    def mount(self, fs: Filesystem, at: bytes, *, root: Inode | None = None,
              readonly: bool = False, noexec: bool = False, source: bytes = b"") -> Mount:
        """Mount ``fs`` (or its subtree ``root``, for a bind) at the absolute path ``at``.

        Missing directories on the way are created like ``mkdir -p`` in whatever is mounted
        there; where that filesystem is read-only the mount fails with ENOENT, as mount(2)
        would on a missing target.
        """
        if at[:1] != b"/":
            raise KernelError(errno.EINVAL, f"mount target {at!r} is not absolute")
        mp = self._mkdir_p(at)
        if not mp.inode.is_dir():
            raise KernelError(errno.ENOTDIR, f"mount target {at!r} is not a directory")
        m = Mount(self, fs, root if root is not None else fs.root, mp.mount, mp,
                  readonly=readonly, noexec=noexec, source=source, target=mp.path())
        self._children[(id(mp.mount), mp.inode.key)] = m
        self._mounts.append(m)
        return m

    def _mkdir_p(self, at: bytes) -> Dentry:
        root = self.root_dentry()
        d = root
        for name in (c for c in at.split(b"/") if c):
            try:
                d = resolve(root, d, name)
            except KernelError as e:
                if e.errno != errno.ENOENT:
                    raise
                try:
                    d.mount.check_writable()
                    d = enter(d, name, d.inode.mkdir(name, 0o755, 0, 0))
                except KernelError as e2:
                    raise KernelError(errno.ENOENT,
                                      f"cannot create mount point {at!r}: {e2}") from e2
        return d
