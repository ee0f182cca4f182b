"""`compatd report` and the report options of `compatd run`: bad input is one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "XDG_DATA_HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "compatd", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def one_line_error(p: subprocess.CompletedProcess[str], words: str) -> None:
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and words in p.stderr, p.stderr


def test_bad_command_lines(tmp_path):
    one_line_error(cli("report"), "give report files or --db")
    one_line_error(cli("report", str(tmp_path / "missing.json")), "missing.json")
    (tmp_path / "x.json").write_text("[1]")
    one_line_error(cli("report", str(tmp_path / "x.json")), "not a compatd run report")
    one_line_error(cli("report", "--program", "ls", str(tmp_path / "x.json")), "--db")
    one_line_error(cli("report", "--db", str(tmp_path / "none.db")), "no such file")
    one_line_error(cli("run", "--stub", "nosuch", "--", "/bin/true"), "no such syscall")
    one_line_error(cli("run", "--clear", "read:O_RDONLY", "--", "/bin/true"), "only open")
    one_line_error(cli("run", "--report", "/nonexistent/r.json", "--", "/bin/true"),
                   "cannot write there")
    one_line_error(cli("explore", "--", "no-such-program-here"), "command not found")


def test_report_formats(tmp_path):
    doc = {"kind": "run", "program": "p", "argv": ["p"], "total_calls": 2, "syscalls": {
        "kexec_load": {"nr": 246, "level": "enosys", "calls": 1, "errors": {"ENOSYS": 1},
                       "flags": {"flags": {"set": "open", "bits": 0o2000000,
                                           "union": "O_CLOEXEC"}}},
        "read": {"nr": 0, "level": "full", "calls": 1, "errors": {}}}}
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    out = json.loads(cli("report", "--format", "json", str(f), str(f)).stdout)
    assert out["gaps"][0]["name"] == "kexec_load" and out["syscalls"]["read"]["calls"] == 2
    md = cli("report", "--format", "md", str(f)).stdout
    assert "| 246 | kexec_load | enosys |" in md and "O_CLOEXEC" in md
    assert cli("report", "--format", "html", str(f)).stdout.startswith("<!DOCTYPE html>")
    rich = cli("report", str(f))
    assert rich.returncode == 0 and "kexec_load" in rich.stdout
