"""Read a policy file (TOML) into ``policies.model.Policy``, or say precisely what is wrong.

Every error is ``PolicyError("FILE:LINE: what is wrong")``: TOML syntax errors carry the
parser's line; for a bad value the line is that of the key in its table (found in the
source text, since ``tomllib`` keeps no positions). The format: ``docs/policy.md``.
"""

from __future__ import annotations

import errno as errno_mod
import ipaddress
import os
import pwd
import re
import tomllib
from pathlib import Path
from typing import Any

from policies.groups import groups
from policies.model import (
    ACCESS_NAMES,
    ACTIONS,
    ALL_ACCESS,
    COMPARISONS,
    EXEC,
    NET_OP_NAMES,
    Action,
    AddressPattern,
    ArgCondition,
    Limits,
    Policy,
    Rule,
)
from syscalls.flags import ENUM_FIELDS, FLAGSETS
from syscalls.numbers import NUMBERS
from syscalls.table import REGISTRY, load_all

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"

DEFAULT_ERRNO = {"syscall": errno_mod.EPERM, "file": errno_mod.EACCES,
                 "network": errno_mod.EACCES}
TOP_KEYS = {"name", "description", "defaults", "limits", "rule"}
DEFAULT_KEYS = {"syscall", "file", "network"}
RULE_KEYS = {"syscall", "args", "path", "exec", "access", "connect", "bind", "action", "errno",
             "value", "comment"}
LIMIT_KEYS = {"processes": "count", "threads": "count", "open_files": "count",
              "bytes_written": "size", "file_size": "size", "cpu_seconds": "count",
              "wall_seconds": "seconds", "memory": "size"}
FD_KINDS = ("file", "dir", "pipe", "socket", "chr", "blk", "link", "anon")
# Names of masks a rule may test with (args.flags = {mask = "O_ACCMODE", value = "O_WRONLY"});
# the values of enum fields (O_WRONLY) come from syscalls.flags.ENUM_FIELDS.
VALUE_NAMES = {"open": {"O_ACCMODE": 3}}
ARG_OPS = ("all", "any", "none", "mask", "value", "in", "kind", *COMPARISONS)
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# What a path pattern may start with instead of "/": a policy file is written once and used
# from any directory by any user (docs/policy.md, "Path variables").
PATH_VARIABLES = ("$CWD", "$HOME")


class PolicyError(Exception):
    """A policy file that cannot be used; the message is ``FILE:LINE: what``."""


def bundled_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.toml"))


def path_variables(cwd: str | None = None) -> dict[str, str]:
    """``$CWD`` (the program's working directory in the sandbox; default: ours) and
    ``$HOME`` (``$HOME``, else the password entry's home)."""
    home = os.environ.get("HOME") or ""
    if not home.startswith("/"):
        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = "/"
    return {"$CWD": os.path.normpath(cwd or os.getcwd()), "$HOME": os.path.normpath(home)}


def glob_escape(text: str) -> str:
    """``text`` as a pattern that matches only itself (a directory name with ``*`` in it)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def load_policy(name_or_path: str, variables: dict[str, str] | None = None) -> Policy:
    """A bundled policy by name (``strict``) or a policy file by path. ``variables`` are the
    values of ``$CWD`` and ``$HOME`` in path patterns (default: ``path_variables()``)."""
    path = Path(name_or_path)
    if not path.exists() and "/" not in name_or_path and not name_or_path.endswith(".toml"):
        bundled = BUNDLED_DIR / f"{name_or_path}.toml"
        if not bundled.exists():
            raise PolicyError(f"{name_or_path}: no such policy file or bundled policy "
                              f"({', '.join(bundled_names())})")
        path = bundled
    try:
        text = path.read_text()
    except OSError as e:
        raise PolicyError(f"{name_or_path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{name_or_path}: not UTF-8 text") from None
    return parse_policy(text, str(path), variables)


def parse_policy(text: str, source: str, variables: dict[str, str] | None = None) -> Policy:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        line = m.group(1) if m else "1"
        raise PolicyError(f"{source}:{line}: TOML syntax: {msg}") from None
    return _Reader(text, source, variables or path_variables()).policy(doc)


class _Reader:
    """Builds a Policy from the parsed document; knows where tables and keys are."""

    def __init__(self, text: str, source: str, variables: dict[str, str]) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.variables = variables
        # [[rule]] headers in order, and the line of each [table] header.
        self.rule_lines: list[int] = []
        self.table_lines: dict[str, int] = {}
        for i, line in enumerate(self.lines, 1):
            s = line.strip()
            if re.match(r"\[\[\s*rule\s*\]\]", s):
                self.rule_lines.append(i)
            else:
                m = re.match(r"\[\s*([A-Za-z_.]+)\s*\]", s)
                if m:
                    self.table_lines.setdefault(m.group(1), i)

    # positions ----------------------------------------------------------------------------
    def span(self, start: int) -> tuple[int, int]:
        """Lines of the table whose header is at ``start`` (1-based, end exclusive)."""
        end = len(self.lines) + 1
        for i in range(start, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                end = i + 1
                break
        return start, end

    def key_line(self, start: int, key: str) -> int:
        """The line of ``key = …`` (or ``key.sub = …``) in the table headed at ``start``."""
        lo, hi = self.span(start) if start else (1, len(self.lines) + 1)
        pat = re.compile(rf"\s*{re.escape(key)}\s*[=.]")
        for i in range(lo, hi):
            if pat.match(self.lines[i - 1]):
                return i
        return start or 1

    def error(self, line: int, msg: str) -> PolicyError:
        return PolicyError(f"{self.source}:{line}: {msg}")

    # the document ---------------------------------------------------------------------------
    def policy(self, doc: dict[str, Any]) -> Policy:
        for key in doc:
            if key not in TOP_KEYS:
                hint = f"{self.source}:{self.key_line(0, key)}: unknown key {key!r}"
                raise PolicyError(f"{hint} (expected one of {', '.join(sorted(TOP_KEYS))})")
        name = doc.get("name", Path(self.source).stem)
        if not isinstance(name, str):
            raise self.error(self.key_line(0, "name"), "name must be a string")
        desc = doc.get("description", "")
        if not isinstance(desc, str):
            raise self.error(self.key_line(0, "description"), "description must be a string")
        pol = Policy(name=name, source=self.source, description=desc)
        defaults = doc.get("defaults", {})
        dline = self.table_lines.get("defaults", 0)
        if not isinstance(defaults, dict):
            raise self.error(self.key_line(0, "defaults"), "defaults must be a table")
        for key, value in defaults.items():
            if key not in DEFAULT_KEYS:
                raise self.error(self.key_line(dline, key), f"unknown default {key!r} "
                                 f"(expected {', '.join(sorted(DEFAULT_KEYS))})")
            action = self.action(value, None, None, key, self.key_line(dline, key))
            if action.kind == "fake" and key != "syscall":
                raise self.error(self.key_line(dline, key), f"fake is for syscalls, not {key}")
            setattr(pol, f"default_{key}", action)
        pol.limits = self.limits(doc.get("limits", {}))
        rules = doc.get("rule", [])
        if not isinstance(rules, list):
            raise self.error(self.key_line(0, "rule"), "rule must be an array of tables "
                             "([[rule]])")
        for i, raw in enumerate(rules):
            line = self.rule_lines[i] if i < len(self.rule_lines) else 1
            pol.rules.append(self.rule(i + 1, line, raw))
        return pol

    def limits(self, raw: Any) -> Limits:
        line = self.table_lines.get("limits", 0)
        if not isinstance(raw, dict):
            raise self.error(self.key_line(0, "limits"), "limits must be a table")
        out = Limits()
        for key, value in raw.items():
            kind = LIMIT_KEYS.get(key)
            kline = self.key_line(line, key)
            if kind is None:
                raise self.error(kline, f"unknown limit {key!r} (expected "
                                 f"{', '.join(LIMIT_KEYS)})")
            setattr(out, key, self.quantity(value, kind, key, kline))
        return out

    def quantity(self, value: Any, kind: str, key: str, line: int) -> int | float:
        if isinstance(value, bool):
            raise self.error(line, f"{key} must be a number")
        if kind == "seconds" and isinstance(value, int | float) and value > 0:
            return value
        if isinstance(value, int) and value >= 0 and (kind != "seconds"):
            return value
        if kind == "size" and isinstance(value, str):
            m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", value, re.IGNORECASE)
            if m:
                return int(m.group(1)) * SIZE_UNITS[m.group(2).upper()]
            raise self.error(line, f"{key}: {value!r} is not a size (like 512, '64K', '10M', "
                             "'1G')")
        want = "positive number" if kind == "seconds" else "non-negative integer"
        raise self.error(line, f"{key} must be a {want}, not {value!r}")

    def action(self, value: Any, err: Any, fake: Any, category: str, line: int,
               err_line: int = 0, fake_line: int = 0) -> Action:
        """``"deny"``, ``"deny:EACCES"``, ``"fake:0"``… plus a rule's ``errno``/``value``
        (given on ``err_line`` and ``fake_line``; the action's ``line`` if not)."""
        if not isinstance(value, str):
            raise self.error(line, f"action must be a string ({', '.join(ACTIONS)})")
        kind, _, extra = value.partition(":")
        if kind not in ACTIONS:
            raise self.error(line, f"unknown action {kind!r} (expected {', '.join(ACTIONS)})")
        if extra:
            if kind == "deny" and err is None:
                err, err_line = extra, line
            elif kind == "fake" and fake is None:
                fake, fake_line = extra, line
            elif kind not in ("deny", "fake"):
                raise self.error(line, f"action {kind!r} takes no ':{extra}'")
        err_line, fake_line = err_line or line, fake_line or line
        if kind == "deny":
            return Action("deny", errno=self.errno(err, category, err_line))
        if err is not None:
            raise self.error(err_line, f"errno is only for deny, not {kind!r}")
        if kind == "fake":
            if fake is None:
                raise self.error(line, "fake needs a value (value = 0, or action = 'fake:0')")
            try:
                return Action("fake", value=int(fake, 0) if isinstance(fake, str) else int(fake))
            except (TypeError, ValueError):
                raise self.error(fake_line, f"fake value {fake!r} is not an integer") from None
        if fake is not None:
            raise self.error(fake_line, f"value is only for fake, not {kind!r}")
        return Action(kind)

    def errno(self, value: Any, category: str, line: int) -> int:
        if value is None:
            return DEFAULT_ERRNO[category]
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 4096:
            return value
        if isinstance(value, str) and value in errno_mod.__dict__ and value.startswith("E"):
            return int(errno_mod.__dict__[value])
        raise self.error(line, f"unknown errno {value!r} (a name like 'EACCES' or 1..4095)")

    # rules ----------------------------------------------------------------------------------
    def rule(self, index: int, line: int, raw: Any) -> Rule:
        where = f"rule {index}"
        if not isinstance(raw, dict):
            raise self.error(line, f"{where} must be a table")
        for key in raw:
            if key not in RULE_KEYS:
                raise self.error(self.key_line(line, key), f"{where}: unknown key {key!r} "
                                 f"(expected {', '.join(sorted(RULE_KEYS))})")
        kinds = [k for k, keys in (("syscall", ("syscall",)), ("file", ("path", "exec")),
                                   ("network", ("connect", "bind")))
                 if any(x in raw for x in keys)]
        if len(kinds) != 1:
            has = f" (it has {kinds[0]} and {kinds[1]})" if kinds else ""
            raise self.error(line, f"{where}: give exactly one of syscall, path/exec or "
                             f"connect/bind{has}")
        kind = kinds[0]
        if "action" not in raw:
            raise self.error(line, f"{where}: no action ({', '.join(ACTIONS)})")
        aline = self.key_line(line, "action")
        if kind != "syscall" and str(raw["action"]).partition(":")[0] == "fake":
            raise self.error(aline, f"{where}: fake is for syscall rules")
        action = self.action(raw["action"], raw.get("errno"), raw.get("value"), kind, aline,
                             self.key_line(line, "errno"), self.key_line(line, "value"))
        comment = raw.get("comment", "")
        if not isinstance(comment, str):
            raise self.error(self.key_line(line, "comment"), f"{where}: comment must be text")
        rule = Rule(index=index, line=line, action=action, comment=comment)
        for other in ("args",):
            if other in raw and kind != "syscall":
                raise self.error(self.key_line(line, other), f"{where}: args is for syscall "
                                 "rules")
        if "access" in raw and kind != "file":
            raise self.error(self.key_line(line, "access"), f"{where}: access is for path "
                             "rules")
        if kind == "syscall":
            rule.syscalls = self.syscalls(raw["syscall"], where, self.key_line(line, "syscall"))
            rule.args = self.args(raw.get("args", {}), rule.syscalls, where,
                                  self.key_line(line, "args"))
        elif kind == "file":
            if "path" in raw and "exec" in raw:
                raise self.error(line, f"{where}: give path (with access) or exec, not both")
            key = "path" if "path" in raw else "exec"
            rule.paths = tuple(self.patterns(raw[key], where, key, self.key_line(line, key)))
            if key == "exec":
                rule.access = EXEC
            elif "access" in raw:
                rule.access = self.access(raw["access"], where, self.key_line(line, "access"))
        else:
            addrs: list[AddressPattern] = []
            ops = 0
            for key in ("connect", "bind"):
                if key in raw:
                    ops |= NET_OP_NAMES[key]
                    kline = self.key_line(line, key)
                    addrs += [self.address(a, where, kline)
                              for a in self.strings(raw[key], where, key, kline)]
            rule.addresses, rule.net_ops = tuple(addrs), ops
        return rule

    def strings(self, value: Any, where: str, key: str, line: int) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.error(line, f"{where}: {key} must be a string or a non-empty list of "
                             "strings")
        return items

    def syscalls(self, value: Any, where: str, line: int) -> frozenset[int]:
        load_all()
        known = groups()
        nrs: set[int] = set()
        for name in self.strings(value, where, "syscall", line):
            if name.startswith("@"):
                if name not in known:
                    raise self.error(line, f"{where}: unknown group {name!r} (groups: "
                                     f"{', '.join(sorted(known))})")
                nrs.update(NUMBERS[n] for n in known[name])
            elif name in NUMBERS:
                nrs.add(NUMBERS[name])
            else:
                raise self.error(line, f"{where}: unknown syscall {name!r}")
        return frozenset(nrs)

    def args(self, raw: Any, nrs: frozenset[int], where: str,
             line: int) -> tuple[ArgCondition, ...]:
        """Argument conditions; every syscall of the rule must have each named argument at
        the same position (a rule over read and write can test ``fd``)."""
        if not isinstance(raw, dict):
            raise self.error(line, f"{where}: args must be a table (args.flags = …)")
        by_name = {e.nr: e for e in REGISTRY.values()}
        out = []
        for name, spec in raw.items():
            places = set()
            for nr in nrs:
                entry = by_name[nr]
                pos = [i for i, a in enumerate(entry.args) if a.name == name]
                if not pos:
                    raise self.error(line, f"{where}: {entry.name} has no argument {name!r} "
                                     f"(it has {', '.join(a.name for a in entry.args) or 'none'})")
                places.add((pos[0], entry.args[pos[0]].kind, entry.args[pos[0]].flagset))
            if len(places) != 1:
                raise self.error(line, f"{where}: argument {name!r} differs between the rule's "
                                 "syscalls; give them separate rules")
            index, kind, flagset = places.pop()
            out.append(self.condition(index, name, kind, flagset, spec, where, line))
        return tuple(out)

    def condition(self, index: int, name: str, kind: str, flagset: str | None, spec: Any,
                  where: str, line: int) -> ArgCondition:
        def value(v: Any) -> int:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, str):
                names = {n: b for b, n in FLAGSETS.get(flagset or "", {}).items()}
                # and the names of an enum field of the set (O_RDWR, SOCK_STREAM, SIGCHLD)
                names.update((n, b) for b, n in ENUM_FIELDS.get(flagset or "", (0, {}))[1].items())
                names.update(VALUE_NAMES.get(flagset or "", {}))
                bits = 0
                for part in v.split("|"):
                    part = part.strip()
                    if part in names:
                        bits |= names[part]
                    elif re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", part):
                        bits |= int(part, 0)
                    else:
                        known = f" ({flagset} names)" if flagset else ""
                        raise self.error(line, f"{where}: args.{name}: unknown value "
                                         f"{part!r}{known}")
                return bits
            raise self.error(line, f"{where}: args.{name}: {v!r} is not a number or a name")

        if not isinstance(spec, dict):
            items = spec if isinstance(spec, list) else [spec]
            return ArgCondition(index, name, "eq", tuple(value(v) for v in items))
        ops = [k for k in spec if k in ARG_OPS]
        unknown = [k for k in spec if k not in ARG_OPS]
        if unknown or not ops:
            raise self.error(line, f"{where}: args.{name}: use one of {', '.join(ARG_OPS)}"
                             f"{f' (not {unknown[0]!r})' if unknown else ''}")
        if set(ops) == {"mask", "value"}:
            return ArgCondition(index, name, "masked", (value(spec["mask"]), value(spec["value"])))
        if len(ops) != 1 or ops[0] in ("mask", "value"):
            raise self.error(line, f"{where}: args.{name}: one test per argument (mask goes "
                             "with value)")
        op = ops[0]
        arg = spec[op]
        if op == "kind":
            if kind != "fd":
                raise self.error(line, f"{where}: args.{name}: kind is for fd arguments")
            kinds = [arg] if isinstance(arg, str) else arg
            if not isinstance(kinds, list) or any(k not in FD_KINDS for k in kinds):
                raise self.error(line, f"{where}: args.{name}.kind: one or more of "
                                 f"{', '.join(FD_KINDS)}")
            return ArgCondition(index, name, "kind", kinds=tuple(kinds))
        if op in COMPARISONS:
            if isinstance(arg, list):
                raise self.error(line, f"{where}: args.{name}.{op}: one value (for several, "
                                 "give separate rules)")
            return ArgCondition(index, name, op, (value(arg),))
        items = arg if isinstance(arg, list) else [arg]
        if op == "in":
            return ArgCondition(index, name, "eq", tuple(value(v) for v in items))
        bits = 0
        for v in items:
            bits |= value(v)
        return ArgCondition(index, name, op, (bits,))

    def patterns(self, value: Any, where: str, key: str, line: int) -> list[str]:
        out = []
        for p in self.strings(value, where, key, line):
            if "***" in p or re.search(r"[^/]\*\*|\*\*[^/]", p):
                raise self.error(line, f"{where}: {key} {p!r}: ** must be a whole component")
            out.append(self.expand(p, where, key, line))
        return out

    def expand(self, pattern: str, where: str, key: str, line: int) -> str:
        """``$CWD/src/**`` -> ``/home/me/proj/src/**``: the variable's value matches itself
        only (its glob characters are escaped); ``$CWD`` of ``/`` adds no second slash."""
        if pattern.startswith("/"):
            return pattern
        m = re.match(r"\$[A-Za-z_]+", pattern)
        if m is None:
            raise self.error(line, f"{where}: {key} {pattern!r} must be absolute (start with "
                             f"/ or {' or '.join(PATH_VARIABLES)})")
        if m.group() not in self.variables:
            raise self.error(line, f"{where}: {key} {pattern!r}: unknown variable "
                             f"{m.group()!r} (known: {', '.join(PATH_VARIABLES)})")
        rest = pattern[m.end():]
        if rest and not rest.startswith("/"):
            raise self.error(line, f"{where}: {key} {pattern!r}: a / must follow {m.group()}")
        value = self.variables[m.group()].rstrip("/")
        return glob_escape(value) + rest if value or rest else "/"

    def access(self, value: Any, where: str, line: int) -> int:
        bits = 0
        for name in self.strings(value, where, "access", line):
            if name == "all":
                bits |= ALL_ACCESS
            elif name in ACCESS_NAMES:
                bits |= ACCESS_NAMES[name]
            else:
                raise self.error(line, f"{where}: unknown access {name!r} (expected "
                                 f"{', '.join(ACCESS_NAMES)} or all)")
        return bits

    def address(self, text: str, where: str, line: int) -> AddressPattern:
        """``*``, ``*:53``, ``10.0.0.0/8``, ``10.0.0.0/8:80``, ``1.2.3.4:22``, ``::1``,
        ``[::1]:80-90``, ``[fd00::/8]:443``."""
        host, port = text, ""
        m = re.fullmatch(r"\[([^\]]+)\](?::(.+))?", text)
        if m:
            host, port = m.group(1), m.group(2) or ""
        elif text.count(":") == 1:
            host, port = text.split(":")
        low, high = 0, 65535
        if port and port != "*":
            pm = re.fullmatch(r"(\d+)(?:-(\d+))?", port)
            if not pm or int(pm.group(1)) > 65535 or int(pm.group(2) or pm.group(1)) > 65535:
                raise self.error(line, f"{where}: {text!r}: bad port {port!r}")
            low, high = int(pm.group(1)), int(pm.group(2) or pm.group(1))
            if low > high:
                raise self.error(line, f"{where}: {text!r}: empty port range")
        if host == "*":
            return AddressPattern(None, low, high)
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError:
            raise self.error(line, f"{where}: {text!r} is not an address, network or *"
                             ) from None
        return AddressPattern(str(net), low, high)
