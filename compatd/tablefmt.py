"""Render the syscall registry: a rich table for the terminal, JSON, Markdown and HTML.

``compatd syscalls --format rich|json|md|html`` calls these on ``entries()`` (the whole
registry, loaded and sorted by number). Everything shown comes from ``syscalls.table`` alone,
plus, for Markdown and HTML, the union of syscalls real programs were measured to use
(``docs/reference/app-syscalls.json``), when that file is there.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from syscalls.flags import ENUM_FIELDS, ENUM_SETS, FLAGSETS
from syscalls.table import REGISTRY, Level, Syscall, load_all

# {program: {syscall: calls}}, measured natively with strace -f (a copy of the shared
# reference, so the product does not depend on anything outside the repository).
APP_SYSCALLS = Path(__file__).resolve().parents[1] / "docs" / "reference" / "app-syscalls.json"

LEVEL_ORDER: tuple[Level, ...] = (
    Level.FULL,
    Level.PARTIAL,
    Level.HOST,
    Level.STUB,
    Level.ENOSYS,
)

LEVEL_COLOR: dict[Level, str] = {  # for HTML
    Level.FULL: "#7ccf8a",
    Level.PARTIAL: "#f2d16b",
    Level.HOST: "#8fd3e8",
    Level.STUB: "#d9a7e6",
    Level.ENOSYS: "#ef8f8f",
}

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


def flag_coverage(e: Syscall) -> list[str]:
    """Per argument with a flag set: ``flags: open (17 bits)``; the set's names are in
    ``FLAGSETS`` and the unsupported ones in ``e.unsupported``."""
    out = []
    for a in e.args:
        if a.flagset:
            names = FLAGSETS.get(a.flagset, {})
            kind = "values" if a.flagset in ENUM_SETS else "names"
            out.append(f"{a.name}: {a.flagset} ({len(names)} {kind})")
    return out


def load_app_syscalls(path: Path = APP_SYSCALLS) -> dict[str, dict[str, int]] | None:
    """The measured {program: {syscall: calls}}, or None when the file is not there."""
    try:
        return json.loads(path.read_text())
    except OSError:
        return None


def used_union(apps: Mapping[str, Mapping[str, int]]) -> dict[str, list[str]]:
    """{syscall: [programs that call it]}."""
    out: dict[str, list[str]] = {}
    for prog, calls in sorted(apps.items()):
        for name in calls:
            out.setdefault(name, []).append(prog)
    return out


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


def render_markdown(
    items: Iterable[Syscall], apps: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """Totals by level (and, given ``apps``, the same for what real programs use), then one
    table of every syscall, then the flag sets the arguments name."""
    ordered = sorted(items, key=lambda e: e.nr)
    t = totals(ordered)
    used = used_union(apps) if apps else {}
    by_name = {e.name: e for e in ordered}
    used_entries = [by_name[n] for n in used if n in by_name]
    tu = totals(used_entries)
    lines = ["# compatd syscall table", ""]
    lines.append("Generated by `compatd syscalls --format md > docs/syscalls.md`; do not edit.")
    lines.append("")
    if apps:
        lines += [
            f"Compared with the {len(used)} distinct syscalls that {len(apps)} real programs "
            "made natively (`docs/reference/app-syscalls.json`, measured with `strace -f`).",
            "",
            "| level | syscalls | used by real programs |",
            "|---|---:|---:|",
        ]
        lines += [f"| {lv.value} | {t[lv.value]} | {tu[lv.value]} |" for lv in LEVEL_ORDER]
        lines += [f"| **total** | **{t['total']}** | **{tu['total']}** |", ""]
        gaps = [e for e in sorted(used_entries, key=lambda e: e.nr)
                if e.level in (Level.ENOSYS, Level.PARTIAL)]  # fmt: skip
        if gaps:
            lines += ["## Gaps: used by real programs, not (fully) implemented", "",
                      "| nr | name | level | used by | notes |", "|---:|---|---|---|---|"]
            for e in gaps:
                lines.append(
                    f"| {e.nr} | {e.name} | {e.level.value} | {_md_cell(', '.join(used[e.name]))}"
                    f" | {_md_cell(notes(e))} |"
                )
            lines.append("")
        lines += ["## All syscalls", ""]
    else:
        lines += ["| level | syscalls |", "|---|---:|"]
        lines += [f"| {level.value} | {t[level.value]} |" for level in LEVEL_ORDER]
        lines += [f"| **total** | **{t['total']}** |", ""]
    lines += [
        "| nr | name | level | family | arguments | flag sets | notes |",
        "|---:|---|---|---|---|---|---|",
    ]
    for e in ordered:
        args = f"`{arg_spec(e)}`" if e.args else ""
        lines.append(
            f"| {e.nr} | {e.name} | {e.level.value} | {_md_cell(e.family)} | "
            f"{_md_cell(args)} | {_md_cell('; '.join(flag_coverage(e)))} | {_md_cell(notes(e))} |"
        )
    sets = sorted({a.flagset for e in ordered for a in e.args if a.flagset})
    if sets:
        lines += ["", "## Flag sets", ""]
        for name in sets:
            values = FLAGSETS.get(name, {})
            kind = "one of" if name in ENUM_SETS else "bits"
            shown = ", ".join(v for _, v in sorted(values.items()))
            if name in ENUM_FIELDS:
                mask, field = ENUM_FIELDS[name]
                kind = f"bits, with one of these in the bits {mask:#x}: " + ", ".join(
                    v for _, v in sorted(field.items()))
            lines.append(f"- **{name}** ({_md_cell(kind)}): {_md_cell(shown)}")
    return "\n".join(lines) + "\n"


def syscall_details(e: Syscall) -> list[tuple[str, str | list[str]]]:
    """The HTML details panel of one syscall (the registry's view)."""
    rows: list[tuple[str, str | list[str]]] = [("level", e.level.value), ("family", e.family)]
    if e.args:
        rows.append(("arguments", [
            f"{a.name}: {a.kind}" + (f" / {a.flagset}" if a.flagset else "") for a in e.args
        ]))  # fmt: skip
    if flag_coverage(e):
        rows.append(("flag sets", flag_coverage(e)))
    if e.reason:
        rows.append(("reason", e.reason))
    if e.unsupported:
        rows.append(("unsupported", list(e.unsupported)))
    if e.host_when:
        rows.append(("on the host when", host_when_text(e)))
    return rows


def render_html(
    items: Iterable[Syscall], apps: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """The grid of every number coloured by level; details on hover and click."""
    from compatd.htmlgrid import Cell, LegendEntry, render_page

    ordered = sorted(items, key=lambda e: e.nr)
    t = totals(ordered)
    used = used_union(apps) if apps else {}
    cells = []
    for e in ordered:
        details = syscall_details(e)
        if e.name in used:
            details.append(("used natively by", used[e.name]))
        cells.append(Cell(e.nr, e.name, e.level.value, details))
    legend = [LegendEntry(lv.value, lv.value, LEVEL_COLOR[lv], t[lv.value]) for lv in LEVEL_ORDER]
    by_name = {e.name: e for e in ordered}
    tu = totals(by_name[n] for n in used if n in by_name)
    head: tuple[str, ...] = ("level", "syscalls")
    rows: list[tuple[str, ...]] = [(lv.value, str(t[lv.value])) for lv in LEVEL_ORDER]
    rows.append(("total", str(t["total"])))
    if apps:
        head = ("level", "syscalls", f"used by {len(apps)} real programs")
        rows = [(r[0], r[1], str(tu[r[0]])) for r in rows]
    return render_page(
        "compatd syscall table",
        f"{t['total']} x86-64 syscall numbers by support level",
        cells, legend, rows, head,
    )  # fmt: skip


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
