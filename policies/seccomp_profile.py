"""OCI seccomp profiles (Docker's, runc's ``linux.seccomp``) as compatd policies, and back.

A profile means what runc and libseccomp make of it, so that is what is converted:

- An entry applies if its ``includes`` hold and its ``excludes`` do not: ``caps`` against
  the capabilities programs have under compatd (the supervisor's bounding set, or the
  ones given), ``arches`` against amd64, ``minKernel`` against the host's kernel.
- An entry whose action is the default action is no rule (libseccomp refuses it, runc
  skips it). An entry comparing one argument twice becomes one rule per comparison (runc).
- Per syscall, in the profile's order (libseccomp's ``db_rule_add``): the first entry with
  no arguments decides and later ones are dropped; one with no arguments after entries with
  arguments replaces them; entries with arguments add up. Where conditions of one syscall
  overlap with different actions, libseccomp orders them by argument, compatd by the
  profile's order: a warning says so.
- Arguments are compared as 64-bit registers, which compatd's conditions also do
  (``policies.model.ArgCondition``); MASKED_EQ masks its value too, as libseccomp does.

Actions: ALLOW is allow; ERRNO is deny with errnoRet (EPERM without one; errnoRet 0 returns
0 without running the call: fake 0); KILL_PROCESS, KILL_THREAD and KILL are kill (which
ends the whole process); LOG is audit. Three have no equal and are mapped with a warning:
TRACE fails with ENOSYS (what the kernel does when no tracer of the profile's program takes
the stop: compatd's own tracing is not handed on), TRAP is kill (SIGSYS's default action,
but by SIGKILL, and a SIGSYS handler gets no say), NOTIFY is audit (no notification agent:
the call goes ahead and is logged).

Syscalls x86-64 does not have (other architectures' names in the same profile) are left out
with one warning. Export writes a policy's syscall part; file, network and limits cannot be
said in a seccomp profile and are reported as left out.
"""

from __future__ import annotations

import errno as errno_mod
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policies import toml_out
from policies.model import MASK64, Action, ArgCondition, Policy
from syscalls.numbers import MAX_NR, NAMES, NUMBERS

ARCH = ("amd64", "x86_64", "SCMP_ARCH_X86_64")  # how includes/excludes may name ours
CAPS = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
    "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # include/uapi/linux/capability.h, by bit
SCMP_ACTIONS = ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
                "SCMP_ACT_NOTIFY")
LOSSY = {
    "SCMP_ACT_TRACE": "SCMP_ACT_TRACE fails the call with ENOSYS, as with no tracer attached",
    "SCMP_ACT_TRAP": "SCMP_ACT_TRAP kills the process (SIGKILL; no SIGSYS is delivered)",
    "SCMP_ACT_NOTIFY": "SCMP_ACT_NOTIFY lets the call go ahead and logs it (there is no "
                       "notification agent)",
    "SCMP_ACT_KILL_THREAD": "SCMP_ACT_KILL_THREAD kills the whole process",
}
OPS = {"SCMP_CMP_EQ": "eq", "SCMP_CMP_NE": "ne", "SCMP_CMP_LT": "lt", "SCMP_CMP_LE": "le",
       "SCMP_CMP_GT": "gt", "SCMP_CMP_GE": "ge", "SCMP_CMP_MASKED_EQ": "masked"}
SCMP_OPS = {v: k for k, v in OPS.items()}
# Argument kinds the syscall table decodes as a signed int (policies.engine.register_expr).
SIGNED = ("fd", "int", "pid", "signo", "whence")
ENTRY_KEYS = {"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"}
PROFILE_KEYS = {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls",
                "flags", "listenerPath", "listenerMetadata"}


class ProfileError(Exception):
    """A profile that cannot be converted; the message says what and where."""


@dataclass(frozen=True)
class Verdict:
    """A seccomp action with its return value (errnoRet of ERRNO; None for the others)."""

    action: str
    ret: int | None = None


@dataclass(frozen=True)
class Cond:
    """One argument comparison of a profile entry."""

    index: int
    op: str  # SCMP_CMP_*
    value: int
    value_two: int = 0


Chain = tuple[tuple[Cond, ...], Verdict]


@dataclass
class Decision:
    """What a profile says about one syscall: conditional verdicts in order, then ``final``
    (None: the default action)."""

    chains: list[Chain] = field(default_factory=list)
    final: Verdict | None = None


@dataclass
class Profile:
    """A profile as libseccomp applies it on x86-64."""

    default: Verdict
    syscalls: dict[str, Decision]
    unknown: list[str]  # names x86-64 does not have
    skipped: int  # entries that do not apply (caps, arch, kernel) or equal the default


# reading a profile -----------------------------------------------------------------------
def host_caps() -> set[str]:
    """The capabilities a program started by compatd has (the supervisor's bounding set)."""
    from compatd.kernel.task import _host_caps

    bounding = _host_caps()[3]
    return {f"CAP_{name}" for bit, name in enumerate(CAPS) if bounding >> bit & 1}


def cap_name(text: str) -> str:
    """``sys_admin``, ``SYS_ADMIN`` or ``CAP_SYS_ADMIN``: ``CAP_SYS_ADMIN``."""
    name = text.upper().removeprefix("CAP_")
    if name not in CAPS:
        raise ProfileError(f"unknown capability {text!r}")
    return f"CAP_{name}"


def kernel_version(release: str) -> tuple[int, ...]:
    parts = []
    for p in release.split("-", 1)[0].split(".")[:2]:
        digits = "".join(itertools.takewhile(str.isdigit, p))
        parts.append(int(digits or 0))
    return tuple(parts)


def verdict_of(action: Any, ret: Any, where: str) -> Verdict:
    if action not in SCMP_ACTIONS:
        raise ProfileError(f"{where}: unknown action {action!r} (expected one of "
                           f"{', '.join(SCMP_ACTIONS)})")
    if action == "SCMP_ACT_KILL":  # the same action as KILL_THREAD in libseccomp
        action = "SCMP_ACT_KILL_THREAD"
    if action not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        return Verdict(action)
    if ret is None:
        ret = errno_mod.EPERM
    if not isinstance(ret, int) or isinstance(ret, bool) or not 0 <= ret < 4096:
        raise ProfileError(f"{where}: errnoRet {ret!r} is not an errno (0..4095)")
    return Verdict(action, ret)


def conditions(raw: Any, where: str) -> tuple[Cond, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: args must be a list")
    out = []
    for i, a in enumerate(raw):
        w = f"{where}, args[{i}]"
        if not isinstance(a, dict):
            raise ProfileError(f"{w}: must be an object")
        index, op = a.get("index"), a.get("op")
        value, two = a.get("value", 0), a.get("valueTwo", 0)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 6:
            raise ProfileError(f"{w}: index must be 0..5, not {index!r}")
        if op not in OPS:
            raise ProfileError(f"{w}: unknown op {op!r} (expected {', '.join(OPS)})")
        for v in (value, two):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MASK64:
                raise ProfileError(f"{w}: {v!r} is not a 64-bit unsigned value")
        if op == "SCMP_CMP_MASKED_EQ":
            out.append(Cond(index, op, value, two & value))  # libseccomp masks the datum too
        else:
            out.append(Cond(index, op, value))
    return tuple(out)


def applies(entry: dict[str, Any], caps: set[str], release: tuple[int, ...],
            where: str) -> bool:
    """runc's includes/excludes test for one entry."""
    for key in ("includes", "excludes"):
        raw = entry.get(key) or {}
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: {key} must be an object")
        arches = raw.get("arches") or []
        held = [cap_name(c) in caps for c in raw.get("caps") or []]
        min_kernel = raw.get("minKernel")
        new_enough = (min_kernel is None
                      or release >= kernel_version(str(min_kernel)))
        ours = any(a in ARCH for a in arches)
        if key == "includes":
            if (arches and not ours) or not all(held) or not new_enough:
                return False
        elif (arches and ours) or any(held) or (min_kernel is not None and new_enough):
            return False
    return True


def read_profile(doc: Any, caps: set[str] | None = None, release: str | None = None,
                 warn: Callable[[str], None] = lambda _: None) -> Profile:
    """A parsed profile (``json.load``'s result) as libseccomp would apply it on x86-64."""
    if not isinstance(doc, dict):
        raise ProfileError("a seccomp profile is a JSON object")
    for key in doc:
        if key not in PROFILE_KEYS:
            warn(f"ignored the unknown profile key {key!r}")
    if "defaultAction" not in doc:
        raise ProfileError("defaultAction is missing")
    default = verdict_of(doc["defaultAction"], doc.get("defaultErrnoRet"), "defaultAction")
    caps = host_caps() if caps is None else caps
    kernel = kernel_version(release or os.uname().release)
    entries = doc.get("syscalls") or []
    if not isinstance(entries, list):
        raise ProfileError("syscalls must be a list")
    prof = Profile(default, {}, [], 0)
    for n, entry in enumerate(entries):
        where = f"syscalls[{n}]"
        if not isinstance(entry, dict):
            raise ProfileError(f"{where}: must be an object")
        for key in entry:
            if key not in ENTRY_KEYS:
                warn(f"{where}: ignored the unknown key {key!r}")
        names = entry.get("names", [entry["name"]] if "name" in entry else None)
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise ProfileError(f"{where}: names must be a list of syscall names")
        verdict = verdict_of(entry.get("action"), entry.get("errnoRet"), where)
        conds = conditions(entry.get("args"), where)
        if not applies(entry, caps, kernel, where) or verdict == default:
            prof.skipped += 1
            continue
        # runc: comparing one argument twice makes each comparison a rule of its own.
        indexes = [c.index for c in conds]
        chains = ([(c,) for c in conds] if len(set(indexes)) < len(indexes) else [conds])
        for name in names:
            if name not in NUMBERS:
                if name not in prof.unknown:
                    prof.unknown.append(name)
                continue
            d = prof.syscalls.setdefault(name, Decision())
            for chain in chains:
                if d.final is not None:
                    break  # the first unconditional entry decides
                if not chain:
                    d.chains, d.final = [], verdict
                else:
                    d.chains.append((chain, verdict))
    return prof


# profile -> policy ---------------------------------------------------------------------------
def action_fields(v: Verdict) -> dict[str, Any]:
    """A rule's action keys for a seccomp verdict."""
    if v.action == "SCMP_ACT_ALLOW":
        return {"action": "allow"}
    if v.action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        code = errno_mod.ENOSYS if v.action == "SCMP_ACT_TRACE" else v.ret
        if code == 0:
            return {"action": "fake", "value": 0}
        return {"action": "deny", "errno": errno_mod.errorcode.get(code, code)}
    if v.action in ("SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"):
        return {"action": "audit"}
    return {"action": "kill"}


def default_text(v: Verdict) -> str:
    """``[defaults]`` syscall value: ``deny:EPERM``, ``fake:0``, ``allow``…"""
    f = action_fields(v)
    extra = f.get("errno", f.get("value"))
    return f["action"] if extra is None else f"{f['action']}:{extra}"


def arg_spec(c: Cond, kind: str) -> Any:
    """One condition as a rule's ``args.NAME`` value."""
    value = c.value
    if kind in SIGNED and value > MASK64 >> 1:
        value -= 1 << 64  # an int's -1 reads better than 0xffffffffffffffff
    op = OPS[c.op]
    if op == "eq":
        return value
    if op == "masked":
        return {"mask": c.value, "value": c.value_two}
    return {op: value}


def same_test(last: tuple[dict[str, Any], Verdict], spec: dict[str, Any], verdict: Verdict,
              chain: tuple[Cond, ...]) -> bool:
    """Whether ``chain`` tests the one argument the ``last`` rule's equality tests, with
    the same verdict: then its value joins that rule's list."""
    prev, prev_verdict = last
    return (prev_verdict == verdict and len(chain) == 1 and chain[0].op == "SCMP_CMP_EQ"
            and prev.keys() == spec.keys() and not isinstance(next(iter(prev.values())), dict))


def import_profile(doc: Any, source: str, caps: set[str] | None = None,
                   release: str | None = None,
                   warn: Callable[[str], None] = lambda _: None) -> str:
    """The policy (TOML) that decides syscalls as the profile does on x86-64."""
    from syscalls.table import REGISTRY, load_all

    load_all()
    prof = read_profile(doc, caps, release, warn)
    if prof.unknown:
        warn(f"skipped {len(prof.unknown)} syscalls x86-64 does not have: "
             f"{', '.join(prof.unknown)}")
    lossy = sorted({v.action for d in prof.syscalls.values()
                    for v in [d.final, *(c[1] for c in d.chains), prof.default]
                    if v is not None and v.action in LOSSY})
    for action in lossy:
        warn(LOSSY[action])
    stem = os.path.splitext(os.path.basename(source))[0]
    out = toml_out.head(
        [f"Imported by `compatd policy import-seccomp` from {source} (an OCI seccomp profile).",
         "Rules as libseccomp applies the profile on x86-64; files and the network are not "
         "the profile's business.",
         *(f"Note: {LOSSY[a]}." for a in lossy),
         f"{prof.skipped} entries do not apply here (capabilities, architecture, kernel) or "
         "repeat the default."],
        stem, f"The OCI seccomp profile {os.path.basename(source)}.",
        {"syscall": default_text(prof.default), "file": "allow", "network": "allow"})
    # Syscalls with conditional verdicts: one rule per condition chain, for every syscall
    # with the same chains and the same argument names (a rule names its arguments).
    groups: dict[tuple[Any, ...], list[str]] = {}
    finals: dict[Verdict, list[str]] = {}
    for name, d in prof.syscalls.items():
        if d.final is not None:
            finals.setdefault(d.final, []).append(name)
            continue
        args = REGISTRY[name].args
        if any(c.index >= len(args) for chain, _ in d.chains for c in chain):
            warn(f"{name}: the profile compares an argument compatd's syscall table does not "
                 "have; its conditional rules are left out")
            continue
        if len({v for _, v in d.chains}) > 1:
            warn(f"{name}: entries with different actions compare its arguments; where they "
                 "overlap, the first in the profile decides here, libseccomp may order them "
                 "otherwise")
        sig = tuple((args[c.index].name, args[c.index].kind) for chain, _ in d.chains
                    for c in chain)
        groups.setdefault((tuple(d.chains), sig), []).append(name)
    for (chains, _), names in groups.items():
        args = REGISTRY[names[0]].args
        # Neighbouring one-value tests of one argument with one verdict (personality's
        # allowed personas) read better as one rule with a list of values.
        merged: list[tuple[dict[str, Any], Verdict]] = []
        for chain, verdict in chains:
            spec = {args[c.index].name: arg_spec(c, args[c.index].kind) for c in chain}
            if merged and same_test(merged[-1], spec, verdict, chain):
                ((key, value),) = spec.items()
                prev = merged[-1][0][key]
                merged[-1][0][key] = [*(prev if isinstance(prev, list) else [prev]), value]
            else:
                merged.append((spec, verdict))
        for spec, verdict in merged:
            out += toml_out.rule({"syscall": sorted(names), "args": spec,
                                  **action_fields(verdict)})
    for verdict, names in finals.items():
        out += toml_out.rule({"syscall": sorted(names), **action_fields(verdict)})
    return "\n".join(out) + "\n"


# policy -> profile ---------------------------------------------------------------------------
def verdict_for(action: Action) -> Verdict | None:
    """The seccomp action for a policy action; None if there is none (fake of a value that
    is neither 0 nor -errno)."""
    if action.kind == "allow":
        return Verdict("SCMP_ACT_ALLOW")
    if action.kind == "deny":
        return Verdict("SCMP_ACT_ERRNO", action.errno)
    if action.kind == "kill":
        return Verdict("SCMP_ACT_KILL_PROCESS")
    if action.kind == "audit":
        return Verdict("SCMP_ACT_LOG")
    if action.value == 0 or -4096 < action.value < 0:
        return Verdict("SCMP_ACT_ERRNO", -action.value)
    return None


def alternatives(c: ArgCondition) -> list[Cond] | None:
    """One condition as seccomp comparisons any of which may hold (entries are OR'd);
    None if seccomp cannot compare it (an fd's kind)."""
    vals = [v & MASK64 for v in c.values]
    if c.op == "eq":
        return [Cond(c.index, "SCMP_CMP_EQ", v) for v in vals]
    if c.op == "all":
        return [Cond(c.index, "SCMP_CMP_MASKED_EQ", vals[0], vals[0])]
    if c.op == "none":
        return [Cond(c.index, "SCMP_CMP_MASKED_EQ", vals[0], 0)]
    if c.op == "any":
        return [Cond(c.index, "SCMP_CMP_MASKED_EQ", 1 << b, 1 << b)
                for b in range(64) if vals[0] >> b & 1]
    if c.op == "masked":
        return [Cond(c.index, "SCMP_CMP_MASKED_EQ", vals[0], vals[1] & vals[0])]
    if c.op in SCMP_OPS:
        return [Cond(c.index, SCMP_OPS[c.op], vals[0])]
    return None


def entry(names: list[str], v: Verdict, conds: tuple[Cond, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"names": sorted(names), "action": v.action}
    if v.ret is not None:
        out["errnoRet"] = v.ret
    if conds:
        out["args"] = [{"index": c.index, "value": c.value, "valueTwo": c.value_two, "op": c.op}
                       for c in conds]
    return out


def export_profile(policy: Policy, warn: Callable[[str], None] = lambda _: None
                   ) -> dict[str, Any]:
    """The syscall part of ``policy`` as an OCI seccomp profile for x86-64."""
    from policies.engine import Enforcer

    left_out = [what for what, present in (
        ("file rules", any(r.kind == "file" for r in policy.rules)),
        ("network rules", any(r.kind == "network" for r in policy.rules)),
        ("the file default", policy.default_file.kind != "allow"),
        ("the network default", policy.default_network.kind != "allow"),
        ("[limits]", policy.limits.any())) if present]
    if left_out:
        warn(f"left out {', '.join(left_out)}: a seccomp profile decides syscalls only")
    default = verdict_for(policy.default_syscall)
    if default is None:
        raise ProfileError(f"the syscall default fake:{policy.default_syscall.value} has no "
                           "seccomp action (only 0 or -errno can be returned)")
    # The compiled policy: per syscall, its conditional rules and then its verdict.
    compiled = Enforcer(policy).by_nr
    doc: dict[str, Any] = {"defaultAction": default.action}
    if default.ret is not None:
        doc["defaultErrnoRet"] = default.ret
    doc["architectures"] = ["SCMP_ARCH_X86_64"]
    chained: dict[tuple[tuple[tuple[Cond, ...], Verdict], ...], list[str]] = {}
    finals: dict[Verdict, list[str]] = {}
    for nr in range(MAX_NR + 1):
        name = NAMES.get(nr)
        decision = compiled[nr]
        if name is None or decision is None:
            if name is not None and default.action != "SCMP_ACT_ALLOW":
                finals.setdefault(Verdict("SCMP_ACT_ALLOW"), []).append(name)
            continue
        conditional, final_action, final_rule = decision
        final = verdict_for(final_action)
        if final is None:
            warn(f"{name}: fake:{final_action.value} has no seccomp action; left to the default")
            final = default
        chain: list[tuple[tuple[Cond, ...], Verdict]] = []
        for rule, conds in conditional:
            v = verdict_for(rule.action)
            alts = [alternatives(c) for c, _ in conds]
            if v is None or any(a is None for a in alts):
                warn(f"{name}: {rule.label(policy.source)} has no seccomp equivalent (an fd "
                     "kind, or a fake value); left out")
                continue
            chain += [(combo, v) for combo in itertools.product(*alts)]  # type: ignore[arg-type]
        while chain and chain[-1][1] == final:
            chain.pop()  # what the syscall gets anyway
        if chain and final != default:
            warn(f"{name}: a seccomp profile cannot give a syscall conditional verdicts and a "
                 f"fallback other than the default; only its fallback is kept")
            chain = []
        if any(v == default for _, v in chain):
            warn(f"{name}: conditional rules with the default action cannot be said in a "
                 "seccomp profile; left out")
            chain = [c for c in chain if c[1] != default]
        if chain:
            chained.setdefault(tuple(chain), []).append(name)
        elif final != default:
            finals.setdefault(final, []).append(name)
    doc["syscalls"] = [entry(names, v) for v, names in finals.items()]
    doc["syscalls"] += [entry(names, v, conds) for chain, names in chained.items()
                        for conds, v in chain]
    return doc
