"""Rendering the registry as JSON, Markdown and a rich terminal table."""

from __future__ import annotations

import io
import json

from rich.console import Console

from compatd.tablefmt import render_json, render_markdown, render_terminal
from syscalls.table import HostWhen, Level, Syscall, parse_args


def sample() -> list[Syscall]:
    return [
        Syscall(12, "brk", Level.HOST, parse_args("brk:ptr"), reason="own heap", family="memory"),
        Syscall(
            9,
            "mmap",
            Level.PARTIAL,
            parse_args("addr:ptr length:size prot:flags/mmap_prot flags:flags/mmap_flags"),
            unsupported=("file-backed | shared",),
            host_when=(HostWhen(3, 0x20, 0x20),),
            family="memory",
        ),
        Syscall(0, "read", Level.FULL, parse_args("fd:fd buf:buf_out count:size"), family="rw"),
        Syscall(41, "socket", Level.ENOSYS, (), reason="arrives with issue 5", family="sockets"),
    ]


def test_json():
    doc = json.loads(render_json(sample()))
    assert doc["totals"] == {
        "full": 1, "partial": 1, "host": 1, "stub": 0, "enosys": 1, "total": 4
    }
    assert [s["nr"] for s in doc["syscalls"]] == [0, 9, 12, 41]
    mmap = doc["syscalls"][1]
    assert mmap["name"] == "mmap" and mmap["level"] == "partial" and mmap["family"] == "memory"
    assert mmap["args"][2] == {"name": "prot", "kind": "flags", "flagset": "mmap_prot"}
    assert mmap["unsupported"] == ["file-backed | shared"]
    assert mmap["host_when"] == [{"arg": 3, "mask": 32, "value": 32}]
    assert set(mmap) == {
        "nr", "name", "level", "family", "args", "reason", "unsupported", "host_when"
    }


def test_markdown():
    md = render_markdown(sample())
    assert "| host | 1 |" in md and "| **total** | **4** |" in md
    rows = [line for line in md.splitlines() if line.startswith("| 9 |")]
    assert len(rows) == 1
    assert "file-backed \\| shared" in rows[0]  # a pipe in a cell is escaped
    assert md.index("| 0 | read |") < md.index("| 41 | socket |")


def test_terminal():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(sample(), console)
    out = console.file.getvalue()
    for word in ("brk", "mmap", "partial", "own heap", "arrives with issue 5", "total 4"):
        assert word in out
