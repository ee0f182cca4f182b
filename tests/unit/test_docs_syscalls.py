"""docs/syscalls.md is generated from the registry and must not go stale; the HTML page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from compatd.tablefmt import (
    APP_SYSCALLS,
    entries,
    load_app_syscalls,
    render_html,
    render_markdown,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "syscalls.md"
REGENERATE = "python3 -m compatd syscalls --format md > docs/syscalls.md"


def test_docs_syscalls_md_is_current():
    expected = render_markdown(entries(), load_app_syscalls())
    current = DOC.read_text() if DOC.exists() else ""
    assert current == expected, (
        f"docs/syscalls.md is stale (the syscall table changed). Regenerate it with:\n"
        f"    {REGENERATE}"
    )


def test_reference_copy_is_in_the_repo():
    apps = json.loads(APP_SYSCALLS.read_text())
    assert "ls" in apps and all(isinstance(v, dict) for v in apps.values())


def test_markdown_compares_with_real_programs():
    md = render_markdown(entries(), {"prog": {"read": 3, "kexec_load": 1},
                                     "other": {"read": 1}})
    assert "2 distinct syscalls that 2 real programs" in md
    assert "| **total** | **384** | **2** |" in md
    gaps = md.split("## Gaps")[1].split("## All syscalls")[0]
    assert "| 246 | kexec_load | enosys | prog |" in gaps and "| read |" not in gaps
    assert "- **open** (bits, with one of these in the bits 0x3: O_RDONLY" in md


def test_html_page_is_self_contained():
    page = render_html(entries(), load_app_syscalls())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no network resources
    data = re.search(r'<script type="application/json" id="cells">(.*?)</script>', page, re.S)
    cells = json.loads(data.group(1))
    assert len(cells) == 384 and len({c["nr"] for c in cells}) == 384
    openat = next(c for c in cells if c["name"] == "openat")
    details = dict((k, v) for k, v in openat["details"])
    assert details["level"] == "partial"
    assert any("open" in x for x in details["flag sets"])
    assert details["unsupported"]


CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if Path(p).exists()), None)  # fmt: skip
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800"]


def headless_check(page: Path, shot: Path) -> None:
    """Render ``page`` in headless Chromium: the script built all 384 cells with no uncaught
    error (the page records both in <body>), and a screenshot is taken."""
    dom = subprocess.run([CHROMIUM, *HEADLESS, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    assert 'data-cells="384"' in body.group(0), body.group(0)
    assert "data-errors" not in body.group(0), body.group(0)
    proc = subprocess.run([CHROMIUM, *HEADLESS, f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 10000, proc.stderr[-2000:]
    keep = os.environ.get("COMPATD_KEEP_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (/usr/bin/chromium); apt-get install "
    "chromium to run the headless rendering test")


@needs_chromium
def test_html_renders_in_headless_chromium(tmp_path: Path):
    page = tmp_path / "syscalls.html"
    page.write_text(render_html(entries(), load_app_syscalls()))
    headless_check(page, tmp_path / "syscalls.png")


@needs_chromium
def test_headless_check_sees_script_errors(tmp_path: Path):
    page = tmp_path / "broken.html"
    html = render_html(entries(), None).replace("(function(){", "nope();(function(){")
    page.write_text(html)
    with pytest.raises(AssertionError):
        headless_check(page, tmp_path / "broken.png")


@needs_chromium
def test_report_html_renders_in_headless_chromium(tmp_path: Path):
    from compatd.report import merge
    from compatd.report import render_html as report_html

    doc = {"kind": "run", "program": "prog", "total_calls": 3, "syscalls": {
        "read": {"nr": 0, "level": "full", "calls": 2, "errors": {"EAGAIN": 1}},
        "fcntl": {"nr": 72, "level": "partial", "calls": 1, "errors": {"EINVAL": 1},
                  "unsupported": {"F_SETSIG": 1},
                  "flags": {"cmd": {"set": "fcntl_cmd", "values": {"F_SETSIG": 1}}}},
        "socket": {"nr": 41, "level": "enosys", "calls": 1, "errors": {"ENOSYS": 1}}}}
    page = tmp_path / "report.html"
    page.write_text(report_html(merge([doc])))
    headless_check(page, tmp_path / "report.png")
