"""The policy engine: a loaded policy compiled into what the supervisor asks per syscall.

Where each kind of rule is checked, and why there:

- **syscall rules** at syscall entry, before the handler and before a HOST call runs (the
  filter traps every HOST syscall a rule or the default does not simply allow: ``traps``).
  One list index per call (``by_nr``); a syscall no rule names and whose default is allow
  costs nothing more.
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
from typing import TYPE_CHECKING, Any

from compatd.errors import KernelError
from policies.model import (
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


def shown(path: str) -> str:
    """A matched path (bytes as latin-1) as the audit log shows it: UTF-8 text."""
    return path.encode("latin-1").decode("utf-8", "backslashreplace")


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


def _decode(raw: int, kind: str) -> int:
    """The register as the table's argument kind reads it (s32 for fds and ints)."""
    if kind in ("fd", "int", "pid", "signo", "whence"):
        raw &= 0xFFFFFFFF
        return raw - (1 << 32) if raw & 0x80000000 else raw
    if kind in ("uint", "uid", "gid", "mode", "flags", "cmd"):
        return raw & 0xFFFFFFFF
    return raw


def condition_holds(c: ArgCondition, kind: str, task: Task, args: tuple[int, ...]) -> bool:
    v = _decode(args[c.index], kind)
    op = c.op
    if op == "eq":
        return v in c.values
    if op == "all":
        return v & c.values[0] == c.values[0]
    if op == "any":
        return bool(v & c.values[0])
    if op == "none":
        return not v & c.values[0]
    if op == "masked":
        return v & c.values[0] == c.values[1]
    return fd_kind(task, v) in c.kinds  # "kind"


class Enforcer:
    """A policy compiled for one run, and the hooks the supervisor calls."""

    def __init__(self, policy: Policy, audit: AuditLog | None = None) -> None:
        from syscalls.table import BY_NR, load_all

        load_all()
        self.policy = policy
        self.audit = audit
        self.kernel: Kernel | None = None
        # The syscall being handled per thread: (nr, args, opmask), for the path and
        # network hooks, which run deep inside handlers (and in retried parked calls).
        self.calls: dict[int, tuple[int, tuple[int, ...], int]] = {}
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
        self.file_rules = [r for r in policy.rules if r.kind == "file"]
        self.net_rules = [r for r in policy.rules if r.kind == "network"]
        # One regex per access bit: the alternatives are the rules that cover that access,
        # in order, so the first alternative that matches is the rule that decides.
        self.path_regex: dict[int, re.Pattern[str] | None] = {}
        for bit in ACCESS_BITS:
            alts = [f"(?P<r{r.index}>{'|'.join(glob_regex(byte_text(p)) for p in r.paths)})"
                    for r in self.file_rules if r.access & bit]
            # (?:…)\Z: every alternative must match the whole path ("/etc/shadow" is not
            # "/etc/shadowy"); a prefix of one alternative falls through to the next.
            self.path_regex[bit] = re.compile(f"(?:{'|'.join(alts)})\\Z") if alts else None
        self.rules_by_index = {r.index: r for r in policy.rules}
        self.literal_paths = {byte_text(p) for r in self.file_rules if r.action.kind != "allow"
                              for p in r.paths if is_literal(p)}
        self.identities: dict[tuple[int, int], str] = {}
        self.networks = {r.index: [(None if a.network is None else ipaddress.ip_network(a.network),
                                    a.port_low, a.port_high) for a in r.addresses]
                         for r in self.net_rules}
        self.quiet = not (self.file_rules or policy.default_file.logged)
        self.quiet_net = not (self.net_rules or policy.default_network.logged)

    # set-up -------------------------------------------------------------------------------
    def traps(self) -> frozenset[int]:
        """Syscalls that must stop even if the host could run them: the policy decides."""
        return frozenset(nr for nr in range(MAX_NR + 1) if self.by_nr[nr] is not None)

    def attach(self, kernel: Kernel) -> None:
        """Install the hooks; learn the inodes of literal denied paths (hard links)."""
        from vfs import resolver, sockfs

        self.kernel = kernel
        if not self.quiet:
            root = kernel.ns.root_dentry()
            for p in self.literal_paths:
                try:
                    d = resolver.resolve(root, root, p.encode("latin-1"))
                except KernelError:
                    continue
                self.identities[d.inode.key] = p
            resolver.policy_hook = self.check_dentry
        if not self.quiet_net:
            sockfs.NET.policy_hook = self.check_address

    def detach(self) -> None:
        from vfs import resolver, sockfs

        resolver.policy_hook = None
        sockfs.NET.policy_hook = None

    # syscalls ---------------------------------------------------------------------------
    def begin(self, task: Task, nr: int, args: tuple[int, ...]) -> None:
        """A call enters: remember what it asks of the paths it will resolve."""
        how = ARG_OPMASK.get(nr)
        if how is not None:
            opmask = how[1](args[how[0]])
        elif nr == NR_OPENAT2:
            opmask = READ | WRITE  # until its handler has read the flags (``opening``)
        else:
            opmask = OPMASK[nr] if 0 <= nr <= MAX_NR else STAT
        self.calls[task.tid] = (nr, args, opmask)

    def opening(self, task: Task, flags: int) -> None:
        """openat2's handler read these open flags: its path checks judge by them."""
        call = self.calls.get(task.tid)
        if call is not None:
            self.calls[task.tid] = (call[0], call[1], open_opmask(flags))

    def decide(self, task: Task, nr: int, args: tuple[int, ...]) -> tuple[Action, Rule | None]:
        """The verdict of the syscall rules for a call (``by_nr[nr]`` is not None)."""
        conditional, action, rule = self.by_nr[nr]  # type: ignore[misc]
        for r, conds in conditional:
            if all(condition_holds(c, kind, task, args) for c, kind in conds):
                return r.action, r
        return action, rule

    # files ----------------------------------------------------------------------------------
    def check_dentry(self, d: Dentry, name: bytes | None) -> None:
        """The resolver's hook: ``d`` was reached (or ``name`` will be made in ``d``).

        Not checked: the supervisor's own lookups before any task runs (mounting /proc;
        the first program was found before the policy was attached: it is the user's
        choice, not the sandbox's), and a magic link's target that has no name in the
        sandbox (a pipe, socket or the supervisor's stdio reached through
        /proc/self/fd/N) unless it is to be run: the task holds it already, and path
        rules are about names (Landlock leaves such files alone too)."""
        kernel = self.kernel
        task = kernel.current if kernel is not None else None
        if task is None:
            return
        call = self.calls.get(task.tid)
        opmask = call[2] if call is not None else STAT
        if d.parent is None and d.name != b"/":
            if not opmask & EXEC:
                return
            path = d.name  # its name as /proc/PID/fd shows it
        else:
            path = d.path()
            if name is not None and name not in (b".", b".."):
                path = (path if path != b"/" else b"") + b"/" + name
        self.check_path(path.decode("latin-1"), opmask, task,
                        None if name is not None else d.inode.key)

    def check_path(self, path: str, opmask: int, task: Task | None,
                   key: tuple[int, int] | None = None) -> None:
        """Apply the file rules to ``path`` for every access in ``opmask``: the first
        denying (or killing) verdict wins; audits are logged and go on."""
        names = [path]
        alias = self.identities.get(key) if key is not None else None
        if alias is not None and alias != path:
            names.append(alias)  # the same inode as a literal path a rule names
        for bit in ACCESS_BITS:
            if not opmask & bit:
                continue
            regex = self.path_regex[bit]
            for p in names:
                m = regex.match(p) if regex is not None else None
                rule = self.rules_by_index[int(m.lastgroup[1:])] if m else None  # type: ignore[index]
                action = rule.action if rule is not None else self.policy.default_file
                if action.kind != "allow":
                    self.enforce(task, action, rule, path=shown(p), access=bit)

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

    def log(self, task: Task | None, action: Action, rule: Rule | None, **what: Any) -> None:
        if self.audit is None:
            return
        call = self.calls.get(task.tid) if task is not None else None
        nr, args = (call[0], call[1]) if call is not None else (NUMBERS["execve"], ())
        self.audit.record(task, NAMES.get(nr, str(nr)), nr, args, action,
                          self.rule_label(rule), what)

