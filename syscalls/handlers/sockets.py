"""Sockets: socket, socketpair, bind, listen, accept(4), connect, shutdown, the send and
recv families, get/setsockopt, getsockname/getpeername (the sockets are vfs/sockfs.py).

The handlers decode what the program passed (sockaddrs, struct msghdr, iovecs, cmsgs) from
tracee memory and hand plain values to the socket; what the socket gives back is written
the way net/socket.c and net/core/scm.c write it (move_addr_to_user, put_cmsg,
scm_detach_fds).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from compatd.errors import KernelError, Unsupported, WouldBlock
from compatd.kernel.task import Task
from syscalls.handlers.common import install_pair
from syscalls.handlers.read_write import read_iovecs, scatter_into
from syscalls.table import Level, syscall
from vfs import sockfs
from vfs.flags import O_NONBLOCK
from vfs.sockfs import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    INT,
    MSG_CMSG_CLOEXEC,
    MSG_CTRUNC,
    MSG_DONTWAIT,
    MSG_PEEK,
    MSG_WAITALL,
    MSG_WAITFORONE,
    SCM_CREDENTIALS,
    SCM_MAX_FD,
    SCM_RIGHTS,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
    SOL_SOCKET,
    UCRED,
    Ancillary,
    Received,
    SocketFile,
    blocking,
    socket_of,
    unref,
)

PARTIAL = Level.PARTIAL
FULL = Level.FULL
SOCKADDR_STORAGE = 128
MSGHDR = struct.Struct("<QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags
MMSGHDR_SIZE = MSGHDR.size + 8  # + unsigned msg_len, padding
CMSGHDR = struct.Struct("<QiI")  # cmsg_len, cmsg_level, cmsg_type
UIO_MAXIOV = 1024
UIO_MAXMSG = 1024
CAP_SYS_ADMIN = 21
CAP_SETUID = 7
CAP_SETGID = 6


def cmsg_align(n: int) -> int:
    return (n + 7) & ~7


def sock(t: Task, fd: int) -> SocketFile:
    return socket_of(t.fdt.get(fd))


# addresses ----------------------------------------------------------------------------------
def read_addr(t: Task, addr: int, addrlen: int) -> bytes:
    """move_addr_to_kernel: EINVAL outside 0..sizeof(sockaddr_storage), EFAULT."""
    if not 0 <= addrlen <= SOCKADDR_STORAGE:
        raise KernelError(errno.EINVAL, f"addrlen {addrlen}")
    if addrlen == 0:
        return b""
    return t.mem.read(addr, addrlen)


def write_addr(t: Task, addr: int, lenp: int, raw: bytes) -> None:
    """move_addr_to_user: copy at most the caller's length, report the full one."""
    (ulen,) = INT.unpack(t.mem.read(lenp, 4))
    if ulen < 0:
        raise KernelError(errno.EINVAL, "negative address length")
    n = min(ulen, len(raw))
    if n:
        t.mem.write(addr, raw[:n])
    t.mem.write(lenp, INT.pack(len(raw)))


# socket, socketpair ---------------------------------------------------------------------------
def check_type_flags(type_: int) -> None:
    if type_ & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise KernelError(errno.EINVAL, f"socket type flags {type_:#x}")


@syscall("socket", PARTIAL, "domain:int/socket_family type:flags/socket_type protocol:int",
         unsupported=("families other than AF_UNIX, AF_INET and AF_INET6 (AF_NETLINK, "
                      "AF_PACKET…): EAFNOSUPPORT",
                      "--net none: raw and non-TCP/UDP IP sockets: EPROTONOSUPPORT"))
def sys_socket(t: Task, domain: int, type_: int, protocol: int) -> int:
    check_type_flags(type_)
    sf = sockfs.create(t, domain, type_, protocol)
    try:
        return t.install_fd(sf, cloexec=bool(type_ & SOCK_CLOEXEC))
    except KernelError:
        sf.release()
        raise


@syscall("socketpair", PARTIAL, "domain:int/socket_family type:flags/socket_type "
         "protocol:int sv:struct_out",
         unsupported=("families other than AF_UNIX, AF_INET and AF_INET6: EAFNOSUPPORT "
                      "(Linux creates the socket, then answers EOPNOTSUPP)",))
def sys_socketpair(t: Task, domain: int, type_: int, protocol: int, sv: int) -> int:
    check_type_flags(type_)
    if domain in (AF_INET, AF_INET6):
        raise KernelError(errno.EOPNOTSUPP, "socketpair of IP sockets")
    if domain != AF_UNIX:
        raise Unsupported(errno.EAFNOSUPPORT, f"socketpair family {domain}")
    kind = type_ & SOCK_TYPE_MASK
    if kind not in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET):
        raise KernelError(errno.ESOCKTNOSUPPORT if kind != 3 else errno.EOPNOTSUPP,
                          f"AF_UNIX type {kind}")
    if protocol not in (0, AF_UNIX):
        raise KernelError(errno.EPROTONOSUPPORT, f"AF_UNIX protocol {protocol}")
    a, b = sockfs.socketpair(t.kernel, t, kind, O_NONBLOCK if type_ & SOCK_NONBLOCK else 0)
    return install_pair(t, a, b, bool(type_ & SOCK_CLOEXEC), sv)


# naming and connecting ------------------------------------------------------------------------
@syscall("bind", PARTIAL, "sockfd:fd addr:struct_in addrlen:int",
         unsupported=("AF_UNIX: a host program cannot connect to a socket a sandboxed "
                      "program bound (the name exists; it answers ECONNREFUSED)",))
def sys_bind(t: Task, fd: int, addr: int, addrlen: int) -> int:
    s = sock(t, fd)
    s.proto.bind(t, read_addr(t, addr, addrlen))
    return 0


@syscall("listen", FULL, "sockfd:fd backlog:int")
def sys_listen(t: Task, fd: int, backlog: int) -> int:
    sock(t, fd).proto.listen(backlog)
    return 0


def do_accept4(t: Task, fd: int, addr: int, lenp: int, flags: int) -> int:
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise KernelError(errno.EINVAL, f"accept4 flags {flags:#x}")
    s = sock(t, fd)
    nonblock = s.nonblock
    new: SocketFile = blocking(s, False, lambda: s.proto.accept(nonblock, flags & O_NONBLOCK))
    try:
        peer = new.proto.getpeername()
    except KernelError:
        peer = new.proto.getsockname()[:2]
    nfd = t.install_fd(new, cloexec=bool(flags & SOCK_CLOEXEC))
    if not addr:
        return nfd
    try:
        write_addr(t, addr, lenp, peer)
    except KernelError:
        t.fdt.close(nfd)
        raise
    return nfd


@syscall("accept", FULL, "sockfd:fd addr:struct_out addrlen:struct_inout")
def sys_accept(t: Task, fd: int, addr: int, lenp: int) -> int:
    return do_accept4(t, fd, addr, lenp, 0)


@syscall("accept4", FULL, "sockfd:fd addr:struct_out addrlen:struct_inout "
         "flags:flags/socket_type")
def sys_accept4(t: Task, fd: int, addr: int, lenp: int, flags: int) -> int:
    return do_accept4(t, fd, addr, lenp, flags)


@syscall("connect", PARTIAL, "sockfd:fd addr:struct_in addrlen:int",
         unsupported=("--net none: IPv4-mapped IPv6 addresses reach no IPv4 socket",
                      "AF_UNIX datagrams to host sockets without connect: ECONNREFUSED"))
def sys_connect(t: Task, fd: int, addr: int, addrlen: int) -> int:
    s = sock(t, fd)
    raw = read_addr(t, addr, addrlen)
    nonblock = s.nonblock
    return blocking(s, True, lambda: s.proto.connect(t, raw, nonblock))


@syscall("shutdown", FULL, "sockfd:fd how:int")
def sys_shutdown(t: Task, fd: int, how: int) -> int:
    s = sock(t, fd)
    if not 0 <= how <= 2:
        raise KernelError(errno.EINVAL, f"shutdown how {how}")
    s.proto.shutdown(how)
    return 0


@syscall("getsockname", FULL, "sockfd:fd addr:struct_out addrlen:struct_inout")
def sys_getsockname(t: Task, fd: int, addr: int, lenp: int) -> int:
    write_addr(t, addr, lenp, sock(t, fd).proto.getsockname())
    return 0


@syscall("getpeername", FULL, "sockfd:fd addr:struct_out addrlen:struct_inout")
def sys_getpeername(t: Task, fd: int, addr: int, lenp: int) -> int:
    write_addr(t, addr, lenp, sock(t, fd).proto.getpeername())
    return 0


# options --------------------------------------------------------------------------------
@syscall("getsockopt", PARTIAL, "sockfd:fd level:int optname:int optval:buf_out "
         "optlen:struct_inout",
         unsupported=("model sockets: SOL_SOCKET options other than the common ones "
                      "(SO_PEEK_OFF, SO_TIMESTAMP*, SO_BUSY_POLL…): ENOPROTOOPT",
                      "host sockets: options holding pointers (SO_ATTACH_FILTER, "
                      "TCP_ZEROCOPY_RECEIVE): ENOPROTOOPT"))
def sys_getsockopt(t: Task, fd: int, level: int, name: int, optval: int, lenp: int) -> int:
    s = sock(t, fd)
    (optlen,) = INT.unpack(t.mem.read(lenp, 4))
    if optlen < 0:
        raise KernelError(errno.EINVAL, "negative optlen")
    try:
        value = s.proto.getsockopt(t, level, name, optlen)
    except sockfs._Range as e:
        t.mem.write(lenp, INT.pack(e.need))
        raise
    n = min(optlen, len(value))
    if n:
        t.mem.write(optval, value[:n])
    t.mem.write(lenp, INT.pack(n))
    return 0


@syscall("setsockopt", PARTIAL, "sockfd:fd level:int optname:int optval:buf_in optlen:int",
         unsupported=("model sockets: SOL_SOCKET options other than the common ones: "
                      "ENOPROTOOPT; SO_BINDTODEVICE, SO_PEEK_OFF among them",
                      "host sockets: options holding pointers (SO_ATTACH_FILTER, "
                      "SO_ATTACH_BPF): ENOPROTOOPT"))
def sys_setsockopt(t: Task, fd: int, level: int, name: int, optval: int, optlen: int) -> int:
    s = sock(t, fd)
    if optlen < 0:
        raise KernelError(errno.EINVAL, "negative optlen")
    value = t.mem.read(optval, min(optlen, 1 << 16)) if optlen else b""
    s.proto.setsockopt(t, level, name, value)
    return 0


# sending --------------------------------------------------------------------------------
def parse_control(t: Task, s: SocketFile, control: int, controllen: int) -> Ancillary:
    """__scm_send: SCM_RIGHTS (our open descriptions, one reference each) and
    SCM_CREDENTIALS (checked as scm_check_creds); other levels go to host sockets."""
    anc = Ancillary()
    if not controllen:
        return anc
    if controllen > 1 << 20:
        raise KernelError(errno.ENOBUFS, "control data too large")
    raw = t.mem.read(control, controllen)
    off = 0
    try:
        while off + CMSGHDR.size <= len(raw):
            clen, level, kind = CMSGHDR.unpack_from(raw, off)
            if clen < CMSGHDR.size or off + clen > len(raw):
                raise KernelError(errno.EINVAL, "bad cmsg_len")
            data = raw[off + CMSGHDR.size: off + clen]
            if level == SOL_SOCKET:
                if kind == SCM_RIGHTS:
                    if s.family != AF_UNIX:
                        raise KernelError(errno.EINVAL, "SCM_RIGHTS on a non-unix socket")
                    n = len(data) // 4
                    if len(anc.files) + n > SCM_MAX_FD:
                        raise KernelError(errno.EINVAL, "more than SCM_MAX_FD descriptors")
                    for fd in struct.unpack(f"<{n}i", data[: n * 4]):
                        f = t.fdt.get(fd)
                        f.refs += 1
                        anc.files.append(f)
                elif kind == SCM_CREDENTIALS:
                    if len(data) != UCRED.size:
                        raise KernelError(errno.EINVAL, "SCM_CREDENTIALS length")
                    anc.creds = check_creds(t, UCRED.unpack(data))
                else:
                    raise KernelError(errno.EINVAL, f"SOL_SOCKET cmsg type {kind}")
            elif s.family in (AF_INET, AF_INET6):
                anc.other.append((level, kind, data))
            off += cmsg_align(clen)
    except KernelError:
        anc.drop()
        raise
    return anc


def check_creds(t: Task, cred: tuple[int, int, int]) -> tuple[int, int, int]:
    """scm_check_creds: one's own pid, ids one holds, unless privileged: EPERM."""
    pid, uid, gid = cred
    c = t.creds
    if pid != t.group.tgid and not c.capable(CAP_SYS_ADMIN):
        raise KernelError(errno.EPERM, "SCM_CREDENTIALS pid")
    if uid not in (c.uid, c.euid, c.suid) and not c.capable(CAP_SETUID):
        raise KernelError(errno.EPERM, "SCM_CREDENTIALS uid")
    if gid not in (c.gid, c.egid, c.sgid) and not c.capable(CAP_SETGID):
        raise KernelError(errno.EPERM, "SCM_CREDENTIALS gid")
    if pid != t.group.tgid and pid not in t.kernel.groups:
        raise KernelError(errno.ESRCH, "SCM_CREDENTIALS: no such process in the sandbox")
    return cred


def check_name(s: SocketFile, addr: bytes | None) -> bytes | None:
    """A destination on a connection-mode socket: AF_UNIX stream refuses it (EISCONN when
    connected, else EOPNOTSUPP), seqpacket and TCP ignore it."""
    if addr is None:
        return None
    if s.family == AF_UNIX and s.type == SOCK_STREAM:
        try:
            s.proto.getpeername()
        except KernelError:
            raise KernelError(errno.EOPNOTSUPP, "address on a stream socket") from None
        raise KernelError(errno.EISCONN, "address on a connected stream socket")
    if s.type == SOCK_SEQPACKET or (s.type == SOCK_STREAM
                                    and not isinstance(s.proto, sockfs.HostProto)):
        return None
    return addr


def do_send(t: Task, fd: int, data: bytes, flags: int, addr: bytes | None,
            anc: Ancillary | None) -> int:
    s = sock(t, fd)
    try:
        addr = check_name(s, addr)
        ret = s.send(data, flags, addr, anc)
    except WouldBlock as e:
        if anc is not None and e.retry is None:
            anc.drop()  # the handler runs again and takes its own references
        raise
    except BaseException:
        if anc is not None:
            anc.drop()
        raise
    if anc is not None:
        anc.drop()  # what was not queued
    return ret


def read_msghdr(t: Task, msg: int) -> tuple[int, ...]:
    return MSGHDR.unpack(t.mem.read(msg, MSGHDR.size))


def gather_msg(t: Task, iov: int, iovlen: int) -> bytes:
    if iovlen > UIO_MAXIOV:
        raise KernelError(errno.EMSGSIZE, "iovlen beyond UIO_MAXIOV")
    vecs = read_iovecs(t, iov, iovlen)
    return b"".join(t.mem.read(b, n) for b, n in vecs if n)


def do_sendmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    s = sock(t, fd)
    name, namelen, iov, iovlen, control, controllen, _ = read_msghdr(t, msg)
    addr = None
    if name and namelen:
        # copy_msghdr_from_user caps msg_namelen at sizeof(struct sockaddr_storage)
        addr = read_addr(t, name, min(namelen, SOCKADDR_STORAGE))
    data = gather_msg(t, iov, iovlen)
    anc = parse_control(t, s, control, controllen)
    return do_send(t, fd, data, flags, addr, anc)


@syscall("sendto", PARTIAL, "sockfd:fd buf:buf_in len:size flags:flags/msg "
         "dest_addr:struct_in addrlen:int",
         unsupported=("MSG_OOB on AF_UNIX: EOPNOTSUPP",))
def sys_sendto(t: Task, fd: int, buf: int, length: int, flags: int, dest: int,
               addrlen: int) -> int:
    sock(t, fd)
    data = t.mem.read(buf, min(length, 0x7FFFF000)) if length else b""
    addr = read_addr(t, dest, addrlen) if dest and addrlen else None
    return do_send(t, fd, data, flags, addr, None)


@syscall("sendmsg", PARTIAL, "sockfd:fd msg:struct_in flags:flags/msg",
         unsupported=("MSG_OOB on AF_UNIX: EOPNOTSUPP",
                      "SCM_RIGHTS to a host socket (an X server…): EPERM"))
def sys_sendmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    return do_sendmsg(t, fd, msg, flags)


@syscall("sendmmsg", PARTIAL, "sockfd:fd msgvec:struct_inout vlen:uint flags:flags/msg",
         unsupported=("as sendmsg",))
def sys_sendmmsg(t: Task, fd: int, vec: int, vlen: int, flags: int) -> int:
    return do_mmsg(t, fd, vec, vlen, lambda entry, done: do_sendmsg(t, fd, entry, flags))


def do_mmsg(t: Task, fd: int, vec: int, vlen: int,
            one: Callable[[int, int], int]) -> int:
    """sendmmsg/recvmmsg: ``one(entry, done)`` per struct mmsghdr, its byte count stored in
    msg_len; an error after the first message ends the batch with the count so far."""
    sock(t, fd)
    done = 0
    for i in range(min(vlen, UIO_MAXMSG)):
        entry = vec + i * MMSGHDR_SIZE
        try:
            n = one(entry, done)
        except (KernelError, WouldBlock):
            if done:
                return done
            raise
        t.mem.write(entry + MSGHDR.size, struct.pack("<I", n & 0xFFFFFFFF))
        done += 1
    return done


# receiving ------------------------------------------------------------------------------
def receive(t: Task, s: SocketFile, size: int, flags: int, want_addr: bool,
            controllen: int) -> Received:
    """One receive with its waiting: O_NONBLOCK/MSG_DONTWAIT, SO_RCVTIMEO, MSG_WAITALL on
    a stream (keeps what it got across waits)."""
    nonblock = s.nonblock or bool(flags & MSG_DONTWAIT)
    proto = s.proto

    def once() -> Received:
        return proto.recv(size, flags, nonblock, want_addr, controllen)

    if not (flags & MSG_WAITALL and s.type == SOCK_STREAM and not nonblock
            and not flags & MSG_PEEK):
        return blocking(s, False, once)
    # MSG_WAITALL: what came before a wait is kept on the socket for this task; the
    # handler runs again when more may have come.
    tid = t.tid
    got = s.waitall.pop(tid, [])

    def more() -> Received:
        while True:
            have = sum(len(r.data) for r in got)
            try:
                r = proto.recv(size - have, flags & ~MSG_WAITALL, False, want_addr,
                               controllen)
            except WouldBlock:
                if got:
                    s.waitall[tid] = got
                raise
            except KernelError:
                if got:
                    return _merge(got)
                raise
            got.append(r)
            have += len(r.data)
            if not r.data or have >= size or r.files:
                return _merge(got)

    return blocking(s, False, more)


def _merge(parts: list[Received]) -> Received:
    first = parts[0]
    data = b"".join(p.data for p in parts)
    return Received(data, addr=first.addr, files=first.files, creds=first.creds,
                    flags=first.flags, cmsgs=first.cmsgs)


def scatter(t: Task, iov: int, iovlen: int) -> tuple[list[tuple[int, int]], int]:
    if iovlen > UIO_MAXIOV:
        raise KernelError(errno.EMSGSIZE, "iovlen beyond UIO_MAXIOV")
    vecs = read_iovecs(t, iov, iovlen)
    return vecs, sum(n for _, n in vecs)


def put_control(t: Task, s: SocketFile, r: Received, control: int, controllen: int,
                flags: int) -> tuple[int, int]:
    """put_cmsg and scm_detach_fds: the control bytes written and MSG_CTRUNC. Descriptions
    that do not fit are dropped (their references released), as Linux closes them."""
    out = bytearray()
    ctrunc = 0
    cmsgs: list[tuple[int, int, bytes]] = []
    passcred = s.family == AF_UNIX and getattr(s.proto, "passcred", lambda: False)()
    if passcred and r.creds is not None:
        cmsgs.append((SOL_SOCKET, SCM_CREDENTIALS, UCRED.pack(*r.creds)))
    cmsgs.extend(r.cmsgs)

    def put(level: int, kind: int, data: bytes) -> None:
        nonlocal ctrunc
        room = controllen - len(out)
        if not control or room < CMSGHDR.size:
            ctrunc = MSG_CTRUNC
            return
        clen = CMSGHDR.size + len(data)
        rec = CMSGHDR.pack(clen, level, kind) + data
        if room < clen:
            ctrunc = MSG_CTRUNC
            rec = rec[:room]
        out.extend(rec)
        pad = cmsg_align(clen) - clen
        out.extend(bytes(min(pad, controllen - len(out))))

    for level, kind, data in cmsgs:
        put(level, kind, data)
    files = r.files
    r.files = None
    if files:
        try:
            room = controllen - len(out) if control else 0
            fdmax = max(0, (room - CMSGHDR.size) // 4) if room > CMSGHDR.size else 0
            fds: list[int] = []
            cloexec = bool(flags & MSG_CMSG_CLOEXEC)
            for f in files[:fdmax]:
                try:
                    fds.append(t.install_fd(f, cloexec=cloexec))
                except KernelError:
                    break
            if fds:
                data = struct.pack(f"<{len(fds)}i", *fds)
                clen = CMSGHDR.size + len(data)
                out.extend(CMSGHDR.pack(clen, SOL_SOCKET, SCM_RIGHTS) + data)
                out.extend(bytes(min(cmsg_align(clen) - clen, controllen - len(out))))
            if len(fds) < len(files):
                ctrunc = MSG_CTRUNC
        finally:
            for f in files:
                unref(f)  # the message's reference; installed ones hold their own
    if out:
        t.mem.write(control, bytes(out))
    return len(out), ctrunc


def drop_received(r: Received) -> None:
    if r.files:
        for f in r.files:
            unref(f)
        r.files = None


def do_recvmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    s = sock(t, fd)
    name, namelen, iov, iovlen, control, controllen, _ = read_msghdr(t, msg)
    vecs, total = scatter(t, iov, iovlen)
    if namelen > 0x7FFFFFFF:
        raise KernelError(errno.EINVAL, "namelen")
    r = receive(t, s, total, flags, bool(name), controllen)
    try:
        scatter_into(t, vecs, r.data)
        raw = r.addr if name else None
        if raw is not None:
            t.mem.write(name, raw[:namelen])
        used, ctrunc = put_control(t, s, r, control, controllen, flags)
    finally:
        drop_received(r)
    out_namelen = len(raw) if raw is not None else 0
    t.mem.write(msg + 8, struct.pack("<I", out_namelen))
    t.mem.write(msg + 40, struct.pack("<Q", used))
    t.mem.write(msg + 48, INT.pack(r.flags | ctrunc))
    return r.length


@syscall("recvfrom", PARTIAL, "sockfd:fd buf:buf_out len:size flags:flags/msg "
         "src_addr:struct_out addrlen:struct_inout",
         unsupported=("MSG_OOB on AF_UNIX: EOPNOTSUPP", "SO_PEEK_OFF"))
def sys_recvfrom(t: Task, fd: int, buf: int, length: int, flags: int, addr: int,
                 lenp: int) -> int:
    s = sock(t, fd)
    r = receive(t, s, min(length, 0x7FFFF000), flags & ~MSG_CMSG_CLOEXEC, bool(addr), 0)
    drop_received(r)
    if r.data:
        t.mem.write(buf, r.data)
    if addr:
        write_addr(t, addr, lenp, r.addr or b"")
    return r.length


@syscall("recvmsg", PARTIAL, "sockfd:fd msg:struct_inout flags:flags/msg",
         unsupported=("MSG_OOB on AF_UNIX: EOPNOTSUPP", "MSG_ERRQUEUE: EAGAIN",
                      "SO_PEEK_OFF"))
def sys_recvmsg(t: Task, fd: int, msg: int, flags: int) -> int:
    return do_recvmsg(t, fd, msg, flags)


@syscall("recvmmsg", PARTIAL, "sockfd:fd msgvec:struct_inout vlen:uint flags:flags/msg "
         "timeout:struct_in",
         unsupported=("the timeout is not applied (Linux checks it only between "
                      "datagrams)", "without MSG_WAITFORONE it returns what is queued after "
                      "the first message instead of waiting for vlen", "as recvmsg"))
def sys_recvmmsg(t: Task, fd: int, vec: int, vlen: int, flags: int, timeout: int) -> int:
    base = flags & ~MSG_WAITFORONE

    def one(entry: int, done: int) -> int:
        return do_recvmsg(t, fd, entry, base | MSG_DONTWAIT if done else base)

    return do_mmsg(t, fd, vec, vlen, one)

