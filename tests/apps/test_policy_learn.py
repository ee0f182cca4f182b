"""Policies made from something else, on real programs: ``compatd policy learn`` writes a
policy under which the same run succeeds and anything beyond it is denied by a file, network
or syscall rule; ``compatd policy import-seccomp`` makes a policy that denies exactly what
an OCI seccomp profile denies, compared with the profile loaded by libseccomp natively."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


def test_exec_rules_apply_to_the_programs_execs(apps_runner: Runner) -> None:
    """The program compatd starts is the user's choice and runs; every exec it makes is
    checked for exec access (here: sh running /usr/bin/true fails as on a noexec mount)."""
    area = apps_runner.new_area("first-exec")
    policy = area / "p.toml"
    policy.write_text('[[rule]]\nexec = "/usr/bin/true"\naction = "deny"\n')
    assert under(area, policy, area / "audit.jsonl", ["/usr/bin/true"]).returncode == 0
    res = under(area, policy, area / "audit.jsonl", ["/bin/sh", "-c", "/usr/bin/true"])
    assert res.returncode == 126, res.stderr.decode()
    assert b"Permission denied" in res.stderr
    [rec] = audit_records(area / "audit.jsonl")
    assert (rec["syscall"], rec["path"], rec["access"], rec["verdict"]) == (
        "execve", "/usr/bin/true", "exec", "deny")


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


# OCI seccomp profiles ------------------------------------------------------------------------
PROGRAMS = Path(__file__).parent / "programs"
# A Docker-format profile: everything allowed but calls denied by name and by argument (each
# comparison op), with errnos of their own or EPERM by default, one logged, one killing.
PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 24,
         "args": [{"index": 0, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_GE"}]},
        {"names": ["fchmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o6000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["lseek", "_llseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 2, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_NE"},
                  {"index": 1, "value": 100, "valueTwo": 0, "op": "SCMP_CMP_GT"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
        {"names": ["acct"], "action": "SCMP_ACT_KILL_PROCESS"},
    ],
}
# What profile.json denies, and with which errno, as seccomp_calls reports it.
DENIED = {"mkdir": "EACCES", "mkdirat": "EACCES", "uname": "ENOSYS",
          "socket(AF_INET6)": "EPERM", "dup(5)": "EMFILE", "dup(6)": "EMFILE",
          "fchmod(0644)": "EPERM", "lseek(200, SEEK_SET)": "EINVAL",
          "lseek(-1, SEEK_END)": "EINVAL"}
SCMP_ACT = {"SCMP_ACT_ALLOW": 0x7FFF0000, "SCMP_ACT_ERRNO": 0x00050000,
            "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_KILL_PROCESS": 0x80000000}
SCMP_CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
            "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def scmp_action(name: str, errno_ret: int | None) -> int:
    """libseccomp's action value: SCMP_ACT_ERRNO(e) carries its errno (EPERM by default)."""
    if name == "SCMP_ACT_ERRNO":
        return SCMP_ACT[name] | (1 if errno_ret is None else errno_ret)
    return SCMP_ACT[name]


def loader_rules(profile: dict[str, Any]) -> str:
    """The profile as seccomp_loader's input: what runc hands libseccomp (this profile has
    no includes/excludes and compares no argument twice)."""
    lines = [f"default {scmp_action(profile['defaultAction'], profile.get('defaultErrnoRet'))}"]
    for e in profile["syscalls"]:
        args = e.get("args", [])
        conds = " ".join(f"{a['index']} {SCMP_CMP[a['op']]} {a['value']} {a['valueTwo']}"
                         for a in args)
        lines += [f"rule {scmp_action(e['action'], e.get('errnoRet'))} {n} {len(args)} {conds}"
                  for n in e["names"]]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def seccomp_bins(apps_base: Path) -> dict[str, Path]:
    """seccomp_loader (dynamic, with libseccomp) and seccomp_calls (static)."""
    if shutil.which("gcc") is None or not Path("/usr/include/seccomp.h").exists():
        pytest.skip("gcc or libseccomp-dev is not installed (scripts/test installs them)")
    out = apps_base / "seccomp-bin"
    out.mkdir(exist_ok=True)
    bins = {}
    for name, flags in (("seccomp_loader", ["-lseccomp"]), ("seccomp_calls", ["-static"])):
        exe = out / name
        cmd = ["gcc", "-O1", "-Wall", "-o", str(exe), str(PROGRAMS / f"{name}.c"), *flags]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        bins[name] = exe
    return bins


def imported(area: Path) -> tuple[Path, Path, Result]:
    """profile.json written, imported as profile.toml, and the loader's rules for it."""
    profile = area / "profile.json"
    profile.write_text(json.dumps(PROFILE, indent=1))
    policy = area / "profile.toml"
    res = compatd(area, "policy", "import-seccomp", str(profile), "-o", str(policy))
    assert res.returncode == 0, res.stderr.decode()
    rules = area / "rules.txt"
    rules.write_text(loader_rules(PROFILE))
    return policy, rules, res


def both(apps_runner: Runner, name: str, seccomp_bins: dict[str, Path],
         argv: list[str]) -> tuple[Result, Result, Path]:
    """argv natively under the profile (libseccomp) and under compatd with the imported
    policy, each in a fresh cwd."""
    area = apps_runner.new_area(name)
    policy, rules, _ = imported(area)
    results = []
    for label, cmd in (("native", [str(seccomp_bins["seccomp_loader"]), str(rules), *argv]),
                       ("compatd", [*COMPATD, "run", "--strict", "--policy", str(policy),
                                    "--audit", str(area / "audit.jsonl"), "--", *argv])):
        work = area / label
        work.mkdir()
        results.append(run_in(cmd, work))
    return results[0], results[1], area


def test_seccomp_profile_denies_what_it_denies(apps_runner: Runner,
                                               seccomp_bins: dict[str, Path]) -> None:
    """The acceptance test: every call the profile denies fails with its errno, every other
    one succeeds, as under the real profile natively."""
    native, compat, area = both(apps_runner, "seccomp-calls", seccomp_bins,
                                [str(seccomp_bins["seccomp_calls"])])
    assert native.returncode == 0, native.stderr.decode()
    lines = dict(line.split(" = ") for line in native.stdout.decode().splitlines())
    denied = {call: result.split()[1] for call, result in lines.items()
              if result.startswith("-1")}
    assert denied == DENIED  # the reference itself: libseccomp denies exactly these
    assert (compat.returncode, compat.stdout, compat.stderr) == \
        (native.returncode, native.stdout, native.stderr)
    records = audit_records(area / "audit.jsonl")
    assert sorted({r["syscall"] for r in records if r["verdict"] == "deny"}) == \
        ["dup", "fchmod", "lseek", "mkdir", "mkdirat", "socket", "uname"]
    assert {r["syscall"] for r in records if r["verdict"] == "allow"} == {"getpid"}  # LOG


@pytest.mark.parametrize("argv", [["/bin/mkdir", "x"], ["/bin/uname", "-a"],
                                  ["/bin/sh", "-c", "mkdir -p a/b; echo $?; uname; echo $?"]])
def test_seccomp_profile_on_coreutils(apps_runner: Runner, seccomp_bins: dict[str, Path],
                                      argv: list[str]) -> None:
    native, compat, _ = both(apps_runner, "seccomp-" + argv[-1][:20], seccomp_bins, argv)
    assert native.returncode != 0 or b"1" in native.stdout, native.stderr.decode()
    assert (compat.returncode, compat.stdout, compat.stderr) == \
        (native.returncode, native.stdout, native.stderr)


def test_seccomp_kill(apps_runner: Runner, seccomp_bins: dict[str, Path]) -> None:
    """SCMP_ACT_KILL_PROCESS kills the program at the call: natively by SIGSYS, under
    compatd by SIGKILL (a policy's kill)."""
    native, compat, _ = both(apps_runner, "seccomp-kill", seccomp_bins,
                             [str(seccomp_bins["seccomp_calls"]), "kill"])
    assert native.stdout == compat.stdout == b"acct\n"
    assert native.returncode == -31  # SIGSYS
    assert compat.returncode == 128 + 9, compat.stderr.decode()


def test_seccomp_import_reports_what_it_skipped(apps_runner: Runner) -> None:
    area = apps_runner.new_area("seccomp-import")
    _, _, res = imported(area)
    assert b"skipped 1 syscalls x86-64 does not have: _llseek" in res.stderr
    export = compatd(area, "policy", "export", str(area / "profile.toml"))
    assert export.returncode == 0, export.stderr.decode()
    assert export.stderr == b""  # nothing left out: the policy has only syscall rules
