"""Shared helpers for the VFS tests: credentials, a namespace world, errno assertions."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from compatd.errors import KernelError
from vfs import ops
from vfs.base import Dentry
from vfs.flags import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY
from vfs.mount import MountTable


@dataclass
class Creds:
    fsuid: int = 0
    fsgid: int = 0
    groups: list[int] = field(default_factory=list)

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups


ROOT = Creds()
USER = Creds(1000, 1000)
OTHER = Creds(1001, 1001)


def raises(err: int, fn, *args, **kw) -> KernelError:
    with pytest.raises(KernelError) as ei:
        fn(*args, **kw)
    assert ei.value.errno == err, f"expected errno {err}, got {ei.value}"
    return ei.value


class World:
    """A namespace and the usual things tests do in it."""

    def __init__(self, ns: MountTable, kind: str = "") -> None:
        self.ns = ns
        self.kind = kind
        self.root = ns.root_dentry()

    def ctx(self, creds: Creds = ROOT, start: Dentry | None = None,
            umask: int = 0o022) -> ops.PathContext:
        return ops.PathContext(self.root, start if start is not None else self.root, creds,
                               umask)

    def write(self, path: bytes, data: bytes, creds: Creds = ROOT, mode: int = 0o644) -> None:
        f = ops.open(self.ctx(creds), path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        try:
            assert f.write(data) == len(data)
        finally:
            f.release()

    def read(self, path: bytes, creds: Creds = ROOT) -> bytes:
        f = ops.open(self.ctx(creds), path, O_RDONLY)
        try:
            return f.read(1 << 20)
        finally:
            f.release()

    def names(self, path: bytes) -> list[bytes]:
        f = ops.open(self.ctx(), path, O_RDONLY)
        try:
            return [e.name for e in f.readdir()][2:]
        finally:
            f.release()
