"""Multi-process programs, natively and under compatd: shells, make, gcc, git, python3.

These are the processes issue's acceptance workloads: fork, vfork, exec through our loader,
wait, pipes, signals, process groups; output, exit status and produced files must match.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import Runner

SCRIPT = r"""
echo "start"
x=$(echo sub | tr a-z A-Z); echo "subst: $x"
(cd /; echo "subshell in $(pwd)"); echo "back in $(basename "$PWD")"
cat <<EOT | sort -r
alpha
beta
gamma
EOT
sleep 0.2 & bg=$!
wait $bg; echo "bg status $?"
trap 'echo got USR1' USR1
kill -USR1 $$
(exit 7); echo "exit code $?"
for i in 1 2 3; do printf '%s ' "$i"; done; echo
yes | head -2
echo piped | cat /proc/self/fd/0; (sleep 0.1; echo late) | cat /dev/stdin
echo done > out.txt
exit 3
"""


def need(*programs: str) -> None:
    for p in programs:
        if shutil.which(p) is None:
            pytest.skip(f"{p} is not installed (scripts/test installs it)")


def test_bash_script(apps_runner: Runner) -> None:
    need("bash")
    pair = apps_runner.compare(
        "bash-script", ["/bin/bash", "script.sh"],
        setup=lambda d: (d / "script.sh").write_text(SCRIPT + 'echo "${PIPESTATUS[*]}"\n'),
    )
    assert pair.native.returncode == 3
    pair.assert_same()


def test_busybox_sh_script(apps_runner: Runner, busybox: str) -> None:
    pair = apps_runner.compare(
        "busybox-sh-script", [busybox, "sh", "script.sh"],
        setup=lambda d: (d / "script.sh").write_text(SCRIPT),
    )
    assert pair.native.returncode == 3
    pair.assert_same()


MAKEFILE = """\
all: b.txt
\t@echo all done
a.txt:
\techo A > a.txt
b.txt: a.txt
\tcat a.txt a.txt > b.txt
clean:
\trm -f a.txt b.txt
"""


def test_make(apps_runner: Runner) -> None:
    need("make")
    pair = apps_runner.compare(
        "make", ["/bin/sh", "-c", "make && make && make clean && ls"],
        setup=lambda d: (d / "Makefile").write_text(MAKEFILE),
    )
    assert pair.native.returncode == 0
    pair.assert_same()


def test_gcc_builds_a_program_that_runs_in_the_sandbox(apps_runner: Runner) -> None:
    need("gcc")
    pair = apps_runner.compare(
        "gcc", ["/bin/sh", "-c", "gcc hello.c -o hello && ./hello"],
        setup=lambda d: (d / "hello.c").write_text(
            '#include <stdio.h>\nint main(void){puts("hello from gcc");return 0;}\n'),
    )
    assert pair.native.stdout == b"hello from gcc\n"
    # The produced binaries differ in nothing that matters, but a linker build id may: compare
    # what runs, not the bytes.
    pair.assert_same(compare_tree=False)


def test_git_init_add_commit_log(apps_runner: Runner) -> None:
    need("git")
    script = ("git init -q && git add -A && git -c user.name=t -c user.email=t@example.com "
              "-c commit.gpgsign=false commit -q -m x && git log --format=%s && "
              "git status --short && git ls-files")
    pair = apps_runner.compare(
        "git", ["/bin/sh", "-c", script],
        setup=lambda d: ((d / "a.txt").write_text("a\n"), (d / "b.txt").write_text("b\n")),
    )
    assert pair.native.returncode == 0
    # .git holds times and hashes of commit objects that differ run to run.
    pair.assert_same(compare_tree=False)


PY = """
import os, signal, subprocess, threading
print("subprocess rc", subprocess.run(["/bin/echo", "from a child"]).returncode)
print("captured", subprocess.run(["/bin/echo", "hi"], stdout=subprocess.PIPE).stdout)
out = []
lock = threading.Lock()
def work(i):
    with lock:
        out.append(i * i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", sorted(out))
pid = os.fork()
if pid == 0:
    os._exit(9)
print("fork child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print("signal", got)
"""


def test_python_processes_threads_signals(apps_runner: Runner) -> None:
    python = Path("/usr/bin/python3.11")
    if not python.exists():
        pytest.skip("python3.11 from Debian is not installed")
    pair = apps_runner.compare("python-procs", [str(python), "-c", PY])
    assert pair.native.returncode == 0, pair.native.stderr
    pair.assert_same()


def test_sort_parallel(apps_runner: Runner) -> None:
    need("sort", "seq", "shuf")

    def setup(d: Path) -> None:
        lines = [f"{(i * 7919) % 200003}\n" for i in range(200000)]
        (d / "in.txt").write_text("".join(lines))

    pair = apps_runner.compare(
        "sort-parallel", ["/usr/bin/sort", "-n", "--parallel=2", "-S", "8M", "in.txt",
                          "-o", "out.txt"], setup=setup)
    assert pair.native.returncode == 0
    pair.assert_same()


def test_a_signal_interrupts_a_waiting_shell(apps_runner: Runner) -> None:
    """bash's wait is interrupted by a trapped signal (the waiting wait4 is woken by the host,
    as any emulated blocking call on the notification lane)."""
    need("bash")
    script = ('trap "echo got USR1" USR1; sleep 2 & (sleep 0.3; kill -USR1 $$) & '
              'wait %1; echo "wait returned $?"; wait')
    pair = apps_runner.compare("bash-wait-signal", ["/bin/bash", "-c", script])
    assert pair.native.stdout == b"got USR1\nwait returned 138\n"
    pair.assert_same()


def test_a_writer_that_fills_a_pipe_wakes_its_parked_reader(apps_runner: Runner) -> None:
    """The reader waits on the empty pipe; one write larger than the pipe fills it and
    waits for room: the reader must be told of the 64 KiB that went in."""
    pair = apps_runner.compare(
        "pipe-fill-wakes-reader", ["/bin/sh", "-c", "(echo begin; cat big) | wc -c"],
        setup=lambda d: (d / "big").write_bytes(b"x" * 100_000),
    )
    assert pair.native.stdout == b"100006\n"
    pair.assert_same()
