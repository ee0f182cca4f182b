"""The kernel loop and handlers against a fake platform: no ptrace, no host process."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from compatd.kernel.kernel import HandlerCrash, Kernel
from syscalls import table
from tests.unit.fakeplatform import FakePlatform
from vfs.base import OpenFile
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

AT_FDCWD = -100 & 0xFFFFFFFF
O_RDWR, O_CREAT, O_WRONLY, O_APPEND = 2, 0o100, 1, 0o2000


class Sink(OpenFile):
    """A write-only stdout that keeps what the program wrote."""

    seekable = False

    def __init__(self) -> None:
        super().__init__(None, O_WRONLY)
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def run(calls, prepare=None, strict=True):
    """Run a script of syscalls; ``prepare(mem)`` may place data and return addresses."""
    platform = FakePlatform([])
    addrs = prepare(platform.mem) if prepare else {}
    platform.calls = [(name, tuple(addrs.get(a, a) if isinstance(a, str) else a for a in args))
                      for name, args in calls]
    ns = MountTable(TmpFS())
    kernel = Kernel(platform, ns, strict=strict)
    out = Sink()
    stdio = {0: Sink(), 1: out, 2: Sink()}
    kernel.start(FakePlan(), ns.root_dentry(), stdio)
    kernel.tasks[FakePlatform.TID].pending_exec = None  # the fake task is already running
    kernel.run()
    return platform.results, out, kernel, platform.mem


class FakePlan:
    argv = [b"prog"]
    envp: list[bytes] = []


def neg(e: int) -> int:
    return -e


def test_identity_comes_from_the_model():
    results, *_ = run([("getpid", ()), ("gettid", ())])
    assert results == [FakePlatform.TID, FakePlatform.TID, ]


def test_kernel_error_becomes_minus_errno():
    results, *_ = run([("close", (99,)), ("dup", (5,))])
    assert results == [neg(errno.EBADF), neg(errno.EBADF)]


def test_write_reaches_the_virtual_stdout():
    results, out, *_ = run([("write", (1, "msg", 5))], lambda m: {"msg": m.alloc(b"hello")})
    assert results == [5]
    assert out.data == b"hello"


def test_bad_pointer_is_efault():
    results, *_ = run([("write", (1, 0x1, 5)), ("openat", (AT_FDCWD, 0x1, 0, 0))])
    assert results == [neg(errno.EFAULT), neg(errno.EFAULT)]


def test_file_roundtrip_on_tmpfs():
    def prep(m):
        return {"path": m.alloc(b"/f\0"), "data": m.alloc(b"abcdef"), "buf": m.alloc(bytes(16))}

    results, _, _, mem = run(
        [
            ("openat", (AT_FDCWD, "path", O_RDWR | O_CREAT, 0o644)),
            ("write", (3, "data", 6)),
            ("lseek", (3, 2, 0)),
            ("read", (3, "buf", 16)),
            ("close", (3,)),
        ],
        prep,
    )
    assert results == [3, 6, 2, 4, 0]


def test_enosys_entries_fail_without_a_handler():
    results, *_ = run([("io_uring_setup", (1, 0))])
    assert results == [neg(errno.ENOSYS)]


def test_anonymous_mmap_goes_to_the_host_and_unmappable_files_are_enodev():
    results, *_ = run([("mmap", (0, 4096, 3, 0x22, -1 & 0xFFFFFFFF, 0)),
                       ("mmap", (0, 4096, 1, 0x02, 1, 0))])
    assert results == ["host", neg(errno.ENODEV)]


def test_unsupported_cases_are_recorded():
    results, _, kernel, _ = run([("fcntl", (1, 10, 0))])  # F_SETSIG
    assert results == [neg(errno.EINVAL)]
    assert kernel.unsupported == {"fcntl: F_SETSIG": 1}


def test_exit_group_runs_on_the_host():
    results, *_ = run([("exit_group", (0,))])
    assert results == ["host"]


def test_handler_crash_is_reported_and_fails_with_enosys(monkeypatch, capsys):
    entry = table.REGISTRY["getppid"]

    def boom(t, a):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(entry, "invoke", boom)
    results, _, kernel, _ = run([("getppid", ()), ("getpid", ())], strict=False)
    assert results == [neg(errno.ENOSYS), FakePlatform.TID]
    assert "bug in the getppid" in capsys.readouterr().err
    with pytest.raises(HandlerCrash):
        run([("getppid", ())], strict=True)


def test_getgroups_and_getresuid_write_to_memory():
    def prep(m):
        return {"r": m.alloc(bytes(4)), "e": m.alloc(bytes(4)), "s": m.alloc(bytes(4))}

    results, _, kernel, mem = run([("getresuid", ("r", "e", "s")), ("getgroups", (0, 0))], prep)
    assert results == [0, len(kernel_groups_of_host())]
    assert struct.unpack("<I", mem.read(mem.base, 4))[0] == os.getuid()


def kernel_groups_of_host() -> list[int]:
    return os.getgroups()


def test_signals_reach_only_sandboxed_processes():
    results, *_ = run([("kill", (1, 0)), ("kill", (-1 & 0xFFFFFFFF, 0)), ("tgkill", (1, 1, 0))])
    assert results == [neg(errno.ESRCH), neg(errno.ESRCH), neg(errno.ESRCH)]
