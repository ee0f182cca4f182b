"""Render the syscall registry: a rich table for the terminal, JSON and Markdown.

``compatd syscalls --format rich|json|md`` calls these on ``entries()`` (the whole registry,
loaded and sorted by number). Everything shown comes from ``syscalls.table`` alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from syscalls.table import REGISTRY, Level, Syscall, load_all

LEVEL_ORDER: tuple[Level, ...] = (
    Level.FULL,
    Level.PARTIAL,
    Level.HOST,
    Level.STUB,
    Level.ENOSYS,
)

LEVEL_STYLE: dict[Level, str] = {
    Level.FULL: "bold green",
    Level.PARTIAL: "yellow",
    Level.HOST: "cyan",
    Level.STUB: "magenta",
    Level.ENOSYS: "red",
}


def entries() -> list[Syscall]:
    """Every registered syscall, by number (imports all handler modules first)."""
    load_all()
    return sorted(REGISTRY.values(), key=lambda e: e.nr)


def totals(items: Iterable[Syscall]) -> dict[str, int]:
    """Counts by level (every level present, in LEVEL_ORDER) plus ``total``."""
    counts = Counter(e.level for e in items)
    out = {level.value: counts.get(level, 0) for level in LEVEL_ORDER}
    out["total"] = sum(counts.values())
    return out


def arg_spec(e: Syscall) -> str:
    """Arguments as ``name:kind[/flagset]`` words, the form the table declares them in."""
    return " ".join(f"{a.name}:{a.kind}" + (f"/{a.flagset}" if a.flagset else "") for a in e.args)


def host_when_text(e: Syscall) -> list[str]:
    return [f"(arg{c.arg} & {c.mask:#x}) == {c.value:#x}" for c in e.host_when]


def notes(e: Syscall) -> str:
    """Reason, unsupported cases and host conditions, as one line of prose."""
    parts = []
    if e.reason:
        parts.append(e.reason)
    if e.unsupported:
        parts.append("unsupported: " + "; ".join(e.unsupported))
    if e.host_when:
        parts.append("on the host when " + " and ".join(host_when_text(e)))
    return " — ".join(parts)


def to_dict(e: Syscall) -> dict[str, Any]:
    return {
        "nr": e.nr,
        "name": e.name,
        "level": e.level.value,
        "family": e.family,
        "args": [{"name": a.name, "kind": a.kind, "flagset": a.flagset} for a in e.args],
        "reason": e.reason,
        "unsupported": list(e.unsupported),
        "host_when": [{"arg": c.arg, "mask": c.mask, "value": c.value} for c in e.host_when],
    }


def render_json(items: Iterable[Syscall]) -> str:
    """``{"totals": {level: n, ..., "total": n}, "syscalls": [...]}``, by number."""
    ordered = sorted(items, key=lambda e: e.nr)
    doc = {"totals": totals(ordered), "syscalls": [to_dict(e) for e in ordered]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(items: Iterable[Syscall]) -> str:
    """Totals by level, then one table of every syscall."""
    ordered = sorted(items, key=lambda e: e.nr)
    t = totals(ordered)
    lines = ["# compatd syscall table", "", "| level | syscalls |", "|---|---:|"]
    lines += [f"| {level.value} | {t[level.value]} |" for level in LEVEL_ORDER]
    lines += [f"| **total** | **{t['total']}** |", ""]
    lines += [
        "| nr | name | level | family | arguments | notes |",
        "|---:|---|---|---|---|---|",
    ]
    for e in ordered:
        args = f"`{arg_spec(e)}`" if e.args else ""
        lines.append(
            f"| {e.nr} | {e.name} | {e.level.value} | {_md_cell(e.family)} | "
            f"{_md_cell(args)} | {_md_cell(notes(e))} |"
        )
    return "\n".join(lines) + "\n"


def render_terminal(items: Iterable[Syscall], console: Console) -> None:
    """A rich table with the level coloured, then the totals."""
    ordered = sorted(items, key=lambda e: e.nr)
    table = Table(title="compatd syscall table", show_lines=False, expand=False)
    table.add_column("nr", justify="right", style="dim", no_wrap=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("arguments", overflow="fold")
    table.add_column("reason / unsupported", overflow="fold")
    for e in ordered:
        table.add_row(
            str(e.nr),
            e.name,
            Text(e.level.value, style=LEVEL_STYLE[e.level]),
            e.family,
            arg_spec(e),
            notes(e),
        )
    console.print(table)
    t = totals(ordered)
    summary = Text()
    for level in LEVEL_ORDER:
        summary.append(f"{level.value} {t[level.value]}", style=LEVEL_STYLE[level])
        summary.append("  ")
    summary.append(f"total {t['total']}", style="bold")
    console.print(summary)
