"""Fixtures: one world per writable filesystem, so every conformance test runs on each."""

from __future__ import annotations

import pytest

from tests.vfs.helpers import World
from vfs import ops
from vfs.hostfs import HostFS
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

WRITABLE = ["tmpfs", "hostfs"]


def make_world(kind: str, tmp_path) -> World:
    if kind == "tmpfs":
        ns = MountTable(TmpFS())
    else:
        host = tmp_path / "hostfs-root"
        host.mkdir()
        ns = MountTable(HostFS(bytes(host), readonly=False))
    w = World(ns, kind)
    ops.chmod(w.ctx(), b"/", 0o755)  # pytest's tmp_path is 0700: let other users search
    return w


@pytest.fixture(params=WRITABLE)
def world(request, tmp_path) -> World:
    return make_world(request.param, tmp_path)
