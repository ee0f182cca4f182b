"""Policies on real programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import Result, Runner, run_in

COMPATD = [sys.executable, "-m", "compatd"]


def compatd(area: Path, *args: str) -> Result:
    return run_in([*COMPATD, *args], area)


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def under(area: Path, policy: Path, audit: Path, argv: Sequence[str]) -> Result:
    return compatd(area, "run", "--strict", "--policy", str(policy), "--audit", str(audit),
                   "--", *argv)


def test_first_program_exec_is_checked(apps_runner: Runner) -> None:
    """The program compatd starts is checked for exec access, as an execve is."""
    area = apps_runner.new_area("first-exec")
    policy = area / "p.toml"
    policy.write_text('[[rule]]\nexec = "/usr/bin/true"\naction = "deny"\n')
    res = under(area, policy, area / "audit.jsonl", ["/bin/true"])
    assert res.returncode == 2, res.stderr.decode()
    assert b"/bin/true: Permission denied" in res.stderr
    [rec] = audit_records(area / "audit.jsonl")
    assert (rec["path"], rec["access"], rec["verdict"]) == ("/usr/bin/true", "exec", "deny")
