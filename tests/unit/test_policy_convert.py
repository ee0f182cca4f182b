"""Policies made from something else: a learning run's observations (policies/learn.py);
the argument comparisons seccomp profiles need."""

from __future__ import annotations

import pytest

from compatd.errors import KernelError
from policies.engine import Enforcer
from policies.learn import Observations, file_rules, normalise, render_policy
from policies.load import PolicyError, parse_policy
from policies.model import EXEC, READ, STAT, WRITE, Action, Policy
from syscalls.numbers import NUMBERS

LIBS = "/usr/lib/x86_64-linux-gnu"
LS_ETC = {
    "/usr/bin/ls": EXEC,
    f"{LIBS}/ld-linux-x86-64.so.2": EXEC,
    f"{LIBS}/libc.so.6": READ,
    f"{LIBS}/libselinux.so.1": READ,
    "/etc/ld.so.cache": READ | STAT,
    "/etc/passwd": READ | STAT,
    "/etc": READ | STAT,
    "/etc/hosts": STAT,
    "/etc/fstab": STAT,
    "/": STAT,
}


def rules(paths: dict[str, int]) -> dict[int, list[str]]:
    return dict(file_rules(paths))


def test_ls_like_run() -> None:
    """Exec targets in /usr/bin generalised, libraries by directory, /etc reads literal,
    the entries of a listed directory by ``dir/*`` for stat only."""
    assert rules(LS_ETC) == {
        EXEC: ["/usr/bin/*", f"{LIBS}/ld-linux-x86-64.so.2"],
        READ | STAT: ["/etc"],
        READ: ["/etc/ld.so.cache", "/etc/passwd", f"{LIBS}/**"],
        STAT: ["/", "/etc/*"],
    }


def test_one_library_stays_literal() -> None:
    assert rules({f"{LIBS}/libc.so.6": READ}) == {READ: [f"{LIBS}/libc.so.6"]}


@pytest.mark.parametrize(("paths", "expected"), [
    # Deeper files group under the third level of /usr, the second elsewhere.
    ({"/usr/lib/python3.11/json/__init__.py": READ, "/usr/lib/python3.11/os.py": READ},
     {READ: ["/usr/lib/python3.11/**"]}),
    ({"/opt/app/lib/a.so": READ, "/opt/app/share/b": READ}, {READ: ["/opt/app/**"]}),
    # Writes under a system tree are never generalised.
    ({"/usr/local/x": WRITE, "/usr/local/y": WRITE}, {WRITE: ["/usr/local/x", "/usr/local/y"]}),
    # Temporary names change per run; /tmp is the sandbox's own tmpfs.
    ({"/tmp/tmp.Xa81": READ | WRITE}, {READ | WRITE: ["/tmp/**"]}),
    ({"/var/tmp/keep": WRITE}, {WRITE: ["/var/tmp/keep"]}),
    # Listing / and stat'ing its entries: "/*", not "//*" (and "/*" matches "/" too).
    ({"/": READ | STAT, "/etc": STAT}, {READ: ["/"], STAT: ["/*"]}),
    # Per-run numbers; the listed /proc/PID/fd covers the stat of its links.
    ({"/proc/41/fd": READ, "/proc/41/fd/3": STAT, "/proc/77/fd/1": STAT},
     {READ: ["/proc/[0-9]*/fd"], STAT: ["/proc/[0-9]*/fd/*"]}),
    # Glob characters in a name match only themselves.
    ({"/home/u/a*b?[c]": READ}, {READ: ["/home/u/a[*]b[?][[]c]"]}),
])
def test_generalisation(paths: dict[str, int], expected: dict[int, list[str]]) -> None:
    assert rules(paths) == expected


def test_normalise() -> None:
    assert normalise("/proc/4242/task/4243/stat") == "/proc/[0-9]*/task/[0-9]*/stat"
    assert normalise("/dev/pts/3") == "/dev/pts/[0-9]*"
    assert normalise("/proc/sys/kernel/pid_max") == "/proc/sys/kernel/pid_max"
    assert normalise("/home/u/4242") == "/home/u/4242"


def allowed(enforcer: Enforcer, path: str, access: int) -> bool:
    try:
        enforcer.check_path(path, access, None)
    except KernelError:
        return False
    return True


def test_rendered_policy_allows_what_was_seen_and_little_else() -> None:
    seen = Observations(syscalls={"read", "openat", "exit_group"}, paths=dict(LS_ETC),
                        connects={"127.0.0.1:6379", "[::1]:53"}, binds={"0.0.0.0:8080"})
    seen.paths["/proc/4242/status"] = READ
    seen.paths["/home/u/weird name\n\u00e9"] = READ
    text = render_policy(seen, ["/bin/ls", "-la", "/etc\nx"], 0)
    policy = parse_policy(text, "learned.toml")
    assert (policy.default_syscall.kind, policy.default_file.kind,
            policy.default_network.kind) == ("deny", "deny", "deny")
    enforcer = Enforcer(policy)
    for path, mask in seen.paths.items():
        for bit in (READ, WRITE, EXEC, STAT):
            if mask & bit:
                assert allowed(enforcer, path, bit), (path, bit)
    assert allowed(enforcer, "/proc/1/status", READ)
    assert allowed(enforcer, "/usr/bin/cat", EXEC)
    assert allowed(enforcer, "/etc/shadow", STAT)
    for path, bit in (("/etc/shadow", READ), ("/etc/passwd", WRITE), ("/usr/bin/cat", READ),
                      ("/etc", WRITE), ("/home/u/other", READ)):
        assert not allowed(enforcer, path, bit), (path, bit)
    net = {(r.net_ops, a.network, a.port_low) for r in policy.rules if r.kind == "network"
           for a in r.addresses}
    assert net == {(1, "127.0.0.1/32", 6379), (1, "::1/128", 53), (2, "0.0.0.0/32", 8080)}
    [sys_rule] = [r for r in policy.rules if r.kind == "syscall"]
    assert len(sys_rule.syscalls) == 3


# Argument comparisons (the ops seccomp profiles need) -----------------------------------------
def decide(policy: Policy, name: str, *args: int) -> Action:
    """The verdict of ``policy``'s syscall rules on a call (no fd-kind tests here)."""
    enforcer = Enforcer(policy)
    nr = NUMBERS[name]
    if enforcer.by_nr[nr] is None:
        return Action("allow")
    padded = (*args, *(0,) * (6 - len(args)))
    return enforcer.decide(None, nr, padded)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "fd", "holds"), [
    ("{ ne = 4 }", 3, True), ("{ ne = 4 }", 4, False),
    ("{ lt = 3 }", 2, True), ("{ lt = 3 }", 3, False),
    ("{ le = 3 }", 3, True), ("{ le = 3 }", 4, False),
    ("{ gt = 3 }", 4, True), ("{ gt = 3 }", 3, False),
    ("{ ge = 3 }", 3, True), ("{ ge = 3 }", 2, False),
    # An int is compared as the register seccomp sees: -1 sign-extended, above any fd.
    ("{ lt = 3 }", 0xFFFFFFFF, False), ("{ gt = 3 }", 0xFFFFFFFF, True),
    ("-1", 0xFFFFFFFF, True), ('"0xffffffffffffffff"', 0xFFFFFFFF, True),
    ("{ ge = -100 }", 0xFFFFFFFF, True), ("{ ge = -100 }", 5, False),
])
def test_comparison_ops(spec: str, fd: int, holds: bool) -> None:
    pol = parse_policy(f'[[rule]]\nsyscall = "dup"\nargs.oldfd = {spec}\naction = "deny"\n',
                       "t.toml")
    assert (decide(pol, "dup", fd).kind == "deny") == holds


def test_a_comparison_takes_one_value() -> None:
    with pytest.raises(PolicyError, match=r"t.toml:3: rule 1: args.oldfd.lt: one value"):
        parse_policy('[[rule]]\nsyscall = "dup"\nargs.oldfd = { lt = [1, 2] }\n'
                     'action = "deny"\n', "t.toml")
