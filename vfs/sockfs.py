"""sockfs: sockets as open file descriptions.

A ``SocketFile`` is the open file description of a socket (what ``dup`` shares, what
``read``/``write``/``readv``/``writev`` and ``poll`` reach); its ``proto`` does the work:

- ``UnixProto`` models AF_UNIX entirely in the supervisor (net/unix/af_unix.c): stream,
  datagram and seqpacket; names bound in our VFS (an S_IFSOCK inode appears where the
  program binds), abstract names in a per-sandbox table, autobind, unnamed pairs;
  SCM_RIGHTS carries our open file descriptions, SCM_CREDENTIALS and SO_PEERCRED the
  model's pid/uid/gid. The same model, with IPv4/IPv6 loopback addresses instead of names,
  is the sandbox's private loopback network under ``--net none`` (``LoopProto``).
- ``HostProto`` wraps a host socket the supervisor owns, always non-blocking: AF_INET and
  AF_INET6 (``--net host``/``loopback``), and an AF_UNIX socket connected to a host socket
  outside the sandbox (an X server, nscd) or to an abstract name nobody in the sandbox bound.
  A call that must wait arms a watch on the host fd (``Kernel.watch_host_fd``) and raises
  ``WouldBlock``; the loop retries it when the fd is ready.

Where a sandboxed program binds a path, the filesystem gets a socket inode: tmpfs an
in-memory node, hostfs a real S_IFSOCK node made by mknod (what a native bind leaves on
disk), the overlay one in its upper layer. No host socket is bound there: a host program
connecting to that file gets ECONNREFUSED (a gap; a host listener relaying into the
sandbox could be added where a policy wants it). The model keeps the bound socket by the
inode's identity, so a connect that resolves the path (through symlinks, bind mounts,
hard links) meets it.

Blocking: a call that would wait raises ``WouldBlock`` (or EAGAIN with O_NONBLOCK or
MSG_DONTWAIT); ``blocking()`` turns SO_RCVTIMEO/SO_SNDTIMEO into a deadline with a timer.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket as pysocket
import stat as st
import struct
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from compatd.errors import BrokenPipe, KernelError, Unsupported, WouldBlock
from vfs.base import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    Filesystem,
    Inode,
    OpenFile,
    Stat,
    StatFs,
)
from vfs.common import now_ns
from vfs.flags import O_NONBLOCK, O_RDWR

try:
    from vfs.base import WaitQueue
except ImportError:  # the readiness model's queue (epoll) is not there yet

    class WaitQueue:  # type: ignore[no-redef]
        __slots__ = ("entries",)

        def __init__(self) -> None:
            self.entries: dict[object, None] = {}

        def wake(self, mask: int = 0) -> None:
            for entry in list(self.entries):
                entry.wakeup(mask)  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from vfs.base import Dentry

SOCKFS_MAGIC = 0x534F434B

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 0, 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000

MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTROUTE = 0x4
MSG_CTRUNC = 0x8
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_CONFIRM = 0x800
MSG_ERRQUEUE = 0x2000
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000
MSG_WAITFORONE = 0x10000
MSG_FASTOPEN = 0x20000000
MSG_CMSG_CLOEXEC = 0x40000000

SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2

SOL_SOCKET = 1
SCM_RIGHTS = 1
SCM_CREDENTIALS = 2
SCM_MAX_FD = 253

SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE, SO_BROADCAST = 1, 2, 3, 4, 5, 6
SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE, SO_NO_CHECK, SO_PRIORITY = 7, 8, 9, 10, 11, 12
SO_LINGER, SO_BSDCOMPAT, SO_REUSEPORT, SO_PASSCRED, SO_PEERCRED = 13, 14, 15, 16, 17
SO_RCVLOWAT, SO_SNDLOWAT, SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD = 18, 19, 20, 21
SO_BINDTODEVICE = 25
SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27
SO_TIMESTAMP_OLD = 29
SO_ACCEPTCONN = 30
SO_PEERSEC = 31
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
SO_PASSSEC = 34
SO_MARK = 36
SO_PROTOCOL, SO_DOMAIN = 38, 39
SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_CBPF, SO_ATTACH_REUSEPORT_EBPF = 50, 51, 52
SO_PEERGROUPS = 59
SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW = 66, 67
SO_ZEROCOPY = 60
IPPROTO_TCP = 6
TCP_ZEROCOPY_RECEIVE = 35

FIONREAD = SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
FIONBIO = 0x5421

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13

# What the model reports for buffer sizes (net.core.{w,r}mem_default) and allows
# (net.core.{w,r}mem_max), and the datagram queue length of an AF_UNIX socket.
def _sysctl(name: str, default: int) -> int:
    try:
        with open(f"/proc/sys/{name}", "rb") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


WMEM_DEFAULT = _sysctl("net/core/wmem_default", 212992)
RMEM_DEFAULT = _sysctl("net/core/rmem_default", 212992)
WMEM_MAX = _sysctl("net/core/wmem_max", 212992)
RMEM_MAX = _sysctl("net/core/rmem_max", 212992)
MAX_DGRAM_QLEN = _sysctl("net/unix/max_dgram_qlen", 10)
SOCK_MIN_SNDBUF = 4608
SOCK_MIN_RCVBUF = 2304
SOMAXCONN = _sysctl("net/core/somaxconn", 4096)
EPHEMERAL = tuple(int(x) for x in
                  (open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
                   if os.path.exists("/proc/sys/net/ipv4/ip_local_port_range")
                   else ("32768", "60999")))

INT = struct.Struct("<i")
UCRED = struct.Struct("<iII")
TIMEVAL = struct.Struct("<qq")
LINGER = struct.Struct("<ii")
UNIX_PATH_MAX = 108
SUN_PATH_OFFSET = 2


# --- network mode (--net) ------------------------------------------------------------------
class NetConfig:
    """``--net``: host (the host's network, as natively), loopback (host sockets limited
    to 127.0.0.0/8 and ::1), none (a loopback network private to the sandbox: the model).
    """

    mode = "host"
    # Connections to host AF_UNIX sockets (an X server, nscd): allowed by default; the
    # policy issue decides later. Abstract names belong to the network namespace: under
    # --net none the sandbox has its own and sees no host abstract name.
    host_unix = True
    # Set while a policy with network rules is loaded (policies/engine.py): called with
    # (1 connect | 2 bind, family, host, port) before a host or loopback address is used;
    # raises KernelError to deny.
    policy_hook: Callable[[int, int, str, int], None] | None = None
    # Set while a policy with file rules is loaded: called with each host fd that arrives
    # with SCM_RIGHTS on a host socket, before it becomes a descriptor of the program
    # (Linux's security_file_receive); raises KernelError to refuse it.
    receive_hook: Callable[[int], None] | None = None


NET = NetConfig()


def set_net_mode(mode: str) -> None:
    if mode not in ("host", "loopback", "none"):
        raise ValueError(f"--net {mode}: host, loopback or none")
    NET.mode = mode


# --- the filesystem and inodes ---------------------------------------------------------------
class SockFS(Filesystem):
    name = "sockfs"
    magic = SOCKFS_MAGIC


SOCKFS = SockFS()


class SockInode(Inode):
    """The inode of one socket: S_IFSOCK 0777, owned by its creator (as sock_alloc)."""

    __slots__ = ("uid", "gid", "times")

    def __init__(self, uid: int, gid: int) -> None:
        super().__init__(SOCKFS, SOCKFS.new_ino())
        self.uid = uid
        self.gid = gid
        self.times = now_ns()

    def stat(self) -> Stat:
        t = self.times
        return Stat(dev=SOCKFS.dev, ino=self.ino, mode=st.S_IFSOCK | 0o777, nlink=1,
                    uid=self.uid, gid=self.gid, blksize=4096, atime_ns=t, mtime_ns=t,
                    ctime_ns=t)

    def chmod(self, mode: int) -> None:
        return None

    def chown(self, uid: int, gid: int) -> None:
        if uid != -1:
            self.uid = uid
        if gid != -1:
            self.gid = gid

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        return None


# --- what travels with a message ---------------------------------------------------------
def unref(f: OpenFile) -> None:
    """Drop one reference to an open description (in flight in a message, or installed)."""
    f.refs -= 1
    if f.refs == 0:
        f.release()


class Message:
    """One record in a receive queue: a datagram, a seqpacket record, or a stream write."""

    __slots__ = ("data", "files", "creds", "addr", "sender")

    def __init__(self, data: bytes, files: list[OpenFile] | None,
                 creds: tuple[int, int, int] | None, addr: bytes | None,
                 sender: Any = None) -> None:
        self.data = bytearray(data)
        self.files = files
        self.creds = creds
        self.addr = addr
        self.sender = sender

    def drop(self) -> None:
        if self.files:
            for f in self.files:
                unref(f)
            self.files = None


class Received:
    """What a receive returns to the handler: data, the source address, ancillary data."""

    __slots__ = ("data", "length", "addr", "files", "creds", "flags", "cmsgs")

    def __init__(self, data: bytes, length: int | None = None, addr: bytes | None = None,
                 files: list[OpenFile] | None = None, creds: tuple[int, int, int] | None = None,
                 flags: int = 0, cmsgs: list[tuple[int, int, bytes]] | None = None) -> None:
        self.data = data
        self.length = len(data) if length is None else length  # the call's return value
        self.addr = addr
        self.files = files  # references owned by this object until installed or dropped
        self.creds = creds
        self.flags = flags  # MSG_TRUNC/MSG_EOR… for msg_flags
        self.cmsgs = cmsgs or []  # other (level, type, data), from host sockets


class Ancillary:
    """What a send carries besides data: open descriptions (SCM_RIGHTS, one reference each,
    owned until queued), credentials (SCM_CREDENTIALS), host-level cmsgs (IP_PKTINFO…)."""

    __slots__ = ("files", "creds", "other")

    def __init__(self) -> None:
        self.files: list[OpenFile] = []
        self.creds: tuple[int, int, int] | None = None
        self.other: list[tuple[int, int, bytes]] = []

    def drop(self) -> None:
        for f in self.files:
            unref(f)
        self.files = []


# --- the open file ---------------------------------------------------------------------------
class SocketFile(OpenFile):
    """An open socket. Options common to every family (timeouts, SO_*) live here; the
    family's behaviour is in ``proto``."""

    seekable = False

    def __init__(self, kernel: Any, family: int, type_: int, protocol: int, flags: int,
                 uid: int, gid: int) -> None:
        super().__init__(SockInode(uid, gid), O_RDWR | (flags & O_NONBLOCK))
        self.kernel = kernel
        self.family = family
        self.type = type_
        self.protocol = protocol
        self.rcvtimeo = 0.0  # seconds; 0: no timeout
        self.sndtimeo = 0.0
        # (tid, sending) -> when a blocked call's SO_RCVTIMEO/SO_SNDTIMEO runs out
        self.deadlines: dict[tuple[int, bool], float] = {}
        # tid -> what a MSG_WAITALL receive got before it had to wait
        self.waitall: dict[int, list[Received]] = {}
        self.wq = WaitQueue()  # woken where Linux's sk_data_ready/sk_write_space are
        self.proto: Proto = NullProto()

    # data through read/write/readv/writev ---------------------------------------------------
    # read and write are what a server does per request: no closures, no Received object;
    # what they do is blocking()'s with the proto's read/write (recv/send with no flags).
    def read(self, size: int) -> bytes:
        try:
            data = self.proto.read(size, bool(self.flags & O_NONBLOCK))
        except WouldBlock as e:
            return _wait(self, _key(self, False), e, False).data  # type: ignore[no-any-return]
        if self.deadlines:
            self.deadlines.pop(_key(self, False), None)
        return data

    def write(self, data: bytes) -> int:
        try:
            n = self.proto.write(data, bool(self.flags & O_NONBLOCK))
        except WouldBlock as e:
            return _wait(self, _key(self, True), e, True)  # type: ignore[no-any-return]
        if self.deadlines:
            self.deadlines.pop(_key(self, True), None)
        return n

    def send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None) -> int:
        """One send, blocking as the description and ``flags`` say; EPIPE raises BrokenPipe
        (SIGPIPE) unless MSG_NOSIGNAL."""
        nonblock = self.nonblock or bool(flags & MSG_DONTWAIT)
        try:
            return blocking(self, True, lambda: self.proto.send(data, flags, addr, anc,
                                                                 nonblock),
                            partial_ok=True)
        except BrokenPipe as e:
            if flags & MSG_NOSIGNAL:
                raise KernelError(errno.EPIPE, e.why) from None
            raise

    @property
    def nonblock(self) -> bool:
        return bool(self.flags & O_NONBLOCK)

    def readable_bytes(self) -> int:
        return self.proto.inq()

    def poll(self) -> int:
        return self.proto.poll()

    def host_fd(self) -> int | None:
        """The host socket behind this one, if any (for the loop to watch)."""
        return self.proto.host_fd()

    def host_poll(self) -> tuple[int, int] | None:
        return self.proto.host_poll()

    def arm(self, events: int) -> None:
        """Make the loop wake when this socket may have ``events`` (host sockets arm a watch
        on their host fd; model sockets change only through syscalls, which already retry
        every parked call)."""
        self.proto.arm(events)

    def arm_wakeup(self, kernel: object, events: int) -> None:
        self.proto.arm(events)

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        """Model sockets wake their queue; a host socket has none (epoll compares its
        readiness and has the loop watch its host fd, as for other host fds)."""
        return () if self.proto.host_fd() is not None else (self.wq,)

    def ioctl(self, request: int, arg: int, task: Any) -> int:
        if request == FIONBIO:
            # ioctl_fionbio (fs/ioctl.c): sets or clears O_NONBLOCK on the description
            # (CPython's setblocking uses it).
            (on,) = INT.unpack(task.mem.read(arg, 4))
            self.flags = self.flags | O_NONBLOCK if on else self.flags & ~O_NONBLOCK
            return 0
        if request == SIOCINQ:
            if self.type == SOCK_STREAM and self.proto.listening():
                raise KernelError(errno.EINVAL, "SIOCINQ on a listening socket")
            task.mem.write(arg, INT.pack(min(self.proto.inq(), 0x7FFFFFFF)))
            return 0
        if request == SIOCOUTQ:
            task.mem.write(arg, INT.pack(min(self.proto.outq(), 0x7FFFFFFF)))
            return 0
        return self.proto.ioctl(request, arg, task)

    def statfs(self) -> tuple[StatFs, int]:
        return SOCKFS.statfs(), SOCKFS.dev

    def release(self) -> None:
        self.proto.release()


def blocking(sf: SocketFile, sending: bool, attempt: Callable[[], Any],
             partial_ok: bool = False) -> Any:
    """Run ``attempt``, which raises WouldBlock when it must wait (the caller may: no
    O_NONBLOCK, no MSG_DONTWAIT). SO_RCVTIMEO/SO_SNDTIMEO become a deadline kept per
    task on the socket: the handler is invoked again after every change, and once the
    deadline passed the call fails with EAGAIN (a send that moved bytes returns them).

    A WouldBlock with its own ``retry`` (a send that made progress: ``Progress``) keeps
    it; the retry returns the syscall's result, so it is wrapped with the same deadline."""
    try:
        result = attempt()
    except WouldBlock as e:
        return _wait(sf, _key(sf, sending), e, partial_ok)
    if sf.deadlines:
        sf.deadlines.pop(_key(sf, sending), None)
    return result


def _key(sf: SocketFile, sending: bool) -> tuple[int, bool]:
    """Whose deadline on ``sf``: the calling task's, for sending or receiving."""
    current = getattr(sf.kernel, "current", None)
    return (current.tid if current is not None else 0, sending)


def _wait(sf: SocketFile, key: tuple[int, bool], e: WouldBlock, partial_ok: bool) -> Any:
    timeout = sf.sndtimeo if key[1] else sf.rcvtimeo
    if timeout:
        now = time.monotonic()
        deadline = sf.deadlines.get(key)
        if deadline is None:
            sf.deadlines[key] = now + timeout
            if sf.kernel is not None:
                sf.kernel.add_timer(timeout, _nothing)
        elif now >= deadline:
            del sf.deadlines[key]
            done = getattr(e, "done", 0)
            if partial_ok and done:
                return done
            raise KernelError(errno.EAGAIN, "socket timeout") from None
    step = e.retry
    if step is None:
        raise e
    def retry() -> Any:
        try:
            result = step()
        except WouldBlock as again:
            return _wait(sf, key, again, partial_ok)
        sf.deadlines.pop(key, None)
        return result

    raise WouldBlock(e.why, retry)


def _nothing() -> None:
    return None


class Progress(WouldBlock):
    """WouldBlock from a call that already moved ``done`` bytes (a timeout returns them)."""

    def __init__(self, why: str, retry: Callable[[], int], done: int) -> None:
        super().__init__(why, retry)
        self.done = done


# --- protocols -------------------------------------------------------------------------------
class Proto:
    """A socket family's behaviour. Every method answers as Linux for an unsupported
    operation of the family (sock_no_*)."""

    sf: SocketFile

    def bind(self, task: Any, addr: bytes) -> None:
        raise KernelError(errno.EOPNOTSUPP, "bind")

    def listen(self, backlog: int) -> None:
        raise KernelError(errno.EOPNOTSUPP, "listen")

    def listening(self) -> bool:
        return False

    def accept(self, nonblock: bool, flags: int) -> SocketFile:
        raise KernelError(errno.EOPNOTSUPP, "accept")

    def connect(self, task: Any, addr: bytes, nonblock: bool) -> int:
        raise KernelError(errno.EOPNOTSUPP, "connect")

    def shutdown(self, how: int) -> None:
        raise KernelError(errno.EOPNOTSUPP, "shutdown")

    def send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None,
             nonblock: bool) -> int:
        raise KernelError(errno.EOPNOTSUPP, "send")

    def recv(self, size: int, flags: int, nonblock: bool, want_addr: bool = False,
             controllen: int = 0) -> Received:
        raise KernelError(errno.EOPNOTSUPP, "recv")

    def read(self, size: int, nonblock: bool) -> bytes:
        """read(2): a recv with no flags, its data only."""
        return self.recv(size, 0, nonblock).data

    def write(self, data: bytes, nonblock: bool) -> int:
        """write(2): a send with no flags and no address."""
        return self.send(data, 0, None, None, nonblock)

    def getsockname(self) -> bytes:
        return struct.pack("<H", self.sf.family)

    def getpeername(self) -> bytes:
        raise KernelError(errno.ENOTCONN, "getpeername")

    def getsockopt(self, task: Any, level: int, name: int, optlen: int) -> bytes:
        return model_getsockopt(self, task, level, name, optlen)

    def setsockopt(self, task: Any, level: int, name: int, value: bytes) -> None:
        model_setsockopt(self, task, level, name, value)

    def poll(self) -> int:
        return 0

    def inq(self) -> int:
        return 0

    def outq(self) -> int:
        return 0

    def ioctl(self, request: int, arg: int, task: Any) -> int:
        raise KernelError(errno.ENOTTY, f"ioctl {request:#x} on a socket")

    def host_fd(self) -> int | None:
        return None

    def host_poll(self) -> tuple[int, int] | None:
        """See ``OpenFile.host_poll``."""
        return None

    def arm(self, events: int) -> None:
        return None

    def release(self) -> None:
        return None

    # options the model keeps for model sockets
    opts: dict[tuple[int, int], bytes]
    sndbuf = WMEM_DEFAULT
    rcvbuf = RMEM_DEFAULT
    err = 0

    def peercred(self) -> tuple[int, int, int] | None:
        return None

    def peergroups(self) -> list[int]:
        return []


class NullProto(Proto):
    def __init__(self) -> None:
        self.opts = {}


# socket options answered by the model ----------------------------------------------------
_BOOL_OPTS = {SO_DEBUG, SO_REUSEADDR, SO_DONTROUTE, SO_BROADCAST, SO_KEEPALIVE, SO_OOBINLINE,
              SO_NO_CHECK, SO_REUSEPORT, SO_PASSCRED, SO_PASSSEC, SO_TIMESTAMP_OLD,
              SO_BSDCOMPAT}
_INT_OPTS = {SO_PRIORITY, SO_RCVLOWAT, SO_MARK}
_OPT_DEFAULT = {SO_RCVLOWAT: 1}


def _timeval(seconds: float) -> bytes:
    usec = round(seconds * 1_000_000)
    return TIMEVAL.pack(usec // 1_000_000, usec % 1_000_000)


def _int(value: bytes) -> int:
    if len(value) < 4:
        raise KernelError(errno.EINVAL, "option shorter than an int")
    return INT.unpack_from(value)[0]


def model_getsockopt(p: Proto, task: Any, level: int, name: int, optlen: int) -> bytes:
    """sk_getsockopt for the options of SOL_SOCKET the model keeps; the handler truncates
    the value to the caller's length."""
    sf = p.sf
    if level != SOL_SOCKET:
        raise KernelError(errno.EOPNOTSUPP, f"level {level} on this socket")
    if name in _BOOL_OPTS or name in _INT_OPTS:
        return p.opts.get((level, name), INT.pack(_OPT_DEFAULT.get(name, 0)))
    if name == SO_TYPE:
        return INT.pack(sf.type)
    if name == SO_DOMAIN:
        return INT.pack(sf.family)
    if name == SO_PROTOCOL:
        return INT.pack(sf.protocol)
    if name == SO_ERROR:
        e, p.err = p.err, 0
        return INT.pack(e)
    if name == SO_SNDBUF:
        return INT.pack(p.sndbuf)
    if name == SO_RCVBUF:
        return INT.pack(p.rcvbuf)
    if name == SO_ACCEPTCONN:
        return INT.pack(int(p.listening()))
    if name == SO_SNDLOWAT:
        return INT.pack(1)
    if name == SO_LINGER:
        return p.opts.get((level, name), LINGER.pack(0, 0))
    if name in (SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW):
        return _timeval(sf.rcvtimeo)
    if name in (SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW):
        return _timeval(sf.sndtimeo)
    if name == SO_PEERCRED:
        cred = p.peercred()
        if cred is None:
            return UCRED.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)  # no peer: pid 0, overflow ids
        return UCRED.pack(*cred)
    if name == SO_PEERGROUPS:
        if p.peercred() is None:
            raise KernelError(errno.ENODATA, "no peer")
        groups = p.peergroups()
        data = struct.pack(f"<{len(groups)}I", *groups)
        if optlen < len(data):
            raise _Range(len(data))
        return data
    if name == SO_PEERSEC:
        raise KernelError(errno.ENOPROTOOPT, "no security module")
    raise Unsupported(errno.ENOPROTOOPT, f"getsockopt SOL_SOCKET {name}")


class _Range(KernelError):
    """getsockopt's ERANGE that still reports the length needed (SO_PEERGROUPS)."""

    def __init__(self, need: int) -> None:
        super().__init__(errno.ERANGE, "buffer too small")
        self.need = need


def model_setsockopt(p: Proto, task: Any, level: int, name: int, value: bytes) -> None:
    sf = p.sf
    if level != SOL_SOCKET:
        raise KernelError(errno.EOPNOTSUPP, f"level {level} on this socket")
    if name in (SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW):
        if len(value) < TIMEVAL.size:
            raise KernelError(errno.EINVAL, "short timeval")
        sec, usec = TIMEVAL.unpack_from(value)
        if not 0 <= usec < 1_000_000:
            raise KernelError(errno.EDOM, "tv_usec out of range")
        seconds = 0.0 if sec < 0 else sec + usec / 1e6
        if name in (SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW):
            sf.rcvtimeo = seconds
        else:
            sf.sndtimeo = seconds
        return
    if name == SO_LINGER:
        if len(value) < LINGER.size:
            raise KernelError(errno.EINVAL, "short struct linger")
        onoff, secs = LINGER.unpack_from(value)
        p.opts[(level, name)] = LINGER.pack(1 if onoff else 0, secs if onoff else 0)
        return
    if name in (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN, SO_PEERCRED,
                SO_PEERGROUPS, SO_PEERSEC, SO_SNDLOWAT):
        raise KernelError(errno.ENOPROTOOPT, f"SOL_SOCKET {name} is read-only")
    v = _int(value)
    if name in (SO_SNDBUF, SO_SNDBUFFORCE, SO_RCVBUF, SO_RCVBUFFORCE):
        force = name in (SO_SNDBUFFORCE, SO_RCVBUFFORCE)
        if force and not task.creds.capable(CAP_NET_ADMIN):
            raise KernelError(errno.EPERM, "SO_*BUFFORCE without CAP_NET_ADMIN")
        v &= 0xFFFFFFFF
        if name in (SO_SNDBUF, SO_SNDBUFFORCE):
            v = v if force else min(v, WMEM_MAX)
            p.sndbuf = max(min(v * 2, 0x7FFFFFFF), SOCK_MIN_SNDBUF)
        else:
            v = v if force else min(v, RMEM_MAX)
            p.rcvbuf = max(min(v * 2, 0x7FFFFFFF), SOCK_MIN_RCVBUF)
        return
    if name == SO_PRIORITY and not 0 <= v <= 6 and not task.creds.capable(CAP_NET_ADMIN):
        raise KernelError(errno.EPERM, "SO_PRIORITY beyond 6 without CAP_NET_ADMIN")
    if name == SO_MARK and not task.creds.capable(CAP_NET_ADMIN):
        raise KernelError(errno.EPERM, "SO_MARK without CAP_NET_ADMIN")
    if name == SO_RCVLOWAT:
        p.opts[(level, name)] = INT.pack(max(v, 1) if v >= 0 else 0x7FFFFFFF)
        return
    if name in _BOOL_OPTS:
        p.opts[(level, name)] = INT.pack(1 if v else 0)
        return
    if name in _INT_OPTS:
        p.opts[(level, name)] = INT.pack(v)
        return
    raise Unsupported(errno.ENOPROTOOPT, f"setsockopt SOL_SOCKET {name}")


# --- AF_UNIX in the model ------------------------------------------------------------------------
class SockNamespace:
    """What one sandbox's sockets share: abstract names, sockets bound to inodes, and the
    private loopback network of --net none (bound ports)."""

    def __init__(self) -> None:
        self.abstract: dict[bytes, UnixProto] = {}
        self.paths: dict[tuple[int, int], UnixProto] = {}
        self.ports: dict[tuple[int, int, int], list[LoopProto]] = {}  # (family, type, port)
        self.next_auto = 0


def namespace_of(kernel: Any) -> SockNamespace:
    ns = getattr(kernel, "sock_ns", None)
    if ns is None:
        ns = SockNamespace()
        if kernel is not None:
            kernel.sock_ns = ns
    return ns


def creds_of(task: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) as SCM_CREDENTIALS sends them: the tgid and the real ids."""
    c = task.creds
    return (task.group.tgid, c.uid, c.gid)


def peercred_of(task: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) as SO_PEERCRED reports them: the tgid and the effective ids."""
    c = task.creds
    return (task.group.tgid, c.euid, c.egid)


ESTABLISHED, LISTEN, CLOSE = "established", "listen", "close"


class UnixProto(Proto):
    """One AF_UNIX socket of the model (also the base of ``LoopProto``)."""

    family = AF_UNIX

    def __init__(self, sf: SocketFile, task: Any) -> None:
        sf.proto = self
        self.sf = sf
        self.ns = namespace_of(sf.kernel)
        self.stype = sf.type
        self.state = CLOSE
        self.peer: UnixProto | None = None
        self.name: bytes | None = None  # the bound sockaddr, as getsockname returns it
        self.path_key: tuple[int, int] | None = None
        self.rq: deque[Message] = deque()
        self.rq_bytes = 0
        self.backlog: deque[UnixProto] = deque()
        self.max_backlog = 0
        self.shut = 0  # RCV_SHUTDOWN | SEND_SHUTDOWN
        self.dead = False
        self.opts = {}
        self.sndbuf = WMEM_DEFAULT
        self.rcvbuf = RMEM_DEFAULT
        self.err = 0
        self.cred = peercred_of(task)  # whose socket (SO_PEERCRED of the other side)
        self.groups = list(task.creds.groups)
        self.peer_cred: tuple[int, int, int] | None = None
        self.peer_groups: list[int] = []
        self.listener: UnixProto | None = None  # an embryo's listener, until accepted

    @property
    def conn(self) -> bool:
        return self.stype in (SOCK_STREAM, SOCK_SEQPACKET)

    def _opt(self, name: int) -> bool:
        return self.opts.get((SOL_SOCKET, name), INT.pack(0)) != INT.pack(0)

    def passcred(self) -> bool:
        return self._opt(SO_PASSCRED)

    def peercred(self) -> tuple[int, int, int] | None:
        return self.peer_cred

    def peergroups(self) -> list[int]:
        return self.peer_groups

    def listening(self) -> bool:
        return self.state == LISTEN

    # names --------------------------------------------------------------------------------
    def parse(self, task: Any, addr: bytes) -> tuple[str, bytes]:
        """unix_validate_addr: ("auto", b"") | ("abstract", name) | ("path", path)."""
        if len(addr) < SUN_PATH_OFFSET or struct.unpack_from("<H", addr)[0] != AF_UNIX:
            raise KernelError(errno.EINVAL, "not an AF_UNIX address")
        if len(addr) > SUN_PATH_OFFSET + UNIX_PATH_MAX:
            raise KernelError(errno.EINVAL, "address too long")
        path = addr[SUN_PATH_OFFSET:]
        if not path:
            return "auto", b""
        if path[0] == 0:
            return "abstract", path
        return "path", path.split(b"\0", 1)[0]

    def bind(self, task: Any, addr: bytes) -> None:
        kind, name = self.parse(task, addr)
        if kind == "auto":
            if self.name is not None:
                raise KernelError(errno.EINVAL, "already bound")
            self.autobind()
            return
        if self.name is not None and kind == "abstract":
            raise KernelError(errno.EINVAL, "already bound")
        if kind == "abstract":
            if name in self.ns.abstract:
                raise KernelError(errno.EADDRINUSE, "abstract name in use")
            self.ns.abstract[name] = self
            self.name = struct.pack("<H", AF_UNIX) + name
            return
        from vfs import ops

        mode = st.S_IFSOCK | (0o777 & ~task.fs.umask)
        ctx = _path_ctx(task, name)
        try:
            inode = ops.mknod(ctx, name, mode | 0, 0)
        except KernelError as e:
            if e.errno == errno.EEXIST:
                raise KernelError(errno.EADDRINUSE, f"{name!r} exists") from None
            raise
        if self.name is not None:
            # unix_bind_bsd makes the name first, then finds the socket bound: EINVAL,
            # and the new name goes again.
            ops.unlink(ctx, name)
            raise KernelError(errno.EINVAL, "already bound")
        key = _sock_key(inode)
        self.ns.paths[key] = self
        self.path_key = key
        self.name = struct.pack("<H", AF_UNIX) + name + b"\0"

    def autobind(self) -> None:
        ns = self.ns
        while True:
            name = b"\0" + b"%05x" % (ns.next_auto & 0xFFFFF)
            ns.next_auto += 1
            if name not in ns.abstract:
                break
        ns.abstract[name] = self
        self.name = struct.pack("<H", AF_UNIX) + name

    def unbind(self) -> None:
        if self.name is None:
            return
        if self.path_key is not None:
            if self.ns.paths.get(self.path_key) is self:
                del self.ns.paths[self.path_key]
        else:
            name = self.name[SUN_PATH_OFFSET:]
            if self.ns.abstract.get(name) is self:
                del self.ns.abstract[name]

    def getsockname(self) -> bytes:
        return self.name or struct.pack("<H", self.family)

    def getpeername(self) -> bytes:
        peer = self.peer
        if peer is None or (self.conn and self.state != ESTABLISHED):
            raise KernelError(errno.ENOTCONN, "not connected")
        return peer.getsockname()

    def find(self, task: Any, addr: bytes) -> UnixProto | HostTarget:
        """unix_find_other: the socket a name leads to, or where a host socket is."""
        kind, name = self.parse(task, addr)
        if kind == "auto":
            raise KernelError(errno.EINVAL, "no name")  # never reached for a real address
        if kind == "abstract":
            other = self.ns.abstract.get(name)
            if other is not None and other.stype == self.stype:
                return other
            if other is not None:
                raise KernelError(errno.ECONNREFUSED, "no such name of this type")
            if NET.host_unix and NET.mode != "none":
                return HostTarget(name)
            raise KernelError(errno.ECONNREFUSED, "no such abstract name")
        from vfs import ops

        d = ops.lookup(_path_ctx(task, name), name)
        ops.permission(d, task.creds, ops.MAY_WRITE)
        s = d.inode.stat()
        if not st.S_ISSOCK(s.mode):
            raise KernelError(errno.ECONNREFUSED, f"{name!r} is not a socket")
        other = self.ns.paths.get(_sock_key(d.inode))
        if other is not None and not other.dead:
            return other
        host = d.inode.host_path()
        if host is not None and NET.host_unix:
            return HostTarget(host)
        raise KernelError(errno.ECONNREFUSED, f"nobody listens on {name!r}")

    # connections --------------------------------------------------------------------------
    def listen(self, backlog: int) -> None:
        if not self.conn:
            raise KernelError(errno.EOPNOTSUPP, "listen on a datagram socket")
        if self.state == ESTABLISHED:
            raise KernelError(errno.EINVAL, "listen on a connected socket")
        if self.name is None:
            raise KernelError(errno.EINVAL, "listen on an unbound socket")
        self.max_backlog = min(backlog & 0xFFFFFFFF, SOMAXCONN) if backlog >= 0 else 0
        self.state = LISTEN

    def connect(self, task: Any, addr: bytes, nonblock: bool) -> int:
        if len(addr) >= 2 and struct.unpack_from("<H", addr)[0] == AF_UNSPEC \
                and not self.conn:
            self.disconnect()
            return 0
        target = self.find(task, addr)
        if isinstance(target, HostTarget):
            if self.state != CLOSE or self.peer is not None:
                raise KernelError(errno.EISCONN, "already connected")
            return connect_host_unix(self.sf, target, nonblock)
        if not self.conn:
            return self.dgram_connect(task, target)
        if target.stype != self.stype:
            raise KernelError(errno.EPROTOTYPE, "socket types differ")
        if self.name is None and self._opt(SO_PASSCRED):
            self.autobind()
        return self._connect(task, target, nonblock)

    def _connect(self, task: Any, target: UnixProto, nonblock: bool) -> int:
        """A connection to the listener ``target``: the server side (an embryo until
        accepted) is queued on it, and this socket is connected at once (unix_stream_connect)."""
        if self.state == ESTABLISHED:
            raise KernelError(errno.EISCONN, "already connected")
        if self.state == LISTEN:
            raise KernelError(errno.EINVAL, "connect on a listening socket")
        if target.state != LISTEN or target.dead:
            raise KernelError(errno.ECONNREFUSED, "not listening")
        if len(target.backlog) > target.max_backlog:
            if nonblock:
                raise KernelError(errno.EAGAIN, "backlog full")
            raise WouldBlock("connect: backlog full")
        tsf = target.sf
        nsf = SocketFile(tsf.kernel, tsf.family, tsf.type, tsf.protocol, 0,
                         tsf.inode.uid, tsf.inode.gid)  # type: ignore[union-attr]
        new = type(target)(nsf, task)
        new.opts = dict(target.opts)
        new.sndbuf, new.rcvbuf = target.sndbuf, target.rcvbuf
        new.name = target.name  # the listener's name, without owning the binding
        new.cred, new.groups = target.cred, target.groups
        new.state = ESTABLISHED
        new.peer = self
        new.listener = target
        new.peer_cred = peercred_of(task)
        new.peer_groups = list(task.creds.groups)
        self.peer = new
        self.state = ESTABLISHED
        self.peer_cred = target.cred
        self.peer_groups = target.groups
        target.backlog.append(new)
        target.wake(POLLIN | POLLRDNORM)
        return 0

    def dgram_connect(self, task: Any, target: UnixProto) -> int:
        if target.conn:
            raise KernelError(errno.EPROTOTYPE, "socket types differ")
        if self.name is None and self.passcred():
            self.autobind()
        self.peer = target
        self.peer_cred = target.cred
        self.state = ESTABLISHED
        return 0

    def disconnect(self) -> None:
        self.peer = None
        self.state = CLOSE

    def accept(self, nonblock: bool, flags: int) -> SocketFile:
        if not self.conn:
            raise KernelError(errno.EOPNOTSUPP, "accept on a datagram socket")
        if self.state != LISTEN:
            raise KernelError(errno.EINVAL, "accept on a socket that is not listening")
        if not self.backlog:
            if nonblock:
                raise KernelError(errno.EAGAIN, "no pending connection")
            raise WouldBlock("accept")
        new = self.backlog.popleft()
        new.listener = None
        new.sf.flags = O_RDWR | (flags & O_NONBLOCK)
        return new.sf

    def shutdown(self, how: int) -> None:
        if not 0 <= how <= 2:
            raise KernelError(errno.EINVAL, f"shutdown how {how}")
        mode = how + 1
        self.shut |= mode
        peer = self.peer
        if peer is not None and self.conn:
            peer.shut |= (SEND_SHUTDOWN if mode & RCV_SHUTDOWN else 0) | \
                         (RCV_SHUTDOWN if mode & SEND_SHUTDOWN else 0)
            peer.wake()
        self.wake()

    def release(self, reset: bool = False) -> None:
        """unix_release_sock: the peer sees end of file (ECONNRESET if we left data
        unread, or were never accepted); embryos go with their listener; so do the
        descriptions in flight in our queue."""
        self.dead = True
        if self.listener is None:
            self.unbind()
        peer = self.peer
        had_data = bool(self.rq)
        for m in self.rq:
            m.drop()
        self.rq.clear()
        self.rq_bytes = 0
        if peer is not None and self.conn:
            peer.shut = RCV_SHUTDOWN | SEND_SHUTDOWN
            if had_data or reset:
                peer.err = errno.ECONNRESET
            peer.wake()
        elif peer is not None:
            peer.wake(POLLOUT | POLLWRNORM)
        self.peer = None
        while self.backlog:
            embryo = self.backlog.popleft()
            embryo.listener = None
            embryo.release(reset=True)
        self.state = CLOSE

    # data ---------------------------------------------------------------------------------
    def receiver(self, addr: bytes | None, task: Any) -> UnixProto:
        """Where a datagram goes: ``addr`` or the connected peer (unix_dgram_sendmsg)."""
        if addr is not None:
            target = self.find(task, addr)
            if isinstance(target, HostTarget):
                raise KernelError(errno.ECONNREFUSED, "datagrams to host sockets")
            if target.conn:
                raise KernelError(errno.EPROTOTYPE, "socket types differ")
            return target
        peer = self.peer
        if peer is None:
            raise KernelError(errno.ENOTCONN, "datagram socket not connected")
        return peer

    def send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None,
             nonblock: bool, task: Any = None) -> int:
        if flags & MSG_OOB:
            raise Unsupported(errno.EOPNOTSUPP, "MSG_OOB on AF_UNIX")
        task = task or self.sf.kernel.current
        if self.conn:
            return self.stream_send(data, flags, anc, nonblock, task)
        return self.dgram_send(data, flags, addr, anc, nonblock, task)

    def _creds(self, anc: Ancillary | None, task: Any) -> tuple[int, int, int]:
        if anc is not None and anc.creds is not None:
            return anc.creds
        return creds_of(task) if task is not None else (0, 0, 0)

    def stream_send(self, data: bytes, flags: int, anc: Ancillary | None, nonblock: bool,
                    task: Any) -> int:
        if self.state != ESTABLISHED:
            raise KernelError(errno.ENOTCONN if self.state == CLOSE else errno.EINVAL,
                              "send on an unconnected socket")
        if self.err and self.peer is None:
            e, self.err = self.err, 0
            raise KernelError(e, "connection reset")
        if self.shut & SEND_SHUTDOWN:
            raise BrokenPipe("send after shutdown")
        peer = self.peer
        if peer is None or peer.dead or peer.shut & RCV_SHUTDOWN:
            raise BrokenPipe("the peer is gone")
        if self.stype == SOCK_SEQPACKET and len(data) > self.sndbuf - 32:
            raise KernelError(errno.EMSGSIZE, "record larger than the send buffer")
        creds = self._creds(anc, task)
        files = anc.files if anc is not None and anc.files else None
        if self.stype == SOCK_SEQPACKET or not data:
            if peer.rq_bytes + len(data) > self.sndbuf and peer.rq:
                return self._wait_space(data, flags, anc, nonblock, task, 0)
            self._enqueue(peer, Message(data, files, creds, self.name, self))
            if anc is not None:
                anc.files = []
            return len(data)
        return self._stream_fill(memoryview(data), flags, anc, nonblock, task, 0)

    def _stream_fill(self, data: memoryview, flags: int, anc: Ancillary | None,
                     nonblock: bool, task: Any, done: int) -> int:
        peer = self.peer
        pos = 0
        while pos < len(data):
            if peer is None or peer.dead or peer.shut & RCV_SHUTDOWN or \
                    self.shut & SEND_SHUTDOWN:
                if done + pos:
                    return done + pos
                raise BrokenPipe("the peer is gone")
            room = self.sndbuf - peer.rq_bytes
            if room <= 0:
                if nonblock:
                    if done + pos:
                        return done + pos
                    raise KernelError(errno.EAGAIN, "socket buffer full")
                rest, sent = data[pos:], done + pos
                raise Progress("send: buffer full",
                               partial(self._stream_fill, rest, flags, anc, False, task, sent),
                               sent)
            chunk = bytes(data[pos:pos + room])
            files = anc.files if anc is not None and anc.files else None
            self._enqueue(peer, Message(chunk, files, self._creds(anc, task), self.name, self))
            if anc is not None:
                anc.files = []
            pos += len(chunk)
        return done + pos

    def _wait_space(self, data: bytes, flags: int, anc: Ancillary | None, nonblock: bool,
                    task: Any, done: int) -> int:
        if nonblock:
            raise KernelError(errno.EAGAIN, "socket buffer full")
        raise WouldBlock("send: buffer full",
                         lambda: self.stream_send(data, flags, anc, False, task))

    def _enqueue(self, target: UnixProto, m: Message) -> None:
        target.rq.append(m)
        target.rq_bytes += len(m.data)
        target.wake(POLLIN | POLLRDNORM)

    def wake(self, mask: int = 0) -> None:
        sf = getattr(self, "sf", None)
        if sf is not None and sf.wq.entries:
            sf.wq.wake(mask)

    def consumed(self, senders: set[Any]) -> None:
        """Room was made in our queue: the writers may write again."""
        for sender in senders:
            if isinstance(sender, UnixProto):
                sender.wake(POLLOUT | POLLWRNORM)

    def dgram_send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None,
                   nonblock: bool, task: Any) -> int:
        if self.shut & SEND_SHUTDOWN:
            raise KernelError(errno.EPIPE, "send after shutdown")
        if len(data) > self.sndbuf - 32:
            raise KernelError(errno.EMSGSIZE, "datagram larger than the send buffer")
        target = self.receiver(addr, task)
        if target.dead:
            if addr is None:
                self.disconnect()
            raise KernelError(errno.ECONNREFUSED, "the peer is gone")
        if target.peer is not None and target.peer is not self:
            raise KernelError(errno.EPERM, "the receiver is connected to another socket")
        if self.name is None and (self.passcred() or target.passcred()):
            self.autobind()
        if target.shut & RCV_SHUTDOWN:
            raise KernelError(errno.EPIPE, "receiver shut down")
        if len(target.rq) > MAX_DGRAM_QLEN and target.peer is not self:
            if nonblock:
                raise KernelError(errno.EAGAIN, "receive queue full")
            raise WouldBlock("sendto: receive queue full")
        files = anc.files if anc is not None and anc.files else None
        self._enqueue(target, Message(data, files, self._creds(anc, task), self.name, self))
        if anc is not None:
            anc.files = []
        return len(data)

    def recv(self, size: int, flags: int, nonblock: bool, want_addr: bool = False,
             controllen: int = 0) -> Received:
        if flags & MSG_OOB:
            raise Unsupported(errno.EOPNOTSUPP, "MSG_OOB on AF_UNIX")
        if flags & MSG_ERRQUEUE:
            raise KernelError(errno.EAGAIN, "no error queue on AF_UNIX")
        if self.stype == SOCK_STREAM:
            return self.stream_recv(size, flags, nonblock)
        if self.stype == SOCK_SEQPACKET and self.state != ESTABLISHED:
            raise KernelError(errno.ENOTCONN if self.state == CLOSE else errno.EINVAL,
                              "recv on an unconnected socket")
        return self.dgram_recv(size, flags, nonblock)

    def _wait_data(self, nonblock: bool) -> Received | None:
        """An empty queue: end of file, a pending error, EAGAIN or WouldBlock."""
        if self.err:
            e, self.err = self.err, 0
            raise KernelError(e, "connection reset")
        if self.shut & RCV_SHUTDOWN:
            return Received(b"")
        if nonblock:
            raise KernelError(errno.EAGAIN, "nothing to receive")
        raise WouldBlock("recv")

    def stream_recv(self, size: int, flags: int, nonblock: bool) -> Received:
        if self.state != ESTABLISHED:
            raise KernelError(errno.EINVAL, "recv on an unconnected stream socket")
        if not self.rq:
            if size == 0:
                return Received(b"")
            eof = self._wait_data(nonblock)
            assert eof is not None
            return eof
        peek = bool(flags & MSG_PEEK)
        out = bytearray()
        files: list[OpenFile] | None = None
        creds = self.rq[0].creds
        addr = self.rq[0].addr
        i = 0
        while len(out) < size and i < len(self.rq):
            m = self.rq[i]
            if out and m.creds != creds:
                break  # never glue the writes of different writers
            take = m.data[: size - len(out)]
            out += take
            if m.files:
                if peek:
                    files = list(m.files)
                    for f in files:
                        f.refs += 1
                else:
                    files, m.files = m.files, None
            if peek:
                i += 1
            else:
                del m.data[: len(take)]
                self.rq_bytes -= len(take)
                if not m.data:
                    self.rq.popleft()
            if files is not None:
                break
        if not peek and self.peer is not None:
            self.consumed({self.peer})
        return Received(bytes(out), addr=addr, files=files, creds=creds)

    def dgram_recv(self, size: int, flags: int, nonblock: bool) -> Received:
        if not self.rq:
            eof = self._wait_data(nonblock)
            assert eof is not None
            return eof
        m = self.rq[0]
        data = bytes(m.data)
        files = m.files
        if flags & MSG_PEEK:
            if files:
                files = list(files)
                for f in files:
                    f.refs += 1
        else:
            self.rq.popleft()
            self.rq_bytes -= len(data)
            m.files = None
            self.consumed({m.sender})
        out_flags = 0
        if len(data) > size:
            out_flags |= MSG_TRUNC
        length = len(data) if flags & MSG_TRUNC else min(size, len(data))
        return Received(data[:size], length=length, addr=m.addr, files=files, creds=m.creds,
                        flags=out_flags)

    # readiness ------------------------------------------------------------------------------
    def poll(self) -> int:
        mask = 0
        if self.err:
            mask |= POLLERR
        if self.shut == RCV_SHUTDOWN | SEND_SHUTDOWN:
            mask |= POLLHUP
        if self.shut & RCV_SHUTDOWN:
            mask |= POLLRDHUP | POLLIN | POLLRDNORM
        if self.rq or (self.state == LISTEN and self.backlog):
            mask |= POLLIN | POLLRDNORM
        if self.conn and self.state == CLOSE:
            mask |= POLLHUP
        if self.state != LISTEN:
            writable = True
            if self.conn:
                peer = self.peer
                writable = peer is None or peer.rq_bytes < self.sndbuf
            else:
                peer = self.peer
                if peer is not None and peer.peer is not self and \
                        len(peer.rq) > MAX_DGRAM_QLEN:
                    writable = False
            if writable:
                mask |= POLLOUT | POLLWRNORM | POLLWRBAND
        return mask

    def inq(self) -> int:
        if self.stype == SOCK_STREAM:
            return self.rq_bytes
        return len(self.rq[0].data) if self.rq else 0

    def outq(self) -> int:
        peer = self.peer
        if peer is None:
            return 0
        return sum(len(m.data) for m in peer.rq if m.sender is self)


def _sock_key(inode: Inode) -> tuple[int, int]:
    """A socket file's identity: what stat reports (the same through every name)."""
    s = inode.stat()
    return (s.dev, s.ino)


def _path_ctx(task: Any, path: bytes) -> Any:
    from vfs import ops

    fs = task.fs
    return ops.PathContext(fs.root, fs.cwd, task.creds, fs.umask)


def socketpair(kernel: Any, task: Any, type_: int, flags: int) -> tuple[SocketFile, SocketFile]:
    """unix_socketpair: two connected sockets, each with the other's credentials."""
    c = task.creds
    a = SocketFile(kernel, AF_UNIX, type_, 0, flags, c.euid, c.egid)
    b = SocketFile(kernel, AF_UNIX, type_, 0, flags, c.euid, c.egid)
    pa, pb = UnixProto(a, task), UnixProto(b, task)
    pa.peer, pb.peer = pb, pa
    pa.state = pb.state = ESTABLISHED
    pa.peer_cred = pb.peer_cred = peercred_of(task)
    pa.peer_groups = pb.peer_groups = list(c.groups)
    return a, b


# --- host sockets ----------------------------------------------------------------------
class HostTarget:
    """A connect that leads out of the sandbox: a host AF_UNIX path or abstract name."""

    __slots__ = ("address",)

    def __init__(self, address: bytes) -> None:
        self.address = address


_PASSTHROUGH_DENIED = {
    (SOL_SOCKET, SO_ATTACH_FILTER), (SOL_SOCKET, SO_ATTACH_BPF),
    (SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF), (SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF),
    (IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE), (SOL_SOCKET, SO_ZEROCOPY),
}  # options whose values hold pointers (or zero-copy pages) of the caller's memory
_MODEL_OPTS = {SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW}
# ifreq ioctls (40 bytes, no pointers) a host INET socket answers about the host's interfaces
_IFREQ_IOCTLS = {0x8913, 0x8915, 0x8917, 0x8919, 0x891B, 0x8921, 0x8927, 0x8933, 0x8910}


def host_errno(e: OSError) -> KernelError:
    return KernelError(e.errno or errno.EIO, e.strerror or "host socket")


# What a host socket's readiness is asked for (POLLERR, POLLHUP and POLLNVAL come anyway).
HOST_POLL_EVENTS = select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLRDHUP


class HostProto(Proto):
    """A socket answered by a host socket the supervisor owns (non-blocking)."""

    def __init__(self, sf: SocketFile, sock: pysocket.socket) -> None:
        sf.proto = self
        self.sf = sf
        self.sock = sock
        sock.setblocking(False)
        self.fd = sock.fileno()
        self.armed = 0
        self.opts = {}
        self.is_listening = False
        self._poller = select.poll()
        self._poller.register(self.fd, HOST_POLL_EVENTS)
        self.connecting = False
        self.stream = sf.type == SOCK_STREAM

    def host_fd(self) -> int | None:
        return self.fd

    def host_poll(self) -> tuple[int, int] | None:
        # A host proto stays for the description's life (sockets are created host or
        # model, and a model AF_UNIX one turns host for good when it connects out).
        return self.fd, HOST_POLL_EVENTS

    def arm(self, events: int) -> None:
        kernel = self.sf.kernel
        if kernel is None:
            return
        new = self.armed | events
        if new != self.armed:
            self.armed = new
            kernel.watch_host_fd(self.fd, new, self._fired)

    def _fired(self) -> None:
        self.armed = 0
        self.sf.kernel.unwatch_host_fd(self.fd)

    def wait(self, events: int, why: str, retry: Callable[[], Any] | None = None) -> WouldBlock:
        self.arm(events)
        return WouldBlock(why, retry)

    def poll(self) -> int:
        ready = self._poller.poll(0)
        return ready[0][1] if ready else 0

    def listening(self) -> bool:
        return self.is_listening

    # addresses --------------------------------------------------------------------------------
    def to_host(self, addr: bytes, for_bind: bool = False) -> Any:
        return sockaddr_to_host(self.sf.family, addr, for_bind)

    def bind(self, task: Any, addr: bytes) -> None:
        hostaddr = self.to_host(addr, True)
        hostaddr = check_net(self.sf.family, hostaddr, bind=True)
        try:
            self.sock.bind(hostaddr)
        except OSError as e:
            raise host_errno(e) from None

    def listen(self, backlog: int) -> None:
        try:
            self.sock.listen(max(backlog, 0))
        except OSError as e:
            raise host_errno(e) from None
        self.is_listening = True

    def accept(self, nonblock: bool, flags: int) -> SocketFile:
        try:
            conn, _ = self.sock.accept()
        except OSError as e:
            raise self.failed(e, nonblock, POLLIN, "no pending connection") from None
        sf = self.sf
        new = SocketFile(sf.kernel, sf.family, sf.type, sf.protocol, flags,
                         sf.inode.uid, sf.inode.gid)  # type: ignore[union-attr]
        HostProto(new, conn)
        return new

    def connect(self, task: Any, addr: bytes, nonblock: bool) -> int:
        if len(addr) >= 2 and struct.unpack_from("<H", addr)[0] == AF_UNSPEC:
            hostaddr = None
        else:
            hostaddr = check_net(self.sf.family, self.to_host(addr), bind=False)
        if hostaddr is None:
            # AF_UNSPEC: dissolve the association (datagram sockets).
            try:
                self.sock.connect(_unspec())
            except OSError as e:
                raise host_errno(e) from None
            return 0
        return self.connect_result(_host_connect(self.sock, hostaddr), nonblock, hostaddr)

    def connect_result(self, err: int, nonblock: bool, hostaddr: Any) -> int:
        if err == 0:
            return 0
        if err == errno.EINPROGRESS:
            if nonblock:
                raise KernelError(errno.EINPROGRESS, "connect in progress")
            return self._finish_connect_wait(hostaddr)
        if err == errno.EAGAIN and self.sf.family == AF_UNIX and not nonblock:
            # A host listener's backlog is full: try again shortly.
            self.sf.kernel.add_timer(0.01, _nothing)

            def retry() -> int:
                return self.connect_result(_host_connect(self.sock, hostaddr), False,
                                           hostaddr)

            raise WouldBlock("connect: host backlog full", retry)
        raise KernelError(err, "connect")

    def _finish_connect_wait(self, hostaddr: Any) -> int:
        def retry() -> int:
            mask = self.poll()
            if not mask & (POLLOUT | POLLERR | POLLHUP):
                raise self.wait(POLLOUT, "connect", retry)
            e = self.sock.getsockopt(SOL_SOCKET, SO_ERROR)
            if e:
                raise KernelError(e, "connect failed")
            # What a blocking connect leaves: the host socket past SS_CONNECTING (its next
            # connect says EISCONN, as the program's would).
            _host_connect(self.sock, hostaddr)
            return 0

        raise self.wait(POLLOUT, "connect", retry)

    def shutdown(self, how: int) -> None:
        try:
            self.sock.shutdown(how)
        except OSError as e:
            raise host_errno(e) from None

    def getsockname(self) -> bytes:
        try:
            return host_to_sockaddr(self.sf.family, self.sock.getsockname())
        except OSError as e:
            raise host_errno(e) from None

    def getpeername(self) -> bytes:
        try:
            return host_to_sockaddr(self.sf.family, self.sock.getpeername())
        except OSError as e:
            raise host_errno(e) from None

    # data ---------------------------------------------------------------------------------
    def send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None,
             nonblock: bool) -> int:
        if anc is not None and anc.files:
            anc.drop()
            raise Unsupported(errno.EPERM, "SCM_RIGHTS to a host socket")
        hostaddr = None
        if addr is not None:
            hostaddr = check_net(self.sf.family, self.to_host(addr), bind=False)
        cmsgs = anc.other if anc is not None else []
        hflags = (flags & ~(MSG_NOSIGNAL | MSG_DONTWAIT)) | MSG_DONTWAIT | MSG_NOSIGNAL
        try:
            if hostaddr is None:
                return self.sock.sendmsg([data], cmsgs, hflags)
            return self.sock.sendmsg([data], cmsgs, hflags, hostaddr)
        except OSError as e:
            raise self.failed(e, nonblock, POLLOUT, "host socket buffer full") from None

    def write(self, data: bytes, nonblock: bool) -> int:
        """``send`` without flags, address or ancillary data: one send(2)."""
        try:
            return self.sock.send(data, MSG_DONTWAIT | MSG_NOSIGNAL)
        except OSError as e:
            raise self.failed(e, nonblock, POLLOUT, "host socket buffer full") from None

    def failed(self, e: OSError, nonblock: bool, events: int, busy: str) -> Exception:
        """What a failed host call becomes: when it would block, EAGAIN (``busy`` says
        why) or a wait for ``events``; EPIPE (with SIGPIPE) when the peer of a send is
        gone; else the host's errno."""
        if isinstance(e, BlockingIOError):
            if nonblock:
                return KernelError(errno.EAGAIN, busy)
            return self.wait(events, busy)
        if isinstance(e, BrokenPipeError):
            return BrokenPipe("host connection closed")
        return host_errno(e)

    def read(self, size: int, nonblock: bool) -> bytes:
        """``recv`` without flags or control data: one recv(2) for a stream (what
        recvmsg without a control buffer gets, as bytes)."""
        if not self.stream or not size:
            return self.recv(size, 0, nonblock).data
        try:
            return self.sock.recv(size if size < (1 << 20) else (1 << 20), MSG_DONTWAIT)
        except OSError as e:
            raise self.failed(e, nonblock, POLLIN, "nothing to receive") from None

    def recv(self, size: int, flags: int, nonblock: bool, want_addr: bool = False,
             controllen: int = 0) -> Received:
        stream = self.sf.type == SOCK_STREAM
        cap = min(size, (1 << 20) if stream else (1 << 22))
        buf = bytearray(max(cap, 1) if cap or not stream else 1)
        hflags = (flags & ~(MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_WAITALL)) | MSG_DONTWAIT
        ancsize = max(controllen, 0) and max(controllen * 2, pysocket.CMSG_SPACE(SCM_MAX_FD * 4))
        try:
            if cap == 0 and stream:
                n, anc, mflags, addr = 0, [], 0, None
                self.sock.recvmsg_into([memoryview(buf)[:0]], 0, hflags | MSG_PEEK)
            else:
                n, anc, mflags, addr = self.sock.recvmsg_into([memoryview(buf)[:cap]],
                                                              ancsize, hflags)
        except OSError as e:
            raise self.failed(e, nonblock, POLLIN, "nothing to receive") from None
        files: list[OpenFile] | None = None
        cmsgs: list[tuple[int, int, bytes]] = []
        creds = None
        refused = 0
        for level, kind, payload in anc:
            if level == SOL_SOCKET and kind == SCM_RIGHTS:
                from vfs.hostfd import HostFdFile

                fds = struct.unpack(f"<{len(payload) // 4}i", payload[: len(payload) // 4 * 4])
                files = files or []
                for hfd in fds:
                    if not refused and NET.receive_hook is not None:
                        try:
                            NET.receive_hook(hfd)
                        except KernelError:
                            # As scm_detach_fds: no descriptor from the refused one on is
                            # installed, and the receiver sees MSG_CTRUNC.
                            refused = MSG_CTRUNC
                    if refused:
                        os.close(hfd)
                        continue
                    hf = HostFdFile(hfd, os.O_RDWR, owns=True)
                    hf.refs = 1
                    files.append(hf)
            elif level == SOL_SOCKET and kind == SCM_CREDENTIALS:
                creds = UCRED.unpack_from(payload)
            else:
                cmsgs.append((level, kind, payload))
        data = bytes(buf[: min(n, cap)])
        raddr = None
        if addr is not None and want_addr:
            try:
                raddr = host_to_sockaddr(self.sf.family, addr)
            except KernelError:
                raddr = None
        return Received(data, length=n, addr=raddr, files=files, creds=creds,
                        flags=mflags & ~MSG_CTRUNC | refused, cmsgs=cmsgs)

    def inq(self) -> int:
        import fcntl

        try:
            return INT.unpack(fcntl.ioctl(self.fd, SIOCINQ, bytes(4)))[0]
        except OSError as e:
            raise host_errno(e) from None

    def outq(self) -> int:
        import fcntl

        try:
            return INT.unpack(fcntl.ioctl(self.fd, SIOCOUTQ, bytes(4)))[0]
        except OSError as e:
            raise host_errno(e) from None

    def ioctl(self, request: int, arg: int, task: Any) -> int:
        import fcntl

        if request in _IFREQ_IOCTLS and self.sf.family in (AF_INET, AF_INET6):
            req = task.mem.read(arg, 40)
            try:
                out = fcntl.ioctl(self.fd, request, req)
            except OSError as e:
                raise host_errno(e) from None
            task.mem.write(arg, out)
            return 0
        raise Unsupported(errno.ENOTTY, f"socket ioctl {request:#x}")

    # options ------------------------------------------------------------------------------
    def getsockopt(self, task: Any, level: int, name: int, optlen: int) -> bytes:
        if level == SOL_SOCKET and name in _MODEL_OPTS:
            return model_getsockopt(self, task, level, name, optlen)
        if (level, name) in _PASSTHROUGH_DENIED:
            raise Unsupported(errno.ENOPROTOOPT, f"getsockopt {level}/{name} (pointers)")
        try:
            return self.sock.getsockopt(level, name, min(max(optlen, 4), 1024))
        except OSError as e:
            raise host_errno(e) from None

    def setsockopt(self, task: Any, level: int, name: int, value: bytes) -> None:
        if level == SOL_SOCKET and name in _MODEL_OPTS:
            model_setsockopt(self, task, level, name, value)
            return
        if (level, name) in _PASSTHROUGH_DENIED:
            raise Unsupported(errno.ENOPROTOOPT, f"setsockopt {level}/{name} (pointers)")
        if level == SOL_SOCKET and name in (SO_SNDBUFFORCE, SO_RCVBUFFORCE, SO_MARK) and \
                not task.creds.capable(CAP_NET_ADMIN):
            raise KernelError(errno.EPERM, "needs CAP_NET_ADMIN")
        try:
            self.sock.setsockopt(level, name, value)
        except OSError as e:
            raise host_errno(e) from None

    def release(self) -> None:
        if self.armed and self.sf.kernel is not None:
            self.sf.kernel.unwatch_host_fd(self.fd)
            self.armed = 0
        self._poller.unregister(self.fd)
        self.sock.close()


def _host_connect(sock: pysocket.socket, address: Any) -> int:
    """connect(2) on the host socket: 0 or the errno (connect_ex hides EISCONN)."""
    try:
        sock.connect(address)
    except OSError as e:
        return e.errno or errno.ECONNREFUSED
    return 0


def _unspec() -> Any:
    return ("", 0)


def connect_host_unix(sf: SocketFile, target: HostTarget, nonblock: bool) -> int:
    """Connect ``sf`` (a model AF_UNIX socket, not yet connected) to a host socket: from
    now on a host socket the supervisor owns answers for it."""
    try:
        sock = pysocket.socket(pysocket.AF_UNIX, sf.type)
    except OSError as e:
        raise host_errno(e) from None
    old = sf.proto
    proto = HostProto(sf, sock)
    proto.opts = dict(old.opts)
    if isinstance(old, UnixProto):
        old.dead = True
        old.unbind()
    err = _host_connect(sock, target.address)
    if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
        # Stay a model socket: the call failed and the program may try elsewhere.
        proto.release()
        sf.proto = old
        if isinstance(old, UnixProto):
            old.dead = False
        raise KernelError(err, "connect to a host socket")
    return proto.connect_result(err, nonblock, target.address)


def sockaddr_to_host(family: int, addr: bytes, for_bind: bool = False) -> Any:
    """A tracee sockaddr as the host socket module wants it (inet_bind/inet_stream_connect
    checks: EINVAL when short, EAFNOSUPPORT for another family)."""
    if len(addr) < 2:
        raise KernelError(errno.EINVAL, "address too short")
    fam = struct.unpack_from("<H", addr)[0]
    if family == AF_INET:
        if len(addr) < 16:
            raise KernelError(errno.EINVAL, "short sockaddr_in")
        if fam != AF_INET:
            if fam == AF_UNSPEC and for_bind and addr[4:8] == b"\0\0\0\0":
                pass  # Linux accepts AF_UNSPEC with INADDR_ANY for bind (compat)
            else:
                raise KernelError(errno.EAFNOSUPPORT, f"family {fam} on an AF_INET socket")
        port = struct.unpack_from("!H", addr, 2)[0]
        return (pysocket.inet_ntop(pysocket.AF_INET, addr[4:8]), port)
    if family == AF_INET6:
        if len(addr) < 24:
            raise KernelError(errno.EINVAL, "short sockaddr_in6")
        if fam != AF_INET6:
            raise KernelError(errno.EAFNOSUPPORT if fam != AF_INET or for_bind else errno.EINVAL,
                              f"family {fam} on an AF_INET6 socket")
        port, flow = struct.unpack_from("!HI", addr, 2)
        scope = struct.unpack_from("<I", addr, 24)[0] if len(addr) >= 28 else 0
        return (pysocket.inet_ntop(pysocket.AF_INET6, addr[8:24]), port, flow, scope)
    if family == AF_UNIX:
        path = addr[2:]
        return path if path[:1] == b"\0" else path.split(b"\0", 1)[0]
    raise KernelError(errno.EAFNOSUPPORT, f"family {family}")


def host_to_sockaddr(family: int, addr: Any) -> bytes:
    if family == AF_INET:
        host, port = addr[:2]
        return struct.pack("<H", AF_INET) + struct.pack("!H", port) + \
            pysocket.inet_pton(pysocket.AF_INET, host) + bytes(8)
    if family == AF_INET6:
        host, port, flow, scope = addr
        return struct.pack("<H", AF_INET6) + struct.pack("!HI", port, flow) + \
            pysocket.inet_pton(pysocket.AF_INET6, host.split("%", 1)[0]) + \
            struct.pack("<I", scope)
    if family == AF_UNIX:
        if isinstance(addr, str):
            addr = os.fsencode(addr)
        if not addr:
            return struct.pack("<H", AF_UNIX)
        if addr[:1] == b"\0":
            return struct.pack("<H", AF_UNIX) + addr
        return struct.pack("<H", AF_UNIX) + addr + b"\0"
    raise KernelError(errno.EAFNOSUPPORT, f"family {family}")


def _is_loopback(host: str) -> bool:
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_any(host: str) -> bool:
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    return ip.is_unspecified


def _loopback_of(family: int) -> str:
    return "127.0.0.1" if family == AF_INET else "::1"


def policy_check(family: int, host: str, port: int, bind: bool) -> None:
    """The policy's network rules on the address a socket really gets: under --net
    loopback or none a wildcard bind is a loopback bind (the sandbox's own network has no
    other interface), so a policy that forbids listening on every host interface does not
    forbid it there."""
    if NET.policy_hook is None:
        return
    if bind and NET.mode != "host" and _is_any(host):
        host = _loopback_of(family)
    NET.policy_hook(2 if bind else 1, family, host, port)


def check_net(family: int, hostaddr: Any, bind: bool) -> Any:
    """--net loopback: a host socket may bind and talk only to 127.0.0.0/8 and ::1
    (ENETUNREACH / EADDRNOTAVAIL otherwise); a wildcard bind becomes a loopback bind."""
    if family not in (AF_INET, AF_INET6):
        return hostaddr
    policy_check(family, hostaddr[0], hostaddr[1], bind)
    if NET.mode == "host":
        return hostaddr
    host = hostaddr[0]
    if bind and _is_any(host):
        return (_loopback_of(family), *hostaddr[1:])
    if _is_loopback(host):
        return hostaddr
    if bind:
        raise KernelError(errno.EADDRNOTAVAIL, f"--net {NET.mode}: {host} is not loopback")
    raise KernelError(errno.ENETUNREACH, f"--net {NET.mode}: {host} is not loopback")


# --- --net none: a loopback network private to the sandbox --------------------------------------
class LoopProto(UnixProto):
    """AF_INET/AF_INET6 under ``--net none``: the AF_UNIX model with addresses and ports
    (127.0.0.0/8 and ::1 only) instead of names; TCP is a stream, UDP datagrams."""

    def __init__(self, sf: SocketFile, task: Any) -> None:
        super().__init__(sf, task)
        self.family = sf.family
        self.port = 0
        self.ip = b""
        self.peer_addr: bytes | None = None
        self.inprogress = False

    # addresses: (ip bytes, port) ------------------------------------------------------------
    def parse(self, task: Any, addr: bytes) -> tuple[str, bytes]:  # type: ignore[override]
        raise AssertionError("LoopProto addresses are parsed by parse_inet")

    def parse_inet(self, addr: bytes, bind: bool) -> tuple[bytes, int]:
        host = sockaddr_to_host(self.family, addr, bind)
        policy_check(self.family, host[0], host[1], bind)
        ip = pysocket.inet_pton(self.family, host[0].split("%", 1)[0])
        if not (_is_any(host[0]) or _is_loopback(host[0])):
            raise KernelError(errno.EADDRNOTAVAIL if bind else errno.ENETUNREACH,
                              f"--net none: {host[0]} is not loopback")
        return ip, host[1]

    def fmt(self, ip: bytes, port: int) -> bytes:
        text = pysocket.inet_ntop(self.family, ip)
        return host_to_sockaddr(self.family, (text, port) if self.family == AF_INET
                                else (text, port, 0, 0))

    def _key(self, port: int) -> tuple[int, int, int]:
        return (self.family, self.stype, port)

    def bind(self, task: Any, addr: bytes) -> None:
        ip, port = self.parse_inet(addr, True)
        if self.port:
            raise KernelError(errno.EINVAL, "already bound")
        self._bind(ip, port)

    def _bind(self, ip: bytes, port: int) -> None:
        ns = self.ns
        if port == 0:
            lo, hi = EPHEMERAL
            for cand in range(lo, hi + 1):
                if self._key(cand) not in ns.ports:
                    port = cand
                    break
            else:
                raise KernelError(errno.EADDRINUSE, "no free ephemeral port")
        users = ns.ports.setdefault(self._key(port), [])
        for other in users:
            if other.dead:
                continue
            overlap = other.ip == ip or not any(other.ip) or not any(ip)
            if not overlap:
                continue
            reuse = (self._opt(SO_REUSEPORT) and other._opt(SO_REUSEPORT)) or \
                    (self._opt(SO_REUSEADDR) and other._opt(SO_REUSEADDR)
                     and other.state != LISTEN)
            if not reuse:
                if not users:
                    ns.ports.pop(self._key(port), None)
                raise KernelError(errno.EADDRINUSE, f"port {port} in use")
        users.append(self)
        self.ip, self.port = ip, port
        self.name = self.fmt(ip, port)

    def _opt(self, name: int) -> bool:
        return self.opts.get((SOL_SOCKET, name), INT.pack(0)) != INT.pack(0)

    def autobind(self) -> None:
        self._bind(pysocket.inet_pton(self.family, _loopback_of(self.family)), 0)

    def unbind(self) -> None:
        if self.port:
            users = self.ns.ports.get(self._key(self.port), [])
            if self in users:
                users.remove(self)
            if not users:
                self.ns.ports.pop(self._key(self.port), None)

    def find(self, task: Any, addr: bytes) -> UnixProto:  # type: ignore[override]
        ip, port = self.parse_inet(addr, False)
        if not any(ip):
            ip = pysocket.inet_pton(self.family, _loopback_of(self.family))
        best = None
        for other in self.ns.ports.get(self._key(port), []):
            if other.dead:
                continue
            if other.ip == ip:
                best = other
                if not self.conn or other.state == LISTEN:
                    break
            elif not any(other.ip) and best is None:
                best = other
        if best is None:
            raise KernelError(errno.ECONNREFUSED, f"nothing bound on port {port}")
        return best

    def getsockname(self) -> bytes:
        if self.name is None:
            return self.fmt(bytes(4 if self.family == AF_INET else 16), 0)
        if not any(self.ip) and self.peer is not None and self.peer.name is not None:
            return self.name
        return self.name

    def getpeername(self) -> bytes:
        if self.peer is None or self.state != ESTABLISHED:
            raise KernelError(errno.ENOTCONN, "not connected")
        return self.peer_addr or self.peer.getsockname()

    def listen(self, backlog: int) -> None:
        if self.stype != SOCK_STREAM:
            raise KernelError(errno.EOPNOTSUPP, "listen on a UDP socket")
        if not self.port:
            self.autobind()
        self.max_backlog = min(backlog & 0xFFFFFFFF, SOMAXCONN) if backlog >= 0 else 0
        self.state = LISTEN

    def connect(self, task: Any, addr: bytes, nonblock: bool) -> int:
        if len(addr) >= 2 and struct.unpack_from("<H", addr)[0] == AF_UNSPEC:
            if self.conn:
                raise KernelError(errno.EISCONN if self.state == ESTABLISHED else errno.EINVAL,
                                  "AF_UNSPEC connect")
            self.disconnect()
            return 0
        target = self.find(task, addr) if self.conn else None
        if not self.port:
            self.autobind()
        if not self.conn:
            ip, port = self.parse_inet(addr, False)
            self.peer_addr = self.fmt(ip, port)
            try:
                self.peer = self.find(task, addr)
            except KernelError:
                self.peer = None
            self.state = ESTABLISHED
            return 0
        assert target is not None
        if self.inprogress and self.state == ESTABLISHED:
            self.inprogress = False  # inet_stream_connect: the completion is reported once
            return 0
        if target.state != LISTEN:
            raise KernelError(errno.ECONNREFUSED, "not listening")
        ret = self._connect(task, target, nonblock)
        embryo = self.peer
        assert isinstance(embryo, LoopProto)
        embryo.port = target.port
        embryo.ip = self.parse_inet(addr, False)[0] if not any(target.ip) else target.ip
        if not any(embryo.ip):
            embryo.ip = pysocket.inet_pton(self.family, _loopback_of(self.family))
        embryo.name = embryo.fmt(embryo.ip, embryo.port)
        embryo.peer_addr = self.name
        self.peer_addr = embryo.name
        if nonblock:
            # TCP's handshake never completes inside connect on a non-blocking socket.
            self.inprogress = True
            raise KernelError(errno.EINPROGRESS, "connect in progress")
        return ret

    def receiver(self, addr: bytes | None, task: Any) -> UnixProto:
        if addr is not None:
            if not self.port:
                self.autobind()
            try:
                return self.find(task, addr)
            except KernelError as e:
                if e.errno == errno.ECONNREFUSED:
                    return _BLACKHOLE  # UDP to a closed port: the datagram is lost
                raise
        if self.peer_addr is None:
            raise KernelError(errno.EDESTADDRREQ, "no destination")
        if self.peer is None or self.peer.dead:
            try:
                self.peer = self.find(task, self.peer_addr)
            except KernelError:
                return _BLACKHOLE
        return self.peer

    def dgram_send(self, data: bytes, flags: int, addr: bytes | None, anc: Ancillary | None,
                   nonblock: bool, task: Any) -> int:
        if len(data) > 65507:
            raise KernelError(errno.EMSGSIZE, "datagram too large")
        target = self.receiver(addr, task)
        if target is _BLACKHOLE:
            return len(data)
        if target.shut & RCV_SHUTDOWN:
            return len(data)
        if target.rq_bytes + len(data) > target.rcvbuf:
            return len(data)  # UDP drops what does not fit
        self._enqueue(target, Message(data, None, None, self.name, self))
        return len(data)

    def stream_send(self, data: bytes, flags: int, anc: Ancillary | None, nonblock: bool,
                    task: Any) -> int:
        if self.state != ESTABLISHED:
            raise KernelError(errno.EPIPE if self.state == CLOSE and self.peer_addr
                              else errno.ENOTCONN, "send on an unconnected socket")
        if self.err:
            e, self.err = self.err, 0
            raise KernelError(e, "connection reset")
        return super().stream_send(data, flags, None, nonblock, task)

    def stream_recv(self, size: int, flags: int, nonblock: bool) -> Received:
        if self.state != ESTABLISHED:
            raise KernelError(errno.ENOTCONN, "recv on an unconnected TCP socket")
        r = super().stream_recv(size, flags, nonblock)
        r.addr = None
        r.creds = None
        return r

    def getsockopt(self, task: Any, level: int, name: int, optlen: int) -> bytes:
        if level == SOL_SOCKET:
            return model_getsockopt(self, task, level, name, optlen)
        v = self.opts.get((level, name))
        if v is None:
            raise Unsupported(errno.ENOPROTOOPT, f"getsockopt {level}/{name} (--net none)")
        return v

    def setsockopt(self, task: Any, level: int, name: int, value: bytes) -> None:
        if level == SOL_SOCKET:
            model_setsockopt(self, task, level, name, value)
            return
        if len(value) < 4:
            raise KernelError(errno.EINVAL, "short option")
        self.opts[(level, name)] = value[:4]  # TCP_NODELAY, IPV6_V6ONLY…: kept, no effect


class _Blackhole(UnixProto):
    def __init__(self) -> None:  # noqa: D107 - a sentinel
        self.dead = True
        self.shut = RCV_SHUTDOWN
        self.rq = deque()
        self.rq_bytes = 0


_BLACKHOLE = _Blackhole()


# --- creation ------------------------------------------------------------------------------------
def create(task: Any, family: int, type_: int, protocol: int) -> SocketFile:
    """socket(2) without the descriptor: EAFNOSUPPORT (recorded) for families compatd does
    not model; host sockets for AF_INET/AF_INET6 (the model's under --net none)."""
    kind = type_ & SOCK_TYPE_MASK
    flags = O_NONBLOCK if type_ & SOCK_NONBLOCK else 0
    c = task.creds
    kernel = task.kernel
    if family == AF_UNIX:
        if kind not in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET):
            if kind == SOCK_RAW:
                kind = SOCK_DGRAM  # unix_create: SOCK_RAW is silently a datagram socket
            else:
                raise KernelError(errno.ESOCKTNOSUPPORT, f"AF_UNIX type {kind}")
        if protocol not in (0, AF_UNIX):
            raise KernelError(errno.EPROTONOSUPPORT, f"AF_UNIX protocol {protocol}")
        sf = SocketFile(kernel, AF_UNIX, kind, 0, flags, c.euid, c.egid)
        UnixProto(sf, task)
        return sf
    if family in (AF_INET, AF_INET6):
        if kind == SOCK_RAW and not c.capable(CAP_NET_RAW):
            raise KernelError(errno.EPERM, "raw sockets need CAP_NET_RAW")
        if NET.mode == "none":
            if kind not in (SOCK_STREAM, SOCK_DGRAM) or protocol not in (0, 6, 17):
                raise Unsupported(errno.EPROTONOSUPPORT,
                                  f"--net none: type {kind} protocol {protocol}")
            if (kind == SOCK_STREAM and protocol == 17) or (kind == SOCK_DGRAM
                                                            and protocol == 6):
                raise KernelError(errno.EPROTONOSUPPORT, "protocol does not match the type")
            sf = SocketFile(kernel, family, kind, protocol or (6 if kind == SOCK_STREAM
                                                               else 17), flags, c.euid, c.egid)
            LoopProto(sf, task)
            return sf
        try:
            sock = pysocket.socket(family, kind, protocol)
        except OSError as e:
            raise host_errno(e) from None
        proto_no = sock.getsockopt(SOL_SOCKET, SO_PROTOCOL)
        sf = SocketFile(kernel, family, kind, proto_no, flags, c.euid, c.egid)
        HostProto(sf, sock)
        return sf
    raise Unsupported(errno.EAFNOSUPPORT, f"address family {family}")


def socket_of(f: OpenFile) -> SocketFile:
    if not isinstance(f, SocketFile):
        raise KernelError(errno.ENOTSOCK, "not a socket")
    return f


def dentry_is_socket(d: Dentry) -> bool:
    return st.S_ISSOCK(d.inode.stat().mode)
