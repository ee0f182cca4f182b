"""Path rules decide on the whole path the resolver reached (policies/engine.py)."""

from __future__ import annotations

import errno

import pytest

from compatd.errors import KernelError
from policies.engine import Enforcer
from policies.load import parse_policy
from policies.model import READ, STAT

POLICY = """
[defaults]
file = "deny"
[[rule]]
path = "/etc"
access = ["read", "stat"]
action = "allow"
[[rule]]
path = ["/etc/passwd", "/usr/lib/**"]
access = "read"
action = "allow"
"""


def verdict(path: str, access: int) -> int:
    """0 if allowed, else the errno."""
    enforcer = Enforcer(parse_policy(POLICY, "test.toml"))
    try:
        enforcer.check_path(path, access, None)
    except KernelError as e:
        return e.errno
    return 0


@pytest.mark.parametrize(("path", "access", "expected"), [
    ("/etc", READ, 0),
    ("/etc/passwd", READ, 0),
    ("/usr/lib/x/libc.so.6", READ, 0),
    # A rule for /etc, earlier than the one that matches the end, is no prefix match.
    ("/etc/shadow", READ, errno.EACCES),
    ("/etc/passwd.bak", READ, errno.EACCES),
    ("/etc/passwd", STAT, errno.EACCES),
])
def test_a_pattern_matches_the_whole_path(path: str, access: int, expected: int) -> None:
    assert verdict(path, access) == expected
