"""`compatd run --report` counts every call: per syscall, the same as `strace -f -c` of a native
run (issue 6 acceptance), on busybox-static applets.

strace -c counts a call when it returns, so it never counts exit_group and exit; those are
left out of the comparison. With --trace-all everything traps and every syscall is compared;
without it, the syscalls the host runs untrapped are absent from the report, and the ones
present must still match.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO, child_env

NOT_COUNTED_BY_STRACE = {"exit_group", "exit"}
APPLETS = [
    ["ls", "-la", "/"],
    ["find", "/usr/lib/python3.11", "-name", "*.py"],
    ["md5sum", "/bin/busybox"],
    ["du", "-s", "/usr/share/doc"],
    ["sh", "-c", "echo a; ls /etc > /dev/null; head -n1 /etc/passwd"],
]
ROW = re.compile(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def strace_counts(argv: list[str], cwd: Path) -> dict[str, int]:
    out = cwd / "strace.txt"
    subprocess.run(["strace", "-f", "-c", "-o", str(out), *argv], cwd=cwd, env=child_env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    counts = {}
    for line in out.read_text().splitlines():
        m = ROW.match(line)
        if m and m.group(2) != "total":
            counts[m.group(2)] = int(m.group(1))
    return counts


def compatd_report(argv: list[str], cwd: Path, *opts: str) -> dict:
    out = cwd / "report.json"
    env = child_env()
    env["XDG_DATA_HOME"] = str(cwd / "xdg")
    p = subprocess.run([sys.executable, "-m", "compatd", "run", "--report", str(out), *opts,
                        "--", *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    assert out.exists(), p.stderr.decode()
    return json.loads(out.read_text())


def close_enough(a: int, b: int) -> bool:
    return abs(a - b) <= max(1, 0.03 * max(a, b))


@pytest.fixture(scope="module")
def strace() -> str:
    path = shutil.which("strace")
    if path is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    return path


@pytest.mark.parametrize("applet", APPLETS, ids=lambda a: a[0])
def test_counts_match_strace(applet, busybox, strace, tmp_path):
    argv = [busybox, *applet]
    native = strace_counts(argv, tmp_path)
    doc = compatd_report(argv, tmp_path, "--trace-all")
    ours = {k: v["calls"] for k, v in doc["syscalls"].items()}
    names = (set(native) | set(ours)) - NOT_COUNTED_BY_STRACE
    bad = {n: (native.get(n, 0), ours.get(n, 0)) for n in sorted(names)
           if not close_enough(native.get(n, 0), ours.get(n, 0))}  # fmt: skip
    assert not bad, f"strace -f -c vs compatd --report (native, ours): {bad}"
    assert doc["exit_status"] == 0
    assert sum(p["calls"] for p in doc["processes"]) == doc["total_calls"]
    # Without --trace-all the trapped syscalls are still counted exactly.
    doc = compatd_report(argv, tmp_path)
    for name, s in doc["syscalls"].items():
        if name not in NOT_COUNTED_BY_STRACE:
            assert close_enough(native.get(name, 0), s["calls"]), (name, native.get(name),
                                                                   s["calls"])


def test_report_of_a_shell_pipeline(busybox, tmp_path):
    """Processes and threads, files under /proc and /dev, flags and operations by name."""
    doc = compatd_report([busybox, "sh", "-c", "cat /proc/self/status /dev/null | wc -l"],
                         tmp_path)
    assert len(doc["processes"]) >= 3  # sh, cat, wc
    assert all(p["threads"] for p in doc["processes"])
    assert "/dev/null" in doc["files"]
    assert any(path.startswith("/proc/") for path in doc["files"])
    assert "O_RDONLY" in doc["syscalls"]["open" if "open" in doc["syscalls"] else "openat"][
        "flags"]["flags"]["field"]
    assert doc["wall_s"] > 0 and doc["cpu_s"]["children_user"] >= 0
    # And the report command reads it back, gaps first.
    env = child_env()
    p = subprocess.run([sys.executable, "-m", "compatd", "report", "--format", "md",
                        str(tmp_path / "report.json")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.index("## Gaps") < p.stdout.index("## Everything used")
