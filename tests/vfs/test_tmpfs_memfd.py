"""tmpfs file data lives in a host memfd, so the host can map it."""

from __future__ import annotations

import mmap
import os

from tests.vfs.helpers import World
from vfs import ops
from vfs.flags import O_CREAT, O_RDONLY, O_RDWR
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS


def test_host_fd_is_a_memfd_with_the_data():
    w = World(MountTable(TmpFS()))
    f = ops.open(w.ctx(), b"/f", O_RDWR | O_CREAT, 0o644)
    fd = f.host_fd()
    assert fd is not None and os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:")
    f.write(b"hello")
    f.pwrite(b"!", 8192)
    assert os.fstat(fd).st_size == 8193
    with mmap.mmap(fd, 8193, mmap.MAP_SHARED, mmap.PROT_READ) as m:
        assert m[:5] == b"hello" and m[8192:8193] == b"!"
    f.truncate(3)
    assert os.fstat(fd).st_size == 3 and f.pread(10, 0) == b"hel"
    f.release()
    r = ops.open(w.ctx(), b"/f", O_RDONLY)
    assert r.host_fd() == fd  # one memfd per inode
    r.release()


def test_empty_and_extended_files_need_no_memfd_until_asked():
    w = World(MountTable(TmpFS()))
    f = ops.open(w.ctx(), b"/e", O_RDWR | O_CREAT, 0o644)
    inode = f.inode
    assert inode.fd == -1 and f.pread(10, 0) == b""
    f.truncate(4)
    assert f.pread(10, 0) == bytes(4) and f.stat().size == 4
    assert os.fstat(f.host_fd()).st_size == 4
    f.release()
