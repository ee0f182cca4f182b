"""Policies made from something else and back: a learning run's observations
(policies/learn.py), OCI seccomp profiles (policies/seccomp_profile.py)."""

from __future__ import annotations

import errno
import re
from typing import Any

import pytest

from compatd.errors import KernelError
from policies.engine import Enforcer
from policies.learn import Observations, file_rules, normalise, render_policy
from policies.load import PolicyError, parse_policy
from policies.model import EXEC, READ, STAT, WRITE, Action, Policy
from policies.seccomp_profile import ProfileError, export_profile, import_profile, read_profile
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


# OCI seccomp profiles (policies/seccomp_profile.py) ------------------------------------------
def convert(profile: dict[str, Any], caps: set[str] | None = None,
            release: str = "6.1.0") -> tuple[Policy, list[str]]:
    """The profile imported (and the imported policy loaded), with the warnings."""
    warnings: list[str] = []
    text = import_profile(profile, "p.json", caps or set(), release, warnings.append)
    return parse_policy(text, "p.toml"), warnings


def profile(*entries: dict[str, Any], default: str = "SCMP_ACT_ALLOW",
            **extra: Any) -> dict[str, Any]:
    return {"defaultAction": default, "syscalls": list(entries), **extra}


def arg(index: int, op: str, value: int, two: int = 0) -> dict[str, Any]:
    return {"index": index, "op": f"SCMP_CMP_{op}", "value": value, "valueTwo": two}


@pytest.mark.parametrize(("action", "errno_ret", "expected", "warned"), [
    ("SCMP_ACT_ALLOW", None, Action("allow"), False),
    ("SCMP_ACT_ERRNO", None, Action("deny", errno=errno.EPERM), False),
    ("SCMP_ACT_ERRNO", 13, Action("deny", errno=errno.EACCES), False),
    ("SCMP_ACT_ERRNO", 0, Action("fake", value=0), False),  # returns 0, call not made
    ("SCMP_ACT_KILL_PROCESS", None, Action("kill"), False),
    ("SCMP_ACT_KILL", None, Action("kill"), True),  # the thread, in libseccomp
    ("SCMP_ACT_KILL_THREAD", None, Action("kill"), True),
    ("SCMP_ACT_LOG", None, Action("audit"), False),
    ("SCMP_ACT_TRACE", None, Action("deny", errno=errno.ENOSYS), True),
    ("SCMP_ACT_TRAP", None, Action("kill"), True),
    ("SCMP_ACT_NOTIFY", None, Action("audit"), True),
])
def test_actions(action: str, errno_ret: int | None, expected: Action, warned: bool) -> None:
    e: dict[str, Any] = {"names": ["uname"], "action": action}
    if errno_ret is not None:
        e["errnoRet"] = errno_ret
    pol, warnings = convert(profile(e, default="SCMP_ACT_ERRNO", defaultErrnoRet=38))
    assert decide(pol, "uname") == expected
    assert decide(pol, "getpid") == Action("deny", errno=errno.ENOSYS)  # defaultErrnoRet
    assert bool(warnings) == warned, warnings


def test_unknown_syscalls_are_skipped_with_one_warning() -> None:
    pol, warnings = convert(profile(
        {"names": ["_llseek", "mkdir", "socketcall", "arm_fadvise64_64"],
         "action": "SCMP_ACT_ERRNO"}))
    assert decide(pol, "mkdir") == Action("deny", errno=errno.EPERM)
    assert warnings == ["skipped 3 syscalls x86-64 does not have: _llseek, socketcall, "
                        "arm_fadvise64_64"]


@pytest.mark.parametrize(("cond", "args", "denied"), [
    (arg(0, "EQ", 10), (10,), True),
    (arg(0, "EQ", 10), (2,), False),
    (arg(0, "NE", 1), (2,), True),
    (arg(0, "NE", 1), (1,), False),
    (arg(0, "LT", 3), (2,), True),
    (arg(0, "LT", 3), (3,), False),
    (arg(0, "LE", 3), (3,), True),
    (arg(0, "GT", 3), (4,), True),
    (arg(0, "GT", 3), (3,), False),
    (arg(0, "GE", 3), (3,), True),
    (arg(0, "GE", 3), (2,), False),
    # An int argument of -1 is a register of all ones, above anything, to seccomp.
    (arg(0, "GT", 3), (0xFFFFFFFF,), True),
    (arg(0, "EQ", (1 << 64) - 1), (0xFFFFFFFF,), True),
    # libseccomp masks the datum too: valueTwo's bits outside the mask do not count.
    (arg(1, "MASKED_EQ", 0o6000, 0o4000 | 0o777), (3, 0o4755), True),
    (arg(1, "MASKED_EQ", 0o6000, 0o4000 | 0o777), (3, 0o755), False),
])
def test_argument_comparisons(cond: dict[str, Any], args: tuple[int, ...], denied: bool) -> None:
    """socket(domain) and fchmod(fd, mode): each op as seccomp compares registers."""
    name = "fchmod" if cond["index"] == 1 else "dup"
    pol, _ = convert(profile({"names": [name], "action": "SCMP_ACT_ERRNO", "args": [cond]}))
    assert (decide(pol, name, *args).kind == "deny") == denied


def test_conditions_of_an_entry_all_hold() -> None:
    pol, _ = convert(profile({"names": ["lseek"], "action": "SCMP_ACT_ERRNO",
                              "args": [arg(2, "NE", 1), arg(1, "GT", 100)]}))
    assert decide(pol, "lseek", 3, 200, 0).kind == "deny"
    assert decide(pol, "lseek", 3, 200, 1).kind == "allow"
    assert decide(pol, "lseek", 3, 50, 0).kind == "allow"


def test_one_argument_compared_twice_is_one_rule_per_comparison() -> None:
    """runc adds each comparison as a rule of its own: any of them denies."""
    pol, _ = convert(profile({"names": ["dup"], "action": "SCMP_ACT_ERRNO",
                              "args": [arg(0, "EQ", 4), arg(0, "EQ", 7)]}))
    assert [decide(pol, "dup", fd).kind for fd in (3, 4, 7)] == ["allow", "deny", "deny"]


def test_entries_for_one_syscall_as_libseccomp_adds_them() -> None:
    entries = (
        # conditional, then unconditional: the unconditional one replaces it
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "EQ", 4)]},
        {"names": ["dup"], "action": "SCMP_ACT_LOG"},
        # unconditional first: later entries are dropped
        {"names": ["dup2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9},
        {"names": ["dup2"], "action": "SCMP_ACT_LOG", "args": [arg(0, "EQ", 4)]},
        # the default action: no rule (libseccomp refuses it)
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
    )
    pol, _ = convert(profile(*entries))
    assert decide(pol, "dup", 4) == Action("audit")
    assert decide(pol, "dup2", 4) == Action("deny", errno=errno.EBADF)
    assert not any(NUMBERS["getpid"] in r.syscalls for r in pol.rules)


@pytest.mark.parametrize(("cond", "applies"), [
    ({"includes": {"caps": ["CAP_SYS_ADMIN"]}}, False),
    ({"includes": {"caps": ["CAP_NET_RAW"]}}, True),
    ({"excludes": {"caps": ["CAP_NET_RAW"]}}, False),
    ({"excludes": {"caps": ["CAP_SYS_ADMIN"]}}, True),
    ({"includes": {"arches": ["s390", "s390x"]}}, False),
    ({"includes": {"arches": ["amd64", "x32"]}}, True),
    ({"excludes": {"arches": ["amd64"]}}, False),
    ({"includes": {"minKernel": "6.2"}}, False),
    ({"includes": {"minKernel": "5.8"}}, True),
    ({"excludes": {"minKernel": "5.8"}}, False),
])
def test_includes_and_excludes(cond: dict[str, Any], applies: bool) -> None:
    pol, _ = convert(profile({"names": ["chroot"], "action": "SCMP_ACT_ERRNO", **cond}),
                     caps={"CAP_NET_RAW"}, release="6.1.0-27-amd64")
    assert (decide(pol, "chroot").kind == "deny") == applies


@pytest.mark.parametrize(("doc", "message"), [
    ([], "a seccomp profile is a JSON object"),
    ({"syscalls": []}, "defaultAction is missing"),
    (profile(default="SCMP_ACT_MAYBE"), "defaultAction: unknown action 'SCMP_ACT_MAYBE'"),
    (profile({"names": ["dup"], "action": "SCMP_ACT_ERRNO", "args": [arg(7, "EQ", 1)]}),
     "syscalls[0], args[0]: index must be 0..5, not 7"),
    (profile({"names": ["dup"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 0, "op": "SCMP_CMP_IN", "value": 1}]}),
     "syscalls[0], args[0]: unknown op 'SCMP_CMP_IN'"),
    (profile({"names": "dup", "action": "SCMP_ACT_ERRNO"}),
     "syscalls[0]: names must be a list of syscall names"),
    (profile({"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}),
     "syscalls[0]: errnoRet -1 is not an errno"),
])
def test_bad_profiles(doc: Any, message: str) -> None:
    with pytest.raises(ProfileError, match=re.escape(message)):
        convert(doc)


# compatd policies -> profiles
def export(text: str) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    return export_profile(parse_policy(text, "x.toml"), warnings.append), warnings


def test_export_actions_and_defaults() -> None:
    doc, warnings = export("""
[defaults]
syscall = "deny:EACCES"
[[rule]]
syscall = ["read", "write"]
action = "allow"
[[rule]]
syscall = "acct"
action = "kill"
[[rule]]
syscall = "getpid"
action = "audit"
[[rule]]
syscall = "sync"
action = "fake:0"
""")
    assert warnings == []
    assert (doc["defaultAction"], doc["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", errno.EACCES)
    assert doc["architectures"] == ["SCMP_ARCH_X86_64"]
    assert {(tuple(e["names"]), e["action"], e.get("errnoRet")) for e in doc["syscalls"]} == {
        (("read", "write"), "SCMP_ACT_ALLOW", None),
        (("acct",), "SCMP_ACT_KILL_PROCESS", None),
        (("getpid",), "SCMP_ACT_LOG", None),
        (("sync",), "SCMP_ACT_ERRNO", 0),
    }


def test_export_conditions() -> None:
    """eq of several values and any-bit tests are one entry per alternative (entries are
    OR'd); the bit tests are MASKED_EQ; comparisons keep their op."""
    doc, warnings = export("""
[[rule]]
syscall = "socket"
args.domain = [10, 40]
action = "deny"
[[rule]]
syscall = "mmap"
args.prot = { any = 6 }
args.length = { gt = 4096 }
action = "deny:ENOMEM"
[[rule]]
syscall = "dup"
args.oldfd = -1
action = "deny:EBADF"
""")
    assert warnings == []
    got = {(e["names"][0], tuple((a["index"], a["op"], a["value"], a["valueTwo"])
                                 for a in e["args"])) for e in doc["syscalls"]}
    assert got == {
        ("socket", ((0, "SCMP_CMP_EQ", 10, 0),)),
        ("socket", ((0, "SCMP_CMP_EQ", 40, 0),)),
        ("mmap", ((2, "SCMP_CMP_MASKED_EQ", 2, 2), (1, "SCMP_CMP_GT", 4096, 0))),
        ("mmap", ((2, "SCMP_CMP_MASKED_EQ", 4, 4), (1, "SCMP_CMP_GT", 4096, 0))),
        ("dup", ((0, "SCMP_CMP_EQ", (1 << 64) - 1, 0),)),
    }


def test_export_says_what_it_leaves_out() -> None:
    doc, warnings = export("""
[defaults]
file = "deny"
[limits]
processes = 4
[[rule]]
syscall = "read"
args.fd = { kind = "socket" }
action = "deny"
[[rule]]
syscall = "socket"
args.domain = 1
action = "allow"
[[rule]]
syscall = "socket"
action = "deny"
[[rule]]
path = "/etc/**"
action = "deny"
""")
    assert warnings[0] == ("left out file rules, the file default, [limits]: a seccomp "
                           "profile decides syscalls only")
    assert any(w.startswith("read: rule 1 (x.toml:6) has no seccomp equivalent")
               for w in warnings)
    assert any(w.startswith("socket: a seccomp profile cannot give a syscall conditional "
                            "verdicts and a fallback") for w in warnings)
    assert {e["names"][0]: e["action"] for e in doc["syscalls"]} == {"socket": "SCMP_ACT_ERRNO"}


DOCKERISH = profile(
    {"names": ["accept", "read", "write", "mmap", "getpid", "_llseek"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [arg(0, "EQ", 0)]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "EQ", 0xFFFFFFFF)]},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [arg(0, "MASKED_EQ", 0x7E020000, 0)], "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
     "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "NE", 40)]},
    {"names": ["mkdir"], "action": "SCMP_ACT_LOG"},
    {"names": ["acct"], "action": "SCMP_ACT_KILL_PROCESS"},
    default="SCMP_ACT_ERRNO", defaultErrnoRet=1,
    architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
)


@pytest.mark.parametrize("caps", [set(), {"CAP_SYS_ADMIN"}])
def test_round_trip(caps: set[str]) -> None:
    """Importing a profile and exporting the policy gives a profile libseccomp applies the
    same way on x86-64 (entries may be grouped otherwise)."""
    pol, _ = convert(DOCKERISH, caps)
    warnings: list[str] = []
    again = export_profile(pol, warnings.append)
    assert warnings == []
    first = read_profile(DOCKERISH, caps, "6.1.0")
    second = read_profile(again, caps, "6.1.0")
    assert second.default == first.default
    assert second.syscalls == first.syscalls
    assert ("clone3" in second.syscalls) == (not caps)


def test_equality_tests_of_one_argument_merge() -> None:
    text = import_profile(DOCKERISH, "p.json", set(), "6.1.0")
    assert "args = { persona = [0, 0xffffffff] }" in text


def test_a_learned_policy_exports() -> None:
    """A policy written by learn exports with its file rules reported as left out."""
    text = render_policy(Observations(syscalls={"read", "exit_group"}, paths=dict(LS_ETC)),
                         ["/bin/ls"], 0)
    doc, warnings = export(text)
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO"
    assert [(e["names"], e["action"]) for e in doc["syscalls"]] == \
        [(["exit_group", "read"], "SCMP_ACT_ALLOW")]
    assert warnings == ["left out file rules, the file default, the network default: a "
                        "seccomp profile decides syscalls only"]
