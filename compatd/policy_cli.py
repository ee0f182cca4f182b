"""``compatd policy``: check a policy file, learn one from a run, convert OCI seccomp
profiles to policies and back."""

from __future__ import annotations

import os
from typing import Any

import click

from compatd.cli import (
    CommandLineError,
    check_writable,
    cli,
    execute,
    sandbox_options,
    split_sandbox,
)


@cli.group()
def policy() -> None:
    """Security policies: check, learn, convert (docs/policy.md)."""


def warn(message: str) -> None:
    click.echo(f"compatd: {message}", err=True)


def write_output(text: str, target: str | None, what: str) -> None:
    """A converted file to ``target`` (stdout if None or '-')."""
    if target in (None, "-"):
        click.echo(text, nl=False)
        return
    try:
        with open(target, "w") as f:
            f.write(text)
    except OSError as e:
        raise CommandLineError(f"-o {target}: {e.strerror}") from None
    warn(f"{what} written to {target}")


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
    write_output(text, target, "learned policy")
    if status:
        warn(f"{program} failed with exit status {status}: the policy lets this failing run "
             "happen again, not necessarily a successful one")
    raise SystemExit(status)


@policy.command("import-seccomp")
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="FILE", help="Write the policy here (default: stdout).")
@click.option("--cap", "caps", metavar="CAP", multiple=True,
              help="A capability the program holds, for the profile's includes/excludes "
                   "(repeatable; default: those compatd's programs get, the bounding set).")
def import_seccomp(profile: str, output: str | None, caps: tuple[str, ...]) -> None:
    """Convert an OCI (Docker, runc) seccomp PROFILE.json into a compatd policy that decides
    syscalls as libseccomp would on x86-64; actions without an equal, and syscalls x86-64
    does not have, are reported on stderr. Exit status 1 if PROFILE is not a usable
    profile."""
    import json

    from policies.load import parse_policy
    from policies.seccomp_profile import ProfileError, cap_name, import_profile

    try:
        with open(profile) as f:
            doc = json.load(f)
        held = {cap_name(c) for c in caps} if caps else None
        text = import_profile(doc, profile, held, warn=warn)
    except OSError as e:
        raise CommandLineError(f"{profile}: {e.strerror}") from None
    except (ValueError, ProfileError) as e:  # json.JSONDecodeError is a ValueError
        click.echo(f"{profile}: {e}", err=True)
        raise SystemExit(1) from None
    parse_policy(text, output or "<stdout>")  # what we write must load: else our bug
    write_output(text, output, "policy")


@policy.command()
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["oci-seccomp"]), default="oci-seccomp",
              show_default=True, help="What to write: an OCI seccomp profile (JSON).")
@click.option("-o", "--output", metavar="OUT", help="Write it here (default: stdout).")
def export(file: str, fmt: str, output: str | None) -> None:
    """Write the syscall part of policy FILE (or a bundled policy's name) as an OCI seccomp
    profile for x86-64; what a profile cannot say (file and network rules, limits, fd
    kinds) is reported on stderr as left out."""
    import json

    from policies.load import PolicyError, load_policy
    from policies.seccomp_profile import ProfileError, export_profile

    try:
        doc = export_profile(load_policy(file), warn=warn)
    except (PolicyError, ProfileError) as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
    write_output(json.dumps(doc, indent=2) + "\n", output, "seccomp profile")
