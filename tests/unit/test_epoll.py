"""The readiness model without a tracee: pipe poll masks, epoll's ready list (level, edge,
one-shot), interests leaving with the description, eventfd and nested instances, host
sockets asked together."""

from __future__ import annotations

import socket
import time

from compatd.kernel.fdtable import FDTable
from vfs.anonfs import EventFd
from vfs.base import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from vfs.epoll import EPOLLET, EPOLLONESHOT, EpollFile, would_loop
from vfs.pipefs import make_pipe
from vfs.sockfs import AF_INET, SOCK_STREAM, HostProto, SocketFile


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


class CountingPoller:
    """The instance's host poll set, counting the poll(2) calls it makes."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    def register(self, fd: int, events: int) -> None:
        self.real.register(fd, events)  # type: ignore[attr-defined]

    def unregister(self, fd: int) -> None:
        self.real.unregister(fd)  # type: ignore[attr-defined]

    def poll(self, timeout: int) -> list[tuple[int, int]]:
        self.calls += 1
        return self.real.poll(timeout)  # type: ignore[attr-defined,no-any-return]


def host_tcp_pair() -> tuple[object, socket.socket]:
    """A SocketFile on a host TCP socket, and the native peer it is connected to."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    peer = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    sf = SocketFile(None, AF_INET, SOCK_STREAM, 6, 0, 0, 0)
    HostProto(sf, conn)
    sf.refs = 1
    return sf, peer


def test_host_sockets_are_asked_in_one_poll() -> None:
    """Interests on host sockets: one poll(2) per epoll_wait for all of them, with the
    same answers as asking each (level, edge, one-shot, a dup, removal, close)."""
    socks = [host_tcp_pair() for _ in range(3)]
    ep = EpollFile()
    counter = CountingPoller(ep.host_poller)
    ep.host_poller = counter  # type: ignore[assignment]
    for i, (sf, _) in enumerate(socks):
        ep.insert(sf, 10 + i, POLLIN, i)
    (a, pa), (b, pb), (c, pc) = socks
    ep.insert(a, 20, POLLIN | EPOLLET, 99)  # a second fd for the same description
    assert len(ep.host_fds) == 3
    assert events(ep) == [] and counter.calls == 1
    pa.send(b"x")
    pc.send(b"y")
    time.sleep(0.05)
    counter.calls = 0
    got = events(ep)
    assert counter.calls == 1
    assert sorted(got) == [(0, POLLIN), (2, POLLIN), (99, POLLIN)]
    assert sorted(events(ep)) == [(0, POLLIN), (2, POLLIN)]  # level stays, edge reported once
    assert a.read(10) == b"x"
    assert events(ep) == [(2, POLLIN)]
    item = ep.find(c, 12)
    assert item is not None
    ep.modify(item, POLLIN | EPOLLONESHOT, 5)
    assert events(ep) == [(5, POLLIN)]
    assert events(ep) == []  # disabled until MOD
    ep.remove(item)
    pb.send(b"z")
    time.sleep(0.05)
    assert events(ep) == [(1, POLLIN)]
    assert len(ep.host_fds) == 2
    ep.remove(ep.find(a, 10))  # type: ignore[arg-type]
    assert len(ep.host_fds) == 2  # fd 20 still names it
    pa.close()
    time.sleep(0.05)
    assert sorted(events(ep)) == [(1, POLLIN), (99, POLLIN)]  # EOF: readable again (edge)
    ep.release()
    assert ep.host_fds == {} and ep.items == {}
    for sf, peer in socks:
        sf.release()
        peer.close()
