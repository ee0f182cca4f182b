"""policies/limits.py against a fake platform: the file limits, the rlimits a policy gives
and refuses to raise, the memory record read from /proc. (tests/apps/test_policy_limits.py
compares real programs with their native runs under prlimit.)"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import signal
import struct
from pathlib import Path

from compatd.kernel.kernel import Kernel
from policies.engine import Enforcer
from policies.limits import mapped_pages, vm_pages
from policies.load import load_policy
from syscalls.numbers import NUMBERS
from tests.unit.fakeplatform import FakePlatform
from tests.unit.test_kernel import AT_FDCWD, O_APPEND, O_CREAT, O_RDWR, FakePlan, Sink
from vfs import ops
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

EFBIG, SIGXFSZ = -errno.EFBIG, f"signal {int(signal.SIGXFSZ)}"
RLIMIT_NOFILE, RLIMIT_FSIZE = 7, 1


def run(tmp_path: Path, limits: str, calls, prepare=None):
    """Run a script of syscalls under a policy with these [limits] lines."""
    path = tmp_path / "p.toml"
    path.write_text(f'name = "t"\n[limits]\n{limits}\n')
    platform = FakePlatform([])
    addrs = prepare(platform.mem) if prepare else {}
    platform.calls = [(name, tuple(addrs.get(a, a) if isinstance(a, str) else a for a in args))
                      for name, args in calls]
    ns = MountTable(TmpFS())
    kernel = Kernel(platform, ns, strict=True, enforcer=Enforcer(load_policy(str(path))))
    kernel.start(FakePlan(), ns.root_dentry(), {0: Sink(), 1: Sink(), 2: Sink()})
    kernel.tasks[FakePlatform.TID].pending_exec = None
    try:
        kernel.run()
    finally:
        assert ops.newsize_hook is None  # detached at the end of the run
    return platform.results, kernel, platform.mem


def files(m):
    return {"a": m.alloc(b"/a\0"), "b": m.alloc(b"/b\0"), "data": m.alloc(bytes(3000)),
            "rlim": m.alloc(bytes(16)), "iov": m.alloc(bytes(16))}


def test_file_size_cuts_a_write_short_then_refuses_with_sigxfsz(tmp_path):
    results, *_ = run(tmp_path, 'file_size = "1K"', [
        ("openat", (AT_FDCWD, "a", O_RDWR | O_CREAT, 0o644)),
        ("write", (3, "data", 3000)),     # up to the limit
        ("write", (3, "data", 1)),        # at it: EFBIG and SIGXFSZ
        ("write", (3, "data", 0)),        # nothing to write is never refused
        ("pwrite64", (3, "data", 100, 1000)),
        ("ftruncate", (3, 2000)),         # growing past it
        ("ftruncate", (3, 10)),           # shrinking is fine
        ("fallocate", (3, 0, 0, 1025)),
        ("fallocate", (3, 1, 0, 4096)),   # FALLOC_FL_KEEP_SIZE changes no size
    ], files)
    assert results == [3, 1024, SIGXFSZ, EFBIG, 0, 24, SIGXFSZ, EFBIG, 0, SIGXFSZ, EFBIG, 0]


def test_o_append_writes_start_at_the_end(tmp_path):
    results, *_ = run(tmp_path, "file_size = 1000", [
        ("openat", (AT_FDCWD, "a", O_RDWR | O_CREAT | O_APPEND, 0o644)),
        ("write", (3, "data", 900)),
        ("lseek", (3, 0, 0)),
        ("write", (3, "data", 900)),  # at 900, not 0: 100 bytes
    ], files)
    assert results == [3, 900, 0, 100]


def test_bytes_written_is_the_sandbox_total(tmp_path):
    def prep(m):
        out = files(m)
        struct.pack_into("<QQ", m.data, out["iov"] - m.base, out["data"], 700)
        return out

    results, kernel, _ = run(tmp_path, "bytes_written = 1000", [
        ("openat", (AT_FDCWD, "a", O_RDWR | O_CREAT, 0o644)),
        ("openat", (AT_FDCWD, "b", O_RDWR | O_CREAT, 0o644)),
        ("write", (3, "data", 700)),
        ("writev", (4, "iov", 1)),  # 300 left
        ("pwrite64", (3, "data", 1, 0)),
        ("write", (1, "data", 50)),  # stdout is no file
    ], prep)
    assert results == [3, 4, 700, 300, SIGXFSZ, EFBIG, 50]
    assert kernel.limits.written == 1000


def test_policy_limits_are_the_first_process_rlimits_and_ceilings(tmp_path):
    addrs = {}

    def prep(m):
        addrs.update(files(m))
        m.write(addrs["rlim"], struct.pack("<QQ", 30, 30))
        return addrs

    results, kernel, mem = run(tmp_path, "open_files = 20\nfile_size = 4096", [
        ("setrlimit", (RLIMIT_NOFILE, "rlim")),  # above the policy's: EPERM, even for root
        ("prlimit64", (0, RLIMIT_FSIZE, 0, "rlim")),
        ("getrlimit", (RLIMIT_NOFILE, "iov")),
    ], prep)
    assert results == [-errno.EPERM, 0, 0]
    assert struct.unpack("<QQ", mem.read(addrs["rlim"], 16)) == (4096, 4096)
    assert struct.unpack("<QQ", mem.read(addrs["iov"], 16)) == (20, 20)


def test_a_memory_limit_traps_anonymous_mmap_and_mremap(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "t"\n[limits]\nmemory = "1G"\n')
    traps = Enforcer(load_policy(str(path))).traps()
    assert {NUMBERS[n] for n in ("mmap", "mremap", "brk", "shmat")} <= traps
    path.write_text('name = "t"\n[limits]\nopen_files = 9\n')
    assert not Enforcer(load_policy(str(path))).traps()


def test_the_memory_record_is_the_hosts():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long)
    before = vm_pages(os.getpid())
    addr = libc.mmap(None, 64 * 4096, mmap.PROT_READ, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                     -1, 0)
    try:
        assert vm_pages(os.getpid()) >= before + 64
        assert mapped_pages(os.getpid(), addr, 64 * 4096) == 64
        assert mapped_pages(os.getpid(), addr + 60 * 4096, 8 * 4096) >= 4
    finally:
        libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(64 * 4096))
