"""``compatd policy``: check a policy file (learn, import-seccomp and export join it)."""

from __future__ import annotations

import click

from compatd.cli import cli


@cli.group()
def policy() -> None:
    """Security policies: check, learn, convert (docs/policy.md)."""


@policy.command()
@click.argument("file")
def check(file: str) -> None:
    """Validate FILE (or a bundled policy's name) and summarise it; a problem is reported as
    FILE:LINE: what, with exit status 1."""
    from policies.load import PolicyError, load_policy

    try:
        pol = load_policy(file)
    except PolicyError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
    kinds = {"syscall": 0, "file": 0, "network": 0}
    for rule in pol.rules:
        kinds[rule.kind] += 1
    click.echo(f"{pol.source}: policy {pol.name!r} is valid: "
               f"{kinds['syscall']} syscall, {kinds['file']} file and {kinds['network']} "
               f"network rules")
    for cat in ("syscall", "file", "network"):
        action = getattr(pol, f"default_{cat}")
        extra = f" ({action.errno})" if action.kind == "deny" else ""
        click.echo(f"  default {cat}: {action.kind}{extra}")
    limits = {k: getattr(pol.limits, k) for k in pol.limits.__slots__  # type: ignore[attr-defined]
              if getattr(pol.limits, k) is not None}
    if limits:
        click.echo("  limits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
