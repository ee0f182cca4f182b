"""The policy engine: a loaded policy compiled into what the supervisor asks per syscall.

Where each kind of rule is checked, and why there:

- **syscall rules** at syscall entry, before the handler and before a HOST call runs (the
  filter traps every HOST syscall a rule or the default does not simply allow: ``traps``).
  One dict lookup per call (``deciders``: generated code per syscall number); a syscall no
  rule names and whose default is allow costs nothing more. Without --policy nothing of
  this runs: the kernel keeps its plain entry and no hook is installed. The program
  compatd is told to run is the user's choice: its own exec is not checked, every exec
  it (or its children) makes is.
- **path rules** where the one resolver reaches the object (``vfs.resolver.policy_hook``):
  the final dentry of every resolution, or the directory and name a call will create. The
  path matched is the dentry's own, so symlinks, ``..``, dirfds, ``/proc/self/root`` and
  ``/proc/self/fd/N`` name the real target. The supervisor is single-threaded and copied
  the path out of the tracee once, so nothing changes between this check and the use:
  the check-then-use race of ptrace sandboxes that check the path string
  (Garfinkel, "Traps and Pitfalls", 2003) does not exist here. A call that names a file
  by descriptor (``AT_EMPTY_PATH``, execveat, fchmod) reaches it as a walk would, through
  the same hook.
- **other names of one file**: the files a non-allow rule names when the run starts (its
  literal paths, and its globs without ``**`` expanded) are also matched by identity, the
  host file's (st_dev, st_ino), so a hard link (made before the run, or by a process
  outside it) or the same file through another mount is caught too. ``rename`` and
  ``link`` give a file (or a directory and everything under it) a new name:
  ``ops.policy_rename_hook`` refuses a new name that a rule on the old one would not
  follow, as AppArmor requires of link and rename, so no rename of a file or of a
  directory above it takes it out of its rule.
- **descriptors from outside** (SCM_RIGHTS on a host socket) before they are installed
  (``sockfs.NET.receive_hook``, Linux's security_file_receive): a file named by its host
  path and checked for its access mode, a socket by its connection (the peer as a
  connect); a refused one is not installed (MSG_CTRUNC).
- **network rules** where our socket layer turns a sockaddr into a host address
  (``vfs.sockfs.NET.policy_hook``): connect, sendto/sendmsg with an address, bind.

First matching rule wins; a call no rule matches gets the category's default.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import signal
import socket
import stat as st
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from compatd.errors import KernelError
from policies.model import (
    ALL_ACCESS,
    ALLOW,
    BIND,
    CONNECT,
    EXEC,
    MASK64,
    READ,
    STAT,
    WRITE,
    Action,
    ArgCondition,
    Policy,
    Rule,
)
from syscalls.numbers import MAX_NR, NAMES, NUMBERS

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel
    from compatd.kernel.task import Task
    from policies.audit import AuditLog
    from policies.limits import EntryCheck, Limiter
    from vfs.base import Dentry, Inode

ACCESS_BITS = (READ, WRITE, EXEC, STAT)
LOW56 = (1 << 56) - 1
O_ACCMODE = 3
O_CREAT = 0o100
O_TRUNC = 0o1000
O_PATH = 0o10000000

# What each path-taking syscall asks of the paths it resolves (default: STAT, a lookup
# that neither reads nor changes the file). open-family calls decide from their flags.
WRITE_CALLS = (
    "creat", "truncate", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir",
    "mkdir", "mkdirat", "mknod", "mknodat", "symlink", "symlinkat", "chmod", "fchmodat",
    "fchmodat2", "chown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "removexattr", "lremovexattr", "setxattrat", "removexattrat",
    "bind", "connect", "sendto", "sendmsg", "sendmmsg", "mq_open", "mq_unlink",
)
OPMASK: list[int] = [STAT] * (MAX_NR + 1)
for _name in WRITE_CALLS:
    OPMASK[NUMBERS[_name]] = WRITE
for _name in ("link", "linkat"):
    # A new name for a file is as good as reading and changing it (what Linux's
    # protected_hardlinks guards against).
    OPMASK[NUMBERS[_name]] = READ | WRITE
for _name in ("execve", "execveat", "uselib"):
    OPMASK[NUMBERS[_name]] = EXEC
for _name in ("fchmod", "fchown", "fsetxattr", "fremovexattr"):
    OPMASK[NUMBERS[_name]] = WRITE  # the file is named by a descriptor: chmod by another way
for _name in ("inotify_add_watch", "fanotify_mark", "open_by_handle_at"):
    OPMASK[NUMBERS[_name]] = READ
NR_OPENAT2 = NUMBERS["openat2"]


def open_opmask(flags: int) -> int:
    """What an open with ``flags`` does to the file: O_PATH only names it."""
    if flags & O_PATH:
        return STAT
    acc = (READ, WRITE, READ | WRITE, READ | WRITE)[flags & O_ACCMODE]
    if flags & (O_CREAT | O_TRUNC):
        acc |= WRITE
    return acc


def access_opmask(mode: int) -> int:
    """What access(path, mode) asks about: R_OK, W_OK, X_OK as read, write, exec (F_OK: only
    that it exists), so its answer agrees with what the call itself would get (Linux's
    faccessat says EROFS for W_OK on a read-only mount, EACCES for X_OK on a noexec one)."""
    acc = (READ if mode & 4 else 0) | (WRITE if mode & 2 else 0) | (EXEC if mode & 1 else 0)
    return acc or STAT


# Calls whose arguments say what they ask: (argument index, its meaning). openat2's flags
# are in memory: its handler reports those it read (``Enforcer.opening``), since a second
# read here could see others (another thread may change them in between).
ARG_OPMASK = {
    NUMBERS["open"]: (1, open_opmask),
    NUMBERS["openat"]: (2, open_opmask),
    NUMBERS["access"]: (1, access_opmask),
    NUMBERS["faccessat"]: (2, access_opmask),
    NUMBERS["faccessat2"]: (2, access_opmask),
}


def glob_regex(pattern: str) -> str:
    """A path glob as a regex over the path's bytes (decoded as latin-1): ``*`` and ``?``
    stay within a component, ``**`` spans any number of them, and ``/dir/**`` also
    matches ``/dir`` itself."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("/**", i) and (i + 3 == n or pattern[i + 3] == "/"):
            out.append("(?:/.*)?" if i + 3 == n else "(?:/.*)?(?=/)")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1:j]
                negate = body.startswith("!")
                # A class's own characters stay literal in the regex ("[[]" is a "[").
                body = re.sub(r"([\\\[&~|^])", r"\\\1", body[1:] if negate else body)
                out.append(f"[{'^' if negate else ''}{body}]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def byte_text(pattern: str) -> str:
    """A pattern (Unicode from TOML) in the form paths are matched in: their bytes, one
    character each (latin-1)."""
    return pattern.encode("utf-8", "surrogateescape").decode("latin-1")


def is_literal(pattern: str) -> bool:
    return not any(c in pattern for c in "*?[")


# Patterns as components, for the questions a whole regex cannot answer: what a pattern can
# still match below a directory (rename of a directory), and which files it names now.
DOUBLESTAR = None  # a ``**`` component: any number of components, none included
Component: TypeAlias = "re.Pattern[str] | str | None"  # a glob, a literal name, or ``**``
EXPAND_LIMIT = 10000  # directory entries looked at per run to find the files globs name


def components(pattern: str) -> list[Component]:
    out: list[Component] = []
    for c in pattern.split("/"):
        if c == "**":
            out.append(DOUBLESTAR)
        elif c:
            out.append(c if is_literal(c) else re.compile(glob_regex(c) + r"\Z"))
    return out


def split_path(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


def _closure(comps: list[Component], states: set[int]) -> frozenset[int]:
    """``**`` may match no component: a state before one is also the state after it."""
    out = set(states)
    todo = list(states)
    while todo:
        i = todo.pop()
        if i < len(comps) and comps[i] is DOUBLESTAR and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return frozenset(out)


def residual(comps: list[Component], path: list[str]) -> frozenset[int]:
    """Where a pattern can stand after matching ``path``'s components: the indexes of the
    pattern components left to match (an NFA's states). An index below ``len(comps)``
    means the pattern can still match something below ``path``. For two directories,
    ``residual(p, a) <= residual(p, b)`` means every path under ``a`` the pattern matches
    has its counterpart under ``b`` matched too."""
    states = _closure(comps, {0})
    for name in path:
        nxt = set()
        for i in states:
            if i == len(comps):
                continue
            c = comps[i]
            if c is DOUBLESTAR:
                nxt.add(i)
            elif c == name if isinstance(c, str) else c.match(name):
                nxt.add(i + 1)
        if not nxt:
            return frozenset()
        states = _closure(comps, nxt)
    return states


def below(comps: list[Component], states: frozenset[int]) -> bool:
    """Can the pattern, standing at ``states``, match something below that directory?"""
    return any(i < len(comps) for i in states)


def binds(action: Action) -> bool:
    """A verdict that stops the access (deny, kill), as opposed to allow and audit."""
    return action.kind in ("deny", "kill")


def child_path(d: Dentry, name: bytes | None) -> str:
    """The path the resolver hook is about: ``d``'s, or the name to be made in ``d``."""
    path = d.path()
    if name is not None and name not in (b".", b".."):
        path = (path if path != b"/" else b"") + b"/" + name
    return path.decode("latin-1")


def identity(inode: Inode) -> tuple[int, ...]:
    """What makes two names one file: the host file's (st_dev, st_ino) when there is one,
    the same by any mount or hard link; else the inode's key in the model."""
    host = inode.host_identity()
    return (0, *host) if host is not None else (1, *inode.key)


def host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address network rules match: without its scope, an IPv4-mapped one as IPv4."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    """``1.2.3.4:80`` or ``[::1]:80``, as audit records and rules write addresses."""
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def fd_kind(task: Task, fd: int) -> str:
    """The kind an ``args.X.kind`` condition tests: from the file's mode, or ``anon`` for
    files with no inode of a kind (eventfd, epoll, timerfd…), ``none`` for no open file
    (the rule is decided before the handler would say EBADF)."""
    f = task.fdt.files.get(fd)
    if f is None:
        return "none"
    inode = getattr(f, "inode", None)
    if inode is None:
        return "anon"
    try:
        mode = inode.stat().mode
    except KernelError:
        return "anon"
    return {st.S_IFREG: "file", st.S_IFDIR: "dir", st.S_IFIFO: "pipe", st.S_IFSOCK: "socket",
            st.S_IFCHR: "chr", st.S_IFBLK: "blk", st.S_IFLNK: "link"}.get(st.S_IFMT(mode), "anon")


COMPARE_TEXT = {"ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

Verdict = tuple[Action, "Rule | None"]
Decider = Callable[["Task", tuple[int, ...]], Verdict]


def register_expr(index: int, kind: str) -> str:
    """The argument at ``index`` as the table's argument kind reads its register: signed
    32-bit for fds and ints, unsigned 32-bit for flags, modes and ids, else all 64 bits."""
    if kind in ("fd", "int", "pid", "signo", "whence"):
        return f"(((args[{index}] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)"
    if kind in ("uint", "uid", "gid", "mode", "flags", "cmd"):
        return f"(args[{index}] & 0xFFFFFFFF)"
    return f"args[{index}]"


def condition_expr(c: ArgCondition, kind: str, consts: dict[str, object]) -> str:
    """One condition as a Python expression over ``task`` and ``args``: an fd kind test on
    the decoded argument, every other test on it as an unsigned 64-bit register (what
    seccomp profiles compare: -1 is the largest). Sets of values and fd kinds go to
    ``consts``; the rest are int literals."""
    v = register_expr(c.index, kind)
    if c.op == "kind":
        name = f"k{len(consts)}"
        consts[name] = frozenset(c.kinds)
        return f"(fd_kind(task, {v}) in {name})"
    u = f"({v} & {MASK64})"
    if c.op == "eq":
        if len(c.values) == 1:
            return f"({u} == {c.values[0] & MASK64})"
        name = f"k{len(consts)}"
        consts[name] = frozenset(x & MASK64 for x in c.values)
        return f"({u} in {name})"
    x = c.values[0] & MASK64
    if c.op == "all":
        return f"({u} & {x} == {x})"
    if c.op == "any":
        return f"({u} & {x} != 0)"
    if c.op == "none":
        return f"({u} & {x} == 0)"
    if c.op == "masked":
        return f"({u} & {x} == {c.values[1] & MASK64})"
    return f"({u} {COMPARE_TEXT[c.op]} {x})"


def compile_decider(conditional: tuple[tuple[Rule, tuple[tuple[ArgCondition, str], ...]], ...],
                    final: Verdict) -> Decider:
    """A syscall's verdict as one function: the first conditional rule whose conditions all
    hold, else ``final``. It runs on every call of that syscall, so it is generated as
    straight-line code (as dataclasses and namedtuple generate theirs): no loop and no
    call per condition."""
    if not conditional:
        return lambda task, args: final
    consts: dict[str, object] = {"fd_kind": fd_kind, "final": final}
    lines = ["def decide(task, args):"]
    for n, (rule, conds) in enumerate(conditional):
        consts[f"v{n}"] = (rule.action, rule)
        test = " and ".join(condition_expr(c, kind, consts) for c, kind in conds)
        lines.append(f"    if {test}:\n        return v{n}")
    lines.append("    return final")
    exec("\n".join(lines), consts)  # noqa: S102 - only int literals and the names above
    return consts["decide"]  # type: ignore[return-value]


class Enforcer:
    """A policy compiled for one run, and the hooks the supervisor calls."""

    def __init__(self, policy: Policy, audit: AuditLog | None = None) -> None:
        from syscalls.table import BY_NR, load_all

        load_all()
        self.policy = policy
        self.audit = audit
        self.kernel: Kernel | None = None
        # The syscall being handled per thread: (nr, args), for the path and
        # network hooks, which run deep inside handlers (and in retried parked calls).
        self.calls: dict[int, tuple[int, tuple[int, ...]]] = {}
        # by_nr[nr]: None (allowed, nothing to log), or the conditional rules in order and
        # the action when none matches.
        self.by_nr: list[tuple[tuple[tuple[Rule, tuple[tuple[ArgCondition, str], ...]], ...],
                               Action, Rule | None] | None] = [None] * (MAX_NR + 1)
        syscall_rules = [r for r in policy.rules if r.kind == "syscall"]
        for nr in range(MAX_NR + 1):
            entry = BY_NR[nr]
            kinds = {i: a.kind for i, a in enumerate(entry.args)} if entry else {}
            conditional = []
            final: tuple[Action, Rule | None] = (policy.default_syscall, None)
            for rule in syscall_rules:
                if nr not in rule.syscalls:
                    continue
                if not rule.args:
                    final = (rule.action, rule)
                    break
                conditional.append((rule, tuple((c, kinds.get(c.index, "ulong"))
                                                for c in rule.args)))
            if conditional or final[0].kind != "allow":
                self.by_nr[nr] = (tuple(conditional), *final)
        # What a call consults: per number whose verdict is not a plain allow, one function.
        self.deciders: dict[int, Decider] = {
            nr: compile_decider(d[0], (d[1], d[2]))
            for nr, d in enumerate(self.by_nr) if d is not None}
        self.file_rules = [r for r in policy.rules if r.kind == "file"]
        self.net_rules = [r for r in policy.rules if r.kind == "network"]
        # One regex per access bit: the alternatives are the rules that cover that access,
        # in order, so the first alternative that matches is the rule that decides. The end
        # anchor is outside them all: each alternative must match the whole path.
        self.path_regex: dict[int, re.Pattern[str] | None] = {}
        for bit in ACCESS_BITS:
            alts = [f"(?P<r{r.index}>{'|'.join(glob_regex(byte_text(p)) for p in r.paths)})"
                    for r in self.file_rules if r.access & bit]
            self.path_regex[bit] = re.compile(f"(?:{'|'.join(alts)})\\Z") if alts else None
        # The regex group of each file rule (r<index>): the rule, and whether it allows.
        self.rule_of_group = {f"r{r.index}": r for r in self.file_rules}
        self.allowed_group = {g: r.action.kind == "allow" for g, r in self.rule_of_group.items()}
        # checks[opmask]: the (access bit, regex) pairs a path is tried against, leaving out
        # the bits no rule names when the default allows them (nothing to decide there).
        default_allows = policy.default_file.kind == "allow"
        self.checks = [tuple((bit, self.path_regex[bit]) for bit in ACCESS_BITS
                             if opmask & bit and not (default_allows
                                                      and self.path_regex[bit] is None))
                       for opmask in range(ALL_ACCESS + 1)]
        # The text of directories whose entries are checked, by dentry: a relative path's
        # parent is the task's cwd (or a dirfd's) dentry, the same object each time.
        # Dentries never change name or parent, so it cannot go stale; bounded.
        self.dir_text: dict[Dentry, str] = {}
        # openat2: (its arguments, what its flags ask), reported by its handler.
        self.opened: dict[int, tuple[tuple[int, ...], int]] = {}
        # Every pattern as components, in rule order, for what a whole regex cannot answer.
        self.patterns = [(r, components(p)) for r in self.file_rules for p in r.paths]
        # identity() of a file a non-allow rule named at the start -> the path it had.
        self.identities: dict[tuple[int, ...], str] = {}
        # Their inode numbers' low 56 bits: a cheap first test, since an inode's number is
        # its host file's (hostfs keeps the low bits, an overlay its lower file's), and
        # identity() may have to stat the host file.
        self.identity_inos: set[int] = set()
        self.budget = EXPAND_LIMIT  # directory entries learn_identities may still list
        self.networks = {r.index: [(None if a.network is None else ipaddress.ip_network(a.network),
                                    a.port_low, a.port_high) for a in r.addresses]
                         for r in self.net_rules}
        self.quiet = not (self.file_rules or policy.default_file.logged)
        self.quiet_net = not (self.net_rules or policy.default_network.logged)
        # [limits] (policies/limits.py), and the checks some calls get at entry for them.
        self.limiter: Limiter | None = None
        self.at_entry: list[EntryCheck | None] = [None] * (MAX_NR + 1)
        if policy.limits.any():
            from policies.limits import Limiter

            self.limiter = Limiter(policy.limits, self)
            for nr, check in self.limiter.at_entry.items():
                self.at_entry[nr] = check

    # set-up -------------------------------------------------------------------------------
    def traps(self) -> frozenset[int]:
        """Syscalls that must stop even if the host could run them: the policy decides."""
        return frozenset(nr for nr in range(MAX_NR + 1)
                         if self.by_nr[nr] is not None or self.at_entry[nr] is not None)

    def attach(self, kernel: Kernel) -> None:
        """Learn the files the rules name (hard links), then install the hooks."""
        self.kernel = kernel
        if self.limiter is not None:
            self.limiter.attach(kernel)
        if not self.quiet:
            # Before the hooks: these walks are ours, not the program's, and must not be
            # refused by the very rules they look up.
            self.learn_identities(kernel.ns.root_dentry())
        self.install()

    def install(self) -> None:
        from vfs import ops, resolver, sockfs

        if not self.quiet:
            resolver.policy_hook = self.check_dentry
            ops.policy_rename_hook = self.check_new_name
        if not self.quiet_net:
            sockfs.NET.policy_hook = self.check_address
        if not (self.quiet and self.quiet_net):
            sockfs.NET.receive_hook = self.check_received

    def uninstall(self) -> None:
        from vfs import ops, resolver, sockfs

        resolver.policy_hook = None
        ops.policy_rename_hook = None
        sockfs.NET.policy_hook = None
        sockfs.NET.receive_hook = None

    def detach(self) -> None:
        """The run is over: no hooks, no limits."""
        self.uninstall()
        if self.limiter is not None:
            self.limiter.detach()

    def learn_identities(self, root: Dentry) -> None:
        """The identity of every file a non-allow rule names now: its literal paths, and
        what its globs match (listing at most EXPAND_LIMIT entries in all). A ``**``
        pattern can name a whole tree and is not expanded: a hard link made before the
        run to a file only such a pattern names is not known."""
        for rule, comps in self.patterns:
            if rule.action.kind == "allow" or DOUBLESTAR in comps:
                continue
            for path, d in self.expand(root, comps):
                if not d.inode.is_symlink():  # a rule on a symlink's path is not on its target
                    ident = identity(d.inode)
                    self.identities.setdefault(ident, path)
                    self.identity_inos.add(ident[-1] & LOW56)

    def expand(self, root: Dentry, comps: list[Component]) -> list[tuple[str, Dentry]]:
        """The existing (path, dentry) pairs a pattern without ``**`` matches; symlinks on
        the way are followed (the path stays the one written), the last one is not."""
        from vfs.resolver import resolve

        found: list[tuple[str, Dentry]] = [("", root)]
        for i, c in enumerate(comps):
            last = i == len(comps) - 1
            nxt: list[tuple[str, Dentry]] = []
            for path, d in found:
                if isinstance(c, str):
                    names = [c]
                else:
                    try:
                        entries = list(d.inode.readdir())
                    except KernelError:
                        continue
                    self.budget -= len(entries)
                    if self.budget < 0:
                        return []
                    names = [e.name.decode("latin-1") for e in entries
                             if c.match(e.name.decode("latin-1"))]
                for name in names:
                    try:
                        child = resolve(root, d, name.encode("latin-1"), follow=not last)
                    except KernelError:
                        continue
                    nxt.append((f"{path}/{name}", child))
            found = nxt
        return found

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No hooks meanwhile: for the supervisor's own resolutions (mounting /proc), which
        no program asked for."""
        self.uninstall()
        try:
            yield
        finally:
            self.install()

    # syscalls ---------------------------------------------------------------------------
    def begin(self, task: Task, nr: int, args: tuple[int, ...]) -> None:
        """A call enters: the hooks (deep inside its handler, or in its parked retries)
        judge by it."""
        self.calls[task.tid] = (nr, args)

    def forget(self, tid: int) -> None:
        """The thread is gone: so is what it was calling."""
        self.calls.pop(tid, None)
        self.opened.pop(tid, None)

    def decide(self, task: Task, nr: int, args: tuple[int, ...]) -> Verdict:
        """The verdict of the syscall rules for a call."""
        decider = self.deciders.get(nr)
        return decider(task, args) if decider is not None else (ALLOW, None)

    def opmask(self, task: Task, nr: int, args: tuple[int, ...]) -> int:
        """What a call asks of the paths it resolves."""
        how = ARG_OPMASK.get(nr)
        if how is not None:
            return how[1](args[how[0]])
        if nr == NR_OPENAT2:
            seen = self.opened.get(task.tid)
            return seen[1] if seen is not None and seen[0] is args else READ | WRITE
        return OPMASK[nr] if 0 <= nr <= MAX_NR else STAT

    def opening(self, task: Task, flags: int) -> None:
        """openat2's handler read these open flags: its path checks judge by them."""
        call = self.calls.get(task.tid)
        if call is not None:
            self.opened[task.tid] = (call[1], open_opmask(flags))

    # files ----------------------------------------------------------------------------------
    def current(self) -> tuple[Task | None, int]:
        """The task whose call is being handled, and what that call asks of files (0: no
        call is being handled: the supervisor finding and loading the first program)."""
        kernel = self.kernel
        task = kernel.current if kernel is not None else None
        call = self.calls.get(task.tid) if task is not None else None
        if call is None:
            return task, 0
        return task, self.opmask(task, *call)  # type: ignore[arg-type]

    def check_dentry(self, d: Dentry, name: bytes | None) -> None:
        """The resolver's hook: ``d`` was reached (or ``name`` will be made in ``d``).

        Not checked: the first program and its interpreter (the user's choice, found before
        any call), and an object with no name in the tree reached through
        /proc/self/fd/N (a stdio file the user handed to compatd, a pipe, a socket: path
        rules name files by path and it has none; a descriptor received from outside was
        checked when it arrived), unless it is to be run: then by its /proc name."""
        task, opmask = self.current()
        checks = self.checks[opmask]
        if not checks:
            return  # no rule about what this call asks, and the default allows it
        path = self.path_of(d, name, opmask)
        if path is None:
            return
        alias = None
        if name is None and d.inode.ino & LOW56 in self.identity_inos:
            alias = self.identities.get(identity(d.inode))
            if alias == path:
                alias = None
        allowed = self.allowed_group
        for bit, regex in checks:
            if alias is None and regex is not None:
                # The common case, inline: the path matches an allow rule.
                m = regex.match(path)
                if m is not None and allowed[m.lastgroup]:  # type: ignore[index]
                    continue
            self.check_name(path, bit, task)
            if alias is not None:
                self.check_name(alias, bit, task)  # the file a rule named at the start

    def path_of(self, d: Dentry, name: bytes | None, opmask: int) -> str | None:
        """The path the resolver hook is about (``d``'s, or ``name``'s in ``d``), from the
        cached text of its directory; None for an object with no name in the tree that is
        not to be run (one that is goes by its /proc name)."""
        parent = d.parent
        if name is not None and name not in (b".", b".."):
            return self.text_of(d) + "/" + name.decode("latin-1")
        if parent is not None:
            return self.text_of(parent) + "/" + d.name.decode("latin-1")
        if d.inode.is_dir():
            return "/"
        return d.name.decode("latin-1") if opmask & EXEC else None

    def text_of(self, d: Dentry) -> str:
        """``d.path()`` of a directory ("" for the root), cached by dentry."""
        text = self.dir_text.get(d)
        if text is None:
            if len(self.dir_text) >= 4096:
                self.dir_text.clear()
            text = self.dir_text[d] = (d.path().decode("latin-1") if d.parent is not None
                                       else "")
        return text

    def check_name(self, path: str, bit: int, task: Task | None) -> None:
        """One access to one name: the first rule whose pattern matches, else the default."""
        action, rule = self.verdict(path, bit)
        if action.kind != "allow":
            self.enforce(task, action, rule, path=path, access=bit)

    def verdict(self, path: str, bit: int) -> tuple[Action, Rule | None]:
        """What the file rules say of ``bit`` access to ``path``: the first matching rule's
        action, or the default."""
        regex = self.path_regex[bit]
        m = regex.match(path) if regex is not None else None
        if m is None:
            return self.policy.default_file, None
        rule = self.rule_of_group[m.lastgroup]  # type: ignore[index]
        return rule.action, rule

    def check_path(self, path: str, opmask: int, task: Task | None,
                   key: tuple[int, ...] | None = None) -> None:
        """Apply the file rules to ``path`` for every access in ``opmask``: the first
        denying (or killing) verdict wins; audits are logged and go on."""
        alias = self.identities.get(key) if key is not None else None
        for bit, _ in self.checks[opmask]:
            self.check_name(path, bit, task)
            if alias is not None and alias != path:
                self.check_name(alias, bit, task)  # the file a rule named at the start

    def check_new_name(self, old: Dentry, old_name: bytes | None, new: Dentry, new_name: bytes,
                       is_dir: bool) -> None:
        """``ops.policy_rename_hook``: rename or link is about to give the file ``old`` (or
        ``old_name`` in it) the name ``new_name`` in directory ``new``; a directory takes
        everything under it along. The resolver checked each name for the call itself;
        here the new name must not lose a denial the old one has, for any access, or a
        rename would be the way out of a rule (``mv secret x; cat x``, or ``mv dir d2;
        cat d2/secret`` for a rule on ``dir/secret*``). A loss under a directory is
        recorded as ``DIR/**``. Audit rules bind no name and are not carried along."""
        task, _ = self.current()
        old_path, new_path = child_path(old, old_name), child_path(new, new_name)
        old_parts, new_parts = split_path(old_path), split_path(new_path)
        for bit in ACCESS_BITS:
            action, rule = self.verdict(old_path, bit)
            if binds(action) and not binds(self.verdict(new_path, bit)[0]):
                self.enforce(task, action, rule, path=old_path, access=bit)
            lost = self.subtree_loses(old_parts, new_parts, bit) if is_dir else None
            if lost is not None:
                self.enforce(task, *lost, path=old_path + "/**", access=bit)

    def subtree_loses(self, old: list[str], new: list[str],
                      bit: int) -> tuple[Action, Rule | None] | None:
        """Would moving directory ``old`` to ``new`` take some path below it out of a
        denial of ``bit``? None if not, else the verdict it would lose. Per pattern, in
        rule order: a binding pattern must match under ``new`` at least what it matched
        under ``old``; and since the first match wins, a pattern that does not bind must
        not match anything new under ``new`` ahead of a binding pattern (or a binding
        default) that covers something under ``old``."""
        shadow = False  # a non-binding pattern matches more under new than under old
        for rule, comps in self.patterns:
            if not rule.access & bit:
                continue
            was = residual(comps, old)
            now = residual(comps, new)
            if binds(rule.action):
                if below(comps, was) and (shadow or not was <= now):
                    return rule.action, rule
            elif below(comps, now) and not now <= was:
                shadow = True
        if shadow and binds(self.policy.default_file):
            return self.policy.default_file, None
        return None

    def check_received(self, hfd: int) -> None:
        """``sockfs.NET.receive_hook``: a host descriptor arrived with SCM_RIGHTS from a
        process outside (Linux's security_file_receive). A file is named by its host path,
        which the default mounts show at the same path, and by its identity (a hard link
        of a denied file is that file), and checked for its access mode; a socket, by the
        connection it carries; a pipe or an anonymous file has nothing a rule names."""
        try:
            s = os.fstat(hfd)
            if st.S_ISSOCK(s.st_mode):
                self.check_received_socket(hfd)
                return
            target = os.readlink(f"/proc/self/fd/{hfd}".encode())
            flags = fcntl.fcntl(hfd, fcntl.F_GETFL)
        except OSError:
            return
        if not target.startswith(b"/"):
            return
        task, _ = self.current()
        opmask = STAT if flags & O_PATH else open_opmask(flags & O_ACCMODE)
        self.check_path(target.removesuffix(b" (deleted)").decode("latin-1"), opmask, task,
                        (0, s.st_dev, s.st_ino))

    def check_received_socket(self, hfd: int) -> None:
        """A socket from outside is as good as its connection: an IP socket's peer is
        checked as a connect to it, a listener's address as a bind, an AF_UNIX peer's path
        as connecting to that socket file (a write). Else a process outside could connect
        to a denied address and hand the sandbox the connection."""
        sock = socket.socket(fileno=os.dup(hfd))  # a duplicate: closing it leaves hfd open
        try:
            family = sock.family
            local = sock.getsockname()
            try:
                peer = sock.getpeername()
            except OSError:
                peer = None
        except OSError:
            return
        finally:
            sock.close()
        if family in (socket.AF_INET, socket.AF_INET6):
            if peer is not None:
                self.check_address(CONNECT, family, peer[0], peer[1])
            elif local[1]:
                self.check_address(BIND, family, local[0], local[1])
        elif family == socket.AF_UNIX and isinstance(peer, str) and peer.startswith("/"):
            task, _ = self.current()
            self.check_path(peer, WRITE, task)

    # network ---------------------------------------------------------------------------
    def check_address(self, op: int, family: int, host: str, port: int) -> None:
        """sockfs's hook: a host-network address a socket will bind or talk to."""
        ip = host_ip(host)
        if ip is None:
            return
        chosen: Rule | None = None
        for rule in self.net_rules:
            if not rule.net_ops & op:
                continue
            for net, lo, hi in self.networks[rule.index]:
                if lo <= port <= hi and (net is None or (ip.version == net.version and ip in net)):
                    chosen = rule
                    break
            if chosen is not None:
                break
        action = chosen.action if chosen is not None else self.policy.default_network
        if action.kind != "allow":
            kernel = self.kernel
            self.enforce(kernel.current if kernel is not None else None, action, chosen,
                         address=address_text(ip, port), op="bind" if op == BIND else "connect")

    # verdicts -----------------------------------------------------------------------------
    def enforce(self, task: Task | None, action: Action, rule: Rule | None, **what: Any) -> None:
        """Log a non-allow verdict from a hook; raise the denial (or kill)."""
        self.log(task, action, rule, **what)
        if action.kind == "audit":
            return
        if action.kind == "kill" and task is not None:
            self.kill(task)
        raise KernelError(action.errno or 1, f"policy: {self.rule_label(rule)}")

    def kill(self, task: Task) -> None:
        try:
            os.kill(task.group.tgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def rule_label(self, rule: Rule | None) -> str:
        if rule is None:
            return "default"
        return rule.label(self.policy.source)

    def log_limit(self, task: Task | None, limit: str, value: float | int | None,
                  action: Action, **what: Any) -> None:
        """Log a call refused by a limit (or, with no task, the sandbox killed by one)."""
        if self.audit is None:
            return
        call = self.calls.get(task.tid) if task is not None else None
        nr, args = call if call is not None else (-1, ())
        self.audit.record(task, NAMES.get(nr, "-"), nr, args, action,
                          f"limit {limit} ({self.policy.source})",
                          {"limit": limit, "max": value, **what})

    def log(self, task: Task | None, action: Action, rule: Rule | None, **what: Any) -> None:
        if self.audit is None:
            return
        call = self.calls.get(task.tid) if task is not None else None
        nr, args = call if call is not None else (-1, ())
        self.audit.record(task, NAMES.get(nr, str(nr)), nr, args, action,
                          self.rule_label(rule), what)

