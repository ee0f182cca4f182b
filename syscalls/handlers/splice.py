"""Copies the supervisor makes between descriptors: sendfile, copy_file_range, splice, tee,
vmsplice (fs/read_write.c, fs/splice.c). The bytes pass through the supervisor in chunks;
a pipe side never takes more than the destination has room for, so nothing read from a
pipe is lost when the other side is full."""

from __future__ import annotations

import errno
import stat as st
import struct

from compatd.errors import KernelError, WouldBlock
from compatd.kernel.task import Task
from syscalls.handlers.common import MAX_RW_COUNT
from syscalls.handlers.read_write import read_iovecs, scatter_into
from syscalls.table import Level, syscall
from vfs.base import OpenFile
from vfs.flags import O_APPEND, O_NONBLOCK, O_PATH, readable, writable
from vfs.pipefs import PAGE_SIZE, Pipe, pipe_of

FULL = Level.FULL
CHUNK = 1 << 20
OFF = struct.Struct("<q")
SPLICE_F_NONBLOCK = 0x02
SPLICE_F_ALL = 0x0F  # MOVE | NONBLOCK | MORE | GIFT: MOVE and GIFT are hints, MORE a cork


def room(p: Pipe) -> int:
    """Bytes a write can put in new pages now (the slot rule of pipefs)."""
    return max(0, p.capacity // PAGE_SIZE - len(p.bufs)) * PAGE_SIZE


def get_file(t: Task, fd: int) -> OpenFile:
    f = t.fdt.get(fd)
    if f.flags & O_PATH:
        raise KernelError(errno.EBADF, "O_PATH descriptor")
    return f


def read_off(t: Task, addr: int) -> int | None:
    return OFF.unpack(t.mem.read(addr, 8))[0] if addr else None


def pipe_source(p: Pipe, want: int, nonblock: bool, done: int) -> int:
    """How much a pipe source may give now: 0 at end of file; EAGAIN or WouldBlock empty."""
    if p.bufs:
        return min(want, p.buffered())
    if done or not p.writers:
        return 0
    if nonblock:
        raise KernelError(errno.EAGAIN, "pipe empty")
    raise WouldBlock("splice from an empty pipe")


def pipe_sink(p: Pipe, want: int, nonblock: bool, done: int) -> int:
    if not p.readers:
        if done:
            return 0
        from compatd.errors import BrokenPipe

        raise BrokenPipe("splice to a pipe without readers")
    free = room(p)
    if free:
        return min(want, free)
    if done:
        return 0
    if nonblock:
        raise KernelError(errno.EAGAIN, "pipe full")
    raise WouldBlock("splice to a full pipe")


def transfer(t: Task, src: OpenFile, src_pos: int | None, dst: OpenFile, dst_pos: int | None,
             count: int, nonblock: bool) -> tuple[int, int | None, int | None]:
    """Copy up to ``count`` bytes; positions None use (and advance) the descriptions'
    offsets. Returns (bytes, new source position, new destination position)."""
    ip, op = pipe_of(src), pipe_of(dst)
    limits = t.kernel.limits if op is None else None
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        if op is not None:
            n = pipe_sink(op, n, nonblock or bool(dst.flags & O_NONBLOCK), done)
            if not n:
                break
        data = b""
        if ip is not None:
            n = pipe_source(ip, n, nonblock or bool(src.flags & O_NONBLOCK), done)
            if not n:
                break
        else:
            data = src.pread(n, src.pos if src_pos is None else src_pos)
            if not data:
                break
            n = len(data)
        if limits is not None and not done:
            # The first bytes are at hand, none taken from a pipe yet: writing them to a
            # file is a write, which a policy's limits cut short or refuse.
            count = limits.allow(dst, dst_pos, count)
            n = min(n, count)
        data = ip.read(n, True) if ip is not None else data[:n]
        if op is not None:
            w = op.write(data, True)
        elif dst_pos is None:
            w = dst.write(data)
        else:
            w = dst.pwrite(data, dst_pos)
            dst_pos += w
        if ip is None:
            if src_pos is None:
                src.pos += w
            else:
                src_pos += w
        done += w
        if w < len(data):
            break
    if limits is not None:
        limits.account(dst, done)
    return done, src_pos, dst_pos


# sendfile ---------------------------------------------------------------------------------
@syscall("sendfile", FULL, "out_fd:fd in_fd:fd offset:struct_inout count:size")
def sys_sendfile(t: Task, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """do_sendfile: EBADF (in not readable, out not writable), ESPIPE (an offset on an
    unseekable input), EFAULT, EINVAL (negative offset, O_APPEND output), then the copy."""
    src = get_file(t, in_fd)
    if not readable(src.flags):
        raise KernelError(errno.EBADF, "sendfile input not open for reading")
    dst = get_file(t, out_fd)
    if not writable(dst.flags):
        raise KernelError(errno.EBADF, "sendfile output not open for writing")
    pos = read_off(t, offset)
    if pos is not None and not src.seekable:
        raise KernelError(errno.ESPIPE, "sendfile offset on a pipe")
    if pos is not None and pos < 0:
        raise KernelError(errno.EINVAL, "negative offset")
    if dst.flags & O_APPEND:
        raise KernelError(errno.EINVAL, "sendfile to an O_APPEND file")
    if src.inode is not None and st.S_ISDIR(src.stat().mode):
        raise KernelError(errno.EINVAL, "sendfile from a directory")
    n, pos, _ = transfer(t, src, pos, dst, None, min(count, MAX_RW_COUNT), False)
    if offset:
        t.mem.write(offset, OFF.pack(pos))
    return n


# copy_file_range ------------------------------------------------------------------------
def regular_pair(src: OpenFile, dst: OpenFile) -> None:
    """generic_file_rw_checks: EISDIR, EINVAL (not regular files), EBADF (modes, O_APPEND)."""
    for f in (src, dst):
        mode = f.stat().mode if f.inode is not None else 0
        if st.S_ISDIR(mode):
            raise KernelError(errno.EISDIR, "copy_file_range on a directory")
        if not st.S_ISREG(mode):
            raise KernelError(errno.EINVAL, "copy_file_range on a non-regular file")
    if not readable(src.flags) or not writable(dst.flags) or dst.flags & O_APPEND:
        raise KernelError(errno.EBADF, "copy_file_range access modes")


@syscall("copy_file_range", FULL, "fd_in:fd off_in:struct_inout fd_out:fd "
         "off_out:struct_inout len:size flags:flags")
def sys_copy_file_range(t: Task, fd_in: int, off_in: int, fd_out: int, off_out: int,
                        length: int, flags: int) -> int:
    """EINVAL (flags), EBADF, EFAULT, the type and mode checks, EOVERFLOW (also negative
    offsets), then the length shortened to the source's end and EINVAL for overlapping
    ranges of one file. Copies between any two filesystems (no EXDEV)."""
    if flags:
        raise KernelError(errno.EINVAL, f"copy_file_range flags {flags:#x}")
    src = get_file(t, fd_in)
    dst = get_file(t, fd_out)
    pin, pout = read_off(t, off_in), read_off(t, off_out)
    pos_in = src.pos if pin is None else pin
    pos_out = dst.pos if pout is None else pout
    regular_pair(src, dst)
    count = min(length, MAX_RW_COUNT)
    # Negative offsets wrap as unsigned values: EOVERFLOW, as Linux 6.18 answers.
    if pos_in < 0 or pos_out < 0 or pos_in + count >= 1 << 63 or pos_out + count >= 1 << 63:
        raise KernelError(errno.EOVERFLOW, "range wraps")
    size = src.size()
    count = 0 if pos_in >= size else min(count, size - pos_in)
    limits = t.kernel.limits
    if limits is not None:
        # generic_copy_file_checks: the output's limits apply to the count shortened to
        # the input's end, even when nothing is left to copy.
        count = limits.allow(dst, pos_out, count, empty=True)
    if (src.inode is not None and dst.inode is not None and src.inode.key == dst.inode.key
            and pos_out + count > pos_in and pos_out < pos_in + count):
        raise KernelError(errno.EINVAL, "overlapping ranges in one file")
    if not count:
        return 0
    n, new_in, new_out = transfer(t, src, pos_in, dst, pos_out, count, False)
    if pin is None:
        src.pos = new_in  # type: ignore[assignment]
    else:
        t.mem.write(off_in, OFF.pack(new_in))
    if pout is None:
        dst.pos = new_out  # type: ignore[assignment]
    else:
        t.mem.write(off_out, OFF.pack(new_out))
    return n


# splice, tee, vmsplice --------------------------------------------------------------------
def pipe_pair(t: Task, fd_in: int, fd_out: int,
              call: str) -> tuple[OpenFile, OpenFile, Pipe | None, Pipe | None]:
    """splice's and tee's files (EBADF unless readable and writable) and their pipes."""
    src = get_file(t, fd_in)
    dst = get_file(t, fd_out)
    if not readable(src.flags) or not writable(dst.flags):
        raise KernelError(errno.EBADF, f"{call} access modes")
    return src, dst, pipe_of(src), pipe_of(dst)


@syscall("splice", FULL, "fd_in:fd off_in:struct_inout fd_out:fd off_out:struct_inout "
         "len:size flags:flags")
def sys_splice(t: Task, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int,
               flags: int) -> int:
    """EINVAL (flags), EBADF (modes), ESPIPE (an offset for a pipe side), EINVAL (no pipe,
    one pipe both sides, an offset on an unseekable file, O_APPEND output), EFAULT."""
    if flags & ~SPLICE_F_ALL:
        raise KernelError(errno.EINVAL, f"splice flags {flags:#x}")
    src, dst, ip, op = pipe_pair(t, fd_in, fd_out, "splice")
    if (ip is not None and off_in) or (op is not None and off_out):
        raise KernelError(errno.ESPIPE, "splice offset for a pipe")
    if ip is None and op is None:
        raise KernelError(errno.EINVAL, "splice without a pipe")
    if ip is not None and ip is op:
        raise KernelError(errno.EINVAL, "splice of a pipe to itself")
    pin, pout = read_off(t, off_in), read_off(t, off_out)
    if ip is None and pin is not None and not src.seekable:
        raise KernelError(errno.EINVAL, "splice offset on an unseekable input")
    if op is None:
        if pout is not None and not dst.seekable:
            raise KernelError(errno.EINVAL, "splice offset on an unseekable output")
        if dst.flags & O_APPEND:
            raise KernelError(errno.EINVAL, "splice to an O_APPEND file")
    if (pin is not None and pin < 0) or (pout is not None and pout < 0):
        raise KernelError(errno.EINVAL, "negative offset")
    if not length:
        return 0
    n, new_in, new_out = transfer(t, src, pin, dst, pout, min(length, MAX_RW_COUNT),
                                  bool(flags & SPLICE_F_NONBLOCK))
    if pin is not None:
        t.mem.write(off_in, OFF.pack(new_in))
    if pout is not None:
        t.mem.write(off_out, OFF.pack(new_out))
    return n


@syscall("tee", FULL, "fd_in:fd fd_out:fd len:size flags:flags")
def sys_tee(t: Task, fd_in: int, fd_out: int, length: int, flags: int) -> int:
    """Copy a pipe's bytes to another pipe without consuming them: EINVAL (flags, not two
    pipes, one pipe), EBADF, EAGAIN or a wait when empty or full."""
    if flags & ~SPLICE_F_ALL:
        raise KernelError(errno.EINVAL, f"tee flags {flags:#x}")
    src, dst, ip, op = pipe_pair(t, fd_in, fd_out, "tee")
    if ip is None or op is None or ip is op:
        raise KernelError(errno.EINVAL, "tee needs two different pipes")
    if not length:
        return 0
    nonblock = bool(flags & SPLICE_F_NONBLOCK)
    n = pipe_source(ip, min(length, MAX_RW_COUNT), nonblock, 0)
    if not n:
        return 0
    n = pipe_sink(op, n, nonblock, 0)
    data = bytearray()
    for buf in ip.bufs:
        data += buf[0][: n - len(data)]
        if len(data) >= n:
            break
    return op.write(bytes(data), True)


SPLICE_F_GIFT = 0x08


@syscall("vmsplice", FULL, "fd:fd iov:struct_in nr_segs:ulong flags:flags")
def sys_vmsplice(t: Task, fd: int, iov: int, nr_segs: int, flags: int) -> int:
    """Into a pipe's write end (the bytes are copied: SPLICE_F_GIFT is only a hint) or out
    of its read end: EINVAL (flags, too many segments), EBADF (not a pipe)."""
    if flags & ~SPLICE_F_ALL:
        raise KernelError(errno.EINVAL, f"vmsplice flags {flags:#x}")
    f = get_file(t, fd)
    p = pipe_of(f)
    if p is None:
        raise KernelError(errno.EBADF, "vmsplice on a non-pipe")
    if nr_segs > 1024:
        raise KernelError(errno.EINVAL, "too many segments")
    vecs = read_iovecs(t, iov, nr_segs)
    nonblock = bool(flags & 0x02 or f.flags & O_NONBLOCK)
    if writable(f.flags):
        data = b"".join(t.mem.read(b, n) for b, n in vecs if n)[:MAX_RW_COUNT]
        if not data:
            return 0
        n = pipe_sink(p, len(data), nonblock, 0)
        return p.write(data[:n], True)
    if not readable(f.flags):
        raise KernelError(errno.EBADF, "vmsplice on a description without access")
    want = min(sum(n for _, n in vecs), MAX_RW_COUNT)
    if not want:
        return 0
    data = p.read(pipe_source(p, want, nonblock, 0), True)
    scatter_into(t, vecs, data)
    return len(data)
