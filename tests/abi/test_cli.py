"""The `compatd run` and `compatd syscalls` contract (issue 2, item 7 and acceptance)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness import COMPATD_RUN, Runner, child_env, run_in

COMPATD = [sys.executable, "-m", "compatd"]


@pytest.mark.parametrize(
    "args",
    [
        ["exit", "0"], ["exit", "3"], ["exit", "255"], ["exit", "256"], ["exit_group", "42"],
        ["exit-syscall", "7"], ["return", "1"], ["segv"], ["buffered", "5"],
    ],
    ids=lambda a: "-".join(a),
)  # fmt: skip
def test_exit_status(args: list[str], abi_bins: dict[str, Path], runner: Runner) -> None:
    """compatd exits with the program's status, 128+N when a signal N killed it (as a shell
    reports it: subprocess shows a native death by signal N as -N)."""
    pair = runner.compare("exits-" + "-".join(args), [str(abi_bins["exits"]), *args])
    native = pair.native.returncode
    expected = 128 - native if native < 0 else native
    assert pair.compat.returncode == expected, pair.compat.stderr.decode()
    assert pair.compat.stdout == pair.native.stdout
    if native >= 0:
        assert pair.compat.stderr == pair.native.stderr


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        COMPATD + args, cwd=cwd, env=child_env(), capture_output=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--", "/nonexistent/program"],
        ["run", "--", "no-such-command-compatd"],
        ["run", "--", "/etc"],
        ["run", "--no-such-option", "--", "/bin/true"],
        ["run"],
        ["no-such-subcommand"],
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_command_line(args: list[str], tmp_path: Path) -> None:
    """A missing program, a directory, a bad option: one line on stderr, exit status 2."""
    proc = _cli(args, tmp_path)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr:\n{err}"
    assert proc.stdout == b""
    assert len(err.strip().splitlines()) == 1, f"not one line:\n{err}"


def test_strict_and_trace_all_accepted(abi_bins: dict[str, Path], runner: Runner) -> None:
    """--trace-all traps everything and still gives the native result."""
    exe = str(abi_bins["sysinfo"])
    area = runner.new_area("trace-all")
    native = run_in([exe], area)
    traced = run_in([*COMPATD_RUN[:-1], "--trace-all", "--", exe], area)
    assert (traced.returncode, traced.stdout, traced.stderr) == (
        native.returncode, native.stdout, native.stderr,
    )  # fmt: skip


def test_syscalls_json(tmp_path: Path) -> None:
    """`compatd syscalls --format json` lists all 384 numbers, each with a level and, where
    required (HOST, STUB, ENOSYS; PARTIAL's limitations), a reason."""
    proc = _cli(["syscalls", "--format", "json"], tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    entries = doc["syscalls"]
    numbers = sorted(e["nr"] for e in entries)
    assert numbers == list(range(0, 336)) + list(range(424, 472))
    levels = {"full", "partial", "host", "stub", "enosys"}
    problems = []
    for e in entries:
        if e["level"] not in levels:
            problems.append(f"{e['nr']} {e['name']}: level {e['level']!r}")
        if e["level"] in ("host", "stub", "enosys") and not e.get("reason"):
            problems.append(f"{e['nr']} {e['name']}: {e['level']} without a reason")
        if e["level"] == "partial" and not (e.get("unsupported") or e.get("reason")):
            problems.append(f"{e['nr']} {e['name']}: partial without its limitations")
    assert not problems, "\n".join(problems)
    assert len({e["name"] for e in entries}) == 384


@pytest.mark.parametrize("fmt", ["md", "rich"])
def test_syscalls_other_formats(fmt: str, tmp_path: Path) -> None:
    proc = _cli(["syscalls", "--format", fmt], tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"getpid" in proc.stdout


FORK_BOMB = """
import errno, os, signal, time
kids = []
try:
    for _ in range(100):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
except OSError as e:
    print("fork failed:", errno.errorcode[e.errno], "after", len(kids))
for pid in kids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("still responsive")
"""


def test_process_limit_stops_a_fork_bomb(tmp_path: Path) -> None:
    """--max-procs: fork fails with EAGAIN past the limit; the program and compatd go on."""
    proc = subprocess.run(
        [*COMPATD, "run", "--max-procs", "10", "--", "/usr/bin/python3.11", "-c", FORK_BOMB],
        cwd=tmp_path.parent, env=child_env(), capture_output=True, timeout=120,
    )
    assert proc.stdout.decode() == "fork failed: EAGAIN after 9\nstill responsive\n", (
        proc.stderr.decode())


def test_trace_prints_decoded_calls(abi_bins: dict[str, Path], tmp_path: Path) -> None:
    proc = subprocess.run(
        [*COMPATD, "run", "--trace", "-", "--", "/bin/busybox", "cat", "/etc/hostname"],
        cwd=tmp_path.parent, env=child_env(), capture_output=True, timeout=120,
    )
    assert proc.returncode == 0
    assert b"openat(-100, '/etc/hostname', O_RDONLY" in proc.stderr
