"""The results store: run reports and explorations in one SQLite database.

Default: ``$XDG_DATA_HOME/compatd/results.db`` (``~/.local/share/compatd/results.db``);
``--db PATH`` chooses another. ``compatd run --report`` and ``compatd explore`` add to it, so
a campaign over many programs aggregates; ``compatd report --db`` reads it back (by program,
by syscall, gaps first).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    argv TEXT NOT NULL,
    started REAL NOT NULL,
    exit_status INTEGER,
    wall_s REAL,
    total_calls INTEGER,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_syscalls (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    calls INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS run_syscalls_name ON run_syscalls(name);
CREATE TABLE IF NOT EXISTS explorations (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    argv TEXT NOT NULL,
    started REAL NOT NULL,
    judge TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS explore_results (
    exploration_id INTEGER NOT NULL REFERENCES explorations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    calls INTEGER NOT NULL,
    stub TEXT NOT NULL,
    fake TEXT NOT NULL,
    class TEXT NOT NULL,
    PRIMARY KEY (exploration_id, name)
);
"""


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")  # fmt: skip
    return Path(base) / "compatd" / "results.db"


@contextmanager
def connect(path: str | os.PathLike[str] | None = None) -> Iterator[sqlite3.Connection]:
    p = Path(path) if path else default_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(p, timeout=30)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA)
        with con:
            yield con
    finally:
        con.close()


def add_run(con: sqlite3.Connection, report: dict[str, Any]) -> int:
    cur = con.execute(
        "INSERT INTO runs (program, argv, started, exit_status, wall_s, total_calls, report)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (report.get("program", ""), json.dumps(report.get("argv", [])),
         report.get("started", time.time()), report.get("exit_status"), report.get("wall_s"),
         report.get("total_calls", 0), json.dumps(report)),
    )  # fmt: skip
    run_id = cur.lastrowid
    con.executemany(
        "INSERT INTO run_syscalls (run_id, name, calls, failures) VALUES (?, ?, ?, ?)",
        [(run_id, name, s.get("calls", 0), sum(s.get("errors", {}).values()))
         for name, s in report.get("syscalls", {}).items()],
    )  # fmt: skip
    return int(run_id or 0)


def add_exploration(con: sqlite3.Connection, result: dict[str, Any]) -> int:
    cur = con.execute(
        "INSERT INTO explorations (program, argv, started, judge, result) VALUES (?, ?, ?, ?, ?)",
        (result.get("program", ""), json.dumps(result.get("argv", [])),
         result.get("started", time.time()), result.get("judge", ""), json.dumps(result)),
    )  # fmt: skip
    ex_id = cur.lastrowid
    con.executemany(
        "INSERT INTO explore_results (exploration_id, name, calls, stub, fake, class)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(ex_id, name, r.get("calls", 0), r["stub"], r["fake"], r["class"])
         for name, r in result.get("syscalls", {}).items()],
    )  # fmt: skip
    return int(ex_id or 0)


def _program_clause(program: str | None) -> tuple[str, list[str]]:
    """A program matches by its argv[0] or the argv[0]'s last component."""
    if not program:
        return "", []
    return " WHERE (program = ? OR program LIKE ?)", [program, f"%/{program}"]


def run_reports(con: sqlite3.Connection, program: str | None = None,
                syscall: str | None = None) -> list[dict[str, Any]]:
    """The stored run reports (of one program, or of the runs that used one syscall)."""
    where, params = _program_clause(program)
    if syscall:
        where += (" AND" if where else " WHERE") + (
            " id IN (SELECT run_id FROM run_syscalls WHERE name = ?)")
        params.append(syscall)
    rows = con.execute(f"SELECT report FROM runs{where} ORDER BY id", params).fetchall()
    return [json.loads(r[0]) for r in rows]


def explorations(con: sqlite3.Connection, program: str | None = None,
                 syscall: str | None = None) -> list[dict[str, Any]]:
    """Per syscall, how the explorations classified it: {name, required, stubbable,
    fakeable, programs}."""
    where, params = _program_clause(program)
    where = where.replace("program", "e.program")
    if syscall:
        where += (" AND" if where else " WHERE") + " r.name = ?"
        params.append(syscall)
    rows = con.execute(
        "SELECT r.name, r.class, e.program FROM explore_results r"
        f" JOIN explorations e ON e.id = r.exploration_id{where}", params,
    ).fetchall()  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    for name, cls, prog in rows:
        rec = out.setdefault(name, {"name": name, "required": 0, "stubbable": 0,
                                    "fakeable": 0, "programs": set()})  # fmt: skip
        rec[cls] = rec.get(cls, 0) + 1
        rec["programs"].add(prog)
    return [{**r, "programs": sorted(r["programs"])} for r in
            sorted(out.values(), key=lambda r: (-r["required"], r["name"]))]
