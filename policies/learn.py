"""``compatd policy learn``: run a program allowing everything, record what it did, and write
the smallest policy under which the same run succeeds.

What is recorded (``Learner``, an ``Enforcer`` whose hooks only watch): every syscall number
(all of them trap while learning, HOST ones included), every path the resolver reached with
the accesses asked of it (the first program's exec and its ELF interpreter included), and
every host address connected to or bound.

How paths become rules (``file_rules``), per access bit, so that a file that was read and
stat'ed can be covered by two different patterns:

- ``/proc/<pid>`` and ``/dev/pts/<n>`` name something else in the next run: their numbers
  become ``[0-9]*``.
- Programs executed from a system bin directory: ``/usr/bin/*``. The exec rule only lets a
  program start; what it can then read or write is still up to the file rules.
- Several files of a system tree (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, ``/opt``) read,
  stat'ed or executed under one directory: that directory, ``/usr/lib/x86_64-linux-gnu/**``.
  These trees hold what the distribution installed, nothing of the user's.
- Anything in the sandbox's temporary directories (``/tmp``, ``/dev/shm``, private tmpfs):
  ``/tmp/**``, since temporary names change from run to run.
- Entries only stat'ed in a directory the run listed (``ls``): ``dir/*`` with access stat.
- Everything else stays literal: a file read in ``/etc``, the home directory or the cwd is
  allowed by name and nothing beside it is (``/etc/shadow`` stays denied after ``ls /etc``).
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policies import toml_out
from policies.engine import (
    Enforcer,
    address_text,
    glob_regex,
    host_ip,
    is_literal,
)
from policies.model import ACCESS_NAMES, BIND, EXEC, READ, STAT, WRITE, Policy
from syscalls.numbers import MAX_NR, NAMES

if TYPE_CHECKING:
    from compatd.kernel.task import Task
    from vfs.base import Dentry

SYSTEM_ROOTS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt")
BIN_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin")
# Private to the sandbox (a tmpfs each), so all of it is as good as the files the run made
# there under names that change from run to run. /var/tmp is the host's: names stay literal.
TEMP_DIRS = ("/tmp", "/dev/shm")
# Files of one system directory (and the same access) that make it a ``dir/**`` rule.
MANY = 2
# Paths whose numeric components are per run (pids, terminal numbers).
NUMBERED = re.compile(r"^(/proc(?:/.*)?|/dev/pts)/\d+(?=/|$)")


@dataclass
class Observations:
    """What a run did, as the learner saw it (the input of ``render_policy``)."""

    syscalls: set[str] = field(default_factory=set)
    paths: dict[str, int] = field(default_factory=dict)  # path -> access bits asked
    connects: set[str] = field(default_factory=set)  # "1.2.3.4:80", "[::1]:80"
    binds: set[str] = field(default_factory=set)


class Learner(Enforcer):
    """An enforcer that allows everything and records what the run used."""

    def __init__(self) -> None:
        super().__init__(Policy(name="learn", source="<learn>"))
        self.quiet = self.quiet_net = False  # the hooks are how paths and addresses are seen
        self.used: set[int] = set()
        self.seen = Observations()

    def traps(self) -> frozenset[int]:
        return frozenset(range(MAX_NR + 1))  # every call, HOST ones too, must be seen

    def begin(self, task: Task, nr: int, args: tuple[int, ...]) -> None:
        self.used.add(nr)
        super().begin(task, nr, args)

    def check_dentry(self, d: Dentry, name: bytes | None) -> None:
        """Every resolution is seen (the enforcer's fast paths skip what no rule decides):
        with no call being handled, it is the first program or its interpreter, an exec."""
        task, opmask = self.current()
        opmask = opmask or EXEC
        path = self.path_of(d, name, opmask)
        if path is not None:
            self.check_path(path, opmask, task)

    def check_path(self, path: str, opmask: int, task: Task | None,
                   key: tuple[int, int] | None = None) -> None:
        paths = self.seen.paths
        paths[path] = paths.get(path, 0) | opmask

    def check_address(self, op: int, family: int, host: str, port: int) -> None:
        ip = host_ip(host)
        if ip is not None:
            (self.seen.binds if op == BIND else self.seen.connects).add(address_text(ip, port))

    def observations(self) -> Observations:
        # Numbers beyond the table (the exec stub's trap) are no syscall a rule can name.
        self.seen.syscalls = {NAMES[nr] for nr in self.used if nr in NAMES}
        return self.seen


# paths -> patterns ------------------------------------------------------------------------
def normalise(path: str) -> str:
    """Per-run numbers (``/proc/4242/fd/3``, ``/dev/pts/3``) as globs."""
    while True:
        m = NUMBERED.match(path)
        if m is None:
            return path
        path = f"{m.group(1)}/[0-9]*{path[m.end():]}"


def escape(path: str) -> str:
    """A literal path (its bytes as latin-1 text, as the hooks see it) as a glob in the
    policy's UTF-8 text: ``*``, ``?`` and ``[`` match only themselves, and a byte that is
    no UTF-8 (which a TOML file cannot hold) becomes ``?``, any one byte."""
    raw = re.sub(r"([*?\[])", r"[\1]", path).encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode()


def under(path: str, dirs: tuple[str, ...]) -> str | None:
    """The directory of ``dirs`` that ``path`` is in (or is), if any."""
    for d in dirs:
        if path == d or path.startswith(d + "/"):
            return d
    return None


def parent(path: str) -> str:
    return path.rpartition("/")[0] or "/"


def system_dir(path: str) -> str:
    """The directory of a system tree a file is grouped under: three levels in /usr
    (``/usr/lib/x86_64-linux-gnu``, ``/usr/share/locale``), two elsewhere
    (``/lib/x86_64-linux-gnu``, ``/opt/NAME``), the file's own directory if that is higher."""
    parts = path.split("/")
    depth = 4 if parts[1] == "usr" else 3
    return "/".join(parts[:min(depth, len(parts) - 1)]) or "/"


def children(d: str) -> str:
    """The pattern of the entries of directory pattern ``d``."""
    return ("" if d == "/" else d) + "/*"


def covers(glob: str, pattern: str) -> bool:
    """True if every path ``pattern`` matches is matched by ``glob`` (a sufficient test:
    a literal pattern ``glob`` matches, or ``glob`` is ``dir/**`` over a pattern in dir)."""
    if glob == pattern:
        return True
    if is_literal(pattern):
        return re.fullmatch(glob_regex(glob), pattern) is not None
    prefix = glob[:-3]
    return glob.endswith("/**") and is_literal(prefix) and pattern.startswith(prefix + "/")


def bit_patterns(paths: list[str], bit: int, listed: set[str]) -> set[str]:
    """The patterns that allow ``bit`` on each of ``paths`` (patterns already: escaped,
    per-run numbers as globs); ``listed``: the directories the run read."""

    def entry(p: str) -> str:
        # Only stat'ed in a directory the run listed: any entry of it may be, next time.
        return children(parent(p)) if bit == STAT and p != "/" and parent(p) in listed else p

    out: set[str] = set()
    system: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        temp = under(p, TEMP_DIRS)
        if temp is not None:
            out.add(f"{temp}/**")
        elif bit == EXEC and parent(p) in BIN_DIRS:
            out.add(children(parent(p)))
        elif bit != WRITE and under(p, SYSTEM_ROOTS) and p not in SYSTEM_ROOTS:
            system[system_dir(p)].append(p)
        else:
            out.add(entry(p))
    for d, files in system.items():
        if len(files) >= MANY:
            out.add(f"{d}/**")
        else:
            out.update(entry(p) for p in files)
    # A pattern inside another one's directory adds nothing.
    return {p for p in out if not any(q != p and covers(q, p) for q in out)}


def file_rules(paths: dict[str, int]) -> list[tuple[int, list[str]]]:
    """(access bits, patterns) per rule: the patterns of each access bit, then one rule per
    set of bits the same patterns need."""
    normal: dict[str, int] = defaultdict(int)
    for p, mask in paths.items():
        normal[normalise(escape(p))] |= mask
    # Directories the run read: getdents on them is what lists them.
    listed = {p for p, mask in normal.items() if mask & READ}
    by_pattern: dict[str, int] = defaultdict(int)
    for bit in (READ, WRITE, EXEC, STAT):
        for pat in bit_patterns(sorted(p for p, m in normal.items() if m & bit), bit, listed):
            by_pattern[pat] |= bit
    by_mask: dict[int, list[str]] = defaultdict(list)
    for pat, mask in by_pattern.items():
        by_mask[mask].append(pat)
    return [(mask, sorted(by_mask[mask])) for mask in sorted(by_mask, key=access_order)]


def access_order(mask: int) -> tuple[int, ...]:
    """Rules in the order exec, read, write, stat (by their lowest interesting bit)."""
    return tuple(not mask & b for b in (EXEC, READ, WRITE, STAT))


# the policy text ---------------------------------------------------------------------------
ACCESS_VERBS = {READ: "read", WRITE: "written or created", EXEC: "executed",
                STAT: "looked up or stat'ed"}


def rule_comment(mask: int) -> str:
    if mask == EXEC:
        return "programs run and their ELF interpreters"
    return "files " + ", ".join(v for b, v in ACCESS_VERBS.items() if mask & b)


def render_policy(seen: Observations, command: list[str], status: int | None) -> str:
    """The learned policy as TOML: deny by default, allow exactly what ``seen`` needed."""
    name = command[0].rpartition("/")[2] if command else "program"
    cmd = shlex.join(command)
    out = toml_out.head(
        [f"Learned by `compatd policy learn` from: {cmd}",
         f"The run ended with exit status {status}." if status is not None else
         "The run did not end normally.",
         "Deny by default; allow the syscalls, files and addresses that run used."],
        f"learned-{name}", f"What {cmd} needed, learned from one run.",
        {"syscall": "deny", "file": "deny", "network": "deny"})
    if seen.syscalls:
        out += toml_out.rule({"comment": "the syscalls the run made",
                              "syscall": sorted(seen.syscalls), "action": "allow"})
    for mask, patterns in file_rules(seen.paths):
        kinds = [n for n, b in ACCESS_NAMES.items() if mask & b]
        where = {"exec": patterns} if mask == EXEC else {"path": patterns, "access": kinds}
        out += toml_out.rule({"comment": rule_comment(mask), **where, "action": "allow"})
    for key, addrs, what in (("connect", seen.connects, "addresses the run connected or sent to"),
                             ("bind", seen.binds, "addresses the run bound")):
        if addrs:
            out += toml_out.rule({"comment": what, key: sorted(addrs), "action": "allow"})
    return "\n".join(out) + "\n"
