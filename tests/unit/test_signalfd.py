"""signalfd against the fake platform: the checks are ours, reads and closes go to the host
on a copy placed once per fd number, readiness comes from the host's pending signals."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from types import SimpleNamespace

import pytest

import vfs.anonfs
from compatd.kernel.fdtable import FDTable
from tests.unit.fakeplatform import FakeMemory, FakePlatform
from tests.unit.test_kernel import neg, run
from vfs.anonfs import SignalFd
from vfs.base import POLLIN

MINUS_ONE = (1 << 64) - 1
SIGUSR1, SIGUSR2, SIGKILL, SIGSTOP = 10, 12, 9, 19


def bit(sig: int) -> int:
    return 1 << (sig - 1)


def prepare(mem: FakeMemory) -> dict[str, int]:
    mask = bit(SIGUSR1) | bit(SIGUSR2) | bit(SIGKILL) | bit(SIGSTOP)
    return {"mask": mem.alloc(struct.pack("<Q", mask)), "buf": mem.alloc(bytes(128))}


def test_errors_in_linux_order() -> None:
    results, *_ = run([
        ("signalfd4", (MINUS_ONE, "mask", 4, 0x1234)),  # sizemask before flags
        ("signalfd4", (MINUS_ONE, 0x1, 8, 0x1234)),  # the mask before flags
        ("signalfd4", (MINUS_ONE, "mask", 8, 0x1)),
        ("signalfd4", (9, "mask", 8, 0)),
        ("signalfd4", (-2 & MINUS_ONE, "mask", 8, 0)),
        ("signalfd", (0, "mask", 8)),  # stdin: open, not a signalfd
        ("signalfd", (MINUS_ONE, "mask", 16)),
    ], prepare)
    assert results == [neg(errno.EINVAL), neg(errno.EFAULT), neg(errno.EINVAL),
                       neg(errno.EBADF), neg(errno.EBADF), neg(errno.EINVAL),
                       neg(errno.EINVAL)]


def test_reads_and_closes_run_on_the_host_copy() -> None:
    results, *_ = run([
        ("signalfd4", (MINUS_ONE, "mask", 8, os.O_NONBLOCK)),
        ("read", (3, "buf", 128)),  # placed at 3, then the host reads
        ("read", (3, "buf", 128)),  # already there
        ("signalfd", (3, "mask", 8)),  # a new mask: the same fd
        ("dup", (3,)),
        ("readv", (4, "buf", 1)),  # the dup's number needs its own copy
        ("dup2", (0, 4)),  # the model's 4 is stdin now; the host's copy stays, unused
        ("read", (4, "buf", 1)),  # the model's (the fake stdin is write-only: EBADF)
        ("close", (4,)),  # closes the stale copy on the host too
        ("close", (3,)),
        ("read", (3, "buf", 128)),
        ("close", (0,)),  # never placed: the model's close alone
    ], prepare)
    assert results == [3, "place 3", "host", "host", 3, 4, "place 4", "host", 4,
                       neg(errno.EBADF), "host", "host", neg(errno.EBADF), 0]


class InjectingPlatform(FakePlatform):
    """The ptrace lane: placing a copy takes injected calls, so the call is restarted."""

    def place_fd(self, tid: int, host_fd: int, number: int, scratch: int) -> bool:
        super().place_fd(tid, host_fd, number, scratch)
        return True


def test_a_call_placed_by_injection_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.unit.test_kernel.FakePlatform", InjectingPlatform)
    results, *_ = run([("signalfd4", (MINUS_ONE, "mask", 8, 0)), ("read", (3, "buf", 128)),
                       ("read", (3, "buf", 128))], prepare)
    assert results == [3, "place 3", "restart", "host"]


def test_the_host_record_follows_the_table() -> None:
    f = SignalFd(SimpleNamespace(), os.eventfd(0), 0, 0)
    fdt = FDTable()
    fdt.install_at(3, f)
    fdt.host[3] = f
    child = fdt.copy()  # fork copies the host's table too
    assert child.host == {3: f}
    fdt.close(3)
    child.close(3)  # the last descriptor: the supervisor's copy closes
    with pytest.raises(OSError):
        os.fstat(f.host_copy)


def test_readiness_mask_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    pending = {b"SigPnd": 0, b"ShdPnd": 0}
    seen: list[int] = []

    def masks(tid: int) -> dict[bytes, int]:
        seen.append(tid)
        return pending

    monkeypatch.setattr(vfs.anonfs, "host_signal_masks", masks)
    kernel = SimpleNamespace(current=SimpleNamespace(tid=77))
    f = SignalFd(kernel, os.eventfd(0), bit(SIGUSR1), 0)
    try:
        assert f.poll() == 0
        pending[b"ShdPnd"] = bit(SIGUSR2)  # pending, outside the mask
        assert f.poll() == 0
        pending[b"SigPnd"] = bit(SIGUSR1)  # pending for the polling thread
        assert f.poll() == POLLIN
        assert seen[-1] == 77
        assert f.fdinfo() == b"sigmask:\t0000000000000200\n"
        assert f.wait_queues() == ()  # epoll compares its readiness at each look
        f.flags |= os.O_NONBLOCK  # F_SETFL reaches the host's description
        assert fcntl.fcntl(f.host_copy, fcntl.F_GETFL) & os.O_NONBLOCK
        f.flags &= ~os.O_NONBLOCK
        assert not fcntl.fcntl(f.host_copy, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        f.release()
