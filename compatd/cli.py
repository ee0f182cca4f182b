"""The command line: ``compatd run`` and ``compatd syscalls``.

A bad command line is one line on stderr and exit status 2, before anything starts.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat as st
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from compatd.errors import KernelError

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel
    from compatd.report import Recorder
    from policies.engine import Enforcer
    from vfs.mount import MountTable


class CommandLineError(Exception):
    """Bad input on the command line: reported as one line, exit status 2."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="compatd")
def cli() -> None:
    """compatd: run real Linux programs inside a Python model of the kernel."""


@dataclass(frozen=True)
class Sandbox:
    """The options ``run`` and ``policy learn`` share: the sandbox's mounts and network, and
    how the supervisor runs."""

    strict: bool = False
    notify: bool = True
    max_procs: int = 512
    trace_path: str | None = None
    pin: bool = True
    root_dir: str | None = None
    binds: tuple[str, ...] = ()
    tmpfs_paths: tuple[str, ...] = ()
    ro: bool = False
    net: str = "host"


SANDBOX_OPTIONS = (
    click.option("--strict", is_flag=True, help="A handler bug stops the run (the tests use it)."),
    click.option(
        "--notify/--no-notify",
        default=True,
        show_default=True,
        help="Answer the calls that need no ptrace stop through seccomp user notification.",
    ),
    click.option("--max-procs", type=click.IntRange(1), default=512, show_default=True,
                 help="Processes the sandbox may hold at once (fork fails with EAGAIN past "
                      "it)."),
    click.option("--trace", "trace_path", default=None, metavar="FILE",
                 help="Print every trapped call and its result to FILE ('-': stderr)."),
    click.option(
        "--pin/--no-pin",
        default=True,
        show_default=True,
        help="Keep the supervisor and the program on one CPU (a ptrace stop is then much "
             "cheaper).",
    ),
    click.option(
        "--root", "root_dir", metavar="DIR",
        help="The sandbox's / is DIR (read-only, changes kept in memory) instead of the "
             "host's /.",
    ),
    click.option(
        "--bind", "binds", metavar="HOST:SANDBOX[:ro]", multiple=True,
        help="Show the host directory HOST at SANDBOX (read-write unless :ro). Repeatable.",
    ),
    click.option(
        "--tmpfs", "tmpfs_paths", metavar="PATH", multiple=True,
        help="Mount an empty in-memory filesystem at PATH. Repeatable.",
    ),
    click.option(
        "--ro", is_flag=True,
        help="Nothing reaches the host: the cwd and read-write binds keep changes in memory.",
    ),
    click.option(
        "--net", "net", type=click.Choice(["host", "loopback", "none"]), default="host",
        show_default=True,
        help="host: the host's network; loopback: only 127.0.0.0/8 and ::1 on the host; "
             "none: a loopback network private to the sandbox.",
    ),
)  # fmt: skip
SANDBOX_FIELDS = tuple(Sandbox.__dataclass_fields__)

F = TypeVar("F", bound=Callable[..., Any])


def sandbox_options(f: F) -> F:
    """The ``Sandbox`` options, for every command that runs a program."""
    for option in reversed(SANDBOX_OPTIONS):
        f = option(f)
    return f


def split_sandbox(opts: dict[str, Any]) -> Sandbox:
    """Take the ``Sandbox`` options out of a command's keyword arguments."""
    return Sandbox(**{k: opts.pop(k) for k in SANDBOX_FIELDS})


@cli.command(context_settings={"allow_interspersed_args": False})
@sandbox_options
@click.option("--trace-all", is_flag=True, help="Trap every syscall, HOST ones included.")
@click.option(
    "--report", "report_path", metavar="FILE.json",
    help="Write what the run needed (syscalls, errors, flags, files, unsupported cases) to "
         "FILE.json and add it to the results database.",
)  # fmt: skip
@click.option("--db", "db_path", metavar="PATH",
              help="The results database (default: $XDG_DATA_HOME/compatd/results.db).")
@click.option("--no-db", is_flag=True, help="Do not add the --report to the results database.")
@click.option("--policy", "policy_name", metavar="NAME|FILE",
              help="Enforce a security policy: a bundled one (default, strict, no-network, "
                   "read-only, no-exec) or a TOML file (docs/policy.md).")
@click.option("--audit", "audit_path", metavar="FILE|-",
              help="Log every policy verdict that is not a silent allow: JSON lines to FILE, "
                   "or a live coloured view on stderr ('-').")
@click.option("--stub", "stubs", multiple=True, hidden=True)  # explore: fails with ENOSYS
@click.option("--fake", "fakes", multiple=True, hidden=True)  # explore: returns 0
@click.option("--clear", "clears", multiple=True, hidden=True)  # explore: NAME:FLAG dropped
@click.argument("program")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(trace_all: bool, report_path: str | None, db_path: str | None, no_db: bool,
        policy_name: str | None, audit_path: str | None, stubs: tuple[str, ...],
        fakes: tuple[str, ...], clears: tuple[str, ...], program: str,
        args: tuple[str, ...], **opts: Any) -> None:
    """Run PROGRAM with ARGS under compatd; exit with its status (128+N if killed by N)."""
    from compatd.kernel.kernel import shell_status
    from syscalls.table import load_all

    load_all()
    sandbox = split_sandbox(opts)
    overrides = _overrides(stubs, fakes, clears)
    if overrides and not trace_all:
        # A syscall the host runs untrapped must trap to be stubbed or faked.
        from syscalls.table import BY_NR
        trace_all = any(BY_NR[nr].runs_on_host for nr in overrides  # type: ignore[union-attr]
                        if not isinstance(overrides[nr], tuple))
    recorder = None
    after = None
    if report_path is not None:
        from compatd.report import Recorder

        check_writable(report_path, "--report")
        recorder = Recorder([program, *args], trace_all=trace_all)

        def after(kernel: Kernel, status: int | None) -> None:
            _write_report(recorder, kernel, status, report_path, db_path, no_db)

    status = execute(sandbox, program, args, trace_all=trace_all,
                     enforcer=_enforcer(policy_name, audit_path, os.getcwd().encode()),
                     overrides=overrides,
                     recorder=recorder, after=after)
    raise SystemExit(shell_status(status))


def execute(sandbox: Sandbox, program: str, args: tuple[str, ...], *, trace_all: bool = False,
            enforcer: Enforcer | None = None,
            overrides: dict[int, str | tuple[str, int, int]] | None = None,
            recorder: Recorder | None = None,
            after: Callable[[Kernel, int | None], None] | None = None) -> int:
    """Run PROGRAM with ARGS in the sandbox; the first process's wait status. ``after`` is
    called when the run ends, also when it ends by an exception (status None)."""
    from compatd import loader
    from compatd.kernel.kernel import Kernel
    from compatd.platform.ptrace import PtracePlatform
    from compatd.platform.seccomp import build_program
    from syscalls.table import filter_rules, load_all
    from vfs import ops
    from vfs.namespace import mount_proc
    from vfs.sockfs import set_net_mode

    load_all()
    set_net_mode(sandbox.net)
    ns, cwd = _namespace(os.getcwd().encode(), sandbox.root_dir, sandbox.binds,
                         sandbox.tmpfs_paths, sandbox.ro)
    root = ns.root_dentry()
    ctx = ops.PathContext(root, root, _HostCreds(), 0o022)
    try:
        cwd_dentry = ops.lookup(ctx, cwd)
    except KernelError as e:
        raise CommandLineError(f"the current directory is not reachable: {e}") from e
    ctx.start = cwd_dentry

    cpu = None
    if sandbox.pin:
        cpu = min(os.sched_getaffinity(0))
    rules = filter_rules(notify=sandbox.notify and not trace_all,
                         trapped=enforcer.traps() if enforcer is not None else frozenset())
    notify_nrs = frozenset(r.nr for r in rules if r.notify)
    platform = PtracePlatform(build_program(rules, trace_all=trace_all), pin_cpu=cpu,
                              notify_nrs=notify_nrs)
    kernel = Kernel(platform, ns, strict=sandbox.strict, trace=_open_trace(sandbox.trace_path),
                    recorder=recorder, overrides=overrides, enforcer=enforcer)
    kernel.max_procs = sandbox.max_procs
    # procfs is generated from the kernel model; mounting it is the supervisor's doing, not
    # the program's, so no policy applies.
    with enforcer.paused() if enforcer is not None else nullcontext():
        mount_proc(ns, kernel)
    # The first program is found and loaded with the policy's hooks in place: its path and
    # its ELF interpreter are checked for exec access as any later execve's are.
    exe = _find_program(ctx, program.encode(), os.environ.get("PATH", ""))
    argv = [program.encode(), *(a.encode() for a in args)]
    envp = [f"{k}={v}".encode() for k, v in os.environ.items()]
    try:
        plan = loader.prepare(ctx, exe, argv, envp)
    except KernelError as e:
        raise CommandLineError(f"{program}: {os.strerror(e.errno)}") from None
    # The terminal's Ctrl-C and Ctrl-\ reach the program (same process group); the
    # supervisor outlives them to report its status, and wakes programs waiting in an
    # emulated call so the host can deliver the signal to them.
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, kernel.terminal_signal)
    first = kernel.start(plan, cwd_dentry, _stdio())
    if recorder is not None:
        recorder.note_initial_exec(first.tid, os.fsdecode(exe))
    status = None
    try:
        status = kernel.run()
    finally:
        if after is not None:
            after(kernel, status)
    sys.stdout.flush()
    return status


def check_writable(path: str, option: str) -> None:
    """An output file's directory must take it: said before the run, not after it."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise CommandLineError(f"{option} {path}: cannot write there")


def _enforcer(policy_name: str | None, audit_path: str | None, cwd: bytes) -> Enforcer | None:
    """--policy and --audit (an audit log with no policy audits the default one); ``$CWD``
    in the policy's paths is the program's cwd in the sandbox."""
    if policy_name is None and audit_path is None:
        return None
    from policies.audit import AuditLog
    from policies.engine import Enforcer
    from policies.load import PolicyError, load_policy, path_variables

    try:
        policy = load_policy(policy_name or "default", path_variables(os.fsdecode(cwd)))
    except PolicyError as e:
        raise CommandLineError(f"--policy: {e}") from None
    audit = None
    if audit_path is not None:
        try:
            audit = AuditLog.open(audit_path)
        except OSError as e:
            raise CommandLineError(f"--audit {audit_path}: {e.strerror}") from None
    return Enforcer(policy, audit)


# Calls whose flags --clear may drop: our handlers do all their work, so a dropped flag
# really is absent (a call the host runs would still see it in its registers).
CLEARABLE = ("open", "openat", "mmap", "clone")  # explore.FLAG_CALLS


def _overrides(stubs: tuple[str, ...], fakes: tuple[str, ...], clears: tuple[str, ...] = ()
               ) -> dict[int, str | tuple[str, int, int]]:
    """--stub/--fake NAME and --clear NAME:FLAG (explore's runs): {nr: "enosys" | "fake" |
    ("clear", argument index, bits)}."""
    from syscalls.flags import FLAGSETS
    from syscalls.numbers import NUMBERS
    from syscalls.table import BY_NR

    out: dict[int, str | tuple[str, int, int]] = {}
    for spec in clears:
        name, _, flag = spec.partition(":")
        if name not in CLEARABLE:
            raise CommandLineError(f"--clear {spec}: only {', '.join(CLEARABLE)} flags")
        entry = BY_NR[NUMBERS[name]]
        assert entry is not None
        i, arg = next((i, a) for i, a in enumerate(entry.args) if a.name == "flags")
        bits = {v: b for b, v in FLAGSETS[arg.flagset or ""].items()}.get(flag)
        if not bits:
            raise CommandLineError(f"--clear {spec}: no flag {flag} in {name}")
        prev = out.get(NUMBERS[name])
        if isinstance(prev, tuple):
            bits |= prev[2]
        out[NUMBERS[name]] = ("clear", i, bits)
    for names, action in ((stubs, "enosys"), (fakes, "fake")):
        for name in names:
            if name not in NUMBERS:
                raise CommandLineError(f"--{'stub' if action == 'enosys' else 'fake'} {name}: "
                                       "no such syscall")
            out[NUMBERS[name]] = action
    return out


def _write_report(recorder: Recorder, kernel: Kernel, status: int | None, path: str,
                  db_path: str | None, no_db: bool) -> None:
    import json

    from compatd.kernel.kernel import shell_status

    doc = recorder.report(kernel, None if status is None else shell_status(status))
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    if not no_db:
        from compatd import store

        try:
            with store.connect(db_path) as con:
                store.add_run(con, doc)
        except Exception as e:  # noqa: BLE001 - the report file is written; say why not stored
            print(f"compatd: the run was not added to the results database: {e}", file=sys.stderr)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["rich", "json", "md", "html"]), default="rich",
    show_default=True, help="Terminal tables, JSON, Markdown, or one HTML page (the grid).",
)  # fmt: skip
@click.option("--db", "db_path", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Read the runs and explorations stored in the results database (PATH, or "
                   "the default one) instead of, or as well as, FILEs.")
@click.option("--program", help="With --db: only this program's runs (argv[0] or its name).")
@click.option("--syscall", "syscall_name",
              help="With --db: only runs that used this syscall, and only it shown.")
def report(files: tuple[str, ...], fmt: str, db_path: str | None, program: str | None,
           syscall_name: str | None) -> None:
    """Merge run reports (FILE.json from `compatd run --report`, or the results database)
    and show the gaps first: what the programs used that compatd lacks or only partly has,
    then everything they used."""
    import json

    from compatd import report as rep
    from compatd import store

    if not files and db_path is None:
        raise CommandLineError("report: give report files or --db")
    if (program or syscall_name) and db_path is None:
        raise CommandLineError("report: --program and --syscall filter the database (--db)")
    docs = []
    for path in files:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise CommandLineError(f"{path}: {e.strerror if isinstance(e, OSError) else e}"
                                   ) from None
        if not isinstance(doc, dict) or "syscalls" not in doc:
            raise CommandLineError(f"{path}: not a compatd run report")
        docs.append(doc)
    explored = None
    if db_path is not None:
        if db_path and not os.path.exists(db_path):
            raise CommandLineError(f"--db {db_path}: no such file")
        with store.connect(db_path or None) as con:
            docs += store.run_reports(con, program, syscall_name)
            explored = store.explorations(con, program, syscall_name)
    merged = rep.merge(docs)
    if syscall_name:
        merged["syscalls"] = {k: v for k, v in merged["syscalls"].items() if k == syscall_name}
    if fmt == "json":
        click.echo(json.dumps({**rep.summary(merged), "explorations": explored or []},
                              indent=1))
    elif fmt == "md":
        click.echo(rep.render_markdown(merged, explored), nl=False)
    elif fmt == "html":
        click.echo(rep.render_html(merged, explored), nl=False)
    else:
        from rich.console import Console

        rep.render_terminal(merged, Console(), explored)


@cli.command(context_settings={"allow_interspersed_args": False})
@click.option("--check", metavar="CMD",
              help="Judge each run by this shell command's exit status (it gets the run's "
                   "stdout on stdin and COMPATD_EXIT_STATUS) instead of the reference output.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Runs at a time.")
@click.option("--timeout", type=click.FloatRange(0.1), default=None, metavar="S",
              help="Time limit per run (default: 10x the reference run, at least 10 s).")
@click.option(
    "--format", "fmt", type=click.Choice(["rich", "json", "md"]), default="rich",
    show_default=True,
)  # fmt: skip
@click.option("--db", "db_path", metavar="PATH",
              help="The results database (default: $XDG_DATA_HOME/compatd/results.db).")
@click.option("--no-db", is_flag=True, help="Do not store the exploration.")
@click.option("--flags", "explore_flags", is_flag=True,
              help="Also one run per flag the program passes to open/openat/mmap/clone, dropped.")
@click.argument("program")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def explore(check: str | None, jobs: int, timeout: float | None, fmt: str,
            db_path: str | None, no_db: bool, explore_flags: bool, program: str,
            args: tuple[str, ...]) -> None:
    """Find which syscalls PROGRAM needs: for each one it uses, a run with the call stubbed
    (ENOSYS) and one with it faked (returns 0); each syscall is required, stubbable or
    fakeable."""
    import json
    import shutil

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from compatd import explore as ex
    from compatd import store

    if "/" not in program and shutil.which(program) is None:
        raise CommandLineError(f"{program}: command not found")
    if "/" in program and not os.access(program, os.X_OK):
        raise CommandLineError(f"{program}: not an executable file")
    err = Console(stderr=True)
    with Progress(TextColumn("[bold]explore"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err,
                  transient=False) as bar:  # fmt: skip
        task = bar.add_task("reference runs", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        try:
            result = ex.explore([program, *args], check=check, jobs=jobs, timeout=timeout,
                                progress=progress, flags=explore_flags)
        except ex.ExploreError as e:
            raise CommandLineError(f"explore: {e}") from None
    if not no_db:
        try:
            with store.connect(db_path) as con:
                store.add_exploration(con, result)
        except Exception as e:  # noqa: BLE001
            print(f"compatd: the exploration was not stored: {e}", file=sys.stderr)
    if fmt == "json":
        click.echo(json.dumps(result, indent=1))
    elif fmt == "md":
        click.echo(ex.render_markdown(result), nl=False)
    else:
        ex.render_terminal(result, Console())


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["rich", "json", "md", "html"]), default="rich",
    show_default=True,
    help="Terminal table, JSON, Markdown, or one self-contained HTML page (a grid).",
)  # fmt: skip
def syscalls(fmt: str) -> None:
    """Print the syscall table: every x86-64 number, its support level and reason."""
    from compatd import tablefmt
    from syscalls.table import REGISTRY, load_all

    load_all()
    entries = sorted(REGISTRY.values(), key=lambda e: e.nr)
    if fmt == "json":
        click.echo(tablefmt.render_json(entries))
    elif fmt == "md":
        click.echo(tablefmt.render_markdown(entries, tablefmt.load_app_syscalls()), nl=False)
    elif fmt == "html":
        click.echo(tablefmt.render_html(entries, tablefmt.load_app_syscalls()), nl=False)
    else:
        from rich.console import Console

        tablefmt.render_terminal(entries, Console())


def _namespace(cwd: bytes, root_dir: str | None, binds: tuple[str, ...],
               tmpfs_paths: tuple[str, ...], ro: bool) -> tuple[MountTable, bytes]:
    """The mount namespace the mount options ask for, and the cwd in it; a bad option is a
    ``CommandLineError``."""
    from vfs.namespace import build_namespace, parse_bind

    root = None
    if root_dir is not None:
        if not os.path.isdir(root_dir):
            raise CommandLineError(f"--root {root_dir}: not a directory")
        root = os.fsencode(os.path.abspath(root_dir))
    try:
        parsed = [parse_bind(b) for b in binds]
    except ValueError as e:
        raise CommandLineError(str(e)) from None
    for p in tmpfs_paths:
        if not p.startswith("/"):
            raise CommandLineError(f"--tmpfs {p}: the path must be absolute")
    try:
        return build_namespace(cwd, root=root, binds=parsed,
                               tmpfs_paths=[os.fsencode(p) for p in tmpfs_paths], ro=ro)
    except KernelError as e:
        raise CommandLineError(f"cannot set up the mounts: {e}") from None


class _HostCreds:
    """The supervisor's own credentials, for finding the program before the model starts."""

    def __init__(self) -> None:
        self.fsuid = os.geteuid()
        self.fsgid = os.getegid()
        self.groups = os.getgroups()

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups


def _find_program(ctx: object, name: bytes, path_env: str) -> bytes:
    """Find PROGRAM as execvp would, through the sandbox's VFS; return its sandbox path."""
    from vfs import ops

    if b"/" in name:
        candidates = [name]
    else:
        candidates = [d.encode().rstrip(b"/") + b"/" + name for d in path_env.split(":") if d]
    first_error: KernelError | None = None
    for cand in candidates:
        try:
            d = ops.lookup(ctx, cand)  # type: ignore[arg-type]
        except KernelError as e:
            first_error = first_error or e
            continue
        s = d.inode.stat()
        if st.S_ISDIR(s.mode):
            first_error = first_error or KernelError(errno.EISDIR, "is a directory")
            continue
        if not st.S_ISREG(s.mode) or not s.mode & 0o111:
            first_error = first_error or KernelError(errno.EACCES, "not an executable file")
            continue
        return cand
    why = os.strerror(first_error.errno) if first_error else "not found"
    if first_error is not None and first_error.errno == errno.ENOENT and b"/" not in name:
        why = "command not found"
    raise CommandLineError(f"{name.decode(errors='replace')}: {why}")


def _open_trace(path: str | None) -> TextIO | None:
    """--trace FILE: '-' is stderr (stdout belongs to the program)."""
    if path is None:
        return None
    if path == "-":
        return sys.stderr
    try:
        return open(path, "w")  # noqa: SIM115 - lives as long as the run
    except OSError as e:
        raise CommandLineError(f"--trace {path}: {e.strerror}") from None


def _stdio() -> dict[int, object]:
    """fds 0-2: virtual files over the supervisor's own stdio (those that are open)."""
    from vfs.hostfd import HostFdFile

    files: dict[int, object] = {}
    for fd in (0, 1, 2):
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            continue  # closed here, so closed in the program too, as natively
        files[fd] = HostFdFile(fd, flags)
    return files


def main() -> None:
    import compatd.policy_cli  # noqa: F401 - registers ``compatd policy``

    try:
        cli.main(standalone_mode=False, prog_name="compatd")
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.format_message(), err=True)
        raise SystemExit(2) from None
    except click.UsageError as e:
        click.echo(f"compatd: {e.format_message()}", err=True)
        raise SystemExit(2) from None
    except CommandLineError as e:
        click.echo(f"compatd: {e}", err=True)
        raise SystemExit(2) from None
    except click.exceptions.Abort:
        raise SystemExit(130) from None
