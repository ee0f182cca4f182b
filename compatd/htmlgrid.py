"""One self-contained HTML page: a grid of every x86-64 syscall number, coloured by class.

Used by ``compatd syscalls --format html`` (coloured by support level) and ``compatd report
--format html`` (coloured by use and support). No network resources: the CSS, the script and
the data are inline. Each cell shows its number and name; hovering shows its details in the
side panel, clicking pins them there (click again or press Escape to unpin); the filter box
dims the cells whose name does not match. Once built, ``<body data-cells="N">`` says how
many cells the grid has; an uncaught script error is appended to ``data-errors`` (the
headless-browser test reads both from the DOM).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cell:
    nr: int
    name: str
    cls: str  # a key of the legend
    # The details panel: (label, text) rows, or (label, [items]) rows shown as a list.
    details: list[tuple[str, str | list[str]]] = field(default_factory=list)
    badge: str = ""  # a short figure under the name (calls, for reports)


@dataclass
class LegendEntry:
    cls: str
    label: str
    color: str
    count: int = 0


_CSS = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;
 background:#f6f7f9}
header{padding:14px 20px;background:#1d232a;color:#fff}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1d9}
main{display:flex;gap:16px;padding:16px 20px;align-items:flex-start}
#grid{flex:1;display:grid;grid-template-columns:repeat(auto-fill,minmax(84px,1fr));gap:3px}
.cell{border-radius:4px;padding:3px 4px;min-height:44px;cursor:pointer;overflow:hidden;
 border:2px solid transparent;color:#111}
.cell .nr{font-size:10px;opacity:.75}
.cell .nm{font-size:11px;font-weight:600;white-space:nowrap;overflow:hidden;
 text-overflow:ellipsis}
.cell .bd{font-size:10px;opacity:.8}
.cell:hover{border-color:#1d232a}
.cell.pinned{border-color:#0057d9;box-shadow:0 0 0 2px #0057d9}
.cell.dim{opacity:.18}
aside{width:380px;position:sticky;top:12px;background:#fff;border:1px solid #d0d7de;
 border-radius:6px;padding:12px 14px;max-height:calc(100vh - 24px);overflow:auto}
aside h2{margin:0 0 6px;font-size:18px}
aside dl{margin:0}
aside dt{font-weight:600;margin-top:8px;font-size:12px;text-transform:uppercase;color:#57606a}
aside dd{margin:2px 0 0;word-break:break-word}
aside ul{margin:2px 0 0;padding-left:18px}
.legend{display:flex;flex-wrap:wrap;gap:10px;margin:10px 20px 0}
.legend span{display:inline-flex;align-items:center;gap:5px;font-size:13px}
.legend i{display:inline-block;width:14px;height:14px;border-radius:3px}
.tools{margin:10px 20px 0}
.tools input{padding:4px 8px;width:260px;border:1px solid #d0d7de;border-radius:4px}
.summary{margin:10px 20px 0}
.summary table{border-collapse:collapse;background:#fff}
.summary td,.summary th{border:1px solid #d0d7de;padding:2px 8px;text-align:left}
"""

_ERRORS_JS = """
window.addEventListener('error', function(e){
  document.body.setAttribute('data-errors',
    (document.body.getAttribute('data-errors') || '') + e.message + ';');
});
"""

_JS = """
(function(){
  var data = JSON.parse(document.getElementById('cells').textContent);
  var grid = document.getElementById('grid');
  var panel = document.getElementById('panel');
  var colors = JSON.parse(document.getElementById('colors').textContent);
  var pinned = null;
  function el(tag, cls, text){
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function show(c){
    panel.textContent = '';
    panel.appendChild(el('h2', null, c.name + ' (' + c.nr + ')'));
    var dl = el('dl');
    c.details.forEach(function(row){
      dl.appendChild(el('dt', null, row[0]));
      var dd = el('dd');
      if (Array.isArray(row[1])) {
        var ul = el('ul');
        row[1].forEach(function(item){ ul.appendChild(el('li', null, item)); });
        dd.appendChild(ul);
      } else {
        dd.textContent = row[1];
      }
      dl.appendChild(dd);
    });
    panel.appendChild(dl);
  }
  data.forEach(function(c){
    var d = el('div', 'cell');
    d.style.background = colors[c.cls] || '#ddd';
    d.title = c.nr + ' ' + c.name;
    d.dataset.name = c.name;
    d.appendChild(el('div', 'nr', String(c.nr)));
    d.appendChild(el('div', 'nm', c.name));
    if (c.badge) d.appendChild(el('div', 'bd', c.badge));
    d.addEventListener('mouseenter', function(){ if (!pinned) show(c); });
    d.addEventListener('click', function(){
      if (pinned) pinned.classList.remove('pinned');
      if (pinned === d) { pinned = null; return; }
      pinned = d; d.classList.add('pinned'); show(c);
    });
    grid.appendChild(d);
  });
  document.body.setAttribute('data-cells', String(grid.children.length));
  document.addEventListener('keydown', function(e){
    if (e.key === 'Escape' && pinned) { pinned.classList.remove('pinned'); pinned = null; }
  });
  var filter = document.getElementById('filter');
  filter.addEventListener('input', function(){
    var q = filter.value.trim().toLowerCase();
    Array.prototype.forEach.call(grid.children, function(d){
      d.classList.toggle('dim', q !== '' && d.dataset.name.indexOf(q) < 0);
    });
  });
})();
"""


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` or ``<!--`` can appear)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(
    title: str,
    subtitle: str,
    cells: Sequence[Cell],
    legend: Sequence[LegendEntry],
    summary_rows: Sequence[tuple[str, ...]] = (),
    summary_head: tuple[str, ...] = (),
) -> str:
    """The whole page; ``summary_rows`` make a small table above the grid."""
    esc = html.escape
    data = [
        {"nr": c.nr, "name": c.name, "cls": c.cls, "badge": c.badge,
         "details": [[k, v] for k, v in c.details]}
        for c in sorted(cells, key=lambda c: c.nr)
    ]  # fmt: skip
    colors = {le.cls: le.color for le in legend}
    legend_html = "".join(
        f'<span><i style="background:{esc(le.color)}"></i>{esc(le.label)} ({le.count})</span>'
        for le in legend
    )
    summary_html = ""
    if summary_rows:
        head = "".join(f"<th>{esc(h)}</th>" for h in summary_head)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>" for row in summary_rows
        )
        summary_html = f'<div class="summary"><table><tr>{head}</tr>{body}</table></div>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>
<div class="legend">{legend_html}</div>
{summary_html}
<div class="tools"><input id="filter" type="search" placeholder="filter by name"
 aria-label="filter by name"></div>
<main>
<div id="grid" aria-label="syscall grid"></div>
<aside id="panel"><h2>Details</h2><p>Hover over a syscall; click to pin it.</p></aside>
</main>
<script>{_ERRORS_JS}</script>
<script type="application/json" id="cells">{_script_json(data)}</script>
<script type="application/json" id="colors">{_script_json(colors)}</script>
<script>{_JS}</script>
</body>
</html>
"""
