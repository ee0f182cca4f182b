"""``compatd policy``: check a policy file (learn, import-seccomp and export join it)."""

from __future__ import annotations

import os
from typing import Any

import click

from compatd.cli import check_writable, cli, execute, sandbox_options, split_sandbox


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


@policy.command(context_settings={"allow_interspersed_args": False})
@click.option("-o", "--output", metavar="FILE",
              help="Where to write the policy (default: PROG.policy.toml; '-': stdout, after "
                   "the program's own output).")
@sandbox_options
@click.argument("program")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def learn(output: str | None, program: str, args: tuple[str, ...], **opts: Any) -> None:
    """Run PROGRAM with ARGS allowing everything, and write the smallest policy under which
    the same run succeeds: deny by default; allow the syscalls it made, the files it used
    (by access; system directories and directory listings generalised) and the addresses it
    connected to or bound. Exit with PROGRAM's status; the policy is written even when
    PROGRAM fails."""
    from compatd.kernel.kernel import shell_status
    from policies.learn import Learner, render_policy
    from policies.load import parse_policy

    target = output or f"{os.path.basename(program)}.policy.toml"
    if target != "-":
        check_writable(target, "-o")
    learner = Learner()
    status = shell_status(execute(split_sandbox(opts), program, args, enforcer=learner))
    text = render_policy(learner.observations(), [program, *args], status)
    parse_policy(text, target)  # what we write must load: a PolicyError here is our bug
    if target == "-":
        click.echo(text, nl=False)
    else:
        with open(target, "w") as f:
            f.write(text)
    failed = (f" ({program} failed with exit status {status}: the policy lets this failing "
              "run happen again, not necessarily a successful one)") if status else ""
    click.echo(f"compatd: learned policy written to {target}{failed}", err=True)
    raise SystemExit(status)
