"""The small abstract classes every filesystem implements.

Paths and names are ``bytes`` everywhere, as Linux sees them. Every default method raises the
errno Linux gives when a filesystem or file type does not support the operation, so a
filesystem only overrides what it has. The resolver (``vfs.resolver``) is the only code that
walks paths: filesystems answer ``lookup`` of one name in one directory.
"""

from __future__ import annotations

import errno
import stat as st
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from compatd.errors import KernelError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vfs.mount import Mount


# What a filesystem learned from its backing store (hostfs: the host's lstat results, its
# directory fds) holds for one generation. The kernel starts a new one for every syscall
# (``tick()`` before each handler) and a filesystem starts one after every change it makes,
# so a cached answer is never older than the syscall asking, nor than our own last change.
generation = 0


def tick() -> None:
    """Start a new generation: everything cached for the previous one is stale."""
    global generation
    generation += 1


@dataclass(slots=True)
class Stat:
    """What ``stat``/``statx`` report; times are nanoseconds since the epoch.

    A filesystem may hand out the same ``Stat`` several times within one generation (see
    ``tick``): treat it as read-only."""

    dev: int
    ino: int
    mode: int
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    rdev: int = 0
    size: int = 0
    blksize: int = 4096
    blocks: int = 0
    atime_ns: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    btime_ns: int = 0


@dataclass(slots=True)
class DirEntry:
    """One entry of a directory listing (``getdents64``)."""

    name: bytes
    ino: int
    dtype: int  # DT_* value: (mode >> 12) & 0o17


@dataclass(slots=True)
class StatFs:
    """What ``statfs`` reports."""

    type: int
    bsize: int = 4096
    blocks: int = 0
    bfree: int = 0
    bavail: int = 0
    files: int = 0
    ffree: int = 0
    namelen: int = 255
    frsize: int = 4096
    flags: int = 0


POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND, POLLRDHUP = 0x40, 0x80, 0x100, 0x200, 0x2000


class WaitQueue:
    """Who wants to hear about a file's state changes (Linux's wait_queue_head): epoll
    interests subscribe; the file calls ``wake(mask)`` when something happened (data came,
    room was made, the other side closed). ``mask`` is the POLL* key of the wakeup (0: any).

    Edge-triggered epoll reports once per wakeup, as Linux does, so a file should wake
    where Linux's does (a pipe wakes readers on every write, writers when a read empties a
    slot of a full pipe, everyone when a side closes). Files without a queue (host fds)
    are watched by comparing readiness instead. poll/select need no queue: parked calls are
    retried after every syscall, exit, timer and ready host fd."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[object, None] = {}  # objects with .wakeup(mask), in order

    def wake(self, mask: int = 0) -> None:
        if self.entries:
            # Newest first: add_wait_queue puts an entry at the head of the queue.
            for entry in reversed(list(self.entries)):
                entry.wakeup(mask)  # type: ignore[attr-defined]


def dtype_of(mode: int) -> int:
    """The ``d_type`` of a mode: Linux stores ``S_IFMT >> 12``."""
    return st.S_IFMT(mode) >> 12


class Filesystem:
    """One mounted instance of a filesystem type.

    ``dev`` is the device number ``stat`` reports; every instance gets its own, so inode
    identity is ``(fs.dev, ino)``.
    """

    magic: ClassVar[int] = 0  # f_type for statfs
    name: ClassVar[str] = "none"
    _next_dev: ClassVar[int] = 0x100

    def __init__(self, readonly: bool = False) -> None:
        Filesystem._next_dev += 1
        self.dev = Filesystem._next_dev
        self.readonly = readonly
        self._next_ino = 0

    def new_ino(self) -> int:
        """A fresh inode number, for filesystems that number their own inodes."""
        self._next_ino += 1
        return self._next_ino

    @property
    def root(self) -> Inode:
        raise NotImplementedError

    def statfs(self) -> StatFs:
        return StatFs(type=self.magic)

    def check_writable(self) -> None:
        if self.readonly:
            raise KernelError(errno.EROFS, f"{self.name} is mounted read-only")


class Inode:
    """A file, directory, symlink or device in one filesystem.

    Directory operations take the single final ``name`` (never a path, never ``.``/``..``:
    the resolver handles those) and the ``Creds`` of the caller where ownership matters.
    """

    __slots__ = ("fs", "ino")
    # A FIFO inode normally is a rendezvous point served by pipefs (two opens meet); an
    # inode standing for a host object that is already a pipe (a host stdio fd reached
    # through /proc/self/fd) opens that object itself.
    fifo_in_pipefs: ClassVar[bool] = True

    def __init__(self, fs: Filesystem, ino: int) -> None:
        self.fs = fs
        self.ino = ino

    # identity and attributes -------------------------------------------------------------
    @property
    def key(self) -> tuple[int, int]:
        return (self.fs.dev, self.ino)

    def host_identity(self) -> tuple[int, int] | None:
        """The host file's (st_dev, st_ino) when this inode stands for one: the same by
        every mount, hard link and descriptor that reaches it (a policy's rule on one name
        follows the file to the others). None for files that live only in the model."""
        return None

    def stat(self) -> Stat:
        raise NotImplementedError

    @property
    def mode(self) -> int:
        return self.stat().mode

    def is_dir(self) -> bool:
        return st.S_ISDIR(self.mode)

    def is_symlink(self) -> bool:
        return st.S_ISLNK(self.mode)

    # attribute changes ------------------------------------------------------------------
    def chmod(self, mode: int) -> None:
        raise KernelError(errno.EPERM, "chmod not supported here")

    def chown(self, uid: int, gid: int) -> None:
        """-1 leaves that id unchanged."""
        raise KernelError(errno.EPERM, "chown not supported here")

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        """``None`` leaves that time unchanged (UTIME_OMIT)."""
        raise KernelError(errno.EPERM, "utimes not supported here")

    def truncate(self, size: int) -> None:
        if self.is_dir():
            raise KernelError(errno.EISDIR, "truncate of a directory")
        raise KernelError(errno.EINVAL, "truncate not supported here")

    # directories ------------------------------------------------------------------------
    def lookup(self, name: bytes) -> Inode:
        raise KernelError(errno.ENOTDIR, "lookup in a non-directory")

    def readdir(self) -> Iterator[DirEntry]:
        """Entries other than ``.`` and ``..`` (the open directory adds those)."""
        raise KernelError(errno.ENOTDIR, "readdir of a non-directory")

    def create(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        """A new regular file; EEXIST if the name exists."""
        raise KernelError(errno.EPERM if self.is_dir() else errno.ENOTDIR, "create not supported")

    def mkdir(self, name: bytes, mode: int, uid: int, gid: int) -> Inode:
        raise KernelError(errno.EPERM if self.is_dir() else errno.ENOTDIR, "mkdir not supported")

    def mknod(self, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Inode:
        raise KernelError(errno.EPERM, "mknod not supported")

    def symlink(self, name: bytes, target: bytes, uid: int, gid: int) -> Inode:
        raise KernelError(errno.EPERM if self.is_dir() else errno.ENOTDIR, "symlink not supported")

    def link(self, name: bytes, target: Inode) -> None:
        raise KernelError(errno.EPERM, "hard links not supported")

    def link_file(self, name: bytes, f: OpenFile) -> None:
        """A new name for the file an open description holds (linkat with AT_EMPTY_PATH,
        O_TMPFILE files): its last name may be gone. Filesystems whose inodes are names
        (hostfs) link through the open file instead."""
        if f.inode is None:
            raise KernelError(errno.EXDEV, "no inode to link")
        self.link(name, f.inode)

    def unlink(self, name: bytes) -> None:
        """Remove a non-directory (EISDIR for a directory, as unlink(2) on Linux)."""
        raise KernelError(errno.EPERM if self.is_dir() else errno.ENOTDIR, "unlink not supported")

    def rmdir(self, name: bytes) -> None:
        """Remove an empty directory (ENOTDIR for a non-directory, ENOTEMPTY if not empty)."""
        raise KernelError(errno.EPERM if self.is_dir() else errno.ENOTDIR, "rmdir not supported")

    def rename(self, old_name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        """Rename within one filesystem (the caller checks EXDEV). ``flags`` are RENAME_*."""
        raise KernelError(errno.EPERM, "rename not supported")

    # extended attributes -----------------------------------------------------------------
    # Names arrive checked (vfs.xattrs: namespace, permission, length); the defaults answer
    # as Linux for a filesystem without xattr handlers.
    def getxattr(self, name: bytes) -> bytes:
        """The value of ``name``; ENODATA if it has none."""
        raise KernelError(errno.EOPNOTSUPP, "no extended attributes here")

    def setxattr(self, name: bytes, value: bytes, flags: int) -> None:
        """Set ``name``; ``flags`` are XATTR_CREATE (EEXIST) / XATTR_REPLACE (ENODATA)."""
        raise KernelError(errno.EOPNOTSUPP, "no extended attributes here")

    def listxattr(self) -> list[bytes]:
        """The names set (Linux lists none where a filesystem has no xattrs)."""
        return []

    def removexattr(self, name: bytes) -> None:
        raise KernelError(errno.EOPNOTSUPP, "no extended attributes here")

    # symlinks ---------------------------------------------------------------------------
    def readlink(self) -> bytes:
        raise KernelError(errno.EINVAL, "not a symbolic link")

    # opening ----------------------------------------------------------------------------
    def open(self, flags: int) -> OpenFile:
        """An open file description for this inode; ``flags`` are the open(2) flags.

        The caller has already checked permissions, O_DIRECTORY and O_TRUNC's truncation.
        """
        raise KernelError(errno.ENXIO, "cannot open this file type")

    def host_path(self) -> bytes | None:
        """The host path of this inode when it is a host file (exec of host binaries)."""
        return None


class OpenFile:
    """An open file description: what ``dup`` shares and ``close`` releases.

    ``flags`` holds the open(2) status flags (O_APPEND, O_NONBLOCK, access mode…); the
    fd table keeps FD_CLOEXEC separately because it belongs to the descriptor.
    """

    seekable: ClassVar[bool] = True
    # Whether ``flush`` does anything: the fd table calls it on every close only then.
    flushes: ClassVar[bool] = False
    # A description whose reads only the host can serve (a signalfd dequeues the calling
    # thread's signals): read and readv run on the host, on a copy of ``host_copy`` (the
    # supervisor's own host fd of it) placed in the reader's table (Kernel.run_on_host).
    host_reads: ClassVar[bool] = False
    host_copy: int = -1

    def __init__(self, inode: Inode | None, flags: int) -> None:
        self.inode = inode
        self.flags = flags
        self.pos = 0
        self.refs = 0
        self.dentry: Dentry | None = None  # set by the opener: the path it was opened by

    # data -------------------------------------------------------------------------------
    def read(self, size: int) -> bytes:
        data = self.pread(size, self.pos)
        self.pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        if self.flags & 0o2000 and self.inode is not None:  # O_APPEND
            self.pos = self.size()
        n = self.pwrite(data, self.pos)
        self.pos += n
        return n

    def pread(self, size: int, offset: int) -> bytes:
        # A stream (pipe, socket) has no positions: ESPIPE, as rw_verify_area says.
        if not self.seekable:
            raise KernelError(errno.ESPIPE, "positioned read on a stream")
        raise KernelError(errno.EINVAL, "read not supported")

    def pwrite(self, data: bytes, offset: int) -> int:
        if not self.seekable:
            raise KernelError(errno.ESPIPE, "positioned write on a stream")
        raise KernelError(errno.EINVAL, "write not supported")

    def seek(self, offset: int, whence: int) -> int:
        if not self.seekable:
            raise KernelError(errno.ESPIPE, "not seekable")
        if whence == 0:
            new = offset
        elif whence == 1:
            new = self.pos + offset
        elif whence == 2:
            new = self.size() + offset
        else:
            raise KernelError(errno.EINVAL, f"whence {whence}")
        if new < 0:
            raise KernelError(errno.EINVAL, "negative offset")
        self.pos = new
        return new

    def size(self) -> int:
        return self.inode.stat().size if self.inode is not None else 0

    def stat(self) -> Stat:
        if self.inode is None:
            raise KernelError(errno.EBADF, "no inode")
        return self.inode.stat()

    # directories ------------------------------------------------------------------------
    def readdir(self) -> list[DirEntry]:
        """The full listing, ``.`` and ``..`` included; getdents64 pages through it by pos.

        A directory keeps the listing it took at offset 0 until the offset is 0 again, so
        entries removed while a program walks it (rm -r) do not shift unread positions."""
        raise KernelError(errno.ENOTDIR, "not a directory")

    # control ----------------------------------------------------------------------------
    def ioctl(self, request: int, arg: int, task: object) -> int:
        raise KernelError(errno.ENOTTY, f"ioctl {request:#x} not supported on this file")

    def readable_bytes(self) -> int:
        """What FIONREAD reports."""
        return max(0, self.size() - self.pos)

    def poll(self) -> int:
        """Readiness now, as POLL* bits (Linux's f_op->poll). Regular files and directories
        are always ready; pipes, sockets, terminals, eventfds override this. A blocking call
        that waits for readiness raises WouldBlock: the kernel retries it after every
        change in the sandbox, and after a host fd it watches becomes ready."""
        return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

    def can_poll(self) -> bool:
        """Whether the file has its own poll (Linux's file_can_poll): epoll_ctl refuses the
        others (regular files, directories) with EPERM."""
        return type(self).poll is not OpenFile.poll

    def wait_queues(self) -> tuple[WaitQueue, ...]:
        """The queues whose wakeups concern this description (epoll subscribes to them)."""
        return ()

    def host_poll(self) -> tuple[int, int] | None:
        """(host fd, events) when ``poll()`` is exactly the host's poll(2) answer for that
        fd and those events for the description's whole life (a host socket): epoll asks
        the host about all such interests of an instance in one call. None otherwise."""
        return None

    def arm_wakeup(self, kernel: object, events: int) -> None:
        """A caller is about to park until ``events``: a file whose readiness changes
        outside the sandbox (a host fd) asks the loop to watch it. Files changed only by
        the sandbox's own calls need nothing."""
        return None

    def fdinfo(self) -> bytes:
        """Lines /proc/PID/fdinfo/N shows after the common ones (a signalfd: its mask)."""
        return b""

    def fsync(self) -> None:
        return None

    def flush(self, files: object) -> None:
        """Linux's f_op->flush: a descriptor of this description is being closed in the
        descriptor table ``files`` (close, dup2 over it, exec's close-on-exec, the last
        thread's exit), whether or not it was the last reference. Set ``flushes``."""
        return None

    def truncate(self, size: int) -> None:
        if self.inode is None:
            raise KernelError(errno.EINVAL, "not a file")
        self.inode.truncate(size)

    def release(self) -> None:
        """The last reference is gone."""
        return None


@dataclass(eq=False, slots=True)
class Dentry:
    """A name in the mount tree: where an inode was reached from.

    Dentries are built during resolution and are not cached; ``parent`` chains span mounts
    (a mount's root dentry has the mountpoint's parent as its parent), so ``..`` and
    ``getcwd`` follow the chain without consulting the mount table.
    """

    mount: Mount
    inode: Inode
    name: bytes = b"/"
    parent: Dentry | None = None
    # Set when a /proc/PID/fd/N magic link reached this: the open file itself, so link()
    # can name a file whose last name is gone (an O_TMPFILE file), as Linux does through
    # the link's struct path.
    file: OpenFile | None = None

    def path(self) -> bytes:
        """The absolute path of this dentry (relative to the namespace root)."""
        parts: list[bytes] = []
        d: Dentry | None = self
        while d is not None and d.parent is not None:
            parts.append(d.name)
            d = d.parent
        return b"/" + b"/".join(reversed(parts))

    def same(self, other: Dentry) -> bool:
        return self.mount is other.mount and self.inode.key == other.inode.key
