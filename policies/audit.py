"""The audit log: one record per policy verdict that is not a silent allow.

``--audit FILE`` writes JSON lines; ``--audit -`` shows the records live on stderr, coloured
by verdict. A record: time (Unix seconds), pid, tid, syscall, args (decoded as ``--trace``
shows them), the resolved path or address the verdict is about (and which access), the
verdict (allow for audit rules, deny, kill, fake), errno for a denial, and the rule. A
limit's record names the limit (``limit``, ``max``) and what passed it (``offset``, ``size``,
``pages``) instead of a path or address.
"""

from __future__ import annotations

import errno
import json
import sys
import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compatd.kernel.task import Task
    from policies.model import Action

ACCESS_TEXT = {1: "read", 2: "write", 4: "exec", 8: "stat"}
VERDICT = {"audit": "allow", "allow": "allow", "deny": "deny", "kill": "kill", "fake": "fake"}
STYLE = {"allow": "green", "deny": "bold red", "kill": "bold magenta", "fake": "yellow"}


class AuditLog:
    def __init__(self, out: IO[str], live: bool = False) -> None:
        self.out = out
        self.live = live
        self.records = 0
        if live:
            from rich.console import Console

            self.console = Console(file=out, highlight=False, soft_wrap=True)

    @classmethod
    def open(cls, target: str) -> AuditLog:
        if target == "-":
            return cls(sys.stderr, live=True)
        return cls(open(target, "w", buffering=1))  # noqa: SIM115 - closed by close()

    def close(self) -> None:
        if not self.live:
            self.out.close()

    def record(self, task: Task | None, name: str, nr: int, args: tuple[int, ...],
               action: Action, rule: str, what: dict[str, Any]) -> None:
        rec: dict[str, Any] = {
            "time": round(time.time(), 6),
            "pid": task.group.tgid if task is not None else 0,
            "tid": task.tid if task is not None else 0,
            "syscall": name,
            "args": decoded_args(task, nr, args),
        }
        if "path" in what:
            rec["path"] = what["path"]
            rec["access"] = ACCESS_TEXT.get(what.get("access", 0), "")
        if "address" in what:
            rec["address"] = what["address"]
            rec["op"] = what.get("op", "")
        if "limit" in what:  # a [limits] entry: its name, value, and what passed it
            rec.update(what)
        verdict = VERDICT[action.kind]
        rec["verdict"] = verdict
        if action.kind == "deny":
            rec["errno"] = errno.errorcode.get(action.errno, str(action.errno))
        if action.kind == "fake":
            rec["value"] = action.value
        rec["rule"] = rule
        self.records += 1
        if not self.live:
            self.out.write(json.dumps(rec) + "\n")
            return
        target = rec.get("path") or rec.get("address") or ""
        detail = f" {rec.get('access') or rec.get('op')} {target}" if target else ""
        err = f" {rec['errno']}" if "errno" in rec else ""
        args_text = ", ".join(f"{v}" for v in rec["args"].values())
        from rich.markup import escape

        self.console.print(
            f"[dim]{rec['pid']}/{rec['tid']}[/] [{STYLE[verdict]}]{verdict}{err}[/] "
            f"{escape(f'{name}({args_text}){detail}')} [dim]· {escape(rule)}[/]")


def decoded_args(task: Task | None, nr: int, args: tuple[int, ...]) -> dict[str, str]:
    """``{argument name: text}`` by the syscall table's specs."""
    from compatd.kernel.kernel import arg_text
    from syscalls.table import BY_NR, MAX_NR

    entry = BY_NR[nr] if 0 <= nr <= MAX_NR else None
    if entry is None or task is None:
        return {}
    return {a.name: arg_text(task, raw, a) for raw, a in zip(args, entry.args, strict=False)}
