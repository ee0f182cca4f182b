"""What a policy is once loaded: rules, defaults and limits, as plain data.

``policies/load.py`` builds these from TOML (and says where a file is wrong);
``policies/engine.py`` compiles them into the tables the supervisor consults per syscall.
The format is documented in ``docs/policy.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What a path rule can be about. A syscall asks for one or more of these on every path it
# resolves (open for reading: READ; O_RDWR: READ|WRITE; rename: WRITE; stat: STAT; execve,
# the ELF interpreter and a #! interpreter: EXEC); a rule applies when it lists any of them.
READ = 1
WRITE = 2
EXEC = 4
STAT = 8
ACCESS_NAMES = {"read": READ, "write": WRITE, "exec": EXEC, "stat": STAT}
ALL_ACCESS = READ | WRITE | EXEC | STAT

# Network operations a rule can be about.
CONNECT = 1  # connect, and sendto/sendmsg with an address
BIND = 2  # bind (listen follows from it)
NET_OP_NAMES = {"connect": CONNECT, "bind": BIND}

ACTIONS = ("allow", "deny", "kill", "audit", "fake")
# Argument comparisons against one value (ArgCondition ops besides eq, the bit tests and kind).
COMPARISONS = ("ne", "lt", "le", "gt", "ge")
MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Action:
    """What happens when a rule (or a default) decides.

    allow: the call goes on. audit: it goes on and is logged. deny: it fails with ``errno``.
    kill: the process is killed with SIGKILL. fake: the call is not carried out and returns
    ``value`` (syscall rules only).
    """

    kind: str
    errno: int = 0
    value: int = 0

    @property
    def logged(self) -> bool:
        return self.kind != "allow"


ALLOW = Action("allow")


@dataclass(frozen=True, slots=True)
class ArgCondition:
    """One decoded-argument test of a syscall rule: the argument at ``index`` (named
    ``name`` in the syscall table) must satisfy ``op`` against ``values``.

    ops: ``eq`` (equals any of ``values``), ``all`` (every bit of ``values[0]`` set), ``any``
    (some bit set), ``none`` (no bit set), ``masked`` (``arg & values[0] == values[1]``),
    ``ne``, ``lt``, ``le``, ``gt``, ``ge`` (compared with ``values[0]``), ``kind`` (an fd
    argument whose file is of one of the kinds in ``kinds``).

    Values are compared as seccomp compares registers: the argument as the syscall table
    decodes it (an int sign-extended, an unsigned int zero-extended), as an unsigned 64-bit
    number, against the value taken the same way; so ``-1`` and ``0xffffffffffffffff`` are
    one value, and for an fd ``lt = 3`` does not hold for -1.
    """

    index: int
    name: str
    op: str
    values: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressPattern:
    """An IP network and a port range (``10.0.0.0/8``, ``127.0.0.1:6379``, ``[::1]:80-90``,
    ``*:53``, ``*``)."""

    network: str | None  # an ipaddress network in text form; None for any address
    port_low: int = 0
    port_high: int = 65535


@dataclass(slots=True)
class Rule:
    """One ``[[rule]]`` table. Exactly one of ``syscalls``, ``paths``, ``addresses`` says
    what kind of rule it is."""

    index: int  # 1-based position among the rules: first match wins
    line: int  # where the [[rule]] header is, for messages and audit records
    action: Action
    syscalls: frozenset[int] = frozenset()
    args: tuple[ArgCondition, ...] = ()
    paths: tuple[str, ...] = ()  # glob patterns on the path the resolver reached
    access: int = ALL_ACCESS
    addresses: tuple[AddressPattern, ...] = ()
    net_ops: int = CONNECT | BIND
    comment: str = ""

    @property
    def kind(self) -> str:
        if self.paths:
            return "file"
        if self.addresses:
            return "network"
        return "syscall"

    def label(self, source: str) -> str:
        return f"rule {self.index} ({source}:{self.line})"


@dataclass(slots=True)
class Limits:
    """``[limits]``: None means unlimited. Sizes in bytes, times in seconds. Enforced by
    ``policies/limits.py`` (docs/policy-limits.md)."""

    processes: int | None = None
    threads: int | None = None
    open_files: int | None = None
    bytes_written: int | None = None
    file_size: int | None = None
    cpu_seconds: int | None = None
    wall_seconds: float | None = None
    memory: int | None = None

    def any(self) -> bool:
        return any(getattr(self, f) is not None for f in self.__slots__)  # type: ignore[attr-defined]


@dataclass(slots=True)
class Policy:
    name: str
    source: str  # the file it came from (or "<bundled:NAME>")
    description: str = ""
    default_syscall: Action = ALLOW
    default_file: Action = ALLOW
    default_network: Action = ALLOW
    rules: list[Rule] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
