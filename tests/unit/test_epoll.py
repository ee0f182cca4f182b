"""The readiness model without a tracee: pipe poll masks, epoll's ready list (level, edge,
one-shot), interests leaving with the description, eventfd and nested instances."""

from __future__ import annotations

from compatd.kernel.fdtable import FDTable
from vfs.anonfs import EventFd
from vfs.base import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from vfs.epoll import EPOLLET, EPOLLONESHOT, EpollFile, would_loop
from vfs.pipefs import make_pipe


def events(ep: EpollFile, maxevents: int = 8) -> list[tuple[int, int]]:
    got = ep.collect(maxevents)
    ep.commit(got)
    return [(item.data, rev) for item, rev in got]


def test_pipe_poll_masks() -> None:
    r, w = make_pipe(0, 0, 0)
    r.refs = w.refs = 1
    assert r.poll() == 0
    assert w.poll() == POLLOUT | POLLWRNORM
    w.write(b"x")
    assert r.poll() == POLLIN | POLLRDNORM
    w.release()
    assert r.poll() == POLLIN | POLLRDNORM | POLLHUP
    r2, w2 = make_pipe(0, 0, 0)
    r2.release()
    assert w2.poll() == POLLOUT | POLLWRNORM | POLLERR


def test_level_edge_oneshot() -> None:
    r, w = make_pipe(0, 0, 0)
    ep = EpollFile()
    ep.insert(r, 3, POLLIN, 1)
    assert events(ep) == []
    w.write(b"ab")
    assert events(ep) == [(1, POLLIN)]
    assert events(ep) == [(1, POLLIN)]  # level: still ready
    item = ep.find(r, 3)
    assert item is not None
    ep.modify(item, POLLIN | EPOLLET, 2)
    assert events(ep) == [(2, POLLIN)]
    assert events(ep) == []  # edge: once per wakeup
    r.read(1)
    assert events(ep) == []  # a read wakes no reader
    w.write(b"c")
    assert events(ep) == [(2, POLLIN)]  # every write wakes readers
    ep.modify(item, POLLIN | EPOLLONESHOT, 3)
    assert events(ep) == [(3, POLLIN)]
    w.write(b"d")
    assert events(ep) == []  # disabled until MOD


def test_interest_leaves_with_the_description() -> None:
    r, w = make_pipe(0, 0, 0)
    fdt = FDTable()
    fdt.install_at(3, r)
    fdt.install_at(4, r)  # a dup
    fdt.install_at(5, w)
    ep = EpollFile()
    ep.insert(r, 3, POLLIN, 7)
    fdt.close(3)
    w.write(b"x")
    assert events(ep) == [(7, POLLIN)]  # the description lives on in fd 4
    fdt.close(4)
    assert ep.items == {}
    assert events(ep) == []


def test_eventfd_and_nesting() -> None:
    e = EventFd(0, 0, semaphore=True)
    inner, outer = EpollFile(), EpollFile()
    outer.insert(inner, 4, POLLIN, 10)
    inner.insert(e, 3, POLLIN | EPOLLET, 11)
    assert outer.poll() == 0 and inner.poll() == 0
    e.write((2).to_bytes(8, "little"))
    assert inner.poll() == POLLIN | POLLRDNORM
    assert events(outer) == [(10, POLLIN)]
    assert events(inner) == [(11, POLLIN)]
    assert e.read(8) == (1).to_bytes(8, "little")
    assert would_loop(inner, outer)
    assert not would_loop(EpollFile(), EpollFile())
