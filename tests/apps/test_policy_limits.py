"""A policy's [limits] against Linux's own rlimits: each limit is hit by a real program under
``compatd run --policy P`` and the same program runs natively under the equivalent
``prlimit`` (as an unprivileged user where root would be exempt: RLIMIT_NPROC, raising a
hard limit); the outcome (output, errno messages, exit status or signal, files) must agree.
Limits Linux has no rlimit for (bytes_written, wall_seconds) are compared with the rlimit
they imitate, or with ``timeout``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from harness import Pair, Runner, compatd_command, run_in

# A user with no processes of its own: RLIMIT_NPROC counts a user's tasks, and root is
# exempt from it (and may raise hard limits).
NOBODY = ["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups"]
PYTHON = "/usr/bin/python3"  # readable by that user (a pyenv shim under /root is not)


def need(*programs: str) -> None:
    for p in programs:
        if shutil.which(p) is None:
            pytest.skip(f"{p} is not installed (scripts/test installs it)")


def policy(tmp_path: Path, limits: str) -> list[str]:
    """``compatd run`` options for a policy with these ``[limits]`` lines."""
    path = tmp_path / "limits.toml"
    path.write_text(f'name = "limits"\n[limits]\n{limits}\n')
    return ["--policy", str(path)]


def shell_status(returncode: int) -> int:
    """A native run's status as compatd reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def assert_same(pair: Pair) -> None:
    """As ``Pair.assert_same``, with the pids in bash's job messages ignored."""
    def norm(err: bytes) -> bytes:
        return re.sub(rb"\d+ (File size limit exceeded|Killed|CPU time limit exceeded)",
                      rb"PID \1", err)

    pair.native.stderr, pair.compat.stderr = norm(pair.native.stderr), norm(pair.compat.stderr)
    pair.native.returncode = shell_status(pair.native.returncode)
    pair.assert_same()


# file_size: RLIMIT_FSIZE ------------------------------------------------------------------
FILE_SIZE_SCRIPT = r"""
head -c 5000 /dev/zero > f; echo "head $?"
(echo more >> f); echo "append $?"
truncate -s 2000 f; echo "truncate grow $?"
truncate -s 500 f; echo "truncate shrink $?"
fallocate -l 4000 f; echo "fallocate $?"
head -c 3000 /dev/zero > src; echo "src $?"
cp src copy; echo "cp $?"
dd if=/dev/zero of=dd bs=700 count=3 2>/dev/null; echo "dd $?"
mkdir -p /tmp/t; head -c 3000 /dev/zero > /tmp/t/f; echo "tmpfs $?"
# python3 ignores SIGXFSZ: it sees the short writes and then EFBIG.
/usr/bin/python3 -c '
import os
fd = os.open("p", os.O_WRONLY | os.O_CREAT, 0o644)
print(os.pwrite(fd, b"x" * 3000, 100), os.writev(fd, [b"y" * 600, b"z" * 600]))
try:
    os.write(fd, b"w")
except OSError as e:
    print(e)
'
ulimit -f; ulimit -Hf
wc -c f src copy dd p /tmp/t/f
"""


@pytest.mark.parametrize("lane", ["--notify", "--no-notify"])
def test_file_size_is_rlimit_fsize(apps_runner: Runner, tmp_path: Path, lane: str) -> None:
    """Partial writes up to the limit, then EFBIG and SIGXFSZ (exit 153), through write,
    O_APPEND, copy_file_range (cp), truncate, fallocate and pwrite/writev; the signal is
    delivered whether the call waited on the notification lane or at a ptrace stop."""
    need("bash", "fallocate", "truncate")
    pair = apps_runner.compare(
        f"file-size{lane}", ["bash", "-c", FILE_SIZE_SCRIPT],
        native_prefix=["prlimit", "--fsize=1024"],
        compatd_options=[lane, *policy(tmp_path, 'file_size = "1K"')])
    assert b"head 153" in pair.native.stdout
    assert_same(pair)


# bytes_written: EFBIG + SIGXFSZ past a sandbox-wide total ---------------------------------
def test_bytes_written_in_one_file_is_like_file_size(apps_runner: Runner,
                                                      tmp_path: Path) -> None:
    need("bash")
    script = 'head -c 5000 /dev/zero > f; echo "head $?"; (echo x >> f); echo "append $?"; ' \
             "wc -c f"
    pair = apps_runner.compare(
        "bytes-written-one", ["bash", "-c", script], native_prefix=["prlimit", "--fsize=1024"],
        compatd_options=policy(tmp_path, "bytes_written = 1024"))
    assert_same(pair)


def test_bytes_written_counts_every_file_but_not_pipes(apps_runner: Runner,
                                                       tmp_path: Path) -> None:
    """No rlimit counts this: the expected outcome, and the audit log's record of it."""
    need("bash")
    audit = tmp_path / "audit.jsonl"
    script = ("head -c 100000 /dev/zero | wc -c; "
              'for f in a b c; do head -c 600 /dev/zero > $f; echo "$f $?"; done; wc -c a b c')
    work = apps_runner.new_area("bytes-written-total")
    cmd = compatd_command([*policy(tmp_path, "bytes_written = 1000"), "--audit", str(audit)])
    res = run_in([*cmd, "bash", "-c", script], work)
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split() == [
        "100000", "a", "0", "b", "153", "c", "153", "600", "a", "400", "b", "0", "c",
        "1000", "total"]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["limit"], r["errno"], r["syscall"]) for r in records] == \
        [("bytes_written", "EFBIG", "write")] * 2


# open_files: RLIMIT_NOFILE ----------------------------------------------------------------
NOFILE_SCRIPT = r"""
import fcntl, os, resource
print(resource.getrlimit(resource.RLIMIT_NOFILE))
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print(f"opened {len(fds)}, last {fds[-1]}: {e}")
for name, call in (("dup", lambda: os.dup(0)), ("pipe", os.pipe),
                   ("dup2 past", lambda: os.dup2(0, 20)), ("dup2 last", lambda: os.dup2(0, 19)),
                   ("F_DUPFD past", lambda: fcntl.fcntl(0, fcntl.F_DUPFD, 25))):
    try:
        print(name, call())
    except OSError as e:
        print(name, e)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (30, 30))
except (ValueError, OSError) as e:
    print("raise:", e)
resource.setrlimit(resource.RLIMIT_NOFILE, (10, 20))
print(resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def test_open_files_is_rlimit_nofile(apps_runner: Runner, tmp_path: Path) -> None:
    pair = apps_runner.compare(
        "open-files", [PYTHON, "-c", NOFILE_SCRIPT],
        native_prefix=["prlimit", "--nofile=20", *NOBODY],
        compatd_options=policy(tmp_path, "open_files = 20"))
    assert b"opened 17, last 19: [Errno 24] Too many open files" in pair.native.stdout
    assert_same(pair)


# processes and threads: RLIMIT_NPROC ------------------------------------------------------
FORK_SCRIPT = r"""
import os
r, w = os.pipe()
kids = []
try:
    while len(kids) < 50:
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
except OSError as e:
    print(f"forked {len(kids)}: {e}")
os.close(w)
print("reaped", sum(os.waitpid(k, 0)[1] == 0 for k in kids))
"""

THREAD_SCRIPT = r"""
import threading
go = threading.Event()
threads = []
try:
    while len(threads) < 50:
        t = threading.Thread(target=go.wait)
        t.start()
        threads.append(t)
except RuntimeError as e:
    print(f"started {len(threads)}: {e}")
go.set()
for t in threads:
    t.join()
print("joined", len(threads))
"""


def test_processes_is_rlimit_nproc_for_a_forking_program(apps_runner: Runner,
                                                         tmp_path: Path) -> None:
    """A single-threaded program's processes are its user's tasks: fork fails with EAGAIN
    at the same count."""
    pair = apps_runner.compare(
        "processes", [PYTHON, "-c", FORK_SCRIPT],
        native_prefix=["prlimit", "--nproc=5", *NOBODY],
        compatd_options=policy(tmp_path, "processes = 5"))
    assert b"forked 4: [Errno 11] Resource temporarily unavailable" in pair.native.stdout
    assert_same(pair)


def test_threads_is_rlimit_nproc_for_a_threaded_program(apps_runner: Runner,
                                                        tmp_path: Path) -> None:
    pair = apps_runner.compare(
        "threads", [PYTHON, "-c", THREAD_SCRIPT],
        native_prefix=["prlimit", "--nproc=8", *NOBODY],
        compatd_options=policy(tmp_path, "threads = 8"))
    assert b"started 7: can't start new thread" in pair.native.stdout
    assert_same(pair)


# cpu_seconds: RLIMIT_CPU, SIGXCPU then SIGKILL ---------------------------------------------
def test_cpu_seconds_is_rlimit_cpu(apps_runner: Runner, tmp_path: Path) -> None:
    """SIGXCPU at the soft limit: exit 152, as ``prlimit --cpu=1:2``."""
    need("bash")
    pair = apps_runner.compare(
        "cpu-seconds", ["bash", "-c", "ulimit -t; ulimit -Ht; while :; do :; done"],
        native_prefix=["prlimit", "--cpu=1:2"],
        compatd_options=policy(tmp_path, "cpu_seconds = 1"))
    assert shell_status(pair.native.returncode) == 152
    assert_same(pair)


# wall_seconds: SIGKILL for the whole sandbox ----------------------------------------------
def test_wall_seconds_kills_everything(apps_runner: Runner, tmp_path: Path) -> None:
    """A program and its children, idle, are killed after 0.5 s: 137, as ``timeout -s KILL``."""
    need("bash", "timeout")
    script = "sleep 30 & sleep 30; echo never"
    work = apps_runner.new_area("wall-seconds")
    native = run_in(["timeout", "-s", "KILL", "0.5", "bash", "-c", script], work)
    start = time.monotonic()
    compat = run_in([*compatd_command(policy(tmp_path, "wall_seconds = 0.5")),
                     "bash", "-c", script], work)
    elapsed = time.monotonic() - start
    assert (shell_status(native.returncode), native.stdout) == (137, b"")
    assert (compat.returncode, compat.stdout) == (137, b""), compat.stderr
    assert elapsed < 10


# memory: RLIMIT_AS ------------------------------------------------------------------------
MEMORY_PY = r"""
import resource
print(resource.getrlimit(resource.RLIMIT_AS))
try:
    big = bytearray(500 << 20)
except MemoryError:
    print("MemoryError")
small = bytearray(50 << 20)
print("50 MiB ok")
"""

MEMORY_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define MIB (1 << 20)
static const char *res(void *p) { return p == MAP_FAILED ? strerror(errno) : "ok"; }
static void *maps[1024];
int main(void) {
    void *p;
    int n = 0;
    while (n < 1024 && (p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED)
        maps[n++] = p;
    printf("mmap: %d MiB, then %s\n", n, strerror(errno));
    /* A fixed mapping over one that exists replaces it: no growth. */
    p = mmap(maps[0], MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("MAP_FIXED over a mapping: %s\n", res(p));
    printf("mremap grow: %s\n", res(mremap(maps[1], MIB, 2 * MIB, MREMAP_MAYMOVE)));
    printf("mremap shrink: %s\n", res(mremap(maps[1], MIB, MIB / 2, 0)));
    printf("mmap after the shrink: %s\n", res(mmap(NULL, MIB, PROT_READ,
                                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
    for (int i = 2; i < 10; i++)
        munmap(maps[i], MIB);
    int k = 0;
    while (sbrk(4096) != (void *)-1) k++;
    printf("sbrk: %d pages after unmapping 8 MiB, then %s\n", k, strerror(errno));
    return 0;
}
"""


def test_memory_is_rlimit_as_for_python(apps_runner: Runner, tmp_path: Path) -> None:
    pair = apps_runner.compare(
        "memory-python", [PYTHON, "-c", MEMORY_PY], native_prefix=["prlimit", "--as=209715200"],
        compatd_options=policy(tmp_path, 'memory = "200M"'))
    assert b"MemoryError" in pair.native.stdout
    assert_same(pair)


def test_memory_counts_what_the_host_maps(apps_runner: Runner, tmp_path: Path) -> None:
    """mmap, MAP_FIXED, mremap, munmap and brk counted as Linux's may_expand_vm counts them:
    the same number of pages fits natively and in the sandbox."""
    need("gcc")
    build = apps_runner.new_area("memory-c-build")  # not under /tmp: compatd has its own
    exe, src = build / "vm", build / "vm.c"
    src.write_text(MEMORY_C)
    subprocess.run(["gcc", "-O1", "-Wall", "-o", str(exe), str(src)], check=True)
    pair = apps_runner.compare(
        "memory-c", [str(exe)], native_prefix=["prlimit", "--as=104857600"],
        compatd_options=policy(tmp_path, 'memory = "100M"'))
    assert b"mremap grow: Cannot allocate memory" in pair.native.stdout
    assert_same(pair)
