"""busybox-static applets that do not fork, natively and under compatd, compared.

Every applet is invoked as `busybox APPLET ARGS` in a fresh cwd (the same path for both runs,
prepared identically); stdout, stderr, the exit status and the files left in the cwd must be
identical. A `busybox sh -c '...'` would fork, which compatd does not support yet (issue 4),
so multi-step workflows are separate invocations, with the cwd compared after every step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from harness import Runner, compare_sequence

# A fixed time for every file the setup creates, so that `ls -l` output (which shows the
# mtime) is the same for the native and the compatd copy even when they are made in different
# minutes. The cwd itself and its parent change between the runs, so listings avoid `.`/`..`.
FIXED_TIME = 1_600_000_000

WORDS = "pear\napple\nfig\nbanana\ncherry\napple\nkiwi\ndate\nelderberry\ngrape\nlime\n"
NUMBERS = "10\n9\n100\n-3\n42\n7\n"


def setup_files(cwd: Path) -> None:
    (cwd / "words.txt").write_text(WORDS)
    (cwd / "numbers.txt").write_text(NUMBERS)
    (cwd / "empty.txt").write_text("")
    (cwd / "noeol.txt").write_text("no newline at the end")
    src = cwd / "src"
    (src / "deep" / "er").mkdir(parents=True)
    (src / "top.txt").write_text("top\n")
    (src / "deep" / "mid.txt").write_text("mid\n" * 100)
    (src / "deep" / "er" / "bottom.bin").write_bytes(bytes(range(256)) * 20)
    (src / "exec.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(src / "exec.sh", 0o755)
    os.chmod(src / "deep" / "er", 0o700)
    os.symlink("top.txt", src / "link-to-top")
    os.symlink("deep/er", src / "link-to-dir")
    for dirpath, dirnames, filenames in os.walk(cwd):
        for name in dirnames + filenames:
            os.utime(Path(dirpath) / name, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)


CASES: dict[str, list[str]] = {
    "cat-file": ["cat", "words.txt"],
    "cat-several": ["cat", "words.txt", "noeol.txt", "empty.txt", "numbers.txt"],
    "cat-missing": ["cat", "words.txt", "missing.txt"],
    "cat-host-file": ["cat", "/etc/os-release"],
    "cat-dev-null": ["cat", "/dev/null"],
    "cat-dir": ["cat", "src"],
    # ls -la shows the mtime, never the atime; /etc is on the read-only host filesystem and
    # compatd shows host metadata as it is, so the listing is byte-for-byte identical.
    "ls-la-etc": ["ls", "-la", "/etc"],
    # In the cwd: every file has FIXED_TIME; -a is left out because `.` and `..` differ.
    "ls-lR-cwd": ["ls", "-lR"],
    "ls-missing": ["ls", "missing"],
    "wc": ["wc", "words.txt"],
    "wc-several": ["wc", "words.txt", "numbers.txt", "noeol.txt", "empty.txt"],
    "wc-l-host": ["wc", "-l", "/etc/passwd"],
    "head": ["head", "-n", "3", "words.txt"],
    "head-c": ["head", "-c", "10", "words.txt"],
    "head-two-files": ["head", "-n", "2", "words.txt", "numbers.txt"],
    "sort": ["sort", "words.txt"],
    "sort-unique-reverse": ["sort", "-u", "-r", "words.txt"],
    "sort-numeric": ["sort", "-n", "numbers.txt"],
    "sort-output-file": ["sort", "-o", "sorted.txt", "words.txt"],
    "md5sum": ["md5sum", "words.txt", "src/deep/er/bottom.bin", "empty.txt"],
    "md5sum-host": ["md5sum", "/etc/passwd", "/bin/busybox"],
    "md5sum-missing": ["md5sum", "missing.txt"],
    "find-doc-gz": ["find", "/usr/share/doc", "-name", "*.gz"],
    "find-cwd": ["find", "."],
    "find-cwd-type-f": ["find", "src", "-type", "f"],
    # stat -c without times (%x %y %z and friends), inode (%i) and device (%d %D): those
    # legitimately differ between two fresh copies of the same tree.
    "stat": ["stat", "-c", "%n|%s|%F|%a|%A|%h|%u|%g|%U|%G", "words.txt", "src", "src/exec.sh",
             "empty.txt", "/etc/passwd", "/"],
    "stat-symlink": ["stat", "-c", "%N|%F|%s|%a", "src/link-to-top", "src/link-to-dir"],
    "stat-L-symlink": ["stat", "-L", "-c", "%n|%F|%s|%a", "src/link-to-top"],
    "stat-dev": ["stat", "-c", "%n|%F|%a|%t|%T", "/dev/null", "/dev/zero", "/dev/urandom"],
    "stat-missing": ["stat", "-c", "%n", "missing"],
    "mkdir-p": ["mkdir", "-p", "a/b/c"],
    "mkdir-m": ["mkdir", "-m", "700", "private"],
    "cp-r": ["cp", "-r", "src", "copy"],
    "cp-r-host-dir": ["cp", "-r", "/usr/share/doc/busybox-static", "doc-copy"],
    "rm-r": ["rm", "-r", "src"],
    "rm-missing": ["rm", "missing"],
    "true": ["true"],
    "false": ["false"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_applet(case: str, busybox: str, apps_runner: Runner) -> None:
    pair = apps_runner.compare(f"bb-{case}", [busybox, *CASES[case]], setup=setup_files)
    if case == "find-doc-gz" and pair.native.stdout != pair.compat.stdout:
        if sorted(pair.native.stdout.splitlines()) == sorted(pair.compat.stdout.splitlines()):
            pytest.fail("find lists the same names in a different order: getdents64 on hostfs "
                        "must return the host directory's order")
    pair.assert_same()


@pytest.mark.parametrize(
    ("case", "stdin"),
    [
        ("sort", WORDS.encode()),
        ("wc", WORDS.encode()),
        ("md5sum", b"stdin data\n"),
        ("cat", b"through stdin\n" * 1000),
        ("head", WORDS.encode() * 50),
    ],
)
def test_applet_stdin(case: str, stdin: bytes, busybox: str, apps_runner: Runner) -> None:
    """The applet reads its standard input (a pipe), as in `producer | busybox APPLET`."""
    argv = [busybox, case] + (["-n", "5"] if case == "head" else [])
    pair = apps_runner.compare(f"bb-stdin-{case}", argv, setup=setup_files, stdin=stdin)
    pair.assert_same()


def test_tree_workflow_in_cwd(busybox: str, apps_runner: Runner) -> None:
    """mkdir -p, cp -r, rm -r in the cwd: separate runs, the cwd compared after each."""
    steps = [
        ["mkdir", "-p", "a/b/c"],
        ["mkdir", "-p", "a/b/c"],
        ["mkdir", "a"],
        ["cp", "-r", "src", "a/b/c/"],
        ["cp", "-r", "src", "dst"],
        ["cp", "-r", "src", "dst"],
        # not -l: the copies carry the time of the copy, which differs between the two runs
        ["ls", "-R", "a", "dst"],
        ["stat", "-c", "%n|%s|%F|%a|%h", "dst/src/deep/er", "dst/deep/mid.txt", "dst/exec.sh"],
        ["rm", "-r", "a/b"],
        ["rm", "-r", "a/b"],
        ["rm", "-r", "dst", "src"],
        ["find", "."],
    ]
    seq = compare_sequence(apps_runner, "bb-tree-cwd", [[busybox, *s] for s in steps],
                           setup=setup_files)
    seq.assert_same()


def test_tree_workflow_in_tmp(busybox: str, apps_runner: Runner) -> None:
    """mkdir -p, cp -r, rm -r under /tmp. Every compatd run has its own fresh /tmp, so each
    step starts from an empty /tmp natively too, and nothing may reach the host's /tmp."""
    tmp = Path(f"/tmp/compatd-bb-{secrets.token_hex(4)}")
    steps = [
        ["mkdir", "-p", f"{tmp}/a/b/c"],
        ["mkdir", "-p", f"{tmp}/a/b/c", f"{tmp}/a/b/c/d", f"{tmp}/x"],
        ["mkdir", f"{tmp}/a/b"],
        ["cp", "-r", "src", f"{tmp}"],
        ["cp", "-r", "src", f"{tmp}/missing/dst"],
        ["rm", "-r", f"{tmp}"],
        ["rm", "-rf", f"{tmp}"],
        ["ls", "-la", f"{tmp}"],
        ["stat", "-c", "%n", f"{tmp}"],
    ]
    seq = compare_sequence(apps_runner, "bb-tree-tmp", [[busybox, *s] for s in steps],
                           setup=setup_files, fresh_host_path=tmp)
    seq.assert_same()
