"""`compatd explore` (Loupe's method) on a tiny static C program whose needs are known:

- write (printf): required — stubbed or faked, the output is lost;
- getcwd (checked, result unused beyond success): fakeable — ENOSYS makes it exit 3, a faked
  0 passes;
- getppid (result ignored): stubbable;
- openat("/", O_RDONLY|O_DIRECTORY|O_CLOEXEC) then fcntl(F_GETFD) must show FD_CLOEXEC: with
  --flags, O_CLOEXEC is needed and O_DIRECTORY ignorable.

Two explorations must classify every syscall the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import child_env, drop_base, make_base

SOURCE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    char buf[256] = {0};
    if (syscall(SYS_getcwd, buf, sizeof buf) < 0)
        return 3;
    syscall(SYS_getppid);
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 4;
    if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
        return 5;
    printf("hello\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def base():
    b = make_base("compatd-explore-")  # not under /tmp: inside compatd, /tmp is a tmpfs
    yield b
    drop_base(b)


@pytest.fixture(scope="module")
def tiny(base: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (scripts/test installs gcc and libc6-dev)")
    d = base
    (d / "tiny.c").write_text(SOURCE)
    p = subprocess.run(["gcc", "-static", "-O1", "-o", str(d / "tiny"), str(d / "tiny.c")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        if "cannot find -lc" in p.stderr:
            pytest.skip("static libc missing (install libc6-dev)")
        pytest.fail(p.stderr)
    return d / "tiny"


def explore(exe: Path, cwd: Path, *opts: str) -> dict:
    env = child_env()
    env["XDG_DATA_HOME"] = str(cwd / "xdg")
    p = subprocess.run(
        [sys.executable, "-m", "compatd", "explore", "-j", "2", "--timeout", "5",
         "--format", "json", *opts, "--", str(exe)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_explore_classifies_and_is_stable(tiny, base):
    tmp_path = base
    first = explore(tiny, tmp_path)
    second = explore(tiny, tmp_path)
    classes = {n: r["class"] for n, r in first["syscalls"].items()}
    assert classes == {n: r["class"] for n, r in second["syscalls"].items()}
    assert classes["write"] == "required"
    assert classes["getcwd"] == "fakeable"
    assert first["syscalls"]["getcwd"]["stub"] == "exit 3"
    assert classes["getppid"] == "stubbable"
    assert first["judge"] == "exit status and stdout"
    # Every syscall the program made is classified (HOST ones too: explore traps all).
    assert {"brk", "arch_prctl", "exit_group"} <= set(classes)
    # Both explorations are in the results database.
    p = subprocess.run([sys.executable, "-m", "compatd", "report", "--db",
                        str(tmp_path / "xdg" / "compatd" / "results.db"), "--format", "json"],
                       env=child_env(), capture_output=True, text=True, timeout=60)
    explored = {r["name"]: r for r in json.loads(p.stdout)["explorations"]}
    assert explored["write"]["required"] == 2 and explored["getppid"]["stubbable"] == 2


def test_explore_flags_of_open(tiny, base):
    result = explore(tiny, base, "--flags", "--no-db")
    flags = {f: r["class"] for f, r in result["flags"]["openat"].items()}
    assert flags == {"O_CLOEXEC": "needed", "O_DIRECTORY": "ignorable"}
    assert result["flags"]["openat"]["O_CLOEXEC"]["dropped"] == "exit 5"


def test_explore_with_a_check_command(tiny, base):
    """--check judges by a command's status: here only the exit status matters."""
    tmp_path = base
    result = explore(tiny, tmp_path, "--check", 'test "$COMPATD_EXIT_STATUS" = 0', "--no-db")
    classes = {n: r["class"] for n, r in result["syscalls"].items()}
    assert classes["getcwd"] == "fakeable"
    assert classes["write"] != "required"  # the output no longer matters
