"""Writing policy files: the few TOML forms generated policies (``policy learn``,
``policy import-seccomp``) use, so that what they write reads like a hand-written policy and
loads back exactly."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_TOML_INT = (1 << 63) - 1


def value(x: Any) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), integers in
    decimal (large masks in hex; past TOML's 64-bit signed range as a ``"0x…"`` string,
    which rules also accept), lists one item per line when long, dicts as inline tables."""
    if isinstance(x, str):
        return json.dumps(x)
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        if x > MAX_TOML_INT:
            return json.dumps(hex(x))
        return hex(x) if x > 0xFFFF else str(x)
    if isinstance(x, dict):
        return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in x.items()) + " }"
    items = [value(i) for i in x]
    inline = "[" + ", ".join(items) + "]"
    if len(inline) <= 72:
        return inline
    return "[\n" + "".join(f"    {i},\n" for i in items) + "]"


def comment(text: str) -> str:
    """``# text``: a comment ends at a line break, so control characters are escaped."""
    return "# " + re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def head(comments: list[str], name: str, description: str, defaults: dict[str, str]
         ) -> list[str]:
    """The lines before the rules: comments, name, description and [defaults]."""
    out = [comment(c) for c in comments]
    out += [f"name = {value(name)}", f"description = {value(description)}", "", "[defaults]"]
    out += [f"{k} = {value(v)}" for k, v in defaults.items()]
    return out


def rule(fields: dict[str, Any]) -> list[str]:
    """One ``[[rule]]`` table (a blank line before it); None values are left out."""
    return ["", "[[rule]]", *(f"{k} = {value(v)}" for k, v in fields.items() if v is not None)]
