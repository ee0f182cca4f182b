"""sysfs: a read-only window on an allow-list of the host's /sys.

Programs read a handful of sysfs files (the CPU counts glibc's get_nprocs and
sysconf(_SC_NPROCESSORS_*) read, transparent hugepage settings, CPU topology and caches).
This filesystem is the host's /sys through a read-only hostfs, with every lookup and listing
restricted to the subtrees in ``ALLOWED`` and the directories leading to them; everything
else, /sys/fs/cgroup included, does not exist here.

Safety: the hostfs underneath never follows a host symlink and never opens a device node,
and nothing is ever opened for writing. sysfs files report 4096 bytes but hold less: reads
go through pread at the description's offset, so a short read ends the file as on Linux.
Symlinks (cpu0/subsystem -> ../../../../bus/cpu) are read as text and resolved by our
resolver inside the sandbox, where targets outside the allow-list are ENOENT.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import replace

from compatd.errors import KernelError
from vfs.base import DirEntry, Inode, OpenFile, Stat
from vfs.common import DirFile
from vfs.flags import O_ACCMODE, O_RDONLY
from vfs.hostfs import HostFS, HostInode

SYSFS_MAGIC = 0x62656572

ALLOWED: tuple[bytes, ...] = (
    b"devices/system/cpu",
    b"devices/system/node",
    b"kernel/mm/transparent_hugepage",
)


def _visible(rel: bytes) -> bool:
    """``rel`` lies inside an allowed subtree or on the way to one."""
    if not rel:
        return True
    for allowed in ALLOWED:
        if rel == allowed or rel.startswith(allowed + b"/") or allowed.startswith(rel + b"/"):
            return True
    return False


class SysInode(HostInode):
    __slots__ = ()

    fs: SysFS

    def stat(self) -> Stat:
        s = super().stat()  # possibly hostfs's cached Stat: not changed in place
        return replace(s, mode=s.mode & ~0o222)  # read-only, whatever the host allows root

    def lookup(self, name: bytes) -> HostInode:
        rel = self._child_rel(name)
        if not _visible(rel):
            raise KernelError(errno.ENOENT, f"no /sys/{rel.decode(errors='replace')} here")
        inode = super().lookup(name)
        return SysInode(self.fs, inode.rel, inode.ino, inode.fmt)

    def readdir(self) -> Iterator[DirEntry]:
        prefix = self.rel + b"/" if self.rel else b""
        entries: list[DirEntry] = [e for e in super().readdir() if _visible(prefix + e.name)]
        return iter(entries)

    def open(self, flags: int) -> OpenFile:
        if flags & O_ACCMODE != O_RDONLY:
            raise KernelError(errno.EACCES, "sysfs is read-only here")
        if self.is_dir():
            return DirFile(self, flags)  # listed through our filtered readdir
        return super().open(flags)

    def truncate(self, size: int) -> None:
        raise KernelError(errno.EACCES, "sysfs is read-only here")


class SysFS(HostFS):
    name = "sysfs"
    magic = SYSFS_MAGIC

    def __init__(self, host_root: bytes = b"/sys") -> None:
        super().__init__(host_root, readonly=True)
        r = self._root
        self._root = SysInode(self, r.rel, r.ino, r.fmt)

    @property
    def root(self) -> Inode:
        return self._root
