"""Sockets against the fake platform: what is compatd-only (families we do not model), and
the model's AF_UNIX without a host process."""

from __future__ import annotations

import errno
import struct

from tests.unit.test_kernel import neg, run

AF_UNIX, AF_INET, AF_NETLINK, AF_PACKET = 1, 2, 16, 17
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3


def test_netlink_and_other_families_are_eafnosupport_and_recorded():
    results, _, kernel, _ = run([("socket", (AF_NETLINK, SOCK_RAW, 0)),
                                 ("socket", (AF_PACKET, SOCK_RAW, 0)),
                                 ("socketpair", (AF_NETLINK, SOCK_DGRAM, 0, 0x10000))])
    assert results == [neg(errno.EAFNOSUPPORT)] * 3
    assert kernel.unsupported == {"socket: address family 16": 1,
                                  "socket: address family 17": 1,
                                  "socketpair: socketpair family 16": 1}


def test_socketpair_roundtrip_and_fstat():
    def prepare(mem):
        return {"sv": mem.alloc(bytes(8)), "msg": mem.alloc(b"hello"), "buf": mem.alloc(bytes(16)),
                "st": mem.alloc(bytes(144))}

    results, _, kernel, mem = run([("socketpair", (AF_UNIX, SOCK_STREAM, 0, "sv")),
                                   ("write", (3, "msg", 5)),
                                   ("read", (4, "buf", 16)),
                                   ("newfstatat", (3, "buf", "st", 0x1000)),
                                   ("close", (3,)),
                                   ("read", (4, "buf", 16)),
                                   ("socket", (AF_UNIX, 0o4000 | SOCK_DGRAM, 0)),
                                   ("recvfrom", (3, "buf", 16, 0, 0, 0))], prepare=prepare)
    assert results[:3] == [0, 5, 5]
    assert results[5] == 0  # end of file once the other end is closed
    assert results[6:] == [3, neg(errno.EAGAIN)]


def test_unknown_sol_socket_option_is_enoprotoopt_and_recorded():
    def prepare(mem):
        return {"v": mem.alloc(struct.pack("<i", 1)), "len": mem.alloc(struct.pack("<i", 4))}

    results, _, kernel, _ = run([("socket", (AF_UNIX, SOCK_STREAM, 0)),
                                 ("setsockopt", (3, 1, 9999, "v", 4)),
                                 ("getsockopt", (3, 1, 2, "v", "len")),
                                 ("getsockopt", (3, 6, 1, "v", "len"))], prepare=prepare)
    assert results == [3, neg(errno.ENOPROTOOPT), 0, neg(errno.EOPNOTSUPP)]
    assert kernel.unsupported == {"setsockopt: setsockopt SOL_SOCKET 9999": 1}


def test_read_and_write_on_a_host_stream_socket():
    """read/write on a host TCP socket (one recv/send each): data both ways, EAGAIN with
    O_NONBLOCK, WouldBlock without, end of file, SO_RCVTIMEO's deadline, EPIPE's SIGPIPE."""
    import time

    import pytest

    from compatd.errors import BrokenPipe, KernelError, WouldBlock
    from tests.unit.test_epoll import host_tcp_pair
    from vfs.flags import O_NONBLOCK

    sf, peer = host_tcp_pair()
    assert sf.write(b"ping") == 4
    assert peer.recv(16) == b"ping"
    with pytest.raises(WouldBlock):
        sf.read(16)
    sf.flags |= O_NONBLOCK
    with pytest.raises(KernelError) as e:
        sf.read(16)
    assert e.value.errno == errno.EAGAIN
    peer.send(b"pong")
    time.sleep(0.05)
    assert sf.read(2) == b"po" and sf.read(16) == b"ng"
    sf.flags &= ~O_NONBLOCK
    sf.rcvtimeo = 0.01
    with pytest.raises(WouldBlock):
        sf.read(16)  # the deadline starts
    assert sf.deadlines
    time.sleep(0.02)
    with pytest.raises(KernelError) as e:
        sf.read(16)
    assert e.value.errno == errno.EAGAIN and not sf.deadlines
    peer.close()
    time.sleep(0.05)
    assert sf.read(16) == b""  # end of file
    with pytest.raises((BrokenPipe, KernelError)) as e:
        for _ in range(10):  # the first write after the peer closed may still go out
            sf.write(b"x")
            time.sleep(0.02)
    assert e.value.errno in (errno.EPIPE, errno.ECONNRESET)
    sf.release()
