"""The one registry of syscalls: support level, argument specs, handler, reasons.

Every x86-64 number has an entry (``tests/unit/test_table.py`` checks it). Handler modules
declare their syscalls with ``@syscall``; everything a handler module does not own is declared
with ``declare`` (``syscalls/handlers/declarations.py``). The seccomp filter, ``--trace`` output,
``compatd syscalls`` and the coverage reports are all generated from this registry alone.

Argument specs are a compact string, ``"fd:fd buf:buf_out count:size"``: name and kind per
argument, in register order. The kind decides how the raw 64-bit register is decoded before
the handler sees it (an ``int`` argument is the sign-extended low 32 bits, as the kernel's
``SYSCALL_DEFINE`` casts do) and how ``--trace`` prints it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syscalls.numbers import MAX_NR, NAMES, NUMBERS

if TYPE_CHECKING:
    from compatd.platform.seccomp import Rule


class Level(enum.Enum):
    """How much of a syscall compatd implements.

    FULL: every flag and case Linux documents is handled by our code.
    PARTIAL: our code answers; the cases in ``unsupported`` fail as Linux fails for an
        unknown value and are recorded.
    HOST: the host kernel runs it (only what touches the caller's own memory or thread);
        ``reason`` says why that is safe.
    STUB: returns a fixed success without doing anything; ``reason`` says why that is enough.
    ENOSYS: declared unimplemented; ``reason`` says why or when.
    """

    FULL = "full"
    PARTIAL = "partial"
    HOST = "host"
    STUB = "stub"
    ENOSYS = "enosys"


# Argument kinds and how a raw register becomes the value a handler receives.
S32 = "s32"  # C int: sign-extended low 32 bits
U32 = "u32"  # C unsigned int / mode_t / uid_t: low 32 bits
S64 = "s64"  # long / off_t / loff_t
U64 = "u64"  # pointers, size_t, unsigned long

KIND_DECODING: dict[str, str] = {
    "fd": S32,  # file descriptor (AT_FDCWD is -100)
    "int": S32,
    "pid": S32,
    "signo": S32,
    "whence": S32,
    "uint": U32,
    "uid": U32,
    "gid": U32,
    "mode": U32,
    "flags": U32,  # a bit set; its names come from the flag set named after the kind
    "cmd": U32,  # an operation code (fcntl, ioctl, prctl…)
    "long": S64,
    "off": S64,
    "ulong": U64,
    "size": U64,
    "ptr": U64,  # an address the handler interprets
    "path": U64,  # NUL-terminated path name in tracee memory
    "str": U64,  # NUL-terminated string in tracee memory
    "buf_in": U64,  # bytes the program gives us
    "buf_out": U64,  # bytes we write back
    "struct_in": U64,
    "struct_out": U64,
    "struct_inout": U64,
}

_DECODE_EXPR = {
    S32: "(((a[{i}] & 0xffffffff) ^ 0x80000000) - 0x80000000)",
    U32: "(a[{i}] & 0xffffffff)",
    S64: "((a[{i}] ^ 0x8000000000000000) - 0x8000000000000000)",
    U64: "a[{i}]",
}


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: str  # a key of KIND_DECODING
    flagset: str | None = None  # name of a flag set in syscalls.flags, for printing/reports

    @property
    def decoding(self) -> str:
        return KIND_DECODING[self.kind]


@dataclass(frozen=True, slots=True)
class HostWhen:
    """A seccomp condition under which the host runs the call without a stop.

    The call runs on the host when ``(args[arg] & mask) == value`` (low 32 bits, which is
    what seccomp-bpf compares in one load); otherwise it traps to the handler.
    """

    arg: int
    mask: int
    value: int

    def holds(self, args: tuple[int, ...] | list[int]) -> bool:
        return (args[self.arg] & self.mask & 0xFFFFFFFF) == self.value


Handler = Callable[..., int]


@dataclass(slots=True)
class Syscall:
    nr: int
    name: str
    level: Level
    args: tuple[Arg, ...]
    handler: Handler | None = None
    reason: str = ""
    unsupported: tuple[str, ...] = ()  # PARTIAL: the cases not handled, as data
    host_when: tuple[HostWhen, ...] = ()  # conditions under which the host runs it untrapped
    family: str = ""  # the handler module, for the table rendering
    # The handler injects syscalls into the task, loads a program or follows a clone: it
    # needs the task in a ptrace stop, so the filter traps it with SECCOMP_RET_TRACE.
    needs_stop: bool = False
    invoke: Callable[[Any, Any], int] | None = field(default=None, repr=False)

    @property
    def runs_on_host(self) -> bool:
        """True when the filter may let it run without a stop (always or under conditions)."""
        return self.level is Level.HOST or bool(self.host_when)

    def host_allows(self, args: tuple[int, ...] | list[int]) -> bool:
        """Whether the host should run this call (used when everything traps)."""
        if self.level is Level.HOST:
            return True
        return bool(self.host_when) and all(c.holds(args) for c in self.host_when)


REGISTRY: dict[str, Syscall] = {}
BY_NR: list[Syscall | None] = [None] * (MAX_NR + 1)


def parse_args(spec: str) -> tuple[Arg, ...]:
    """Parse ``"fd:fd buf:buf_out flags:flags/open"`` into argument specs."""
    out = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        kind, _, flagset = kind.partition("/")
        if kind not in KIND_DECODING:
            raise ValueError(f"unknown argument kind {kind!r} in {spec!r}")
        out.append(Arg(name, kind, flagset or None))
    if len(out) > 6:
        raise ValueError(f"more than six arguments in {spec!r}")
    return tuple(out)


_INVOKER_FACTORIES: dict[tuple[str, ...], Callable[[Handler], Callable[[Any, Any], int]]] = {}


def _make_invoker(handler: Handler, args: tuple[Arg, ...]) -> Callable[[Any, Any], int]:
    """Build ``invoke(task, regs_args)`` that decodes each argument and calls the handler.

    The per-call cost is one Python call plus inline integer arithmetic: no loop over specs,
    no per-call objects (this runs on every trapped syscall). The source is generated and
    compiled once per distinct decoding pattern (a few dozen), not once per syscall.
    """
    pattern = tuple(a.decoding for a in args)
    factory = _INVOKER_FACTORIES.get(pattern)
    if factory is None:
        decoded = ", ".join(_DECODE_EXPR[d].format(i=i) for i, d in enumerate(pattern))
        src = f"lambda h: lambda t, a: h(t{', ' if decoded else ''}{decoded})"
        factory = _INVOKER_FACTORIES[pattern] = eval(src)  # noqa: S307 - generated above
    return factory(handler)


def _register(entry: Syscall) -> Syscall:
    if entry.name in REGISTRY:
        raise ValueError(f"syscall {entry.name} declared twice")
    if entry.level in (Level.HOST, Level.STUB, Level.ENOSYS) and not entry.reason:
        raise ValueError(f"{entry.name}: level {entry.level.value} needs a reason")
    if entry.level is Level.PARTIAL and not entry.unsupported:
        raise ValueError(f"{entry.name}: PARTIAL needs its unsupported cases")
    if entry.handler is not None:
        entry.invoke = _make_invoker(entry.handler, entry.args)
    REGISTRY[entry.name] = entry
    BY_NR[entry.nr] = entry
    return entry


def syscall(
    name: str,
    level: Level,
    args: str = "",
    *,
    reason: str = "",
    unsupported: tuple[str, ...] = (),
    host_when: tuple[HostWhen, ...] = (),
    needs_stop: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a syscall and its handler: ``@syscall("read", FULL, "fd:fd buf:buf_out n:size")``."""

    def wrap(fn: Handler) -> Handler:
        _register(
            Syscall(
                nr=NUMBERS[name],
                name=name,
                level=level,
                args=parse_args(args),
                handler=fn,
                reason=reason,
                unsupported=unsupported,
                host_when=host_when,
                family=fn.__module__.rpartition(".")[2],
                needs_stop=needs_stop,
            )
        )
        return fn

    return wrap


def declare(
    name: str,
    level: Level,
    args: str = "",
    *,
    reason: str,
    host_when: tuple[HostWhen, ...] = (),
    family: str = "",
) -> Syscall:
    """Declare a syscall that has no Python handler: HOST, STUB (returns 0) or ENOSYS."""
    if level not in (Level.HOST, Level.STUB, Level.ENOSYS):
        raise ValueError(f"{name}: declare() is for HOST, STUB and ENOSYS entries")
    entry = Syscall(
        nr=NUMBERS[name],
        name=name,
        level=level,
        args=parse_args(args),
        reason=reason,
        host_when=host_when,
        family=family or "unimplemented",
    )
    if level is Level.STUB:
        entry.invoke = lambda t, a: 0
    return _register(entry)


def load_all() -> None:
    """Import every handler module so the registry is complete."""
    import syscalls.handlers  # noqa: F401  (its import registers everything)


def missing_numbers() -> list[int]:
    return [nr for nr in NAMES if BY_NR[nr] is None]


def filter_rules(entries: Iterable[Syscall] | None = None, notify: bool = False,
                 trapped: frozenset[int] = frozenset()) -> list[Rule]:
    """The seccomp rules the registry implies (``compatd.platform.seccomp.build_program``).

    One unconditional rule per HOST entry; one rule per other entry with ``host_when``, whose
    conditions must all hold for the host to run it. Everything else traps. ``entries``
    defaults to the whole registry (call ``load_all()`` first). With ``notify``, entries
    that do not need a ptrace stop go to the user-notification lane. ``trapped`` numbers
    always trap, HOST ones included (a policy decides them at entry).
    """
    from compatd.platform.seccomp import Rule  # the platform owns the filter format

    rules: list[Rule] = []
    for entry in sorted(REGISTRY.values() if entries is None else entries, key=lambda e: e.nr):
        if entry.nr in trapped:
            if notify and not entry.needs_stop:
                rules.append(Rule(entry.nr, notify=True))
        elif entry.level is Level.HOST:
            rules.append(Rule(entry.nr))
        elif entry.host_when:
            conds = tuple((c.arg, c.mask & 0xFFFFFFFF, c.value) for c in entry.host_when)
            rules.append(Rule(entry.nr, conds))
        elif notify and not entry.needs_stop:
            rules.append(Rule(entry.nr, notify=True))
    return rules
