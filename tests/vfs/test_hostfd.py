"""HostFdFile over pipes and files; terminal ioctls on a non-terminal are ENOTTY."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from tests.vfs.helpers import raises
from vfs.hostfd import FIONREAD, TCGETS, TCSETS, TIOCGWINSZ, TIOCSWINSZ, HostFdFile


class FakeMem:
    def __init__(self) -> None:
        self.writes: dict[int, bytes] = {}

    def read(self, addr: int, size: int) -> bytes:
        return bytes(size)

    def write(self, addr: int, data: bytes) -> None:
        self.writes[addr] = data


class FakeTask:
    def __init__(self) -> None:
        self.mem = FakeMem()


def test_pipe():
    r, w = os.pipe()
    fr, fw = HostFdFile(r, 0, owns=True), HostFdFile(w, 1, owns=True)
    assert fw.write(b"hello") == 5
    assert fr.readable_bytes() == 5
    task = FakeTask()
    assert fr.ioctl(FIONREAD, 0x1000, task) == 0
    assert struct.unpack("i", task.mem.writes[0x1000]) == (5,)
    assert fr.read(3) == b"hel"
    raises(errno.ESPIPE, fr.pread, 1, 0)
    raises(errno.ESPIPE, fr.seek, 0, 0)
    raises(errno.EBADF, fr.write, b"x")
    raises(errno.ENOTTY, fr.ioctl, TCGETS, 0x1000, task)
    raises(errno.ENOTTY, fr.ioctl, TIOCGWINSZ, 0x1000, task)
    raises(errno.ENOTTY, fr.ioctl, 0x1234, 0x1000, task)
    assert fr.stat().mode & 0o170000 == 0o010000  # S_IFIFO
    fr.release()
    fw.release()
    with pytest.raises(OSError) as ei:  # owned fds are closed on release
        os.fstat(r)
    assert ei.value.errno == errno.EBADF


def test_file_uses_host_offset(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDWR)
    f = HostFdFile(fd, 2)  # not owned
    assert f.read(4) == b"0123"
    assert f.seek(0, 1) == 4 and os.lseek(fd, 0, 1) == 4
    assert f.pread(2, 8) == b"89"
    assert f.readable_bytes() == 6
    f.release()
    os.fstat(fd)  # still open: we did not own it
    os.close(fd)


def test_terminal_ioctls_are_forwarded():
    master, slave = os.openpty()
    f = HostFdFile(slave, 2, owns=True)
    task = FakeTask()
    assert f.ioctl(TCGETS, 0x2000, task) == 0
    assert len(task.mem.writes[0x2000]) == 36  # the kernel's struct termios, not glibc's
    assert f.ioctl(TIOCSWINSZ, 0x3000, task) == 0  # FakeMem reads zeros: rows=cols=0
    assert f.ioctl(TIOCGWINSZ, 0x3000, task) == 0
    assert task.mem.writes[0x3000] == bytes(8)
    termios = task.mem.writes[0x2000]
    task.mem.read = lambda addr, size: termios[:size]
    assert f.ioctl(TCSETS, 0x2000, task) == 0
    f.release()
    os.close(master)
