"""Policies on real programs: ``compatd policy learn`` writes a policy under which the same
run succeeds and anything beyond it is denied by a file, network or syscall rule."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from harness import Result, Runner, run_in

COMPATD = [sys.executable, "-m", "compatd"]


def compatd(area: Path, *args: str) -> Result:
    return run_in([*COMPATD, *args], area)


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def learn(area: Path, policy: Path, argv: Sequence[str]) -> Result:
    """``policy learn`` of argv; the policy must pass ``policy check``."""
    res = compatd(area, "policy", "learn", "-o", str(policy), "--strict", "--", *argv)
    assert policy.exists(), res.stderr.decode()
    check = compatd(area, "policy", "check", str(policy))
    assert check.returncode == 0, check.stderr.decode()
    return res


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


def test_ls_etc_then_cat_shadow(apps_runner: Runner) -> None:
    """The acceptance test: learned from ``ls -la /etc``, the policy runs it as natively and
    denies ``cat /etc/shadow`` by its file rules (the default file verdict), not by an
    exec or syscall denial."""
    area = apps_runner.new_area("learn-ls")
    policy = area / "ls.toml"
    argv = ["/bin/ls", "-la", "/etc"]
    native = run_in(argv, area)
    learned = learn(area, policy, argv)
    assert (learned.returncode, learned.stdout) == (native.returncode, native.stdout)
    text = policy.read_text()
    assert "/etc/*" in text and '"/etc/passwd"' in text  # listing generalised, reads literal
    assert "/usr/bin/*" in text and "/usr/lib/x86_64-linux-gnu/**" in text

    again = under(area, policy, area / "ls.jsonl", argv)
    assert (again.returncode, again.stdout) == (native.returncode, native.stdout), \
        again.stderr.decode()
    assert audit_records(area / "ls.jsonl") == []  # nothing it did was denied

    cat = under(area, policy, area / "cat.jsonl", ["/bin/cat", "/etc/shadow"])
    assert cat.returncode == 1
    assert cat.stdout == b""
    assert cat.stderr == b"/bin/cat: /etc/shadow: Permission denied\n"
    denied = [r for r in audit_records(area / "cat.jsonl") if r["verdict"] == "deny"]
    assert denied[0]["path"] == "/etc/shadow", denied
    assert (denied[0]["syscall"], denied[0]["access"], denied[0]["rule"]) == \
        ("openat", "read", "default")


def test_failing_program(apps_runner: Runner) -> None:
    """The exit status passes through; the policy is written anyway, and says so."""
    area = apps_runner.new_area("learn-fails")
    policy = area / "p.toml"
    res = learn(area, policy, ["/bin/ls", "/nonexistent"])
    assert res.returncode == 2
    assert b"ls: cannot access '/nonexistent'" in res.stderr
    assert b"failed with exit status 2" in res.stderr
    assert "# The run ended with exit status 2." in policy.read_text()
    again = under(area, policy, area / "a.jsonl", ["/bin/ls", "/nonexistent"])
    assert (again.returncode, again.stderr) == (res.returncode, res.stderr.split(b"compatd:")[0])


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A native TCP server on 127.0.0.1 that answers each connection with one line."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello from the host\n")

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def test_network_addresses(apps_runner: Runner, tcp_server: int) -> None:
    """A connection learned is allowed by address; another port is denied by the default
    network verdict (bash's /dev/tcp: socket + connect)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    area = apps_runner.new_area("learn-net")
    policy = area / "net.toml"
    script = 'exec 3<>/dev/tcp/127.0.0.1/"$1" && head -1 <&3'
    argv = ["/bin/bash", "-c", script, "bash", str(tcp_server)]
    res = learn(area, policy, argv)
    assert (res.returncode, res.stdout) == (0, b"hello from the host\n"), res.stderr.decode()
    assert f'connect = ["127.0.0.1:{tcp_server}"]' in policy.read_text()
    again = under(area, policy, area / "ok.jsonl", argv)
    assert (again.returncode, again.stdout) == (0, b"hello from the host\n")

    with socket.socket() as other:  # a port nothing listens on, not in the policy
        other.bind(("127.0.0.1", 0))
        port = other.getsockname()[1]
    denied = under(area, policy, area / "no.jsonl", ["/bin/bash", "-c", script, "bash",
                                                     str(port)])
    assert denied.returncode == 1
    assert b"Permission denied" in denied.stderr
    [rec] = audit_records(area / "no.jsonl")
    assert (rec["syscall"], rec["address"], rec["verdict"]) == \
        ("connect", f"127.0.0.1:{port}", "deny")


def test_learned_policy_runs_a_pipeline(apps_runner: Runner) -> None:
    """A shell pipeline with children, files written in the cwd and /tmp, /proc/self: the
    numbers of /proc/PID and the temporary names are generalised, so a second run (other
    pids, other names) passes."""
    area = apps_runner.new_area("learn-sh")
    policy = area / "sh.toml"
    argv = ["/bin/sh", "-c", "t=$(mktemp) && echo hi > out && cat out | tr a-z A-Z > $t && "
            "cat $t && grep -c ^Name /proc/self/status && rm $t"]
    native = run_in(argv, area)
    assert native.returncode == 0
    res = learn(area, policy, argv)
    assert (res.returncode, res.stdout) == (0, native.stdout)
    text = policy.read_text()
    assert "/proc/[0-9]*/status" in text and "/tmp/**" in text
    again = under(area, policy, area / "a.jsonl", argv)
    assert (again.returncode, again.stdout) == (0, native.stdout), again.stderr.decode()
    assert audit_records(area / "a.jsonl") == []
