"""The policy engine: a loaded policy compiled into what the supervisor asks per syscall.

Where each kind of rule is checked, and why there:

- **syscall rules** at syscall entry, before the handler and before a HOST call runs (the
  filter traps every HOST syscall a rule or the default does not simply allow: ``traps``).
  One dict lookup per call (``deciders``, generated code per syscall number); a syscall no
  rule names and whose default is allow costs nothing more. Without --policy nothing of
  this runs: the kernel keeps its plain entry and no hook is installed.
- **path rules** where the one resolver reaches the object (``vfs.resolver.policy_hook``):
  the final dentry of every resolution, or the directory and name a call will create. The
  path matched is the dentry's own, so symlinks, ``..``, dirfds, ``/proc/self/root`` and
  ``/proc/self/fd/N`` name the real target. The supervisor is single-threaded and copied
  the path out of the tracee once, so nothing changes between this check and the use:
  the check-then-use race of ptrace sandboxes that check the path string
  (Garfinkel, "Traps and Pitfalls", 2003) does not exist here. A literal path in a
  non-allow rule is also matched by its inode, so a hard link made before the run is
  caught too.
- **network rules** where our socket layer turns a sockaddr into a host address
  (``vfs.sockfs.NET.policy_hook``): connect, sendto/sendmsg with an address, bind.

First matching rule wins; a call no rule matches gets the category's default.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import stat as st
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compatd.errors import KernelError
from policies.model import (
    ALL_ACCESS,
    ALLOW,
    BIND,
    EXEC,
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
    from compatd.platform.events import Event
    from policies.audit import AuditLog
    from vfs.base import Dentry

ACCESS_BITS = (READ, WRITE, EXEC, STAT)
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
    that it exists). So the answer agrees with what the call would get, as Linux's
    faccessat says EROFS for W_OK on a read-only mount and EACCES for X_OK on a noexec one."""
    acc = (READ if mode & 4 else 0) | (WRITE if mode & 2 else 0) | (EXEC if mode & 1 else 0)
    return acc or STAT


# Calls whose arguments say what they ask: (argument index, its meaning). The flags of
# openat2 are in memory: its handler reports the ones it read (``Enforcer.opening``), since
# a second read here could see others (another thread may change them in between).
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
    """A pattern (Unicode from TOML, or a surrogate-escaped ``$CWD``) in the form paths are
    matched in: their bytes, one character each (latin-1)."""
    return pattern.encode("utf-8", "surrogateescape").decode("latin-1")


def shown(path: bytes) -> str:
    """A matched path as the audit log shows it: UTF-8 text."""
    return path.decode("utf-8", "backslashreplace")


def is_literal(pattern: str) -> bool:
    return not any(c in pattern for c in "*?[")


def fd_kind(task: Task, fd: int) -> str:
    """The kind an ``args.X.kind`` condition tests: from the file's mode, or ``anon`` for
    files with no inode of a kind (eventfd, epoll, timerfd…)."""
    f = task.fdt.get(fd)
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


# How the table's argument kinds read a register: as a signed 32-bit int (fds, ints), an
# unsigned 32-bit one (flags, modes, ids) or the whole 64 bits; as Python expressions.
S32_KINDS = ("fd", "int", "pid", "signo", "whence")
U32_KINDS = ("uint", "uid", "gid", "mode", "flags", "cmd")

Verdict = tuple[Action, Rule | None]
Decider = Callable[["Task", tuple[int, ...]], Verdict]


def register_expr(index: int, kind: str) -> str:
    """The argument at ``index`` as the table's argument kind reads its register."""
    if kind in S32_KINDS:
        return f"(((args[{index}] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)"
    if kind in U32_KINDS:
        return f"(args[{index}] & 0xFFFFFFFF)"
    return f"args[{index}]"


def condition_expr(c: ArgCondition, kind: str, consts: dict[str, object]) -> str:
    """One argument condition as a Python expression over ``task`` and ``args`` (sets of
    values and fd kinds go to ``consts``; everything else in it is an int literal)."""
    v = register_expr(c.index, kind)
    if c.op in ("eq", "kind"):
        if c.op == "eq" and len(c.values) == 1:
            return f"({v} == {int(c.values[0])})"
        name = f"k{len(consts)}"
        if c.op == "eq":
            consts[name] = frozenset(c.values)
            return f"({v} in {name})"
        consts[name] = frozenset(c.kinds)
        return f"(fd_kind(task, {v}) in {name})"
    bits = int(c.values[0])
    if c.op == "all":
        return f"({v} & {bits} == {bits})"
    if c.op == "any":
        return f"({v} & {bits} != 0)"
    if c.op == "none":
        return f"({v} & {bits} == 0)"
    return f"({v} & {bits} == {int(c.values[1])})"  # masked


def compile_decider(conditional: tuple[tuple[tuple[tuple[ArgCondition, str], ...], Verdict],
                                       ...], final: Verdict) -> Decider:
    """A syscall's verdict as one function: the first conditional rule whose conditions all
    hold, else ``final``. It runs on every call of that syscall, so it is generated as
    straight-line code (as dataclasses and namedtuple generate theirs): no loop, no call
    per condition."""
    if not conditional:
        return lambda task, args: final
    consts: dict[str, object] = {"fd_kind": fd_kind, "final": final}
    lines = ["def decide(task, args):"]
    for n, (conds, verdict) in enumerate(conditional):
        consts[f"v{n}"] = verdict
        test = " and ".join(condition_expr(c, kind, consts) for c, kind in conds)
        lines.append(f"    if {test}:\n        return v{n}")
    lines.append("    return final")
    exec("\n".join(lines), consts)  # only int literals and the names bound above
    return consts["decide"]  # type: ignore[return-value]


class Enforcer:
    """A policy compiled for one run, and the hooks the supervisor calls.

    Everything a call consults is prepared here, once: per syscall number a decider (only
    for numbers whose verdict is not a plain allow), per combination of access bits the
    regexes to try, the inodes of literal denied paths. A checked call then costs a dict
    lookup, and a path check the path's text and one regex match per access it asks for.
    """

    def __init__(self, policy: Policy, audit: AuditLog | None = None) -> None:
        from syscalls.table import BY_NR, load_all

        load_all()
        self.policy = policy
        self.audit = audit
        self.kernel: Kernel | None = None
        # deciders[nr]: the verdict of a call with that number, from its conditional rules in
        # order and the action when none matches; absent when that is a plain allow.
        self.deciders: dict[int, Decider] = {}
        syscall_rules = [r for r in policy.rules if r.kind == "syscall"]
        for nr in range(MAX_NR + 1):
            entry = BY_NR[nr]
            kinds = {i: a.kind for i, a in enumerate(entry.args)} if entry else {}
            conditional = []
            final: Verdict = (policy.default_syscall, None)
            for rule in syscall_rules:
                if nr not in rule.syscalls:
                    continue
                if not rule.args:
                    final = (rule.action, rule)
                    break
                conditional.append((rule, tuple((c, kinds.get(c.index, "ulong"))
                                                for c in rule.args)))
            if conditional or final[0].kind != "allow":
                self.deciders[nr] = compile_decider(
                    tuple((conds, (r.action, r)) for r, conds in conditional), final)
        self.file_rules = [r for r in policy.rules if r.kind == "file"]
        self.net_rules = [r for r in policy.rules if r.kind == "network"]
        # One regex per access bit: the alternatives are the rules that cover that access,
        # in order, so the first alternative that matches is the rule that decides.
        # They match a path's bytes: no decoding per check.
        self.path_regex: dict[int, re.Pattern[bytes] | None] = {}
        for bit in ACCESS_BITS:
            alts = [f"(?P<r{r.index}>{'|'.join(glob_regex(byte_text(p)) for p in r.paths)})"
                    for r in self.file_rules if r.access & bit]
            # (?:…)\Z: every alternative must match the whole path ("/etc/shadow" is not
            # "/etc/shadowy"); a prefix of one alternative falls through to the next.
            self.path_regex[bit] = (re.compile(f"(?:{'|'.join(alts)})\\Z".encode("latin-1"))
                                    if alts else None)
        self.rule_of_group = {f"r{r.index}": r for r in self.file_rules}
        self.allowed_group = {g: r.action.kind == "allow" for g, r in self.rule_of_group.items()}
        # checks[opmask]: the (access bit, regex) pairs a path is tried against, leaving out
        # the bits no rule names when the default allows them (nothing to decide there).
        default_allows = policy.default_file.kind == "allow"
        self.checks = [tuple((bit, self.path_regex[bit]) for bit in ACCESS_BITS
                             if opmask & bit and not (default_allows
                                                      and self.path_regex[bit] is None))
                       for opmask in range(ALL_ACCESS + 1)]
        self.literal_paths = {byte_text(p).encode("latin-1") for r in self.file_rules
                              if r.action.kind != "allow" for p in r.paths if is_literal(p)}
        # The inodes of those paths, and their numbers alone (a cheap first test).
        self.identities: dict[tuple[int, int], bytes] = {}
        self.identity_inos: set[int] = set()
        # The text of directories whose entries are checked, by dentry: a relative path's
        # parent is the task's cwd (or dirfd) dentry, the same object every time. Dentries
        # never change name or parent, so the text cannot go stale; the cache is bounded.
        self.dir_text: dict[Dentry, bytes] = {}
        self.networks = {r.index: [(None if a.network is None else ipaddress.ip_network(a.network),
                                    a.port_low, a.port_high) for a in r.addresses]
                         for r in self.net_rules}
        self.quiet = not (self.file_rules or policy.default_file.logged)
        self.quiet_net = not (self.net_rules or policy.default_network.logged)
        # With either hook installed, every call is remembered on its task (``Task.call``):
        # the hooks run deep inside handlers and judge by what the call asks.
        self.hooked = not (self.quiet and self.quiet_net)
        # openat2: (the call, what its flags ask), reported by its handler (``opening``).
        self.opened: dict[int, tuple[Event, int]] = {}

    # set-up -------------------------------------------------------------------------------
    def traps(self) -> frozenset[int]:
        """Syscalls that must stop even if the host could run them: the policy decides."""
        return frozenset(self.deciders)

    def attach(self, kernel: Kernel) -> None:
        """Install the hooks; learn the inodes of literal denied paths (hard links)."""
        from vfs import resolver, sockfs

        self.kernel = kernel
        if not self.quiet:
            root = kernel.ns.root_dentry()
            for p in self.literal_paths:
                try:
                    d = resolver.resolve(root, root, p)
                except KernelError:
                    continue
                self.identities[d.inode.key] = p
                self.identity_inos.add(d.inode.ino)
            resolver.policy_hook = self.check_dentry
        if not self.quiet_net:
            sockfs.NET.policy_hook = self.check_address

    def detach(self) -> None:
        from vfs import resolver, sockfs

        resolver.policy_hook = None
        sockfs.NET.policy_hook = None

    # syscalls ---------------------------------------------------------------------------
    def decide(self, task: Task, nr: int, args: tuple[int, ...]) -> Verdict:
        """The verdict of the syscall rules for a call."""
        decider = self.deciders.get(nr)
        return decider(task, args) if decider is not None else (ALLOW, None)

    def opmask(self, task: Task, call: Event) -> int:
        """What ``call`` asks of the paths it resolves."""
        nr = call.nr
        how = ARG_OPMASK.get(nr)
        if how is not None:
            return how[1](call.args[how[0]])
        if nr == NR_OPENAT2:
            seen = self.opened.get(task.tid)
            return seen[1] if seen is not None and seen[0] is call else READ | WRITE
        return OPMASK[nr] if 0 <= nr <= MAX_NR else STAT

    def opening(self, task: Task, flags: int) -> None:
        """openat2's handler read these open flags: its path checks judge by them."""
        if task.call is not None:
            self.opened[task.tid] = (task.call, open_opmask(flags))

    # files ----------------------------------------------------------------------------------
    def check_dentry(self, d: Dentry, name: bytes | None) -> None:
        """The resolver's hook: ``d`` was reached (or ``name`` will be made in ``d``).

        Not checked: the supervisor's own lookups before any task runs (mounting /proc;
        the first program was found before the policy was attached: it is the user's
        choice, not the sandbox's), and a magic link's target that has no name in the
        sandbox (a pipe, socket or the supervisor's stdio reached through
        /proc/self/fd/N) unless it is to be run: the task holds it already, and path
        rules are about names (Landlock leaves such files alone too)."""
        task = self.kernel.current  # type: ignore[union-attr]  # attached before hooked
        if task is None:
            return
        call = task.call
        opmask = self.opmask(task, call) if call is not None else STAT
        checks = self.checks[opmask]
        if not checks:
            return  # no rule about what this call asks, and the default allows it
        parent = d.parent
        if parent is None and d.name != b"/":
            if not opmask & EXEC:
                return
            path = d.name  # its name as /proc/PID/fd shows it
        elif name is None or name in (b".", b".."):
            # d.path(), from the cached text of its directory
            path = self.text_of(parent) + b"/" + d.name if parent is not None else b"/"
        else:
            path = self.text_of(d) + b"/" + name
        alias = None
        if name is None and d.inode.ino in self.identity_inos:
            alias = self.identities.get(d.inode.key)
            if alias == path:
                alias = None
        allowed = self.allowed_group
        for bit, regex in checks:
            if alias is None and regex is not None:
                # the common case, inline: the path matches an allow rule
                m = regex.match(path)
                if m is not None and allowed[m.lastgroup]:  # type: ignore[index]
                    continue
            self.check_name(path, bit, regex, task)
            if alias is not None:
                self.check_name(alias, bit, regex, task)  # the inode a literal rule names

    def text_of(self, d: Dentry) -> bytes:
        """``d.path()`` for a directory ("" for the root), cached by dentry."""
        text = self.dir_text.get(d)
        if text is None:
            if len(self.dir_text) >= 4096:
                self.dir_text.clear()
            text = self.dir_text[d] = d.path() if d.parent is not None else b""
        return text

    def check_path(self, path: bytes, opmask: int, task: Task | None,
                   key: tuple[int, int] | None = None) -> None:
        """Apply the file rules to ``path`` for every access in ``opmask``: the first
        denying (or killing) verdict wins; audits are logged and go on. ``key``: the inode
        reached, for the literal paths a rule names."""
        alias = self.identities.get(key) if key is not None else None
        for bit, regex in self.checks[opmask]:
            self.check_name(path, bit, regex, task)
            if alias is not None and alias != path:
                self.check_name(alias, bit, regex, task)

    def check_name(self, path: bytes, bit: int, regex: re.Pattern[bytes] | None,
                   task: Task | None) -> None:
        """One access to one name: the first rule whose pattern matches, else the default."""
        m = regex.match(path) if regex is not None else None
        rule = self.rule_of_group[m.lastgroup] if m is not None else None  # type: ignore[index]
        action = rule.action if rule is not None else self.policy.default_file
        if action.kind != "allow":
            self.enforce(task, action, rule, path=shown(path), access=bit)

    # network ---------------------------------------------------------------------------
    def check_address(self, op: int, family: int, host: str, port: int) -> None:
        """sockfs's hook: a host-network address a socket will bind or talk to."""
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
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
            text = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
            self.enforce(kernel.current if kernel is not None else None, action, chosen,
                         address=text, op="bind" if op == BIND else "connect")

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

    def log(self, task: Task | None, action: Action, rule: Rule | None,
            call: Event | None = None, **what: Any) -> None:
        """Record a verdict about ``call`` (default: the task's current call, for hooks)."""
        if self.audit is None:
            return
        if call is None and task is not None:
            call = task.call
        nr, args = (call.nr, call.args) if call is not None else (-1, ())
        self.audit.record(task, NAMES.get(nr, "?"), nr, args, action, self.rule_label(rule),
                          what)

