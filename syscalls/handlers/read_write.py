"""Moving bytes: read, write, their positioned and vectored forms, lseek, ftruncate; the sync
family, fallocate and the page-cache hints (fadvise64, readahead)."""

from __future__ import annotations

import errno
import stat as st
import struct

from compatd.errors import BrokenPipe, KernelError, Unsupported
from compatd.kernel.task import Task
from syscalls.handlers.common import MAX_RW_COUNT, is_regular, not_path, readable, writable
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import OpenFile
from vfs.flags import O_ACCMODE, O_APPEND, O_NONBLOCK, O_PATH, O_RDONLY, O_WRONLY

FULL = Level.FULL
UIO_MAXIOV = 1024
# Copy large writes out of the tracee in pieces rather than all at once.
WRITE_CHUNK = 1 << 20


@syscall("read", FULL, "fd:fd buf:buf_out count:size")
def sys_read(t: Task, fd: int, buf: int, count: int) -> int:
    # FDTable.get and readable(), inline: read and write are the calls a server makes
    # per request (each call less is measurable there).
    f = t.fdt.files.get(fd)
    if f is None:
        raise KernelError(errno.EBADF, f"fd {fd} is not open")
    flags = f.flags
    if flags & O_PATH or flags & O_ACCMODE == O_WRONLY:
        raise KernelError(errno.EBADF, "file not open for reading")
    if f.host_reads:  # a signalfd: the host dequeues the caller's signals
        return t.kernel.run_on_host(t, fd, f)
    data = f.read(count if count < MAX_RW_COUNT else MAX_RW_COUNT)
    t.mem.write(buf, data)
    return len(data)


def do_write(t: Task, f: OpenFile, buf: int, count: int, offset: int | None) -> int:
    """write/pwrite64: ``count`` bytes from ``buf`` at ``offset`` (None: the description's
    position), within a policy's limits on files if it has some."""
    count = min(count, MAX_RW_COUNT)
    limits = t.kernel.limits
    if limits is not None:
        return limits.write(f, offset, count, lambda n: copy_out(t, f, buf, n, offset))
    return copy_out(t, f, buf, count, offset)


def copy_out(t: Task, f: OpenFile, buf: int, count: int, offset: int | None) -> int:
    """Copy ``count`` bytes from ``buf`` in chunks; a short write ends it, as Linux does."""
    if count <= WRITE_CHUNK:
        data = t.mem.read(buf, count)
        return f.write(data) if offset is None else f.pwrite(data, offset)
    done = 0
    while done < count:
        n = min(WRITE_CHUNK, count - done)
        try:
            data = t.mem.read(buf + done, n)
        except KernelError:
            if done:
                return done
            raise
        w = f.write(data) if offset is None else f.pwrite(data, offset + done)
        done += w
        if w < n:
            break
    return done


@syscall("write", FULL, "fd:fd buf:buf_in count:size")
def sys_write(t: Task, fd: int, buf: int, count: int) -> int:
    # As sys_read: FDTable.get, writable() and do_write's one-piece case (when no policy
    # limits writes), inline.
    f = t.fdt.files.get(fd)
    if f is None:
        raise KernelError(errno.EBADF, f"fd {fd} is not open")
    flags = f.flags
    if flags & O_PATH or flags & O_ACCMODE == O_RDONLY:
        raise KernelError(errno.EBADF, "file not open for writing")
    if count <= WRITE_CHUNK and t.kernel.limits is None:
        return f.write(t.mem.read(buf, count))
    return do_write(t, f, buf, count, None)


def positioned(f: OpenFile, offset: int) -> OpenFile:
    if offset < 0:
        raise KernelError(errno.EINVAL, "negative offset")
    if not f.seekable:
        raise KernelError(errno.ESPIPE, "pread/pwrite on an unseekable file")
    return f


@syscall("pread64", FULL, "fd:fd buf:buf_out count:size offset:off")
def sys_pread64(t: Task, fd: int, buf: int, count: int, offset: int) -> int:
    f = positioned(readable(t.fdt.get(fd)), offset)
    data = f.pread(min(count, MAX_RW_COUNT), offset)
    t.mem.write(buf, data)
    return len(data)


@syscall("pwrite64", FULL, "fd:fd buf:buf_in count:size offset:off")
def sys_pwrite64(t: Task, fd: int, buf: int, count: int, offset: int) -> int:
    f = positioned(writable(t.fdt.get(fd)), offset)
    return do_write(t, f, buf, count, offset)


IOVEC = struct.Struct("<QQ")


def read_iovecs(t: Task, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    """The (base, len) pairs of an iovec array; EINVAL past UIO_MAXIOV or a total overflow."""
    if not 0 <= iovcnt <= UIO_MAXIOV:
        raise KernelError(errno.EINVAL, f"iovcnt {iovcnt}")
    raw = t.mem.read(iov, iovcnt * IOVEC.size)
    vecs = [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(iovcnt)]
    total = 0
    for _, length in vecs:
        if length >> 63:
            raise KernelError(errno.EINVAL, "negative iovec length")
        total += length
    if total >> 63:
        raise KernelError(errno.EINVAL, "iovec lengths overflow ssize_t")
    return vecs


def do_readv(t: Task, f: OpenFile, iov: int, iovcnt: int, offset: int | None = None) -> int:
    vecs = read_iovecs(t, iov, iovcnt)
    want = min(sum(n for _, n in vecs), MAX_RW_COUNT)
    if not want:
        return 0
    data = f.read(want) if offset is None else f.pread(want, offset)
    scatter_into(t, vecs, data)
    return len(data)


def scatter_into(t: Task, vecs: list[tuple[int, int]], data: bytes) -> None:
    """Spread ``data`` over the (base, len) buffers in order, as far as it goes."""
    done = 0
    for base, length in vecs:
        if done >= len(data):
            break
        piece = data[done : done + length]
        t.mem.write(base, piece)
        done += len(piece)


def gather(t: Task, iov: int, iovcnt: int) -> bytes:
    vecs = read_iovecs(t, iov, iovcnt)
    # One write of the gathered bytes: what pipes and O_APPEND need to stay atomic.
    return b"".join(t.mem.read(base, length) for base, length in vecs if length)[:MAX_RW_COUNT]


def do_writev(t: Task, f: OpenFile, iov: int, iovcnt: int) -> int:
    return write_data(t, f, gather(t, iov, iovcnt), None)


def write_data(t: Task, f: OpenFile, data: bytes, offset: int | None) -> int:
    """Write gathered ``data`` at ``offset`` (None: the description's position, which
    honours O_APPEND), within a policy's limits on files if it has some."""
    limits = t.kernel.limits
    if limits is None:
        return f.write(data) if offset is None else f.pwrite(data, offset)
    if offset is None:
        return limits.write(f, None, len(data), lambda n: f.write(data[:n]))
    return limits.write(f, offset, len(data), lambda n: f.pwrite(data[:n], offset))


@syscall("readv", FULL, "fd:fd iov:struct_in iovcnt:int")
def sys_readv(t: Task, fd: int, iov: int, iovcnt: int) -> int:
    f = readable(t.fdt.get(fd))
    if f.host_reads:
        return t.kernel.run_on_host(t, fd, f)
    return do_readv(t, f, iov, iovcnt)


@syscall("writev", FULL, "fd:fd iov:struct_in iovcnt:int")
def sys_writev(t: Task, fd: int, iov: int, iovcnt: int) -> int:
    return do_writev(t, writable(t.fdt.get(fd)), iov, iovcnt)


SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = range(5)


@syscall("lseek", FULL, "fd:fd offset:off whence:whence")
def sys_lseek(t: Task, fd: int, offset: int, whence: int) -> int:
    f = not_path(t.fdt.get(fd))
    if whence in (SEEK_DATA, SEEK_HOLE):
        # Our files have no holes: data runs from 0 to the size, the only hole is at EOF.
        if not is_regular(f):
            raise KernelError(errno.EINVAL, "SEEK_DATA/SEEK_HOLE on a non-regular file")
        size = f.size()
        if offset < 0 or offset >= size:
            raise KernelError(errno.ENXIO, "offset at or past the end")
        f.pos = offset if whence == SEEK_DATA else size
        return f.pos
    if whence > SEEK_HOLE or whence < 0:
        raise KernelError(errno.EINVAL, f"whence {whence}")
    return f.seek(offset, whence)


@syscall("fsync", FULL, "fd:fd")
def sys_fsync(t: Task, fd: int) -> int:
    not_path(t.fdt.get(fd)).fsync()
    return 0


@syscall("fdatasync", FULL, "fd:fd")
def sys_fdatasync(t: Task, fd: int) -> int:
    not_path(t.fdt.get(fd)).fsync()
    return 0


@syscall("ftruncate", FULL, "fd:fd length:off")
def sys_ftruncate(t: Task, fd: int, length: int) -> int:
    ops.ftruncate(t.fdt.get(fd), length)
    return 0


# vectored positioned I/O ----------------------------------------------------------------
RWF_HIPRI = 0x01
RWF_DSYNC = 0x02
RWF_SYNC = 0x04
RWF_NOWAIT = 0x08
RWF_APPEND = 0x10
RWF_NOAPPEND = 0x20
RWF_ATOMIC = 0x40
RWF_DONTCACHE = 0x80
RWF_NOSIGNAL = 0x100
# Accepted: polling, syncing and no-wait are no-ops or O_NONBLOCK for the one call here.
RWF_HANDLED = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND
RWF_KNOWN = RWF_HANDLED | RWF_ATOMIC | RWF_DONTCACHE | RWF_NOSIGNAL
RWF_UNSUPPORTED = (
    "RWF_ATOMIC and RWF_DONTCACHE: EOPNOTSUPP, what tmpfs answers (a host filesystem may "
    "support them)",
)


def check_rwf(f: OpenFile, flags: int, write: bool) -> None:
    """kiocb_set_rw_flags: unknown bits are EOPNOTSUPP, and RWF_NOWAIT where the file has no
    FMODE_NOWAIT (tmpfs regular files)."""
    if flags & ~RWF_KNOWN:
        raise KernelError(errno.EOPNOTSUPP, f"RWF flags {flags:#x}")
    if flags & RWF_NOWAIT and is_regular(f) and f.inode is not None \
            and f.inode.fs.name == "tmpfs":
        raise KernelError(errno.EOPNOTSUPP, "RWF_NOWAIT on a tmpfs file")
    if flags & (RWF_ATOMIC | RWF_DONTCACHE):
        raise Unsupported(errno.EOPNOTSUPP, "RWF_ATOMIC/RWF_DONTCACHE")
    if flags & RWF_NOSIGNAL and not write:
        raise KernelError(errno.EOPNOTSUPP, "RWF_NOSIGNAL on a read")


def vector_file(t: Task, fd: int, offset: int | None, write: bool) -> OpenFile:
    """The checks before the iovec is read: EINVAL (offset below -1 or, for v1, -1 itself),
    EBADF (not open, O_PATH), ESPIPE (positioned on a pipe), EBADF (access mode)."""
    if offset is not None and offset < 0:
        raise KernelError(errno.EINVAL, "negative offset")
    f = not_path(t.fdt.get(fd))
    if offset is not None and not f.seekable:
        raise KernelError(errno.ESPIPE, "positioned I/O on an unseekable file")
    return writable(f) if write else readable(f)


def rw_flags(f: OpenFile, flags: int) -> int:
    """The status flags one call runs with: RWF_NOWAIT adds O_NONBLOCK, RWF_APPEND O_APPEND,
    RWF_NOAPPEND removes O_APPEND."""
    fl = f.flags
    if flags & RWF_NOWAIT:
        fl |= O_NONBLOCK
    if flags & RWF_APPEND:
        fl |= O_APPEND
    if flags & RWF_NOAPPEND:
        fl &= ~O_APPEND
    return fl


def do_preadv2(t: Task, fd: int, iov: int, iovcnt: int, offset: int, flags: int,
               v2: bool) -> int:
    pos = None if v2 and offset == -1 else offset
    f = vector_file(t, fd, pos, False)
    if f.host_reads:  # at the current position (-1): readv with flags, which the host checks
        return t.kernel.run_on_host(t, fd, f)
    vecs = read_iovecs(t, iov, iovcnt)
    if not any(n for _, n in vecs):
        return 0
    check_rwf(f, flags, False)
    saved = f.flags
    f.flags = rw_flags(f, flags)
    try:
        return do_readv(t, f, iov, iovcnt, pos)
    finally:
        f.flags = saved


def do_pwritev2(t: Task, fd: int, iov: int, iovcnt: int, offset: int, flags: int,
                v2: bool) -> int:
    pos = None if v2 and offset == -1 else offset
    f = vector_file(t, fd, pos, True)
    data = gather(t, iov, iovcnt)
    if not data:
        return 0
    check_rwf(f, flags, True)
    saved = f.flags
    f.flags = rw_flags(f, flags)
    try:
        if pos is not None and f.flags & O_APPEND:
            # O_APPEND (unless RWF_NOAPPEND) appends whatever the offset, as Linux's pwrite.
            pos = f.size()
        # Without an offset the description's write honours O_APPEND as set above.
        return write_data(t, f, data, pos)
    except BrokenPipe as e:
        if flags & RWF_NOSIGNAL:
            raise KernelError(errno.EPIPE, e.why) from None
        raise
    finally:
        f.flags = saved


@syscall("preadv", FULL, "fd:fd iov:struct_in iovcnt:int offset:off offset_high:ulong")
def sys_preadv(t: Task, fd: int, iov: int, iovcnt: int, offset: int, high: int) -> int:
    # x86-64 passes the whole 64-bit offset in the low word (pos_from_hilo).
    return do_preadv2(t, fd, iov, iovcnt, offset, 0, False)


@syscall("pwritev", FULL, "fd:fd iov:struct_in iovcnt:int offset:off offset_high:ulong")
def sys_pwritev(t: Task, fd: int, iov: int, iovcnt: int, offset: int, high: int) -> int:
    return do_pwritev2(t, fd, iov, iovcnt, offset, 0, False)


@syscall("preadv2", Level.PARTIAL, "fd:fd iov:struct_in iovcnt:int offset:off "
         "offset_high:ulong flags:flags", unsupported=RWF_UNSUPPORTED)
def sys_preadv2(t: Task, fd: int, iov: int, iovcnt: int, offset: int, high: int,
                flags: int) -> int:
    return do_preadv2(t, fd, iov, iovcnt, offset, flags, True)


@syscall("pwritev2", Level.PARTIAL, "fd:fd iov:struct_in iovcnt:int offset:off "
         "offset_high:ulong flags:flags", unsupported=RWF_UNSUPPORTED)
def sys_pwritev2(t: Task, fd: int, iov: int, iovcnt: int, offset: int, high: int,
                 flags: int) -> int:
    return do_pwritev2(t, fd, iov, iovcnt, offset, flags, True)


# sync family ----------------------------------------------------------------------------
@syscall("sync", FULL, "")
def sys_sync(t: Task) -> int:
    # Nothing is cached in the supervisor: hostfs writes already reached the host kernel
    # and tmpfs has no disk. sync cannot fail.
    return 0


@syscall("syncfs", FULL, "fd:fd")
def sys_syncfs(t: Task, fd: int) -> int:
    not_path(t.fdt.get(fd))
    return 0


SYNC_FILE_RANGE_VALID = 0x7  # WAIT_BEFORE | WRITE | WAIT_AFTER


def file_mode(f: OpenFile) -> int:
    """The file type and mode behind a description (0 if it has none to show)."""
    try:
        return f.stat().mode
    except KernelError:
        return 0


@syscall("sync_file_range", FULL, "fd:fd offset:off nbytes:off flags:flags")
def sys_sync_file_range(t: Task, fd: int, offset: int, nbytes: int, flags: int) -> int:
    """EBADF, EINVAL (flags, negative offset or end, overflow), then ESPIPE for anything
    but a regular file, block device, directory or symlink (measured on Linux 6.18)."""
    f = not_path(t.fdt.get(fd))
    end = offset + nbytes
    if flags & ~SYNC_FILE_RANGE_VALID or offset < 0 or end >= 1 << 63 or end < offset:
        raise KernelError(errno.EINVAL, "sync_file_range arguments")
    mode = file_mode(f)
    if not (st.S_ISREG(mode) or st.S_ISBLK(mode) or st.S_ISDIR(mode) or st.S_ISLNK(mode)):
        raise KernelError(errno.ESPIPE, "sync_file_range on a pipe, socket or device")
    return 0


# space allocation -----------------------------------------------------------------------
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_NO_HIDE_STALE = 0x04
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
FALLOC_FL_UNSHARE_RANGE = 0x40
FALLOC_FL_WRITE_ZEROES = 0x80
FALLOC_FL_MODE_MASK = (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE
                       | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE
                       | FALLOC_FL_WRITE_ZEROES)
MAX_LFS_FILESIZE = (1 << 63) - 1
ZERO_CHUNK = 1 << 20


@syscall(
    "fallocate",
    Level.PARTIAL,
    "fd:fd mode:int offset:off len:off",
    unsupported=(
        "FALLOC_FL_ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE, WRITE_ZEROES: "
        "EOPNOTSUPP, what tmpfs answers (a host filesystem may support them)",
    ),
)
def sys_fallocate(t: Task, fd: int, mode: int, offset: int, length: int) -> int:
    """vfs_fallocate's order: EINVAL, EOPNOTSUPP (mode), EBADF (not open, not for writing),
    ESPIPE (FIFO), EISDIR, ENODEV (not a regular file), EFBIG; then the filesystem.

    Mode 0 extends the size, KEEP_SIZE alone allocates nothing we could show, and
    PUNCH_HOLE|KEEP_SIZE zeroes the range inside the file (no sparse files here)."""
    mode &= 0xFFFFFFFF
    if offset < 0 or length <= 0:
        raise KernelError(errno.EINVAL, "negative offset or non-positive length")
    if mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE):
        raise KernelError(errno.EOPNOTSUPP, f"fallocate mode {mode:#x}")
    kind = mode & FALLOC_FL_MODE_MASK
    if kind & (kind - 1) or (kind == FALLOC_FL_PUNCH_HOLE and not mode & FALLOC_FL_KEEP_SIZE) \
            or kind in (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE,
                        FALLOC_FL_WRITE_ZEROES) and mode & FALLOC_FL_KEEP_SIZE:
        raise KernelError(errno.EOPNOTSUPP, f"fallocate mode {mode:#x}")
    f = writable(not_path(t.fdt.get(fd)))
    fmt = st.S_IFMT(file_mode(f))
    if fmt == st.S_IFIFO:
        raise KernelError(errno.ESPIPE, "fallocate on a pipe")
    if fmt == st.S_IFDIR:
        raise KernelError(errno.EISDIR, "fallocate on a directory")
    if fmt != st.S_IFREG:
        raise KernelError(errno.ENODEV, "fallocate on a non-regular file")
    end = offset + length
    if end > MAX_LFS_FILESIZE:
        raise KernelError(errno.EFBIG, "range beyond the largest file")
    if kind and kind != FALLOC_FL_PUNCH_HOLE:
        raise Unsupported(errno.EOPNOTSUPP, f"fallocate mode {mode:#x}")
    check_seals = getattr(f, "check_fallocate", None)
    if check_seals is not None:
        check_seals(mode, offset, length)
    size = f.size()
    if ops.newsize_hook is not None and not mode & FALLOC_FL_KEEP_SIZE:
        ops.newsize_hook(size, end)  # RLIMIT_FSIZE, as the filesystem's inode_newsize_ok
    if kind == FALLOC_FL_PUNCH_HOLE:
        pos, stop = offset, min(end, size)
        while pos < stop:
            n = min(ZERO_CHUNK, stop - pos)
            f.pwrite(bytes(n), pos)
            pos += n
    elif not mode & FALLOC_FL_KEEP_SIZE and end > size:
        f.truncate(end)
    return 0


# page-cache hints -----------------------------------------------------------------------
POSIX_FADV_NOREUSE = 5


def do_fadvise(f: OpenFile, length: int, advice: int) -> int:
    """generic_fadvise on a filesystem without a backing device (tmpfs): ESPIPE for a FIFO,
    EINVAL for unknown advice; the advice itself is ignored. A negative length means "to
    the end" (measured on Linux 6.18)."""
    if st.S_ISFIFO(file_mode(f)) or not f.seekable:
        raise KernelError(errno.ESPIPE, "fadvise on a pipe")
    if not 0 <= advice <= POSIX_FADV_NOREUSE:
        raise KernelError(errno.EINVAL, f"fadvise length {length} advice {advice}")
    return 0


@syscall("fadvise64", FULL, "fd:fd offset:off len:off advice:int")
def sys_fadvise64(t: Task, fd: int, offset: int, length: int, advice: int) -> int:
    return do_fadvise(not_path(t.fdt.get(fd)), length, advice)


@syscall("readahead", FULL, "fd:fd offset:off count:size")
def sys_readahead(t: Task, fd: int, offset: int, count: int) -> int:
    """EBADF (not open for reading), EINVAL (not a regular file), then as fadvise
    (WILLNEED): a count beyond LLONG_MAX is a negative length."""
    f = readable(t.fdt.get(fd))
    if not is_regular(f):
        raise KernelError(errno.EINVAL, "readahead on a non-regular file")
    length = count - (1 << 64) if count >> 63 else count
    return do_fadvise(f, length, 3)

