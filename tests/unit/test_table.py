"""Table invariants, and the seccomp filter generated from the table run through a BPF interpreter.

While some handler modules cannot be imported yet, ``load_all()`` fails part way; the tests
then check whatever registered (the declarations at least) and ``test_every_number_declared``
fails, naming the import error.
"""

from __future__ import annotations

import importlib.util
import random
import struct
from pathlib import Path

import pytest

from compatd.platform import seccomp
from compatd.platform.seccomp import (
    AUDIT_ARCH_X86_64,
    ENOSYS,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
    SECCOMP_RET_TRACE,
    X32_SYSCALL_BIT,
    Rule,
    build_program,
)
from syscalls import table
from syscalls.flags import FLAGSETS
from syscalls.numbers import MAX_NR, NAMES, NUMBERS
from syscalls.table import KIND_DECODING, REGISTRY, HostWhen, Level, Syscall, filter_rules

AUDIT_ARCH_I386 = 0x40000003
MAP_ANONYMOUS = 0x20
MAP_PRIVATE = 0x02


def _load() -> str | None:
    """Load the registry; return the import error when handler modules are still missing."""
    error = None
    try:
        table.load_all()
    except ImportError as exc:  # a handler module (or what it imports) is not there yet
        error = f"{type(exc).__name__}: {exc}"
    if "brk" not in REGISTRY:  # the package import failed before the declarations ran
        path = Path(table.__file__).parent / "handlers" / "declarations.py"
        spec = importlib.util.spec_from_file_location("syscalls.handlers.declarations", path)
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return error


LOAD_ERROR = _load()
ENTRIES = sorted(REGISTRY.values(), key=lambda e: e.nr)


# --- table invariants ---------------------------------------------------------------------


def test_numbers_table_shape():
    assert len(NUMBERS) == 384
    assert sorted(NAMES) == list(range(336)) + list(range(424, 472))
    assert MAX_NR == 471


def test_every_number_declared():
    missing = [f"{nr} {NAMES[nr]}" for nr in table.missing_numbers()]
    assert not missing, f"undeclared syscalls ({LOAD_ERROR or 'all modules loaded'}): {missing}"
    assert len(REGISTRY) == 384


def test_entries_match_numbers():
    for e in ENTRIES:
        assert NUMBERS[e.name] == e.nr
        assert table.BY_NR[e.nr] is e


@pytest.mark.parametrize("level", [Level.HOST, Level.STUB, Level.ENOSYS])
def test_reasons_present(level):
    for e in (e for e in ENTRIES if e.level is level):
        assert e.reason.strip(), f"{e.name}: {level.value} without a reason"
        assert len(e.reason.split()) >= 4, f"{e.name}: reason too thin: {e.reason!r}"


def test_partial_lists_unsupported():
    for e in (e for e in ENTRIES if e.level is Level.PARTIAL):
        assert e.unsupported and all(s.strip() for s in e.unsupported), e.name


def test_argument_specs_valid():
    for e in ENTRIES:
        assert len(e.args) <= 6, e.name
        names = [a.name for a in e.args]
        assert len(names) == len(set(names)), f"{e.name}: duplicate argument names {names}"
        for a in e.args:
            assert a.kind in KIND_DECODING, f"{e.name}.{a.name}: unknown kind {a.kind}"
            assert a.flagset is None or a.flagset in FLAGSETS, (
                f"{e.name}.{a.name}: unknown flag set {a.flagset}"
            )
            assert a.name.isidentifier(), f"{e.name}: bad argument name {a.name!r}"


def test_handlers_by_level():
    for e in ENTRIES:
        if e.level in (Level.FULL, Level.PARTIAL):
            assert e.handler is not None and e.invoke is not None, e.name
        elif e.level is Level.HOST:
            assert e.handler is None, f"{e.name}: HOST entries run on the host, not in Python"
            assert not e.host_when, f"{e.name}: HOST already runs unconditionally"
        elif e.level is Level.STUB:
            assert e.handler is None and e.invoke is not None
            assert e.invoke(None, (0,) * 6) == 0
        else:
            assert e.handler is None, f"{e.name}: ENOSYS with a handler"


def test_host_when_conditions_are_32_bit():
    for e in ENTRIES:
        for c in e.host_when:
            assert 0 <= c.arg < max(len(e.args), 1), e.name
            assert 0 <= c.mask <= 0xFFFFFFFF and c.value & ~c.mask == 0, e.name


# --- the generated seccomp filter ---------------------------------------------------------


def run_bpf(program: bytes, data: bytes) -> int:
    """A classic-BPF interpreter for the opcodes the filter builder uses."""
    ins = [struct.unpack_from("<HBBI", program, off) for off in range(0, len(program), 8)]
    acc = 0
    pc = 0
    for _ in range(len(ins) + 1):  # the filter only jumps forward
        code, jt, jf, k = ins[pc]
        pc += 1
        if code == seccomp.BPF_LD_W_ABS:
            assert k % 4 == 0 and k + 4 <= len(data), f"bad load offset {k}"
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == seccomp.BPF_JEQ_K:
            pc += jt if acc == k else jf
        elif code == seccomp.BPF_JGE_K:
            pc += jt if acc >= k else jf
        elif code == seccomp.BPF_AND_K:
            acc &= k
        elif code == seccomp.BPF_RET_K:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc - 1}")
        assert 0 <= pc < len(ins), "jumped off the end of the filter"
    raise AssertionError("filter did not return")


def seccomp_data(nr: int, args: tuple[int, ...] = (0,) * 6, arch: int = AUDIT_ARCH_X86_64) -> bytes:
    """struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }."""
    return struct.pack("<iIQ6Q", nr, arch, 0x401000, *args)


PROGRAM = build_program(filter_rules())
ARG_SAMPLES = [(0,) * 6, (0xFFFFFFFFFFFFFFFF,) * 6] + [
    tuple(random.Random(seed).getrandbits(64) for _ in range(6)) for seed in range(8)
]


def test_filter_allows_exactly_host_entries():
    for nr in NAMES:
        entry = table.BY_NR[nr]
        for args in ARG_SAMPLES:
            got = run_bpf(PROGRAM, seccomp_data(nr, args))
            allowed = entry is not None and entry.host_allows(args)
            want = SECCOMP_RET_ALLOW if allowed else SECCOMP_RET_TRACE
            assert got == want, f"{nr} {NAMES[nr]} args={args}: {got:#x} != {want:#x}"


def test_filter_host_entries_allowed_with_any_arguments():
    for e in (e for e in ENTRIES if e.level is Level.HOST):
        for args in ARG_SAMPLES:
            assert run_bpf(PROGRAM, seccomp_data(e.nr, args)) == SECCOMP_RET_ALLOW, e.name


def test_filter_traps_numbers_outside_the_table():
    for nr in [336, 400, 423, 472, 1000, 0x3FFFFFFF]:
        assert run_bpf(PROGRAM, seccomp_data(nr)) == SECCOMP_RET_TRACE, nr


def test_filter_anonymous_mmap_runs_on_host():
    if "mmap" not in REGISTRY:
        pytest.fail(f"mmap is not registered yet ({LOAD_ERROR})")
    nr = NUMBERS["mmap"]
    anon = (0, 4096, 3, MAP_PRIVATE | MAP_ANONYMOUS, 0xFFFFFFFFFFFFFFFF, 0)
    filed = (0, 4096, 1, MAP_PRIVATE, 3, 0)
    assert run_bpf(PROGRAM, seccomp_data(nr, anon)) == SECCOMP_RET_ALLOW
    assert run_bpf(PROGRAM, seccomp_data(nr, filed)) == SECCOMP_RET_TRACE


def test_filter_x32_gets_enosys():
    want = SECCOMP_RET_ERRNO | ENOSYS
    for nr in list(NAMES) + [512, 547]:  # 512-547 are the x32-only numbers
        assert run_bpf(PROGRAM, seccomp_data(nr | X32_SYSCALL_BIT)) == want, nr


def test_filter_kills_foreign_architecture():
    for nr in [0, 1, 12, 59, 231]:
        assert run_bpf(PROGRAM, seccomp_data(nr, arch=AUDIT_ARCH_I386)) == SECCOMP_RET_KILL_PROCESS


def test_trace_all_traps_everything():
    program = build_program(filter_rules(), trace_all=True)
    for nr in NAMES:
        for args in ARG_SAMPLES[:2]:
            assert run_bpf(program, seccomp_data(nr, args)) == SECCOMP_RET_TRACE, nr
    assert run_bpf(program, seccomp_data(1 | X32_SYSCALL_BIT)) == SECCOMP_RET_ERRNO | ENOSYS
    assert run_bpf(program, seccomp_data(1, arch=AUDIT_ARCH_I386)) == SECCOMP_RET_KILL_PROCESS


def test_filter_rules_from_synthetic_entries():
    """filter_rules on hand-made entries, independent of which handler modules exist."""
    host = Syscall(nr=12, name="brk", level=Level.HOST, args=(), reason="r")
    cond = Syscall(
        nr=9,
        name="mmap",
        level=Level.PARTIAL,
        args=(),
        unsupported=("x",),
        host_when=(HostWhen(3, MAP_ANONYMOUS, MAP_ANONYMOUS), HostWhen(0, 0xFFF, 0)),
    )
    trapped = Syscall(nr=0, name="read", level=Level.FULL, args=())
    rules = filter_rules([cond, trapped, host])
    assert rules == [Rule(9, ((3, MAP_ANONYMOUS, MAP_ANONYMOUS), (0, 0xFFF, 0))), Rule(12)]
    program = build_program(rules)
    assert run_bpf(program, seccomp_data(12)) == SECCOMP_RET_ALLOW
    assert run_bpf(program, seccomp_data(0)) == SECCOMP_RET_TRACE
    assert run_bpf(program, seccomp_data(9, (0x7000, 0, 0, 0x22, 0, 0))) == SECCOMP_RET_ALLOW
    assert run_bpf(program, seccomp_data(9, (0x7001, 0, 0, 0x22, 0, 0))) == SECCOMP_RET_TRACE
    assert run_bpf(program, seccomp_data(9, (0x7000, 0, 0, 0x02, 0, 0))) == SECCOMP_RET_TRACE


def test_filter_rules_match_table():
    rules = {r.nr: r for r in filter_rules()}
    for e in ENTRIES:
        if e.level is Level.HOST:
            assert rules[e.nr] == Rule(e.nr)
        elif e.host_when:
            assert rules[e.nr].conditions == tuple((c.arg, c.mask, c.value) for c in e.host_when)
        else:
            assert e.nr not in rules


def test_notify_lane_gets_the_calls_that_need_no_stop():
    """With the notification lane: HOST entries run, calls whose handlers inject into the
    task (needs_stop) trap under ptrace, everything else goes to the lane."""
    from compatd.platform.seccomp import SECCOMP_RET_USER_NOTIF

    program = build_program(filter_rules(notify=True))
    for entry in REGISTRY.values():
        got = run_bpf(program, seccomp_data(entry.nr, (0, 0, 0, 0x02, 3, 0)))
        if entry.level is Level.HOST:
            want = SECCOMP_RET_ALLOW
        elif entry.needs_stop or entry.host_when:
            want = SECCOMP_RET_TRACE
        else:
            want = SECCOMP_RET_USER_NOTIF
        assert got == want, entry.name
    assert run_bpf(program, seccomp_data(9, (0, 4096, 3, 0x22, 0, 0))) == SECCOMP_RET_ALLOW
