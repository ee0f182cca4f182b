"""Dynamic programs from Debian, natively and under compatd (the dynamic-programs issue):
coreutils, tar, python3, sqlite3, a binary copied into the sandbox's tmpfs, /etc changed
inside the sandbox only. Our loader maps every one of them from the VFS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import Runner


def need(*programs: str) -> None:
    for p in programs:
        if shutil.which(p) is None:
            pytest.skip(f"{p} is not installed (scripts/test installs it)")


def numbers(d: Path) -> None:
    (d / "in.txt").write_text("".join(f"{(i * 104729) % 300007}\n" for i in range(300000)))


CASES = {
    "ls-usr-bin": (["/bin/ls", "-la", "/usr/bin"], None),
    "sort-n": (["/usr/bin/sort", "-n", "in.txt", "-o", "sorted.txt"], numbers),
    "cp-r-email": (["/bin/cp", "-r", "/usr/lib/python3.11/email", "."], None),
    "md5sum": (["/usr/bin/md5sum", "in.txt"], numbers),
    "du-s": (["/usr/bin/du", "-s", "/usr/share/doc/bash"], None),
    "find-so": (["/bin/sh", "-c", "find /usr/lib -name '*.so*' | sort | md5sum"], None),
    "stat": (["/usr/bin/stat", "-c", "%n %s %F %a %h %U", "/etc/passwd", "/usr/bin", "."],
             None),
    "ln-chmod-touch": (["/bin/sh", "-c", "echo x > f && ln -s f l && chmod 600 f && "
                        "touch -d '2020-02-02 02:02:02' f && ls -l --time-style=+%F_%T f && "
                        "readlink l && stat -c '%F %a' l"],
                       None),
    "tar-roundtrip": (["/bin/sh", "-c", "mkdir -p src/a/b && echo 1 > src/a/one && "
                       "echo 2 > src/a/b/two && touch -d 2021-01-01 src/a/one src/a/b/two && "
                       "tar czf t.tgz src && mkdir x && tar xzf t.tgz -C x && "
                       "tar tzvf t.tgz | awk '{print $1, $3, $6}' && ls -lR x | tail -n +2"],
                      None),
    "python-imports": (["/usr/bin/python3.11", "-c",
                        "import json, sqlite3, email, http.client, ssl; "
                        "print(json.dumps({'sqlite': sqlite3.sqlite_version_info[0], "
                        "'ssl': ssl.OPENSSL_VERSION.split()[0]}))"], None),
    "sqlite3-file": (["/bin/sh", "-c",
                      "sqlite3 db.sqlite 'create table t(a integer, b text);' && "
                      "seq 10000 | awk '{print \"insert into t values(\" $1 \", \\\"r\" "
                      "$1 \"\\\");\"}' > ins.sql && (echo 'begin;'; cat ins.sql; echo 'commit;') | "
                      "sqlite3 db.sqlite && sqlite3 db.sqlite 'create index ib on t(b);' && "
                      "sqlite3 db.sqlite 'select count(*), sum(a), max(b) from t where a % 7 = 0;'"
                      " && rm ins.sql"], None),
    "binary-in-tmpfs": (["/bin/sh", "-c",
                         "cp /bin/ls /tmp/compatd-ls-copy && /tmp/compatd-ls-copy -d /usr /etc"
                         " && rm /tmp/compatd-ls-copy"], None),
}
# Run under compatd only: natively it would change the host.
REWRITE_PASSWD = ["/bin/sh", "-c", "echo 'compatd:x:4242:4242::/:/bin/sh' >> /etc/passwd && "
                  "tail -1 /etc/passwd && grep -c compatd /etc/passwd"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_program(name: str, apps_runner: Runner) -> None:
    argv, setup = CASES[name]
    need(Path(argv[0]).name)
    pair = apps_runner.compare(name, argv, setup=setup)
    assert pair.native.returncode == 0, pair.native.stderr.decode()
    # tar's archive embeds the archive's own mtime via gzip; compare what it lists and extracts
    pair.assert_same(compare_tree=name not in {"tar-roundtrip", "sqlite3-file"})


def test_etc_changes_stay_in_the_sandbox(apps_runner: Runner) -> None:
    """A program rewrites /etc/passwd inside compatd, sees its change, the host's is intact."""
    import subprocess
    import sys

    before = Path("/etc/passwd").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "compatd", "run", "--strict", "--",
                           *REWRITE_PASSWD],
                          capture_output=True, cwd=apps_runner.new_area("etc"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"compatd:x:4242:4242::/:/bin/sh\n1\n"
    assert Path("/etc/passwd").read_bytes() == before
