"""pipefs: page-slot capacity, atomic small writes, blocking as WouldBlock with resumable
retries, FIFO opens meeting, pipe sizes."""

from __future__ import annotations

import errno

import pytest

from compatd.errors import BrokenPipe, KernelError, WouldBlock
from tests.vfs.helpers import raises
from vfs.flags import O_NONBLOCK, O_RDONLY, O_WRONLY
from vfs.pipefs import make_pipe, open_fifo, round_pipe_size
from vfs.tmpfs import TmpFS


def test_capacity_counts_pages():
    """100-byte writes merge into pages: 40 per page, 16 pages."""
    r, w = make_pipe(0, 0, O_NONBLOCK)
    total = 0
    while True:
        try:
            total += w.write(bytes(100))
        except KernelError as e:
            assert e.errno == errno.EAGAIN
            break
    assert total == 16 * 40 * 100
    r.release()
    w.release()


def test_small_writes_are_atomic_and_large_ones_resume():
    r, w = make_pipe(0, 0, 0)
    assert w.write(bytes(65536 - 10)) == 65526
    with pytest.raises(WouldBlock):
        w.write(bytes(100))  # no free slot, no room in the last page: all or nothing
    with pytest.raises(WouldBlock) as ei:
        w.write(b"a" * 10 + b"b" * 8192)  # the 10-byte tail merges, the rest waits
    retry = ei.value.retry
    assert retry is not None
    assert r.read(8192) == bytes(8192)
    assert retry() == 8202
    r.read(65536 - 10 - 8192)
    assert r.read(100000) == b"a" * 10 + b"b" * 8192


def test_blocking_read_and_eof_and_epipe():
    r, w = make_pipe(0, 0, 0)
    with pytest.raises(WouldBlock):
        r.read(1)
    w.release()
    assert r.read(1) == b""
    r2, w2 = make_pipe(0, 0, 0)
    r2.release()
    with pytest.raises(BrokenPipe):
        w2.write(b"x")
    assert w2.write(b"") == 0


def test_fifo_opens_meet():
    inode = TmpFS().root.create(b"fifo", 0o10644, 0, 0)  # a FIFO: S_IFIFO on a tmpfs
    raises(errno.ENXIO, open_fifo, inode, O_WRONLY | O_NONBLOCK)
    with pytest.raises(WouldBlock) as ei:
        open_fifo(inode, O_RDONLY)  # waits for a writer, but counts as a reader meanwhile
    w = open_fifo(inode, O_WRONLY)
    assert ei.value.retry is not None
    r = ei.value.retry()
    assert w.write(b"hi") == 2 and r.read(10) == b"hi"
    w.release()
    r.release()


def test_a_pipe_reopened_opens_at_once():
    """/proc/self/fd/0 of a pipe whose writer is gone: fifo_open's is_pipe, no waiting, and
    the same buffer."""
    r, w = make_pipe(0, 0, 0)
    w.write(b"left")
    w.release()
    again = open_fifo(r.inode, O_RDONLY)
    assert again.read(10) == b"left"
    again.release()
    r.release()


def test_pipe_sizes():
    assert round_pipe_size(0) == 4096
    assert round_pipe_size(5000) == 8192
    assert round_pipe_size(65537) == 131072
    assert round_pipe_size(1 << 32) == 0
    r, w = make_pipe(0, 0, 0)
    raises(errno.EPERM, w.pipe.set_size, 2 << 20, False)
    assert w.pipe.set_size(2 << 20, True) == 2 << 20
    w.write(bytes(3 * 4096))
    raises(errno.EBUSY, w.pipe.set_size, 8192, False)
    raises(errno.EINVAL, w.pipe.set_size, 0x80000001, False)
