"""The mount namespaces compatd builds, and the helpers behind --bind and --tmpfs."""

from __future__ import annotations

import errno
import os

from compatd.errors import KernelError
from vfs.devfs import DevFS
from vfs.hostfs import HostFS
from vfs.mount import Mount, MountTable
from vfs.procfs import KernelLike, ProcFS
from vfs.sysfs import SysFS
from vfs.tmpfs import TmpFS


def bind(ns: MountTable, host_path: bytes, sandbox_path: bytes,
         readonly: bool = False) -> Mount:
    """Make the host directory ``host_path`` appear at ``sandbox_path``."""
    return ns.mount(HostFS(host_path, readonly=readonly), sandbox_path, readonly=readonly,
                    source=os.path.abspath(host_path))


def tmpfs(ns: MountTable, path: bytes) -> Mount:
    """A fresh, empty tmpfs at ``path``."""
    return ns.mount(TmpFS(), path, source=b"tmpfs")


def mount_proc(ns: MountTable, kernel: KernelLike, at: bytes = b"/proc") -> Mount:
    """Mount a procfs of ``kernel`` (once the Kernel exists: it needs the namespace first)."""
    return ns.mount(ProcFS(kernel), at, source=b"proc")


def mount_sys(ns: MountTable, at: bytes = b"/sys") -> Mount | None:
    """The read-only sysfs subset at ``at``, if the host has a /sys to draw from."""
    if not os.path.isdir(b"/sys/devices"):
        return None
    return ns.mount(SysFS(b"/sys"), at, readonly=True, source=b"sysfs")


def default_namespace(cwd: bytes, kernel: KernelLike | None = None) -> MountTable:
    """What ``compatd run`` starts with.

    ``/`` is the host's root, read-only; ``/proc`` a procfs of ``kernel`` when one is given
    (else the caller mounts it with ``mount_proc`` once the Kernel exists); ``/sys`` the
    read-only sysfs subset; ``/tmp`` a fresh tmpfs; ``/dev`` a devfs with a
    tmpfs on ``/dev/shm`` (POSIX shared memory, as on Linux); and the host's current
    directory ``cwd`` is bound read-write at the same path, so what the program writes
    there is on the host afterwards. The bind comes last so a ``cwd`` inside /tmp or /dev
    is created in (and covers part of) those mounts instead of being hidden by them.
    """
    cwd = os.path.normpath(cwd)
    if not cwd.startswith(b"/"):
        raise KernelError(errno.EINVAL, f"cwd {cwd!r} is not absolute")
    ns = MountTable(HostFS(b"/", readonly=True), readonly=True, source=b"/")
    if kernel is not None:
        mount_proc(ns, kernel)
    mount_sys(ns)
    tmpfs(ns, b"/tmp")
    ns.mount(DevFS(), b"/dev", source=b"devfs")
    tmpfs(ns, b"/dev/shm")
    if cwd != b"/":
        bind(ns, cwd, cwd)
    return ns
