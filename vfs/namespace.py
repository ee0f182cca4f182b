"""The mount namespaces compatd builds, and the helpers behind --root, --bind, --tmpfs, --ro."""

from __future__ import annotations

import errno
import os

from compatd.errors import KernelError
from vfs.devfs import DevFS
from vfs.hostfs import HostFS
from vfs.mount import Mount, MountTable
from vfs.overlay import OverlayFS
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


def overlay(ns: MountTable, host_path: bytes, sandbox_path: bytes) -> Mount:
    """Make the host directory ``host_path`` appear at ``sandbox_path`` as the lower layer of
    an overlay: the program may change anything there, the changes stay in memory."""
    return ns.mount(overlay_of(host_path), sandbox_path, source=b"overlay")


def overlay_of(host_path: bytes) -> OverlayFS:
    """overlay(a read-only hostfs of ``host_path``, a fresh tmpfs)."""
    return OverlayFS(HostFS(host_path, readonly=True).root, TmpFS().root)


def parse_bind(spec: str) -> tuple[bytes, bytes, bool]:
    """``HOST:SANDBOX[:ro|:rw]`` as (absolute host path, sandbox path, read-only); a
    ``ValueError`` with a one-line reason for a malformed spec or a missing directory."""
    parts = spec.split(":")
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts.pop() == "ro"
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError(f"--bind {spec!r}: expected HOST:SANDBOX or HOST:SANDBOX:ro")
    host, sandbox = (os.fsencode(p) for p in parts)
    if not sandbox.startswith(b"/"):
        raise ValueError(f"--bind {spec!r}: the sandbox path must be absolute")
    if not os.path.isdir(host):
        raise ValueError(f"--bind {spec!r}: {parts[0]} is not a directory")
    return os.path.abspath(host), os.path.normpath(sandbox), readonly


def _under(path: bytes, top: bytes) -> bytes | None:
    """``path`` relative to ``top`` (b"" for ``top`` itself), or None if outside it."""
    if top == b"/":
        return path.lstrip(b"/")
    if path == top:
        return b""
    if path.startswith(top + b"/"):
        return path[len(top) + 1:]
    return None


def build_namespace(cwd: bytes, *, root: bytes | None = None,
                    binds: list[tuple[bytes, bytes, bool]] | tuple[()] = (),
                    tmpfs_paths: list[bytes] | tuple[()] = (), ro: bool = False,
                    kernel: KernelLike | None = None) -> tuple[MountTable, bytes]:
    """The namespace ``compatd run`` starts with, and the program's cwd in it.

    ``/`` is overlay(a read-only hostfs of the host's ``/``, or of ``root``; a tmpfs): the
    program may change any file and sees its change, the host is untouched. ``/proc`` is a
    procfs of ``kernel`` when one is given (else the caller mounts it with ``mount_proc`` once
    the Kernel exists); ``/sys`` the read-only sysfs subset; ``/tmp`` a fresh tmpfs; ``/dev`` a
    devfs with a tmpfs on ``/dev/shm`` (POSIX shared memory, as on Linux).

    Without ``root``, the host's current directory ``cwd`` is bound read-write at the same
    path, so what the program writes there is on the host afterwards; with ``ro`` it is an
    overlay instead, and so is every ``binds`` entry not marked read-only: nothing reaches the
    host. With ``root`` the cwd is not bound: the program starts in the ``binds`` entry that
    holds ``cwd``, else at ``cwd``'s place under ``root``, else at ``/``.

    The default mounts come first, the cwd's after them (so a cwd inside /tmp or /dev is
    created in, and covers part of, those mounts instead of being hidden by them), then the
    ``binds`` and ``tmpfs_paths`` (made like ``mkdir -p`` where missing), shallowest first.
    """
    cwd = os.path.normpath(cwd)
    if not cwd.startswith(b"/"):
        raise KernelError(errno.EINVAL, f"cwd {cwd!r} is not absolute")
    lower = os.path.abspath(root) if root is not None else b"/"
    ns = MountTable(overlay_of(lower), source=b"overlay")
    if kernel is not None:
        mount_proc(ns, kernel)
    mount_sys(ns)
    tmpfs(ns, b"/tmp")
    ns.mount(DevFS(), b"/dev", source=b"devfs")
    tmpfs(ns, b"/dev/shm")
    sandbox_cwd = cwd
    if root is None:
        if cwd != b"/":
            (overlay if ro else bind)(ns, cwd, cwd)
    else:
        sandbox_cwd = b"/"
        rel = _under(cwd, lower)
        if rel is not None:
            sandbox_cwd = b"/" + rel
        for host, sandbox, _ in binds:
            rel = _under(cwd, host)
            if rel is not None:
                sandbox_cwd = os.path.join(sandbox, rel) if rel else sandbox
                break
    user: list[tuple[bytes, bytes | None, bool]] = [
        *((sb, host, bro) for host, sb, bro in binds),
        *((os.path.normpath(p), None, False) for p in tmpfs_paths),
    ]
    user.sort(key=lambda m: len([c for c in m[0].split(b"/") if c]))
    for sandbox, host, bro in user:
        if host is None:
            tmpfs(ns, sandbox)
        elif ro and not bro:
            overlay(ns, host, sandbox)
        else:
            bind(ns, host, sandbox, readonly=bro)
    return ns, sandbox_cwd


def default_namespace(cwd: bytes, kernel: KernelLike | None = None) -> MountTable:
    """What ``compatd run`` starts with when no mount option is given (``build_namespace``)."""
    return build_namespace(cwd, kernel=kernel)[0]
