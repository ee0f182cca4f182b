"""``compatd explore``: which syscalls a program truly needs (Loupe's method, ASPLOS 2024).

1. A reference run under ``compatd run --trace-all --report`` learns the syscalls the program
   uses (HOST ones included, since everything traps) and its exit status and stdout. It runs
   twice: if the two outputs differ, runs are judged by exit status alone (and the result says
   so).
2. For every syscall used, one run with it stubbed (it fails with ENOSYS, ``--stub NAME``) and
   one with it faked (it returns 0 doing nothing, ``--fake NAME``): ``python3 -m compatd run``
   subprocesses, ``-j N`` at a time, each with a time limit.
3. Each run is judged against the reference (same exit status and stdout; an output that
   differs is checked against a fresh reference run, since outputs like ``ls -la``'s drift
   with the clock), or by ``--check
   CMD`` (a shell command given the run's stdout on stdin and ``COMPATD_EXIT_STATUS``; exit 0
   means the run was good).
4. Per syscall: ``stubbable`` (works when the call fails with ENOSYS: it can be left out),
   ``fakeable`` (works when it returns 0 without doing anything), or ``required``.

The first execve (the one that starts the program) is not a syscall the program makes under
compatd; unless the program execs again, execve is reported required without being explored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syscalls.flags import FLAGSETS

REPO = Path(__file__).resolve().parents[1]
# The calls --flags explores, and the flag set of their argument named "flags" (cli.CLEARABLE).
FLAG_CALLS = {"open": "open", "openat": "open", "mmap": "mmap_flags", "clone": "clone"}
CLASSES = ("required", "fakeable", "stubbable")


@dataclass
class Outcome:
    ok: bool
    what: str  # "ok", "exit 1", "output differs", "timeout", …
    wall: float = 0.0


def compatd_cmd(report: str | None, extra: list[str], argv: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "compatd", "run", "--trace-all", "--no-db"]
    if report:
        cmd += ["--report", report]
    return [*cmd, *extra, "--", *argv]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_once(cmd: list[str], timeout: float, stderr: list[bytes] | None = None
             ) -> tuple[int | None, bytes, float]:
    """(exit status or None on timeout, stdout, wall seconds); the run's stderr is appended
    to ``stderr`` when given."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL if stderr is None else subprocess.PIPE,
                           timeout=timeout, env=child_env())  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, b"", time.perf_counter() - t0
    if stderr is not None:
        stderr.append(p.stderr)
    return p.returncode, p.stdout, time.perf_counter() - t0


def check_with(check: str, status: int, stdout: bytes, timeout: float) -> bool:
    env = dict(os.environ, COMPATD_EXIT_STATUS=str(status))
    try:
        p = subprocess.run(check, shell=True, input=stdout, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0


class ExploreError(Exception):
    pass


def explore(
    argv: list[str],
    *,
    check: str | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    flags: bool = False,
) -> dict[str, Any]:
    """Explore ``argv``; ``progress(done, total, what)`` is called after each run. With
    ``flags``, also one run per flag the program passed to open/openat, with that flag
    dropped: ``needed`` or ``ignorable``."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="compatd-explore-") as tmp:
        ref_json = os.path.join(tmp, "reference.json")
        errs: list[bytes] = []
        first = run_once(compatd_cmd(ref_json, [], argv), timeout or 600, errs)
        second = run_once(compatd_cmd(None, [], argv), timeout or 600)
        if first[0] is None:
            raise ExploreError("the reference run timed out")
        try:
            with open(ref_json) as f:
                ref = json.load(f)
        except (OSError, ValueError):
            tail = b"".join(errs).decode(errors="replace").strip().splitlines()[-3:]
            raise ExploreError("the reference run wrote no report: "
                               + (" / ".join(tail) or f"exit {first[0]}")) from None
    ref_status, ref_out, ref_wall = first
    deterministic = second[0] == ref_status and second[1] == ref_out
    if check is not None:
        judge = f"check: {check}"
        if not check_with(check, ref_status, ref_out, timeout or 600):
            raise ExploreError(f"--check fails on the reference run (exit {ref_status})")
    elif deterministic:
        judge = "exit status and stdout"
    else:
        judge = "exit status (stdout differs between two reference runs)"
    limit = timeout or max(10.0, 10 * max(ref_wall, second[2]))

    used = {name: s["calls"] for name, s in ref.get("syscalls", {}).items()}
    results: dict[str, dict[str, Any]] = {}
    if used.get("execve", 0) <= 1 and "execve" in used:
        results["execve"] = {"calls": used["execve"], "stub": "not explored", "fake":
                             "not explored", "class": "required",
                             "note": "only the program's own start"}  # fmt: skip
    todo = [(name, action, name) for name in sorted(used) if name not in results
            for action in ("stub", "fake")]  # fmt: skip
    if flags:
        for name, flagset in FLAG_CALLS.items():
            seen = ref.get("syscalls", {}).get(name, {}).get("flags", {}).get("flags", {})
            bits_of = {v: b for b, v in FLAGSETS[flagset].items()}
            for flag in seen.get("union", "").split("|"):
                bits = bits_of.get(flag, 0)
                # single bits only: an enum field (the access mode, clone's exit signal, the
                # mapping type) is not a flag one can drop
                if bits and not bits & (bits - 1):
                    todo.append((name, "clear", f"{name}:{flag}"))

    def one(item: tuple[str, str, str]) -> tuple[str, str, Outcome]:
        name, action, what = item
        status, out, wall = run_once(compatd_cmd(None, [f"--{action}", what], argv), limit)
        name = what
        if status is None:
            return name, action, Outcome(False, "timeout", wall)
        if check is not None:
            ok = check_with(check, status, out, limit)
            return name, action, Outcome(ok, "ok" if ok else f"check failed (exit {status})",
                                         wall)
        if status != ref_status:
            return name, action, Outcome(False, f"exit {status}", wall)
        if deterministic and out not in accepted and not fresh_reference_gives(out):
            return name, action, Outcome(False, "output differs", wall)
        return name, action, Outcome(True, "ok", wall)

    # Outputs that depend on the time (ls -la shows minutes) drift during an exploration:
    # a run whose output differs is compared with a fresh reference run, once per new output.
    accepted = {ref_out}
    fresh_lock = threading.Lock()

    def fresh_reference_gives(out: bytes) -> bool:
        with fresh_lock:
            if out in accepted:
                return True
            status, fresh, _ = run_once(compatd_cmd(None, [], argv), limit)
            if status == ref_status:
                accepted.add(fresh)
            return out in accepted

    outcomes: dict[tuple[str, str], Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for done, (name, action, outcome) in enumerate(pool.map(one, todo), 1):
            outcomes[(name, action)] = outcome
            if progress is not None:
                progress(done, len(todo), f"{action} {name}: {outcome.what}")
    flag_results: dict[str, dict[str, dict[str, str]]] = {}
    for (what, action), outcome in outcomes.items():
        if action == "clear":
            name, _, flag = what.partition(":")
            flag_results.setdefault(name, {})[flag] = {
                "dropped": outcome.what, "class": "ignorable" if outcome.ok else "needed"}
    for name in sorted(used):
        if name in results:
            continue
        stub, fake = outcomes[(name, "stub")], outcomes[(name, "fake")]
        cls = "stubbable" if stub.ok else "fakeable" if fake.ok else "required"
        results[name] = {"calls": used[name], "stub": stub.what, "fake": fake.what, "class": cls}
    return {
        "kind": "exploration",
        "program": argv[0],
        "argv": argv,
        "started": started,
        "judge": judge,
        "reference": {"exit_status": ref_status, "wall_s": round(ref_wall, 3),
                      "deterministic": deterministic},  # fmt: skip
        "time_limit_s": limit,
        "runs": len(todo) + 2,
        "syscalls": dict(sorted(results.items(), key=lambda kv: (CLASSES.index(kv[1]["class"]),
                                                                   kv[0]))),
        "flags": {n: dict(sorted(f.items())) for n, f in sorted(flag_results.items())},
        "flags_note": ("open/openat/mmap/clone flags explored (--flags)" if flags
                       else "not asked (--flags)")
        + "; mmap and clone flags are not explored: the host runs those calls from the "
          "registers, which the platform cannot rewrite yet",
    }


def render_markdown(result: dict[str, Any]) -> str:
    lines = [f"# compatd explore: {' '.join(result['argv'])}", "",
             f"Judged by {result['judge']}; reference exit status "
             f"{result['reference']['exit_status']}; {result['runs']} runs.", "",
             "| syscall | calls | class | stubbed (ENOSYS) | faked (returns 0) |",
             "|---|---:|---|---|---|"]
    for name, r in result["syscalls"].items():
        lines.append(f"| {name} | {r['calls']} | {r['class']} | {r['stub']} | {r['fake']} |")
    counts = {c: sum(1 for r in result["syscalls"].values() if r["class"] == c) for c in CLASSES}
    lines += ["", ", ".join(f"{c}: {n}" for c, n in counts.items())]
    if result.get("flags"):
        lines += ["", "## Flags (one run with the flag dropped)", "",
                  "| syscall | flag | class | run |", "|---|---|---|---|"]
        for name, fl in result["flags"].items():
            lines += [f"| {name} | {f} | {r['class']} | {r['dropped']} |" for f, r in fl.items()]
    return "\n".join(lines) + "\n"


def render_terminal(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    style = {"required": "red", "fakeable": "yellow", "stubbable": "green"}
    t = Table(title=f"compatd explore: {' '.join(result['argv'])}", title_justify="left")
    for col in ("syscall", "calls", "class", "stubbed (ENOSYS)", "faked (returns 0)"):
        t.add_column(col, overflow="fold")
    for name, r in result["syscalls"].items():
        t.add_row(name, str(r["calls"]), f"[{style[r['class']]}]{r['class']}[/]", r["stub"],
                  r["fake"])
    console.print(t)
    counts = {c: sum(1 for r in result["syscalls"].values() if r["class"] == c) for c in CLASSES}
    console.print(f"judged by {result['judge']}; "
                  + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if result.get("flags"):
        t = Table(title="Flags (one run with the flag dropped)", title_justify="left")
        for col in ("syscall", "flag", "class", "run"):
            t.add_column(col)
        for name, fl in result["flags"].items():
            for f, r in fl.items():
                color = "green" if r["class"] == "ignorable" else "red"
                t.add_row(name, f, f"[{color}]{r['class']}[/]", r["dropped"])
        console.print(t)
