"""Run a program natively and under compatd in the same fresh directory, and compare.

Both runs get the same working directory *path* (so `getcwd` and relative paths agree), each
in a fresh copy prepared by the same `setup` function. After each run the directory tree is
snapshotted (types, permission bits, file contents, symlink targets; never times or inode
numbers) and the directory is moved aside, so the two trees can be compared afterwards.

Used by tests/abi (C programs) and tests/apps (busybox and friends).
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = float(os.environ.get("COMPATD_TEST_TIMEOUT", "300"))

# The command that runs a program under compatd. --strict turns any unexpected exception in a
# handler into a crash instead of an ENOSYS, so bugs cannot hide behind a plausible errno.
# COMPATD_TEST_WRAPPER replaces it to check the tests themselves: "" runs the second run
# natively too (are the programs deterministic?), "strace -f -o /dev/null" runs it under strace.
COMPATD_RUN = [sys.executable, "-m", "compatd", "run", "--strict", "--"]
if "COMPATD_TEST_WRAPPER" in os.environ:
    COMPATD_RUN = shlex.split(os.environ["COMPATD_TEST_WRAPPER"])


def compatd_run(options: Sequence[str] = ()) -> list[str]:
    """COMPATD_RUN with more ``compatd run`` options (a COMPATD_TEST_WRAPPER takes none)."""
    if COMPATD_RUN[-1:] != ["--"]:
        return list(COMPATD_RUN)
    return [*COMPATD_RUN[:-1], *options, "--"]


def child_env() -> dict[str, str]:
    """The environment of both runs (identical, so it cannot explain a difference)."""
    env = dict(os.environ)
    env.update(LC_ALL="C", LANG="C", TZ="UTC", PYTHONPATH=str(REPO))
    env.pop("PYTHONSAFEPATH", None)
    return env


Tree = dict[str, tuple[str, ...]]


def snapshot(root: Path) -> Tree:
    """Everything under root that must agree between two runs: type, mode bits, content."""
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            perm = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                tree[rel] = ("symlink", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = ("dir", perm)
            elif stat.S_ISREG(st.st_mode):
                tree[rel] = ("file", perm, p.read_bytes().decode("latin-1"))
            else:
                tree[rel] = ("other", perm, oct(stat.S_IFMT(st.st_mode)))
    return tree


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes
    tree: Tree = field(default_factory=dict)
    siblings: list[str] = field(default_factory=list)


def run_in(
    cmd: Sequence[str], cwd: Path, stdin: bytes | None = None, timeout: float = TIMEOUT
) -> Result:
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=child_env(),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        return Result(
            list(cmd), -999, e.stdout or b"", (e.stderr or b"") + b"\n[harness: TIMEOUT]\n"
        )
    return Result(list(cmd), proc.returncode, proc.stdout, proc.stderr)


def _diff(a: bytes | str, b: bytes | str, what: str) -> str:
    sa = a.decode("utf-8", "replace") if isinstance(a, bytes) else a
    sb = b.decode("utf-8", "replace") if isinstance(b, bytes) else b
    lines = difflib.unified_diff(
        sa.splitlines(keepends=True),
        sb.splitlines(keepends=True),
        fromfile=f"native {what}",
        tofile=f"compatd {what}",
    )
    out = "".join(lines)
    if len(out) > 12000:
        out = out[:12000] + "\n[... diff truncated ...]\n"
    return out


def _tree_text(tree: Tree) -> str:
    return "".join(f"{k}: {v!r}\n" for k, v in sorted(tree.items()))


@dataclass
class Pair:
    native: Result
    compat: Result
    workdir: Path

    def differences(self, compare_tree: bool = True, compare_stderr: bool = True) -> list[str]:
        n, c = self.native, self.compat
        problems: list[str] = []
        if n.returncode != c.returncode:
            problems.append(f"exit status: native {n.returncode}, compatd {c.returncode}")
        if n.stdout != c.stdout:
            problems.append("stdout differs:\n" + _diff(n.stdout, c.stdout, "stdout"))
        if compare_stderr and n.stderr != c.stderr:
            problems.append("stderr differs:\n" + _diff(n.stderr, c.stderr, "stderr"))
        if compare_tree and n.tree != c.tree:
            problems.append(
                "files in the cwd differ:\n" + _diff(_tree_text(n.tree), _tree_text(c.tree), "cwd")
            )
        if n.siblings != c.siblings:
            problems.append(f"entries beside the cwd: native {n.siblings}, compatd {c.siblings}")
        return problems

    def report(self, problems: list[str]) -> str:
        cmd = " ".join(self.compat.argv)
        head = f"native and compatd disagree\n  cwd: {self.workdir}\n  command: {cmd}\n"
        tail = ""
        if self.compat.stderr and "stderr differs" not in "".join(problems):
            tail = "\ncompatd stderr:\n" + self.compat.stderr.decode("utf-8", "replace")[-4000:]
        return head + "\n".join(problems) + tail

    def assert_same(self, compare_tree: bool = True, compare_stderr: bool = True) -> None:
        problems = self.differences(compare_tree, compare_stderr)
        if problems:
            raise AssertionError(self.report(problems))


class Runner:
    """Creates per-test working directories under one base directory (not under /tmp: inside
    compatd, /tmp is a private tmpfs, and the cwd must be the host directory)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._count = 0

    def new_area(self, name: str) -> Path:
        self._count += 1
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]
        area = self.base / f"{self._count:03d}-{safe}"
        area.mkdir(parents=True)
        return area

    def compare(
        self,
        name: str,
        argv: Sequence[str],
        setup: Callable[[Path], None] | None = None,
        stdin: bytes | None = None,
        between: Callable[[], None] | None = None,
        options: Sequence[str] = (),
    ) -> Pair:
        """Run argv natively, then under compatd (with extra ``compatd run`` options, such
        as a policy), in the same (fresh each time) cwd."""
        area = self.new_area(name)
        work = area / "cwd"
        results: list[Result] = []
        for label, cmd in (("native", list(argv)), ("compatd", compatd_run(options) + list(argv))):
            work.mkdir()
            if setup is not None:
                setup(work)
            res = run_in(cmd, work, stdin=stdin)
            res.tree = snapshot(work)
            res.siblings = sorted(p.name for p in area.iterdir() if p.name != "cwd")
            # keep the tree for inspection; the next run gets a fresh directory at the same path
            work.rename(area / f"cwd.{label}")
            results.append(res)
            if label == "native" and between is not None:
                between()
        pair = Pair(results[0], results[1], work)
        # siblings were recorded before renaming, so the native run saw no cwd.* yet and the
        # compatd run saw cwd.native: normalise to "anything unexpected".
        pair.native.siblings = [s for s in pair.native.siblings if not s.startswith("cwd.")]
        pair.compat.siblings = [s for s in pair.compat.siblings if not s.startswith("cwd.")]
        return pair


def remove_host_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def make_base(prefix: str) -> Path:
    """A fresh directory for one test session's working directories (outside /tmp)."""
    parent = Path(os.environ.get("COMPATD_TEST_DIR", "/var/tmp"))
    parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def drop_base(base: Path) -> None:
    if os.environ.get("COMPATD_KEEP_TESTDIR"):
        print(f"\n[kept test directories in {base}]")
        return
    shutil.rmtree(base, ignore_errors=True)


@dataclass
class Step:
    argv: list[str]
    native: Result
    compat: Result


class Sequence_:
    """The results of a sequence of commands run in one cwd, natively and under compatd."""

    def __init__(self, steps: list[Step], workdir: Path) -> None:
        self.steps = steps
        self.workdir = workdir

    def assert_same(self, compare_stderr: bool = True) -> None:
        problems: list[str] = []
        for i, step in enumerate(self.steps):
            pair = Pair(step.native, step.compat, self.workdir)
            found = pair.differences(compare_tree=True, compare_stderr=compare_stderr)
            if found:
                problems.append(
                    f"step {i + 1}: {' '.join(step.argv)}\n" + "\n".join(found)
                )
        if problems:
            raise AssertionError(
                f"native and compatd disagree\n  cwd: {self.workdir}\n" + "\n\n".join(problems)
            )


def compare_sequence(
    runner: Runner,
    name: str,
    steps: Sequence[Sequence[str]],
    setup: Callable[[Path], None] | None = None,
    fresh_host_path: Path | None = None,
) -> Sequence_:
    """Run separate commands one after another in one cwd, natively and then under compatd,
    snapshotting the cwd after each. Every compatd run has its own private /tmp, so when
    fresh_host_path (a path under /tmp) is given it is removed before each native step, and
    checked to be absent from the host after each compatd step."""
    area = runner.new_area(name)
    work = area / "cwd"
    per_run: list[list[Result]] = []
    leaks: list[str] = []
    for label, prefix in (("native", []), ("compatd", COMPATD_RUN)):
        work.mkdir()
        if setup is not None:
            setup(work)
        results: list[Result] = []
        for argv in steps:
            if fresh_host_path is not None and label == "native":
                remove_host_path(fresh_host_path)
            res = run_in(prefix + list(argv), work)
            res.tree = snapshot(work)
            results.append(res)
            if fresh_host_path is not None and label == "compatd":
                if fresh_host_path.exists():
                    leaks.append(" ".join(argv))
                    remove_host_path(fresh_host_path)
        if fresh_host_path is not None:
            remove_host_path(fresh_host_path)
        work.rename(area / f"cwd.{label}")
        per_run.append(results)
    if leaks:
        raise AssertionError(f"{fresh_host_path} appeared on the host after: {leaks}")
    return Sequence_(
        [Step(list(a), n, c) for a, n, c in zip(steps, per_run[0], per_run[1], strict=True)],
        work,
    )
