"""The policy loader (TOML to rules, and what it says of a bad file) and the engine (globs,
first match, argument conditions, addresses, and the checks that keep other names of a
denied file out of reach: identities, renames, received descriptors)."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import socket
import stat as st
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from compatd.errors import KernelError
from policies.audit import AuditLog
from policies.engine import Enforcer, components, glob_regex, residual, split_path
from policies.load import PolicyError, parse_policy
from policies.model import EXEC, READ, STAT, WRITE, AddressPattern
from syscalls.numbers import NUMBERS
from tests.unit.fakeplatform import FakeMemory
from vfs import ops
from vfs.flags import O_PATH, O_RDONLY
from vfs.namespace import default_namespace


def policy(text: str) -> Enforcer:
    return Enforcer(parse_policy(text, "p.toml"))


def denies(e: Enforcer, path: str, bit: int = READ) -> bool:
    return e.verdict(path, bit)[0].kind == "deny"


# loader ------------------------------------------------------------------------------------
def test_a_policy_reads_into_rules_and_defaults() -> None:
    pol = parse_policy('name = "t"\n[defaults]\nfile = "deny"\nnetwork = "audit"\n\n'
                       '[[rule]]\npath = ["/a/**", "/b"]\naccess = ["read", "stat"]\n'
                       'action = "allow"\n\n[[rule]]\nexec = "/usr/bin/*"\naction = "allow"\n',
                       "p.toml")
    assert (pol.name, pol.default_file.kind, pol.default_network.kind,
            pol.default_syscall.kind) == ("t", "deny", "audit", "allow")
    r1, r2 = pol.rules
    assert (r1.index, r1.line, r1.paths, r1.access) == (1, 6, ("/a/**", "/b"), READ | STAT)
    assert (r2.index, r2.line, r2.access, r2.kind) == (2, 11, EXEC, "file")
    assert r1.label("p.toml") == "rule 1 (p.toml:6)"


@pytest.mark.parametrize(("text", "line", "what"), [
    ('[[rule]]\npath = "/x"\naction = deny\n', 3, "TOML syntax"),
    ('name = "x"\nbogus = 1\n', 2, "unknown key 'bogus'"),
    ('[[rule]]\npath = "/x"\naction = "deny"\npaths = 1\n', 4, "rule 1: unknown key 'paths'"),
    ('[defaults]\nfiles = "deny"\n', 2, "unknown default 'files'"),
    ('# a comment\n[[rule]]\nsyscall = "read"\naction = "block"\n', 4, "unknown action 'block'"),
    ('[[rule]]\nsyscall = "read"\naction = "deny"\nerrno = "ENOPE"\n', 4, "unknown errno"),
    ('[[rule]]\nsyscall = "read"\naction = "deny"\nerrno = 5000\n', 4, "unknown errno"),
    ('[[rule]]\nsyscall = "reed"\naction = "deny"\n', 2, "unknown syscall 'reed'"),
    ('[[rule]]\nsyscall = "@nope"\naction = "deny"\n', 2, "unknown group '@nope'"),
    ('[[rule]]\nsyscall = "read"\nargs.flags = 1\naction = "deny"\n', 3,
     "read has no argument 'flags'"),
    ('[[rule]]\nsyscall = "clone"\nargs.flags = {all = "CLONE_NOPE"}\naction = "deny"\n', 3,
     "unknown value 'CLONE_NOPE'"),
    ('[[rule]]\nsyscall = "clone"\nargs.flags = {kind = "file"}\naction = "deny"\n', 3,
     "kind is for fd arguments"),
    ('[[rule]]\nsyscall = "read"\nargs.fd = {kind = "tty"}\naction = "deny"\n', 3, "kind"),
    ('[[rule]]\nsyscall = "read"\nargs.fd = {above = 3}\naction = "deny"\n', 3,
     "use one of"),
    ('[[rule]]\nsyscall = ["read", "mmap"]\nargs.fd = 1\naction = "deny"\n', 3,
     "differs between the rule's syscalls"),
    ('[[rule]]\nconnect = "1.2.3.4:99999"\naction = "deny"\n', 2, "bad port '99999'"),
    ('[[rule]]\nconnect = "example.com"\naction = "deny"\n', 2, "not an address"),
    ('[[rule]]\nbind = "[::1]:90-80"\naction = "deny"\n', 2, "empty port range"),
    ('[[rule]]\nsyscall = "read"\npath = "/x"\naction = "deny"\n', 1, "exactly one of"),
    ('[[rule]]\npath = "x"\naction = "deny"\n', 2, "must be absolute"),
    ('[[rule]]\npath = "/x/a**"\naction = "deny"\n', 2, "** must be a whole component"),
    ('\n\n[[rule]]\npath = "/x"\n', 3, "no action"),
    ('[[rule]]\npath = "/x"\naction = "fake:0"\n', 3, "fake is for syscall rules"),
    ('[[rule]]\npath = "/x"\naccess = "list"\naction = "deny"\n', 3, "unknown access 'list'"),
    ('[[rule]]\nconnect = "*"\naccess = "read"\naction = "deny"\n', 3, "access is for path"),
    ('[[rule]]\npath = "/x"\nargs.fd = 1\naction = "deny"\n', 3, "args is for syscall"),
])
def test_errors_name_the_file_and_line(text: str, line: int, what: str) -> None:
    with pytest.raises(PolicyError) as ei:
        parse_policy(text, "p.toml")
    msg = str(ei.value)
    assert msg.startswith(f"p.toml:{line}: ") and what in msg, msg


def test_arguments_by_flag_and_ioctl_names() -> None:
    pol = parse_policy(
        '[[rule]]\nsyscall = "ioctl"\nargs.request = "TIOCSTI"\naction = "deny"\n'
        '[[rule]]\nsyscall = ["clone", "unshare"]\nargs.flags = {any = "CLONE_NEWUSER|0x2"}\n'
        'action = "deny"\n'
        '[[rule]]\nsyscall = "openat"\nargs.flags = {mask = "O_ACCMODE", value = "O_WRONLY"}\n'
        'action = "audit"\n'
        '[[rule]]\nsyscall = "kill"\nargs.sig = {in = ["SIGKILL", 15]}\naction = "deny"\n',
        "p.toml")
    (c1,), (c2,), (c3,), (c4,) = (r.args for r in pol.rules)
    assert (c1.index, c1.op, c1.values) == (1, "eq", (0x5412,))
    assert (c2.index, c2.op, c2.values) == (0, "any", (0x10000000 | 2,))
    assert (c3.op, c3.values) == ("masked", (3, 1))
    assert (c4.op, c4.values) == ("eq", (9, 15))


@pytest.mark.parametrize(("text", "want"), [
    ("*", AddressPattern(None, 0, 65535)),
    ("*:53", AddressPattern(None, 53, 53)),
    ("10.0.0.0/8", AddressPattern("10.0.0.0/8", 0, 65535)),
    ("10.1.2.3/8:80", AddressPattern("10.0.0.0/8", 80, 80)),
    ("1.2.3.4:22", AddressPattern("1.2.3.4/32", 22, 22)),
    ("::1", AddressPattern("::1/128", 0, 65535)),
    ("[::1]:80-90", AddressPattern("::1/128", 80, 90)),
    ("[fd00::/8]:443", AddressPattern("fd00::/8", 443, 443)),
    ("[::]:*", AddressPattern("::/128", 0, 65535)),
])
def test_addresses(text: str, want: AddressPattern) -> None:
    (rule,) = parse_policy(f'[[rule]]\nconnect = "{text}"\naction = "deny"\n', "p").rules
    assert rule.addresses == (want,)


# globs and first match ------------------------------------------------------------------
@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("/x/*", "/x/a", True),
    ("/x/*", "/x/a/b", False),  # * stays in its component
    ("/x/*", "/x", False),
    ("/x/a*c", "/x/abbc", True),
    ("/x/?", "/x/ab", False),
    ("/x/[ab]", "/x/b", True),
    ("/x/[!ab]", "/x/b", False),
    ("/x/**", "/x/a/b/c", True),
    ("/x/**", "/x", True),  # /dir/** covers the directory itself
    ("/x/**", "/xy", False),
    ("/x/**/z", "/x/z", True),
    ("/x/**/z", "/x/a/b/z", True),
    ("/x/**/z", "/x/a/bz", False),
    ("/**", "/anything/at/all", True),
    ("/x.y", "/xzy", False),  # . is literal
])
def test_glob_semantics(pattern: str, path: str, hit: bool) -> None:
    assert bool(re.match(glob_regex(pattern) + r"\Z", path)) is hit


def test_first_matching_rule_decides() -> None:
    e = policy('[[rule]]\npath = "/x/public/**"\naction = "allow"\n'
               '[[rule]]\npath = "/x/**"\naction = "deny"\n')
    assert not denies(e, "/x/public/a")
    assert denies(e, "/x/private")
    e = policy('[[rule]]\npath = "/x/**"\naction = "deny"\n'
               '[[rule]]\npath = "/x/public/**"\naction = "allow"\n')
    assert denies(e, "/x/public/a")


def test_access_bits_are_separate() -> None:
    e = policy('[defaults]\nfile = "deny"\n[[rule]]\npath = "/r/**"\naccess = "read"\n'
               'action = "allow"\n[[rule]]\nexec = "/bin/*"\naction = "allow"\n')
    assert not denies(e, "/r/a", READ) and denies(e, "/r/a", WRITE)
    assert not denies(e, "/bin/ls", EXEC) and denies(e, "/bin/ls", READ)
    assert e.verdict("/elsewhere", STAT) == (e.policy.default_file, None)


def test_check_path_raises_the_rule_errno_and_audits() -> None:
    out = io.StringIO()
    e = Enforcer(parse_policy('[[rule]]\npath = "/s"\naccess = "read"\naction = "audit"\n'
                              '[[rule]]\npath = "/s"\naction = "deny"\nerrno = "EPERM"\n', "p"),
                 AuditLog(out))
    with pytest.raises(KernelError) as ei:
        e.check_path("/s", READ | WRITE, None)
    assert ei.value.errno == errno.EPERM
    audit, deny = (json.loads(line) for line in out.getvalue().splitlines())
    assert (audit["verdict"], audit["access"], audit["rule"]) == ("allow", "read", "rule 1 (p:1)")
    assert (deny["verdict"], deny["access"], deny["errno"], deny["rule"]) == \
        ("deny", "write", "EPERM", "rule 2 (p:5)")


# syscall rules -------------------------------------------------------------------------------
class Inode:
    def __init__(self, mode: int) -> None:
        self._mode = mode

    def stat(self) -> SimpleNamespace:
        return SimpleNamespace(mode=self._mode)


def fake_task() -> SimpleNamespace:
    files = {0: SimpleNamespace(inode=Inode(st.S_IFIFO | 0o600)),
             1: SimpleNamespace(inode=Inode(st.S_IFREG | 0o644)),
             2: SimpleNamespace(inode=None)}
    return SimpleNamespace(tid=1, fdt=SimpleNamespace(files=files))


def decide(e: Enforcer, name: str, *args: int) -> str:
    nr = NUMBERS[name]
    if e.by_nr[nr] is None:
        return "untouched"
    action, rule = e.decide(fake_task(), nr, (*args, 0, 0, 0, 0, 0, 0)[:6])  # type: ignore[arg-type]
    return f"{action.kind}:{rule.index if rule else 'default'}"


def test_syscall_rules_in_order_with_argument_conditions() -> None:
    e = policy('[[rule]]\nsyscall = "ioctl"\nargs.request = "TIOCSTI"\naction = "deny"\n'
               '[[rule]]\nsyscall = ["clone", "unshare"]\nargs.flags = {any = "CLONE_NEWUSER"}\n'
               'action = "kill"\n'
               '[[rule]]\nsyscall = "mmap"\nargs.prot = {all = "PROT_WRITE|PROT_EXEC"}\n'
               'action = "deny"\n'
               '[[rule]]\nsyscall = "openat"\nargs.flags = {none = "O_WRONLY|O_RDWR"}\n'
               'action = "allow"\n'
               '[[rule]]\nsyscall = "openat"\nargs.flags = {mask = "O_ACCMODE", value = 1}\n'
               'action = "audit"\n'
               '[[rule]]\nsyscall = ["read", "write"]\nargs.fd = {kind = ["pipe", "anon"]}\n'
               'action = "deny"\n'
               '[[rule]]\nsyscall = "@time"\naction = "fake:0"\n')
    assert decide(e, "ioctl", 0, 0x5412) == "deny:1"
    assert decide(e, "ioctl", 0, 0x5413) == "allow:default"
    assert decide(e, "unshare", 0x10000000 | 0x20000) == "kill:2"
    assert decide(e, "clone", 0x11) == "allow:default"
    assert decide(e, "mmap", 0, 4096, 6) == "deny:3"
    assert decide(e, "mmap", 0, 4096, 4) == "allow:default"
    assert decide(e, "openat", -100, 0, 0o2000) == "allow:4"  # O_RDONLY|O_APPEND
    assert decide(e, "openat", -100, 0, 0o101) == "audit:5"  # O_WRONLY|O_CREAT
    assert decide(e, "openat", -100, 0, 2) == "allow:default"
    assert decide(e, "read", 0) == "deny:6"  # a pipe
    assert decide(e, "write", 1) == "allow:default"  # a file
    assert decide(e, "write", 2) == "deny:6"  # no inode: anon
    # A closed descriptor is no kind (the call goes on, to fail with EBADF).
    assert decide(e, "read", 99) == "allow:default"
    assert decide(e, "read", -1 & 0xFFFFFFFF) == "allow:default"  # int: -1, not 4294967295
    assert decide(e, "clock_nanosleep") == "fake:7"
    assert decide(e, "getpid") == "untouched"
    assert NUMBERS["getpid"] not in e.traps() and NUMBERS["ioctl"] in e.traps()


def test_network_rules() -> None:
    e = policy('[defaults]\nnetwork = "deny"\n'
               '[[rule]]\nconnect = "127.0.0.2:7000-7010"\naction = "deny"\nerrno = "EPERM"\n'
               '[[rule]]\nconnect = ["127.0.0.0/8", "[::1]:*"]\naction = "allow"\n'
               '[[rule]]\nbind = "*:8080"\naction = "allow"\n')

    def verdict(op: int, host: str, port: int) -> int:
        try:
            e.check_address(op, 2, host, port)
        except KernelError as err:
            return err.errno
        return 0

    assert verdict(1, "127.0.0.2", 7005) == errno.EPERM
    assert verdict(1, "::ffff:127.0.0.2", 7005) == errno.EPERM  # v4-mapped is v4
    assert verdict(1, "127.0.0.2", 7011) == 0
    assert verdict(1, "::1", 22) == 0
    assert verdict(1, "10.0.0.1", 80) == errno.EACCES  # the default
    assert verdict(2, "0.0.0.0", 8080) == 0
    assert verdict(2, "127.0.0.1", 8081) == errno.EACCES  # connect rules say nothing of bind


# other names of a file ----------------------------------------------------------------------
ROOT = SimpleNamespace(fsuid=0, fsgid=0, groups=[], in_group=lambda g: g == 0)
TASK = SimpleNamespace(tid=1, group=SimpleNamespace(tgid=1), mem=FakeMemory())


@pytest.fixture
def scene() -> Iterator[SimpleNamespace]:
    """The default namespace over a host directory: the cwd bound read-write, a vault of
    secrets beside it on the overlay's host layer."""
    base = Path(tempfile.mkdtemp(prefix="compatd-policy-", dir="/var/tmp"))
    cwd, vault = base / "cwd", base / "vault"
    cwd.mkdir()
    vault.mkdir()
    (vault / "secret.txt").write_text("secret\n")
    (vault / "key.pem").write_text("key\n")
    (vault / "public.txt").write_text("public\n")
    os.link(vault / "secret.txt", cwd / "prelinked")
    os.link(vault / "key.pem", cwd / "key-link")
    ns = default_namespace(bytes(cwd))
    root = ns.root_dentry()
    start = ops.lookup(ops.PathContext(root, root, ROOT, 0o22), bytes(cwd))
    yield SimpleNamespace(base=base, cwd=cwd, vault=vault, ns=ns,
                          ctx=ops.PathContext(root, start, ROOT, 0o22))
    shutil.rmtree(base)


@pytest.fixture
def attached(scene: SimpleNamespace) -> Iterator[tuple[Enforcer, io.StringIO]]:
    """The secret denied by literal path, the .pem files by glob for reading, the cwd
    allowed: hooks installed as for a run whose current call ``during`` sets."""
    out = io.StringIO()
    e = Enforcer(parse_policy(
        f'[[rule]]\npath = "{scene.vault}/secret.txt"\naction = "deny"\n'
        f'[[rule]]\npath = "{scene.vault}/*.pem"\naccess = "read"\naction = "deny"\n'
        f'[[rule]]\npath = "{scene.cwd}/**"\naction = "allow"\n', "p"), AuditLog(out))
    e.attach(SimpleNamespace(ns=scene.ns, current=TASK))  # type: ignore[arg-type]
    yield e, out
    e.detach()


def during(e: Enforcer, name: str, *args: int) -> None:
    """The call TASK is making, for what it asks of the paths (Enforcer.begin)."""
    e.begin(TASK, NUMBERS[name], (*args, 0, 0, 0, 0, 0, 0)[:6])  # type: ignore[arg-type]


def refused(fn, *args) -> None:
    with pytest.raises(KernelError) as ei:
        fn(*args)
    assert ei.value.errno == errno.EACCES, ei.value


def test_other_names_of_a_denied_file(scene: SimpleNamespace, attached) -> None:
    e, out = attached
    assert out.getvalue() == ""  # learning the files is not a denial
    # Hard links made before the start, in another mount (the cwd's bind), to files named
    # by a literal path and by a glob; the public file beside them stays readable.
    during(e, "openat", -100, 0, O_RDONLY)
    refused(ops.open, scene.ctx, b"prelinked", O_RDONLY)
    refused(ops.open, scene.ctx, b"key-link", O_RDONLY)
    ops.open(scene.ctx, bytes(scene.vault / "public.txt"), O_RDONLY).release()
    # One made now, by someone outside: the same host file.
    os.link(scene.vault / "secret.txt", scene.cwd / "later")
    refused(ops.open, scene.ctx, b"later", O_RDONLY)
    # The .pem rule is for reading: its file may be named (O_PATH asks for stat only).
    during(e, "openat", -100, 0, O_PATH)
    ops.open(scene.ctx, b"key-link", O_PATH).release()
    refused(ops.open, scene.ctx, b"prelinked", O_PATH)


# new names: rename and link ---------------------------------------------------------------
def loses(e: Enforcer, old: str, new: str, bit: int = READ) -> bool:
    return e.subtree_loses(split_path(old), split_path(new), bit) is not None


def test_residual_follows_a_pattern_below_a_directory() -> None:
    comps = components("/home/*/.ssh/**")
    assert residual(comps, split_path("/home/alice")) == {2}
    assert residual(comps, split_path("/home/alice/.ssh")) == {3, 4}
    assert residual(comps, split_path("/etc")) == frozenset()


def test_directory_renames_keep_what_is_below_under_its_rule() -> None:
    e = policy('[[rule]]\npath = "/home/*/.ssh/**"\naction = "deny"\n'
               '[[rule]]\npath = "/x/vault/secret.txt"\naction = "deny"\n')
    assert not loses(e, "/home/alice", "/home/bob")  # the keys are still under a .ssh
    assert loses(e, "/home/alice/.ssh", "/home/alice/ssh2")
    assert loses(e, "/home", "/homes")
    assert loses(e, "/x/vault", "/x/vault-moved")
    assert not loses(e, "/x/other", "/x/other2")
    assert not loses(e, "/tmp/a", "/tmp/b")


def test_directory_renames_and_first_match() -> None:
    # An allow rule that would match more under the new name shadows the deny after it.
    e = policy('[[rule]]\npath = "/pub/**"\naction = "allow"\n'
               '[[rule]]\npath = "/**/secret"\naction = "deny"\n')
    assert loses(e, "/a", "/pub/a")
    assert not loses(e, "/a", "/b")
    # Deny by default: an allowed tree must not take in a denied one.
    e = policy('[defaults]\nfile = "deny"\n[[rule]]\npath = "/work/**"\naction = "allow"\n')
    assert loses(e, "/data", "/work/data")
    assert not loses(e, "/work/a", "/work/b/c")


def test_renames_and_links_keep_their_rule(scene: SimpleNamespace, attached) -> None:
    e, out = attached
    vault = bytes(scene.vault)
    # The .pem rule is for reading only: renaming, a write, is allowed, but not to a name
    # the rule does not cover.
    during(e, "rename")
    refused(ops.rename, scene.ctx, vault + b"/key.pem", scene.ctx, vault + b"/key.txt")
    ops.rename(scene.ctx, vault + b"/key.pem", scene.ctx, vault + b"/other.pem")
    # The secret's directory cannot move: the file's path would leave its rule.
    refused(ops.rename, scene.ctx, vault, scene.ctx, vault + b"-moved")
    # A link by descriptor (linkat AT_EMPTY_PATH) is a new name too.
    during(e, "newfstatat")
    src = ops.lookup(scene.ctx, vault + b"/other.pem")
    during(e, "linkat")
    refused(ops.link_dentry, src, scene.ctx, vault + b"/other.txt")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["syscall"], r["path"], r["access"]) for r in records] == [
        ("rename", f"{scene.vault}/key.pem", "read"),
        ("rename", f"{scene.vault}/**", "read"),
        ("linkat", f"{scene.vault}/other.pem", "read")]


# received descriptors ------------------------------------------------------------------------
def test_received_descriptors(scene: SimpleNamespace, attached) -> None:
    e, _ = attached
    during(e, "recvmsg")
    fds = [os.open(scene.vault / "secret.txt", O_RDONLY), os.open(scene.cwd / "prelinked", O_PATH),
           os.open(scene.vault / "key.pem", O_PATH), os.open(scene.vault / "public.txt", O_RDONLY)]
    a, b = socket.socketpair()
    try:
        refused(e.check_received, fds[0])
        refused(e.check_received, fds[1])  # by identity; the rule denies even stat
        e.check_received(fds[2])  # O_PATH: the .pem rule is for reading
        e.check_received(fds[3])
        e.check_received(a.fileno())  # no path: nothing a file rule can name
    finally:
        for fd in fds:
            os.close(fd)
        a.close()
        b.close()


# files named by descriptor ------------------------------------------------------------------
def test_calls_on_a_descriptor_are_checked_on_its_file() -> None:
    """What is done with a descriptor is checked on its file as if a walk had reached it:
    fchmod, fsetxattr, and *at calls with AT_EMPTY_PATH (fchownat, newfstatat, linkat,
    execveat, which runs the file itself rather than whatever its path names by then)."""
    from compatd.kernel.kernel import Kernel
    from tests.unit.fakeplatform import FakePlatform
    from tests.unit.test_kernel import FakePlan, Sink
    from vfs.flags import O_CREAT, O_WRONLY
    from vfs.mount import MountTable
    from vfs.tmpfs import TmpFS

    at_fdcwd, at_empty_path = -100 & 0xFFFFFFFF, 0x1000
    ns = MountTable(TmpFS())
    root = ns.root_dentry()
    for name in (b"/secret", b"/kept"):
        ops.open(ops.PathContext(root, root, ROOT, 0o22), name, O_CREAT | O_WRONLY,
                 0o755).release()
    platform = FakePlatform([])
    mem = platform.mem
    secret, kept, copy = mem.alloc(b"/secret\0"), mem.alloc(b"/kept\0"), mem.alloc(b"/copy\0")
    empty, statbuf, xname = mem.alloc(b"\0"), mem.alloc(bytes(144)), mem.alloc(b"user.x\0")
    platform.calls = [
        ("openat", (at_fdcwd, kept, O_RDONLY)),  # 3: reading /kept is allowed
        ("fchmod", (3, 0o700)),
        ("fsetxattr", (3, xname, xname, 4, 0)),
        ("fchownat", (3, empty, 0, 0, at_empty_path)),
        ("newfstatat", (3, empty, statbuf, at_empty_path)),
        ("openat", (at_fdcwd, secret, O_PATH)),  # 4: naming /secret is allowed
        ("newfstatat", (4, empty, statbuf, at_empty_path)),
        ("linkat", (4, empty, at_fdcwd, copy, at_empty_path)),
        ("execveat", (4, empty, 0, 0, at_empty_path)),
    ]
    out = io.StringIO()
    enforcer = Enforcer(parse_policy(
        '[[rule]]\npath = "/secret"\naccess = ["read", "exec"]\naction = "deny"\n'
        '[[rule]]\npath = "/kept"\naccess = ["write", "stat"]\naction = "deny"\n', "p"),
        AuditLog(out))
    kernel = Kernel(platform, ns, strict=True, enforcer=enforcer)
    kernel.start(FakePlan(), root, {0: Sink(), 1: Sink(), 2: Sink()})
    kernel.tasks[FakePlatform.TID].pending_exec = None
    kernel.run()
    enforcer.detach()
    assert platform.results == [3, -errno.EACCES, -errno.EACCES, -errno.EACCES, -errno.EACCES,
                                4, 0, -errno.EACCES, -errno.EACCES]
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["syscall"], r["path"], r["access"]) for r in records] == [
        ("fchmod", "/kept", "write"), ("fsetxattr", "/kept", "write"),
        ("fchownat", "/kept", "write"),
        ("newfstatat", "/kept", "stat"), ("linkat", "/secret", "read"),
        ("execveat", "/secret", "exec")]


def test_received_sockets() -> None:
    """A socket from outside is checked by its connection: a process outside must not
    connect to a denied address for the sandbox."""
    out = io.StringIO()
    e = Enforcer(parse_policy('[[rule]]\nconnect = "127.0.0.2:*"\naction = "deny"\n'
                              '[[rule]]\nbind = "127.0.0.3:*"\naction = "deny"\n', "p"),
                 AuditLog(out))
    listener = socket.create_server(("127.0.0.2", 0))
    bound = socket.create_server(("127.0.0.3", 0))
    client = socket.create_connection(listener.getsockname())
    served, _ = listener.accept()
    a, b = socket.socketpair()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        refused(e.check_received, client.fileno())
        refused(e.check_received, bound.fileno())
        for ok in (listener, a, udp):  # addresses no rule denies, no peer, no address
            e.check_received(ok.fileno())
    finally:
        for s in (listener, bound, client, served, a, b, udp):
            s.close()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["op"], r["address"].rsplit(":", 1)[0], r["rule"]) for r in records] == [
        ("connect", "127.0.0.2", "rule 1 (p:1)"), ("bind", "127.0.0.3", "rule 2 (p:4)")]



def test_o_creat_of_an_existing_symlink_is_decided_at_its_target(scene: SimpleNamespace,
                                                                 attached) -> None:
    """O_CREAT finds the name first: an existing symlink is followed and the policy hears
    of its target, not of the link's name as a file to create (so `> /dev/stdout` under
    a rule on /dev is about what /dev/stdout names)."""
    from vfs.flags import O_CREAT, O_WRONLY

    e, out = attached
    os.symlink(scene.vault / "public.txt", scene.cwd / "to-public")
    os.symlink(scene.vault / "secret.txt", scene.cwd / "to-secret")
    during(e, "openat", -100, 0, O_WRONLY | O_CREAT)
    ops.open(scene.ctx, b"to-public", O_WRONLY | O_CREAT, 0o644).release()
    refused(ops.open, scene.ctx, b"to-secret", O_WRONLY | O_CREAT, 0o644)
    assert f"{scene.vault}/secret.txt" in out.getvalue()
    ops.open(scene.ctx, b"new-file", O_WRONLY | O_CREAT, 0o644).release()
    assert (scene.cwd / "new-file").exists()
