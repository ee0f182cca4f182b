"""Fixtures: one world per writable filesystem, so every conformance test runs on each."""

from __future__ import annotations

import os

import pytest

from tests.vfs.helpers import World
from vfs import ops
from vfs.hostfs import HostFS
from vfs.mount import MountTable
from vfs.overlay import OverlayFS
from vfs.tmpfs import TmpFS

WRITABLE = ["tmpfs", "hostfs", "overlay"]


def make_world(kind: str, tmp_path) -> World:
    if kind == "tmpfs":
        ns = MountTable(TmpFS())
    elif kind == "overlay":
        # The namespace root is a directory both layers have (empty in the lower, so the
        # tests see only their own names), below a lower directory with other entries: the
        # first change copies both up. tests/vfs/test_overlay.py covers lower files.
        lower = tmp_path / "overlay-lower"
        (lower / "world").mkdir(parents=True)
        (lower / "beside").mkdir()
        (lower / "beside" / "file").write_bytes(b"from the lower layer")
        os.chmod(lower, 0o755)
        fs = OverlayFS(HostFS(bytes(lower), readonly=True).root, TmpFS().root)
        ns = MountTable(fs, root=fs.root.lookup(b"world"))
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
