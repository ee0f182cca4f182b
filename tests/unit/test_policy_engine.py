"""The policy engine against the fake platform: where path rules are checked and what a call
asks of the path it resolves; path variables and globs in policy files."""

from __future__ import annotations

import errno
import re
import struct

import pytest

from compatd.kernel.kernel import Kernel
from policies.engine import READ, Enforcer, glob_regex
from policies.load import PolicyError, parse_policy
from tests.unit.fakeplatform import FakePlatform
from tests.unit.test_kernel import AT_FDCWD, O_CREAT, O_RDWR, O_WRONLY, FakePlan, Sink, neg
from vfs import resolver, sockfs
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

VARS = {"$CWD": "/work", "$HOME": "/home/me"}
READ_ONLY = """
[[rule]]
path = "/**"
access = "write"
action = "deny"
errno = "EROFS"
"""


def policy(text: str, variables: dict[str, str] | None = None) -> Enforcer:
    return Enforcer(parse_policy(text, "test.toml", variables or VARS))


def run_policed(calls, enforcer: Enforcer | None, prepare=None, files=(), links=()):
    """Run a script of syscalls on a tmpfs holding ``files`` and hard ``links`` (new name,
    existing name) under ``enforcer``."""
    platform = FakePlatform([])
    addrs = prepare(platform.mem) if prepare else {}
    platform.calls = [(name, tuple(addrs.get(a, a) if isinstance(a, str) else a for a in args))
                      for name, args in calls]
    ns = MountTable(TmpFS())
    root = ns.root_dentry()
    for name in files:
        root.inode.create(name, 0o100644, 0, 0)
    for name, target in links:
        root.inode.link(name, root.inode.lookup(target))
    kernel = Kernel(platform, ns, strict=True, enforcer=enforcer)
    kernel.start(FakePlan(), root, {0: Sink(), 1: Sink(), 2: Sink()})
    kernel.tasks[FakePlatform.TID].pending_exec = None
    kernel.run()
    return platform.results


def paths(m):
    return {"f": m.alloc(b"/f\0"), "new": m.alloc(b"/new\0")}


# globs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern,yes,no", [
    ("/etc/shadow", ["/etc/shadow"], ["/etc/shadowy", "/etc/shadow/x"]),
    ("/srv/**", ["/srv", "/srv/a/b"], ["/srvx", "/srvx/a"]),
    ("/home/*/.ssh/**", ["/home/a/.ssh/id"], ["/home/a/b/.ssh/id"]),
    ("/x[!ab]", ["/xc"], ["/xa"]),
    ("/a[*]b/[[]c]", ["/a*b/[c]"], ["/axb/c"]),
])
def test_globs_match_whole_paths(pattern, yes, no):
    regex = re.compile(glob_regex(pattern) + r"\Z")
    assert all(regex.match(p) for p in yes)
    assert not any(regex.match(p) for p in no)


def test_an_earlier_rule_matches_only_whole_paths():
    """A rule whose pattern is a prefix of the path does not decide it: the next one does."""
    e = policy('[[rule]]\npath = "/etc/shadow"\naction = "deny"\n'
               '[[rule]]\npath = "/etc/*"\naction = "allow"\n')
    regex = e.path_regex[READ]
    assert regex is not None
    assert regex.match("/etc/shadow").lastgroup == "r1"  # type: ignore[union-attr]
    assert regex.match("/etc/shadowy").lastgroup == "r2"  # type: ignore[union-attr]


# path variables ---------------------------------------------------------------------------
def test_cwd_and_home_are_replaced_and_escaped():
    pol = parse_policy('[[rule]]\npath = ["$CWD/**", "$HOME/.ssh", "$CWD"]\naction = "allow"\n',
                       "t", {"$CWD": "/w*k/[x]", "$HOME": "/"})
    assert pol.rules[0].paths == ("/w[*]k/[[]x]/**", "/.ssh", "/w[*]k/[[]x]")


@pytest.mark.parametrize("pattern,message", [
    ("rel/x", "must be absolute (start with / or $CWD or $HOME)"),
    ("$TMP/x", "unknown variable '$TMP'"),
    ("$CWDx", "unknown variable '$CWDx'"),
    ("$HOME.d", "a / must follow $HOME"),
])
def test_bad_path_variables_are_reported(pattern, message):
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(f'[[rule]]\npath = "{pattern}"\naction = "allow"\n', "t.toml", VARS)


def test_values_may_name_enum_fields_of_a_flag_set():
    """O_RDWR (the access mode in open's flags), SOCK_RAW, SIGCHLD in clone's flags."""
    pol = parse_policy('[[rule]]\nsyscall = "openat"\nargs.flags = {mask = 3, value = "O_RDWR"}\n'
                       'action = "deny"\n[[rule]]\nsyscall = "socket"\nargs.type = "SOCK_RAW"\n'
                       'action = "deny"\n', "t.toml", VARS)
    assert pol.rules[0].args[0].values == (3, 2)
    assert pol.rules[1].args[0].values == (3,)


# what a call asks --------------------------------------------------------------------------
def test_no_policy_costs_nothing():
    """Without --policy the kernel keeps its plain syscall entry and no hook is installed."""
    kernel = Kernel(FakePlatform([]), MountTable(TmpFS()))
    assert kernel.on_syscall.__func__ is Kernel.on_syscall  # type: ignore[attr-defined]
    assert resolver.policy_hook is None and sockfs.NET.policy_hook is None


def test_writes_are_denied_with_the_rules_errno():
    results = run_policed([("openat", (AT_FDCWD, "f", 0, 0)),
                           ("openat", (AT_FDCWD, "f", O_RDWR, 0)),
                           ("openat", (AT_FDCWD, "new", O_WRONLY | O_CREAT, 0o644)),
                           ("unlink", ("f",))], policy(READ_ONLY), paths, [b"f"])
    assert results == [3, neg(errno.EROFS), neg(errno.EROFS), neg(errno.EROFS)]


def test_access_asks_what_its_mode_names():
    """access(W_OK) says EROFS where a write would fail, as on a read-only mount."""
    r_ok, w_ok, x_ok = 4, 2, 1
    results = run_policed([("access", ("f", r_ok)), ("access", ("f", w_ok)),
                           ("faccessat", (AT_FDCWD, "f", r_ok | w_ok)),
                           ("faccessat2", (AT_FDCWD, "f", 0, 0)), ("access", ("f", x_ok))],
                          policy(READ_ONLY), paths, [b"f"])
    assert results == [0, neg(errno.EROFS), neg(errno.EROFS), 0, neg(errno.EACCES)]


def test_openat2_is_judged_by_the_flags_its_handler_read():
    def prep(m):
        how = {k: m.alloc(struct.pack("<QQQ", flags, 0, 0)) for k, flags in
               (("ro", 0), ("rw", O_RDWR))}
        return {**paths(m), **how}

    results = run_policed([("openat2", (AT_FDCWD, "f", "ro", 24)),
                           ("openat2", (AT_FDCWD, "f", "rw", 24))],
                          policy(READ_ONLY), prep, [b"f"])
    assert results == [3, neg(errno.EROFS)]


def test_hard_links_to_denied_literal_paths_are_caught():
    """The inode of a literal denied path is learnt when the policy is attached (before its
    hook is installed, so even a rule that denies every access can be learnt): a hard link
    made before the run is denied too; making one during the run is refused."""
    e = policy('[[rule]]\npath = "/f"\naction = "deny"\n')
    results = run_policed([("openat", (AT_FDCWD, "new", 0, 0)), ("link", ("f", "g"))],
                          e, lambda m: {**paths(m), "g": m.alloc(b"/g\0")}, [b"f"],
                          [(b"new", b"f")])
    assert results == [neg(errno.EACCES), neg(errno.EACCES)]
    assert list(e.identities.values()) == ["/f"]


def test_supervisor_lookups_are_not_checked():
    """A policy that forbids running anything still lets compatd set up (mount /proc, find
    the program): rules apply to what the sandboxed tasks do."""
    e = policy('[[rule]]\nexec = "/**"\naction = "deny"\n')
    assert run_policed([("getpid", ())], e) == [FakePlatform.TID]
    kernel = e.kernel
    assert kernel is not None
    kernel.current = None
    e.check_dentry(kernel.ns.root_dentry(), None)  # no task, no verdict


# syscall rules ---------------------------------------------------------------------------
ARG_RULES = """
[defaults]
syscall = "deny:ENOSYS"
[[rule]]
syscall = "close"
args.fd = -1
action = "deny:EBADF"
[[rule]]
syscall = "close"
args.fd.in = [7, 8]
action = "fake:0"
[[rule]]
syscall = "openat"
args.flags.any = "O_CREAT|O_TRUNC"
action = "deny:EROFS"
[[rule]]
syscall = "openat"
args.flags.all = "O_WRONLY|O_APPEND"
action = "deny:EPERM"
[[rule]]
syscall = "openat"
args.flags = {mask = 3, value = "O_RDWR"}
action = "deny:EACCES"
[[rule]]
syscall = "openat"
args.flags.none = "O_CLOEXEC"
args.dirfd = -100
action = "audit"
[[rule]]
syscall = ["openat", "close"]
action = "allow"
"""


@pytest.mark.parametrize("name,args,verdict", [
    ("close", (0xFFFFFFFF,), ("deny", errno.EBADF)),  # an fd is a signed 32-bit int
    ("close", (0xFFFFFFFFFFFFFFFF,), ("deny", errno.EBADF)),
    ("close", (8,), ("fake", 0)),
    ("close", (3,), ("allow", 0)),
    ("openat", (AT_FDCWD, 0, O_CREAT, 0), ("deny", errno.EROFS)),
    ("openat", (AT_FDCWD, 0, O_WRONLY | 0o2000, 0), ("deny", errno.EPERM)),
    ("openat", (AT_FDCWD, 0, O_WRONLY, 0), ("audit", 0)),
    ("openat", (AT_FDCWD, 0, O_RDWR | 0o2000000, 0), ("deny", errno.EACCES)),
    ("openat", (AT_FDCWD, 0, 0o2000000, 0), ("allow", 0)),
    ("openat", (5, 0, 0, 0), ("allow", 0)),  # O_CLOEXEC absent, but not at AT_FDCWD
    ("dup", (1,), ("deny", errno.ENOSYS)),
])
def test_argument_conditions_decide_in_rule_order(name, args, verdict):
    from syscalls.numbers import NUMBERS

    e = policy(ARG_RULES)
    action, _ = e.decide(None, NUMBERS[name], args + (0,) * (6 - len(args)))  # type: ignore[arg-type]
    assert (action.kind, action.errno or action.value) == verdict


def test_fd_kind_conditions_look_at_the_open_file():
    e = policy('[[rule]]\nsyscall = "write"\nargs.fd.kind = "pipe"\naction = "deny:EPERM"\n')
    results = run_policed([("pipe2", ("fds", 0)), ("write", (1, "fds", 1)),
                           ("write", (4, "fds", 1))], e, lambda m: {"fds": m.alloc(bytes(8))})
    assert results == [0, 1, neg(errno.EPERM)]  # fd 1 has no inode: "anon"
