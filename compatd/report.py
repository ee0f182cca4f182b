"""Run reports: what a run needed from the kernel (``compatd run --report FILE.json``).

The ``Recorder`` is given to the ``Kernel`` only when a report is asked for; the kernel then
swaps in ``on_syscall_observed`` (which calls ``Recorder.enter``) and a ``finish`` that calls
``Recorder.result``. Without a recorder the loop runs exactly as before: no test, no call.

With one, every trapped call costs O(1) cheap work:

- ``enter``: one list increment in the calling thread's per-number counter list; for the few
  syscalls with a flag set argument, an OR into an int (bit sets) or one Counter increment
  (operation codes: ioctl requests, fcntl commands, prctl options, socket families…);
  ENOSYS entries are counted as failures here, since they never reach ``finish``;
- ``result``: only on failure (one Counter increment keyed by (nr, errno)), and for the
  open family a look at the opened file's mount (paths under /proc, /sys and /dev are kept).

Everything else — names, rendering flags, per-process sums, times — happens once, in
``Recorder.report`` at the end of the run.

A report is a JSON object (``SCHEMA_VERSION``); ``merge`` combines several (and the SQLite
store's rows) into one document of the same shape, which ``compatd report`` renders.
"""

from __future__ import annotations

import errno as _errno
import os
import resource
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from compatd.platform.stub import STUB_TRAP_NR
from syscalls.flags import ENUM_FIELDS, ENUM_SETS, FLAGSETS, render
from syscalls.numbers import MAX_NR, NUMBERS
from syscalls.table import BY_NR, load_all

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel
    from compatd.kernel.task import Task
    from compatd.platform.events import Event

SCHEMA_VERSION = 1
UNKNOWN = MAX_NR + 1  # the counter slot of numbers outside the table
LAST = MAX_NR + 2  # the slot holding the number of the thread's latest call
SLOTS = MAX_NR + 3
SPECIAL_DIRS = (b"/proc", b"/sys", b"/dev")

# Top-level views of operation codes: section name -> (syscall, argument index).
OPERATIONS = {
    "ioctl": ("ioctl", 1),
    "fcntl": ("fcntl", 1),
    "prctl": ("prctl", 0),
    "arch_prctl": ("arch_prctl", 0),
    "socket_families": ("socket", 0),
    "socketpair_families": ("socketpair", 0),
}

# The open family: syscall number -> index of its path argument.
OPENS = {NUMBERS[n]: i for n, i in (("open", 0), ("openat", 1), ("openat2", 1), ("creat", 0))}
EXECS = {NUMBERS["execve"]: 0, NUMBERS["execveat"]: 1}


BITS, OP, MIXED = 0, 1, 2


def _arg_specs() -> list[tuple[tuple[int, int, int], ...] | None]:
    """Per number: ((argument index, BITS | OP | MIXED, enum field mask), ...) for the
    arguments with a flag set, or None (most syscalls). OP: the value is one name (ioctl
    request, fcntl command…), counted per value; BITS: OR-ed; MIXED: bits with an enum field
    (open's access mode, mmap's type, clone's exit signal), the field counted, the rest OR-ed."""
    load_all()
    out: list[tuple[tuple[int, int, int], ...] | None] = [None] * (MAX_NR + 2)
    for nr, e in enumerate(BY_NR):
        if e is None:
            continue
        spec = []
        for i, a in enumerate(e.args):
            if not a.flagset or a.flagset not in FLAGSETS:
                continue
            if a.flagset in ENUM_SETS:
                spec.append((i, OP, 0))
            elif a.flagset in ENUM_FIELDS:
                spec.append((i, MIXED, ENUM_FIELDS[a.flagset][0]))
            else:
                spec.append((i, BITS, 0))
        out[nr] = tuple(spec) or None
    return out


ENOSYS_CALL, EXEC_CALL, OPEN_CALL = 1, 2, 3


def _special_nrs() -> list[int]:
    """Per number: 0, or what ``enter`` does besides counting (ENOSYS entries never reach
    ``result``; execs and opens keep a little more)."""
    load_all()
    out = [0] * (MAX_NR + 2)
    for e in BY_NR:
        if e is not None and e.invoke is None and not e.runs_on_host:
            out[e.nr] = ENOSYS_CALL
    for nr in EXECS:
        out[nr] = EXEC_CALL
    for nr in OPENS:
        out[nr] = OPEN_CALL
    return out


def errname(err: int) -> str:
    return _errno.errorcode.get(err, str(err))


class Recorder:
    """Counts what one run asks of the kernel; ``report()`` turns it into the JSON document."""

    def __init__(self, argv: list[str], *, trace_all: bool = False) -> None:
        self.argv = argv
        self.trace_all = trace_all
        self.started = time.time()
        self.t0 = time.perf_counter()
        self.times0 = os.times()
        self.specs = _arg_specs()
        self.special = _special_nrs()
        self.open_args: dict[int, tuple[int, ...]] = {}  # tid -> args of its open in progress
        self.calls: dict[int, list[int]] = {}  # tid -> calls per number (+ UNKNOWN slot)
        self.tgid_of: dict[int, int] = {}
        self.unknown: Counter[int] = Counter()  # numbers outside the table
        self.errors: Counter[tuple[int, int]] = Counter()  # (nr, errno) -> failures
        self.bits: dict[tuple[int, int], int] = {}  # (nr, arg) -> OR of the bits seen
        self.ops: dict[tuple[int, int, int], int] = {}  # (nr, arg, value) -> calls
        self.files: Counter[tuple[bytes, int]] = Counter()  # (path, errno or 0) -> opens
        self.execs: dict[int, list[str]] = {}  # tgid -> programs it executed
        self.exe: dict[int, str] = {}  # tgid -> program when first seen
        self.kernel: Kernel | None = None

    # the hot path ---------------------------------------------------------------------
    def enter(self, task: Task, ev: Event) -> None:
        tid = ev.tid
        nr = ev.nr
        counts = self.calls.get(tid)
        if counts is None:
            counts = self._new_thread(task)
        if 0 <= nr <= MAX_NR:
            counts[nr] += 1
            spec = self.specs[nr]
            if spec is not None:
                args = ev.args
                ops = self.ops
                bits = self.bits
                for i, how, mask in spec:
                    v = args[i] & 0xFFFFFFFF
                    if how == OP:
                        key = (nr, i, v)
                        ops[key] = ops.get(key, 0) + 1
                    else:
                        if how == MIXED:
                            key = (nr, i, v & mask)
                            ops[key] = ops.get(key, 0) + 1
                            v &= ~mask
                        key = (nr, i)
                        bits[key] = bits.get(key, 0) | v
            special = self.special[nr]
            if special:
                if special == ENOSYS_CALL:
                    self.errors[(nr, _errno.ENOSYS)] += 1
                elif special == EXEC_CALL:
                    self._exec(task, ev.args[EXECS[nr]])
                else:
                    self.open_args[tid] = ev.args
            counts[LAST] = nr
        elif nr != STUB_TRAP_NR:
            counts[UNKNOWN] += 1
            self.unknown[nr] += 1
            self.errors[(UNKNOWN, _errno.ENOSYS)] += 1

    def result(self, tid: int, ret: int) -> None:
        """A call finished with ``ret``. The kernel calls this only for failures and while an
        open is in progress (``open_args``); a thread's latest number is in its LAST slot."""
        counts = self.calls.get(tid)
        nr = counts[LAST] if counts is not None else -1
        if -4096 < ret < 0:
            key = (nr, -ret)
            self.errors[key] = self.errors.get(key, 0) + 1
        if nr in OPENS:
            self._opened(tid, nr, ret)

    # once per thread or per open --------------------------------------------------------
    def _new_thread(self, task: Task) -> list[int]:
        counts = self.calls[task.tid] = [0] * SLOTS
        counts[LAST] = -1
        tgid = task.group.tgid
        self.tgid_of[task.tid] = tgid
        if tgid not in self.exe:
            self.exe[tgid] = os.fsdecode(task.group.exe or b"")
        return counts

    def _exec(self, task: Task, addr: int) -> None:
        try:
            path = os.fsdecode(task.read_path(addr))
        except Exception:  # noqa: BLE001 - a bad pointer: the handler reports EFAULT
            path = "?"
        self.execs.setdefault(task.group.tgid, []).append(path)

    def _opened(self, tid: int, nr: int, ret: int) -> None:
        args = self.open_args.pop(tid, None)
        kernel = self.kernel
        task = kernel.tasks.get(tid) if kernel is not None else None
        if task is None:
            return
        if ret >= 0:
            f = task.fdt.files.get(ret)
            d = getattr(f, "dentry", None)
            if d is not None and d.mount.target.startswith(SPECIAL_DIRS):
                self.files[(d.path(), 0)] += 1
        elif ret > -4096 and args is not None:
            # A failed open: the path as the program gave it (absolute ones only).
            try:
                path = task.read_path(args[OPENS[nr]])
            except Exception:  # noqa: BLE001 - a bad pointer (the call failed EFAULT)
                return
            if path.startswith(SPECIAL_DIRS):
                self.files[(path, -ret)] += 1

    def note_initial_exec(self, tid: int, exe: str) -> None:
        """The first program's execve ran before the model started: count it, as a native
        ``strace -f`` of the program does."""
        counts = self.calls.setdefault(tid, [0] * (SLOTS - 1) + [-1])
        self.tgid_of.setdefault(tid, tid)
        counts[NUMBERS["execve"]] += 1
        self.exe.setdefault(tid, exe)

    # the document -----------------------------------------------------------------------
    def report(
        self, kernel: Kernel | None = None, exit_status: int | None = None
    ) -> dict[str, Any]:
        kernel = kernel or self.kernel
        wall = time.perf_counter() - self.t0
        t1 = os.times()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        totals = [0] * LAST
        for counts in self.calls.values():
            for nr, n in enumerate(counts[:LAST]):
                if n:
                    totals[nr] += n
        unsupported: Counter[str] = Counter(kernel.unsupported) if kernel is not None else Counter()
        crashes = list(kernel.crashes) if kernel is not None else []
        syscalls: dict[str, Any] = {}
        for nr in range(MAX_NR + 1):
            if not totals[nr]:
                continue
            e = BY_NR[nr]
            name = e.name if e is not None else f"syscall_{nr}"
            entry: dict[str, Any] = {
                "nr": nr,
                "level": e.level.value if e is not None else "enosys",
                "calls": totals[nr],
                "errors": {errname(err): n for (n_nr, err), n in sorted(self.errors.items())
                           if n_nr == nr},  # fmt: skip
            }
            flags: dict[str, Any] = {}
            if e is not None:
                for i, a in enumerate(e.args):
                    if not a.flagset or a.flagset not in FLAGSETS:
                        continue
                    if a.flagset in ENUM_SETS:
                        vals = {render(_s32(v, a.decoding), a.flagset): n
                                for (o_nr, o_i, v), n in self.ops.items()
                                if o_nr == nr and o_i == i}  # fmt: skip
                        if vals:
                            flags[a.name] = {"set": a.flagset, "values": _sorted_counts(vals)}
                    elif (nr, i) in self.bits:
                        bits = self.bits[(nr, i)]
                        f = flags[a.name] = {"set": a.flagset, "bits": bits,
                                             "union": _render_bits(bits, a.flagset)}
                        if a.flagset in ENUM_FIELDS:
                            field = ENUM_FIELDS[a.flagset][1]
                            f["field"] = _sorted_counts({
                                field.get(v, hex(v)): n for (o_nr, o_i, v), n in self.ops.items()
                                if o_nr == nr and o_i == i})  # fmt: skip
            if flags:
                entry["flags"] = flags
            hit = {k.split(": ", 1)[1]: n for k, n in unsupported.items()
                   if k.split(": ", 1)[0] == name}  # fmt: skip
            if hit:
                entry["unsupported"] = hit
            syscalls[name] = entry
        doc: dict[str, Any] = {
            "version": SCHEMA_VERSION,
            "kind": "run",
            "program": self.argv[0] if self.argv else "",
            "argv": self.argv,
            "exit_status": exit_status,
            "trace_all": self.trace_all,
            "started": self.started,
            "wall_s": round(wall, 6),
            "cpu_s": {
                "supervisor_user": round(t1.user - self.times0.user, 4),
                "supervisor_system": round(t1.system - self.times0.system, 4),
                "children_user": round(t1.children_user - self.times0.children_user, 4),
                "children_system": round(t1.children_system - self.times0.children_system, 4),
            },
            "children_max_rss_kb": ru.ru_maxrss,
            "total_calls": sum(totals),
            "syscalls": syscalls,
            "unknown_syscalls": {str(nr): n for nr, n in sorted(self.unknown.items())},
            "unsupported": dict(unsupported.most_common()),
            "crashes": crashes,
            "files": self._files(),
            "processes": self._processes(),
        }
        for section, (name, i) in OPERATIONS.items():
            e = BY_NR[NUMBERS[name]]
            arg = e.args[i].name if e is not None and len(e.args) > i else ""
            doc[section] = syscalls.get(name, {}).get("flags", {}).get(arg, {}).get("values", {})
        if not self.trace_all:
            doc["note"] = ("syscalls the table runs on the host (HOST, and host_when cases) "
                           "are not counted; run with --trace-all to count them too")
        return doc

    def _files(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (path, err), n in sorted(self.files.items()):
            rec = out.setdefault(os.fsdecode(path), {"opens": 0, "errors": {}})
            if err:
                rec["errors"][errname(err)] = rec["errors"].get(errname(err), 0) + n
            else:
                rec["opens"] += n
        return out

    def _processes(self) -> list[dict[str, Any]]:
        groups: dict[int, list[int]] = {}
        for tid, tgid in self.tgid_of.items():
            groups.setdefault(tgid, []).append(tid)
        out = []
        for tgid, tids in sorted(groups.items()):
            threads = []
            total: Counter[str] = Counter()
            for tid in sorted(tids):
                named = _named_counts(self.calls[tid])
                total.update(named)
                threads.append({"tid": tid, "calls": sum(named.values()), "syscalls": named})
            out.append({
                "tgid": tgid,
                "exe": self.exe.get(tgid, ""),
                "execs": self.execs.get(tgid, []),
                "calls": sum(total.values()),
                "syscalls": dict(total.most_common()),
                "threads": threads,
            })  # fmt: skip
        return out


def _render_bits(bits: int, setname: str) -> str:
    """The OR of the flags seen, by name, without the enum field (counted apart)."""
    if not bits:
        return "0"
    if setname not in ENUM_FIELDS:
        return render(bits, setname)
    mask, field = ENUM_FIELDS[setname]
    text = render(bits, setname)
    # render() puts the enum field first when the value has one; bits has it cleared, so
    # only a zero-valued field name (O_RDONLY) can lead: drop it.
    first, _, rest = text.partition("|")
    return rest if first in field.values() and rest else text


def _s32(v: int, decoding: str) -> int:
    if decoding == "s32" and v & 0x80000000:
        return v - (1 << 32)
    return v


def _named_counts(counts: list[int]) -> dict[str, int]:
    out = {}
    for nr, n in enumerate(counts[:LAST]):
        if n:
            e = BY_NR[nr] if nr <= MAX_NR else None
            out[e.name if e is not None else f"syscall_{nr}"] = n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _sorted_counts(d: dict[str, int]) -> dict[str, int]:
    return dict(sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))


# merging -------------------------------------------------------------------------------
def _add(dst: dict[str, int], src: dict[str, int]) -> None:
    for k, n in src.items():
        dst[k] = dst.get(k, 0) + n


def merge(docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Combine run reports (or merged ones) into one: calls, errors, operations, files and
    unsupported cases add up, flag bits are OR-ed, crashes and runs are listed."""
    out: dict[str, Any] = {
        "version": SCHEMA_VERSION, "kind": "merged", "runs": [], "total_calls": 0,
        "syscalls": {}, "unknown_syscalls": {}, "unsupported": {}, "crashes": [], "files": {},
        **{section: {} for section in OPERATIONS},
    }  # fmt: skip
    for doc in docs:
        if doc.get("kind") == "merged":
            out["runs"].extend(doc.get("runs", []))
        else:
            out["runs"].append({
                "program": doc.get("program", ""), "argv": doc.get("argv", []),
                "exit_status": doc.get("exit_status"), "wall_s": doc.get("wall_s"),
                "trace_all": doc.get("trace_all", False), "total_calls": doc.get("total_calls", 0),
                "processes": len(doc.get("processes", [])),
            })  # fmt: skip
        out["total_calls"] += doc.get("total_calls", 0)
        for name, s in doc.get("syscalls", {}).items():
            m = out["syscalls"].setdefault(
                name, {"nr": s.get("nr"), "level": s.get("level"), "calls": 0, "errors": {},
                       "programs": []})  # fmt: skip
            m["calls"] += s.get("calls", 0)
            _add(m["errors"], s.get("errors", {}))
            progs = s.get("programs") or [doc.get("program", "")]
            m["programs"] = sorted(set(m["programs"]) | set(progs))
            for arg, f in s.get("flags", {}).items():
                mf = m.setdefault("flags", {}).setdefault(arg, {"set": f["set"]})
                if "values" in f:
                    mf.setdefault("values", {})
                    _add(mf["values"], f["values"])
                    mf["values"] = _sorted_counts(mf["values"])
                else:
                    mf["bits"] = mf.get("bits", 0) | f.get("bits", 0)
                    mf["union"] = (_render_bits(mf["bits"], f["set"]) if f["set"] in FLAGSETS
                                   else hex(mf["bits"]))  # fmt: skip
                    if "field" in f:
                        mf.setdefault("field", {})
                        _add(mf["field"], f["field"])
                        mf["field"] = _sorted_counts(mf["field"])
            if s.get("unsupported"):
                _add(m.setdefault("unsupported", {}), s["unsupported"])
        for key in ("unknown_syscalls", "unsupported", *OPERATIONS):
            _add(out[key], doc.get(key, {}))
        out["crashes"].extend(doc.get("crashes", []))
        for path, f in doc.get("files", {}).items():
            mf = out["files"].setdefault(path, {"opens": 0, "errors": {}})
            mf["opens"] += f.get("opens", 0)
            _add(mf["errors"], f.get("errors", {}))
    return out


# reading a merged report: gaps first ------------------------------------------------------
GAP_LEVELS = ("enosys", "partial", "stub")


def current_level(name: str) -> str:
    """The registry's level today (a stored report may predate an implementation)."""
    load_all()
    nr = NUMBERS.get(name)
    e = BY_NR[nr] if nr is not None else None
    return e.level.value if e is not None else "enosys"


def gaps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Used syscalls compatd lacks (enosys, unknown numbers), has only partly (partial, with
    the unsupported cases actually hit) or only stubs; then handler crashes, by syscall."""
    order = {lv: i for i, lv in enumerate(GAP_LEVELS)}
    out = []
    crashed: Counter[str] = Counter()
    for text in doc.get("crashes", []):
        name = text.split("bug in the ", 1)[-1].split("(", 1)[0]
        crashed[name] += 1
    for name, s in doc.get("syscalls", {}).items():
        level = current_level(name)
        hit = s.get("unsupported", {})
        if level in GAP_LEVELS or hit or name in crashed:
            out.append({
                "name": name, "nr": s.get("nr"), "level": level, "calls": s.get("calls", 0),
                "unsupported_hit": hit, "crashes": crashed.get(name, 0),
                "programs": s.get("programs", []),
                "errors": s.get("errors", {}),
            })  # fmt: skip
    for nr, n in doc.get("unknown_syscalls", {}).items():
        out.append({"name": f"syscall_{nr}", "nr": int(nr), "level": "unknown", "calls": n,
                    "unsupported_hit": {}, "crashes": 0, "programs": [], "errors": {}})
    out.sort(key=lambda g: (order.get(g["level"], -1), not g["unsupported_hit"] and
                            not g["crashes"], -g["calls"]))  # fmt: skip
    return out


def flags_text(s: dict[str, Any]) -> str:
    parts = []
    for arg, f in s.get("flags", {}).items():
        if "values" in f:
            parts.append(f"{arg}: " + ", ".join(f"{k}×{n}" for k, n in f["values"].items()))
        else:
            field = ", ".join(f"{k}×{n}" for k, n in f.get("field", {}).items())
            union = f.get("union", "")
            parts.append(f"{arg}: " + " | ".join(x for x in (field, union) if x and x != "0"))
    return "; ".join(parts)


def errors_text(s: dict[str, Any]) -> str:
    return ", ".join(f"{k}×{n}" for k, n in sorted(s.get("errors", {}).items(),
                                                   key=lambda kv: -kv[1]))  # fmt: skip


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable view ``compatd report --format json`` prints."""
    return {"gaps": gaps(doc), **doc}


# rendering -------------------------------------------------------------------------------
def _used_rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(doc.get("syscalls", {}).items(), key=lambda kv: (-kv[1].get("calls", 0), kv[0]))


def _gap_note(g: dict[str, Any]) -> str:
    parts = []
    if g["unsupported_hit"]:
        parts.append("unsupported cases hit: " + "; ".join(
            f"{k} ×{n}" for k, n in g["unsupported_hit"].items()))
    if g["crashes"]:
        parts.append(f"handler crashed ×{g['crashes']}")
    if g["level"] in ("enosys", "unknown"):
        parts.append("not implemented (ENOSYS)")
    elif g["level"] == "stub":
        parts.append("stub: succeeds without doing anything")
    elif g["level"] == "partial" and not g["unsupported_hit"]:
        parts.append("partial; no unsupported case hit in these runs")
    return "; ".join(parts)


def _runs_line(doc: dict[str, Any]) -> str:
    runs = doc.get("runs", [])
    progs = sorted({r.get("program", "") for r in runs})
    return (f"{len(runs)} run(s) of {', '.join(progs) or '?'}: {doc.get('total_calls', 0)} "
            f"trapped calls, {len(doc.get('syscalls', {}))} distinct syscalls")


def render_markdown(doc: dict[str, Any], explored: list[dict[str, Any]] | None = None) -> str:
    """A merged report as Markdown: gaps first, then everything used, then the details."""
    from compatd.tablefmt import _md_cell as cell

    g = gaps(doc)
    lines = ["# compatd run report", "", _runs_line(doc), ""]
    lines += ["## Gaps", ""]
    if g:
        lines += ["| nr | syscall | level | calls | errors | what is missing |",
                  "|---:|---|---|---:|---|---|"]
        lines += [f"| {x['nr']} | {x['name']} | {x['level']} | {x['calls']} | "
                  f"{cell(errors_text(x))} | {cell(_gap_note(x))} |" for x in g]
    else:
        lines.append("None: every syscall these runs made is implemented.")
    lines += ["", "## Everything used", "",
              "| nr | syscall | level | calls | errors | flags and operations seen |",
              "|---:|---|---|---:|---|---|"]
    for name, s in _used_rows(doc):
        lines.append(f"| {s.get('nr')} | {name} | {current_level(name)} | {s.get('calls', 0)} | "
                     f"{cell(errors_text(s))} | {cell(flags_text(s))} |")
    for title, key in (("ioctl requests", "ioctl"), ("fcntl commands", "fcntl"),
                       ("prctl options", "prctl"), ("socket families", "socket_families")):
        if doc.get(key):
            lines += ["", f"## {title}", ""]
            lines += [f"- {k}: {n}" for k, n in _sorted_counts(doc[key]).items()]
    if doc.get("files"):
        lines += ["", "## Files opened under /proc, /sys and /dev", ""]
        for path, f in sorted(doc["files"].items()):
            errs = ", ".join(f"{k} ×{n}" for k, n in f.get("errors", {}).items())
            lines.append(f"- `{path}`: {f.get('opens', 0)} opened" + (f"; failed: {errs}"
                                                                       if errs else ""))
    if doc.get("crashes"):
        lines += ["", "## Handler crashes", ""]
        for text in doc["crashes"]:
            lines += ["```", text.rstrip(), "```"]
    if explored:
        lines += ["", "## Explorations (stub = fails ENOSYS, fake = returns 0)", "",
                  "| syscall | required | stubbable | fakeable | programs |",
                  "|---|---:|---:|---:|---|"]
        lines += [f"| {r['name']} | {r['required']} | {r['stubbable']} | {r['fakeable']} | "
                  f"{cell(', '.join(r['programs']))} |" for r in explored]
    return "\n".join(lines) + "\n"


def render_terminal(doc: dict[str, Any], console: Any,
                    explored: list[dict[str, Any]] | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    from compatd.tablefmt import LEVEL_STYLE
    from syscalls.table import Level

    def lv(level: str) -> Text:
        try:
            return Text(level, style=LEVEL_STYLE[Level(level)])
        except ValueError:
            return Text(level, style="red")

    console.print(_runs_line(doc))
    g = gaps(doc)
    t = Table(title="Gaps: used, but missing or partial", title_justify="left")
    for col in ("nr", "syscall", "level", "calls", "errors", "what is missing"):
        t.add_column(col, overflow="fold")
    for x in g:
        t.add_row(str(x["nr"]), x["name"], lv(x["level"]), str(x["calls"]), errors_text(x),
                  _gap_note(x))
    console.print(t if g else Text("No gaps: every syscall used is implemented.",
                                   style="green"))
    t = Table(title="Everything used", title_justify="left")
    for col in ("nr", "syscall", "level", "calls", "errors", "flags and operations seen"):
        t.add_column(col, overflow="fold")
    for name, s in _used_rows(doc):
        t.add_row(str(s.get("nr")), name, lv(current_level(name)), str(s.get("calls", 0)),
                  errors_text(s), flags_text(s))
    console.print(t)
    if doc.get("files"):
        t = Table(title="Files under /proc, /sys, /dev", title_justify="left")
        t.add_column("path")
        t.add_column("opened", justify="right")
        t.add_column("failed")
        for path, f in sorted(doc["files"].items()):
            t.add_row(path, str(f.get("opens", 0)),
                      ", ".join(f"{k}×{n}" for k, n in f.get("errors", {}).items()))
        console.print(t)
    for text in doc.get("crashes", []):
        console.print(Text(text, style="red"))
    if explored:
        t = Table(title="Explorations", title_justify="left")
        for col in ("syscall", "required", "stubbable", "fakeable", "programs"):
            t.add_column(col, overflow="fold")
        for r in explored:
            t.add_row(r["name"], str(r["required"]), str(r["stubbable"]), str(r["fakeable"]),
                      ", ".join(r["programs"]))
        console.print(t)


USE_COLORS = {  # report grid: coloured by use and support
    "missing": ("used, not implemented", "#e5534b"),
    "partial-hit": ("used, unsupported case hit", "#f0883e"),
    "partial": ("used, partial", "#f2d16b"),
    "ok": ("used, implemented", "#57ab5a"),
    "host": ("used, run by the host", "#8fd3e8"),
    "unused": ("not used", "#e6e8eb"),
}


def render_html(doc: dict[str, Any], explored: list[dict[str, Any]] | None = None) -> str:
    """The syscall grid coloured by use and support; details (calls, errors, flags seen,
    unsupported cases hit) on hover and click."""
    from compatd.htmlgrid import Cell, LegendEntry, render_page
    from compatd.tablefmt import entries, syscall_details

    used = doc.get("syscalls", {})
    gap_by_name = {x["name"]: x for x in gaps(doc)}
    ex = {r["name"]: r for r in explored or []}
    cells = []
    counts: Counter[str] = Counter()
    for e in entries():
        s = used.get(e.name)
        if s is None:
            cls = "unused"
        elif e.level.value in ("enosys", "stub"):
            cls = "missing"
        elif s.get("unsupported") or e.name in gap_by_name and gap_by_name[e.name]["crashes"]:
            cls = "partial-hit"
        elif e.level.value == "partial":
            cls = "partial"
        elif e.level.value == "host":
            cls = "host"
        else:
            cls = "ok"
        counts[cls] += 1
        details: list[tuple[str, str | list[str]]] = []
        badge = ""
        if s is not None:
            badge = f"{s.get('calls', 0)} calls"
            details.append(("calls", str(s.get("calls", 0))))
            if s.get("errors"):
                details.append(("errors", [f"{k} ×{n}" for k, n in s["errors"].items()]))
            if s.get("flags"):
                details.append(("flags and operations seen", flags_text(s).split("; ")))
            if s.get("unsupported"):
                details.append(("unsupported cases hit",
                                [f"{k} ×{n}" for k, n in s["unsupported"].items()]))
            if s.get("programs"):
                details.append(("used by", s["programs"]))
        if e.name in ex:
            r = ex[e.name]
            details.append(("explored", f"required {r['required']}, stubbable "
                                        f"{r['stubbable']}, fakeable {r['fakeable']}"))
        details += syscall_details(e)
        cells.append(Cell(e.nr, e.name, cls, details, badge))
    legend = [LegendEntry(k, label, color, counts[k]) for k, (label, color) in USE_COLORS.items()]
    rows = [(x["name"], x["level"], str(x["calls"]), _gap_note(x)) for x in gaps(doc)]
    return render_page("compatd run report", _runs_line(doc), cells, legend, rows,
                       ("gap", "level", "calls", "what is missing"))
