"""Moving bytes: read, write, their positioned and vectored forms, lseek, sync, ftruncate."""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import MAX_RW_COUNT, is_regular, not_path, readable, writable
from syscalls.table import Level, syscall
from vfs import ops
from vfs.base import OpenFile

FULL = Level.FULL
UIO_MAXIOV = 1024
# Copy large writes out of the tracee in pieces rather than all at once.
WRITE_CHUNK = 1 << 20


@syscall("read", FULL, "fd:fd buf:buf_out count:size")
def sys_read(t: Task, fd: int, buf: int, count: int) -> int:
    data = readable(t.fdt.get(fd)).read(min(count, MAX_RW_COUNT))
    t.mem.write(buf, data)
    return len(data)


def do_write(t: Task, f: OpenFile, buf: int, count: int, offset: int | None) -> int:
    """Copy ``count`` bytes from ``buf`` in chunks; a short write ends it, as Linux does."""
    count = min(count, MAX_RW_COUNT)
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
    return do_write(t, writable(t.fdt.get(fd)), buf, count, None)


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


def do_readv(t: Task, f: OpenFile, iov: int, iovcnt: int) -> int:
    vecs = read_iovecs(t, iov, iovcnt)
    want = min(sum(n for _, n in vecs), MAX_RW_COUNT)
    data = f.read(want)
    done = 0
    for base, length in vecs:
        if done >= len(data):
            break
        piece = data[done : done + length]
        t.mem.write(base, piece)
        done += len(piece)
    return len(data)


def do_writev(t: Task, f: OpenFile, iov: int, iovcnt: int) -> int:
    vecs = read_iovecs(t, iov, iovcnt)
    # One write of the gathered bytes: what pipes and O_APPEND need to stay atomic.
    data = b"".join(t.mem.read(base, length) for base, length in vecs if length)
    return f.write(data[:MAX_RW_COUNT])


@syscall("readv", FULL, "fd:fd iov:struct_in iovcnt:int")
def sys_readv(t: Task, fd: int, iov: int, iovcnt: int) -> int:
    return do_readv(t, readable(t.fdt.get(fd)), iov, iovcnt)


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
