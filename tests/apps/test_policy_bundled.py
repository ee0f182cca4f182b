"""The bundled security policies (issue 7) against real programs.

- `strict` runs coreutils, bash, python3 and sqlite3 workloads unchanged: output, exit
  status and the files they make match a native run.
- `no-network` makes curl fail as Linux does without a route (`unshare -n`), `read-only`
  makes touch & co. fail as on a read-only bind mount, `no-exec` makes exec fail as on a
  noexec mount: each compared with the native run in that situation.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO, Runner, Tree, child_env, compatd_with, run_in, snapshot

from policies.load import bundled_names

BUNDLED = ("default", "no-exec", "no-network", "read-only", "strict")


def need(*programs: str) -> None:
    for p in programs:
        if shutil.which(p) is None:
            pytest.skip(f"{p} is not installed (scripts/test installs it)")


def native_can(argv: list[str], cwd: Path | None = None) -> None:
    """Skip unless this host lets us make the native comparison (namespaces, mounts)."""
    proc = subprocess.run(argv, capture_output=True, cwd=cwd)
    if proc.returncode != 0:
        pytest.skip(f"{' '.join(argv)} is not permitted here: {proc.stderr.decode().strip()}")


def policed(options: list[str]) -> list[str]:
    """``compatd run`` with ``options``; skipped when a COMPATD_TEST_WRAPPER replaces it."""
    return compatd_with(*options)


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# every bundled policy ----------------------------------------------------------------------
def test_every_bundled_policy_passes_policy_check() -> None:
    assert sorted(bundled_names()) == sorted(BUNDLED)
    for name in BUNDLED:
        proc = subprocess.run([sys.executable, "-m", "compatd", "policy", "check", name],
                              capture_output=True, text=True, env=child_env())
        assert proc.returncode == 0, proc.stderr
        assert f"policy {name!r} is valid" in proc.stdout
        text = (REPO / "policies" / "bundled" / f"{name}.toml").read_text()
        assert text.startswith(f"# {name}: "), "each file starts by saying what it is for"


# strict ----------------------------------------------------------------------------------
BASH_WORKLOAD = r"""set -e
mkdir -p data/sub
for i in $(seq 1 200); do echo "line $((i % 17)) $i"; done > data/lines.txt
sort -k2,2n -k3,3nr data/lines.txt | uniq -c -f1 | head -5
cut -d' ' -f2 data/lines.txt | sort | uniq -c | sort -rn | head -3
wc -l -w -c data/lines.txt
tr a-z A-Z < data/lines.txt | grep -c LINE
cp data/lines.txt data/sub/copy.txt && ln -s copy.txt data/sub/link
ls -l data/sub | awk '{print $1, $NF}'
sed -n '1~50p' data/lines.txt > data/every50.txt
xargs -n 2 echo < data/every50.txt
tar czf data.tgz data && mkdir out && tar xzf data.tgz -C out && diff -r data out/data
tar tzf data.tgz | sort && rm data.tgz
gzip -9 -n -c data/lines.txt > lines.gz && gunzip -c lines.gz | md5sum
sha256sum data/lines.txt | cut -c1-16
echo scratch > /tmp/compatd-strict-t && cat /tmp/compatd-strict-t && rm /tmp/compatd-strict-t
date -u -d @86400 +%F
find data -type f | sort
stat -c '%n %s %a' data/lines.txt
"""

PYTHON_WORKLOAD = r"""
import json, os, sqlite3, subprocess, tempfile

db = sqlite3.connect("py.db")
db.execute("create table t(k text primary key, v integer)")
db.executemany("insert into t values(?, ?)", [(f"k{i}", i * i) for i in range(1000)])
db.commit()
rows = db.execute("select count(*), sum(v) from t where v % 3 = 0").fetchone()
db.close()
out = subprocess.run(["sort", "-r"], input="b\na\nc\n", capture_output=True, text=True).stdout
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "x"), "w") as f:
        f.write("y")
    listed = os.listdir(d)
shell = subprocess.check_output("echo $((6 * 7)) | cat", shell=True).decode().strip()
with open("out.json", "w") as f:
    json.dump({"rows": rows, "sorted": out.split(), "tmp": listed, "shell": shell,
               "cwd": os.path.basename(os.getcwd())}, f, sort_keys=True)
print(open("out.json").read())
"""

SQLITE_WORKLOAD = r"""set -e
sqlite3 db.sqlite 'create table t(a integer, b text);'
seq 2000 | awk '{print "insert into t values(" $1 ", \"r" $1 "\");"}' > ins.sql
(echo 'begin;'; cat ins.sql; echo 'commit;') | sqlite3 db.sqlite
sqlite3 db.sqlite 'create index ib on t(b);'
sqlite3 db.sqlite 'select count(*), sum(a), max(b) from t where a % 7 = 0;'
sqlite3 -header -csv db.sqlite 'select a, b from t order by b desc limit 3;'
sqlite3 db.sqlite .schema
sqlite3 db.sqlite 'pragma journal_mode=wal; insert into t values(0, "zero");'
sqlite3 db.sqlite 'select count(*) from t;'
sqlite3 db.sqlite 'pragma journal_mode=delete; vacuum;'
sqlite3 db.sqlite .dump | md5sum
rm ins.sql
"""

# name: (argv, the file the workload is, its text, programs it needs)
STRICT_CASES = {
    "bash-coreutils": (["/bin/bash", "work.sh"], "work.sh", BASH_WORKLOAD, ("bash", "tar", "gzip")),
    "python3": (["/usr/bin/python3.11", "work.py"], "work.py", PYTHON_WORKLOAD, ("python3.11",)),
    "sqlite3": (["/bin/bash", "work.sh"], "work.sh", SQLITE_WORKLOAD, ("bash", "sqlite3")),
}


@pytest.mark.parametrize("name", sorted(STRICT_CASES))
def test_strict_runs_workloads_unchanged(name: str, apps_runner: Runner) -> None:
    argv, script, text, programs = STRICT_CASES[name]
    need(*programs)
    audit = apps_runner.base / f"strict-{name}.audit"
    pair = apps_runner.compare(f"strict-{name}", argv,
                               setup=lambda d: (d / script).write_text(text),
                               compatd_options=["--policy", "strict", "--audit", str(audit)])
    assert pair.native.returncode == 0, pair.native.stderr.decode()
    pair.assert_same()
    # What strict refused on the way (nothing, or lookups the programs did without):
    # nothing was killed, and no file in the working directory was refused.
    records = audit_records(audit) if audit.exists() else []
    assert not [r for r in records if r["verdict"] == "kill"]
    assert not [r for r in records if str(r.get("path", "")).startswith(str(pair.workdir))]


REFUSED = r"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    ret = getattr(libc, name)(*args)
    print(name, ret, os.strerror(ctypes.get_errno()) if ret < 0 else "")
call("ptrace", 0, 0, 0, 0)
call("mount", b"none", b"/mnt", b"tmpfs", 0, None)
call("unshare", 0x10000000)
for family, address in ((socket.AF_PACKET, None), (socket.AF_INET, ("1.1.1.1", 80))):
    try:
        socket.socket(family, socket.SOCK_STREAM).connect(address)
    except OSError as e:
        print(family.name, e.strerror)
"""


def test_strict_refuses_what_it_is_for(apps_runner: Runner) -> None:
    """Secrets, writes outside the working directory and /tmp, programs run from /tmp,
    debugging and system calls, raw sockets, the network."""
    need("python3.11")
    work = apps_runner.new_area("strict-refuses")
    outside = apps_runner.base / "outside"
    script = (f"cat /etc/shadow; touch {outside}; echo x > /etc/motd; "
              "cp /bin/true /tmp/t && /tmp/t; echo tmp exec $?; "
              f"/usr/bin/python3.11 -c '{REFUSED}'")
    res = run_in([*policed(["--policy", "strict"]), "sh", "-c", script], work)
    assert res.stderr.decode().splitlines() == [
        "cat: /etc/shadow: Permission denied",
        f"touch: cannot touch '{outside}': Permission denied",
        "sh: 1: cannot create /etc/motd: Permission denied",
        "sh: 1: /tmp/t: Permission denied",
    ]
    assert res.stdout.decode().splitlines() == [
        "tmp exec 126", "ptrace -1 Operation not permitted", "mount -1 Operation not permitted",
        "unshare -1 Operation not permitted", "AF_PACKET Address family not supported by protocol",
        "AF_INET Network is unreachable",
    ]
    assert not outside.exists()


# no-network --------------------------------------------------------------------------------
def curl_stderr(err: bytes) -> str:
    """curl's account of the attempt, without the timing that differs between runs."""
    return re.sub(r"after \d+ ms", "after N ms", err.decode())


def test_no_network_makes_curl_fail_as_without_a_route(apps_runner: Runner) -> None:
    """curl http://1.1.1.1/ under `unshare -n` (no route: ENETUNREACH) and under no-network:
    the same messages ("Network is unreachable", "Couldn't connect to server"), exit 7."""
    need("curl")
    native_can(["unshare", "-n", "true"])
    work = apps_runner.new_area("no-network-curl")
    audit = work / "audit.jsonl"
    curl = ["curl", "-sS", "-v", "--max-time", "20", "http://1.1.1.1/"]
    native = run_in(["unshare", "-n", *curl], work)
    compat = run_in([*policed(["--policy", "no-network", "--audit", str(audit)]), *curl], work)
    assert native.returncode == 7, native.stderr.decode()
    assert "Network is unreachable" in native.stderr.decode()
    assert (compat.returncode, compat.stdout) == (native.returncode, native.stdout)
    assert curl_stderr(compat.stderr) == curl_stderr(native.stderr)
    [rec] = audit_records(audit)
    assert (rec["syscall"], rec["address"], rec["verdict"], rec["errno"]) == \
        ("connect", "1.1.1.1:80", "deny", "ENETUNREACH")


LOOPBACK = r"""
import errno, socket, threading
server = socket.create_server(("127.0.0.1", 0))
def answer():
    conn, _ = server.accept()
    conn.sendall(conn.recv(100).upper())
    conn.close()
threading.Thread(target=answer).start()
with socket.create_connection(server.getsockname()) as c:
    c.sendall(b"over loopback")
    print(c.recv(100).decode())
try:
    socket.create_server(("0.0.0.0", 0))
except OSError as e:
    print("wildcard bind:", errno.errorcode[e.errno])
"""


def test_no_network_keeps_loopback(apps_runner: Runner) -> None:
    """A program talks to itself over 127.0.0.1; listening on every host interface is
    refused (under --net loopback or none it is a loopback bind, and allowed)."""
    need("python3.11")
    work = apps_runner.new_area("no-network-loopback")
    for net, wildcard in (("host", "EACCES"), ("loopback", None), ("none", None)):
        res = run_in([*policed(["--policy", "no-network", "--net", net]),
                      "/usr/bin/python3.11", "-c", LOOPBACK], work)
        assert res.returncode == 0, res.stderr.decode()
        lines = res.stdout.decode().splitlines()
        assert lines[0] == "OVER LOOPBACK"
        assert lines[1:] == ([f"wildcard bind: {wildcard}"] if wildcard else [])


# read-only -------------------------------------------------------------------------------
READ_ONLY_SCRIPT = (
    'cat existing; touch x; echo "touch $?"; touch existing; echo "touch existing $?"; '
    'rm existing; echo "rm $?"; rm -f absent; echo "rm -f $?"; mkdir -p sub; '
    'echo "mkdir -p $?"; mkdir new; echo "mkdir $?"; echo y > existing; echo "> $?"; '
    'echo y >> existing; echo ">> $?"; mv existing e2; echo "mv $?"; ln -s a l; '
    'echo "ln -s $?"; chmod 600 existing; echo "chmod $?"; truncate -s 0 existing; '
    'echo "truncate $?"; echo to-null > /dev/null; echo "null $?"; '
    'echo "via /dev/stdout" > /dev/stdout; test -w existing; echo "test -w $?"; '
    'cat existing'
)


def read_only_setup(d: Path) -> None:
    (d / "existing").write_text("kept\n")
    (d / "sub").mkdir()


def test_read_only_makes_writes_fail_with_erofs(apps_runner: Runner) -> None:
    """Native: the same script in a read-only bind mount of its directory. Every change
    fails with EROFS ("Read-only file system") with the same messages; reads, writes to
    /dev/null and the program's stdout work; nothing changes."""
    need("touch", "truncate")
    area = apps_runner.new_area("read-only")
    ro_mount = 'mount --bind -o ro "$PWD" "$PWD" && cd "$PWD" && exec sh -c "$1"'
    native_can(["unshare", "-m", "sh", "-c", ro_mount, "sh", "true"], cwd=area)
    results: list[tuple[int, bytes, bytes, Tree, Tree]] = []
    for label, cmd in (("native", ["unshare", "-m", "sh", "-c", ro_mount, "sh"]),
                       ("compatd", [*policed(["--policy", "read-only"]), "sh", "-c"])):
        work = area / label
        work.mkdir()
        read_only_setup(work)
        before = snapshot(work)
        res = run_in([*cmd, READ_ONLY_SCRIPT], work)
        results.append((res.returncode, res.stdout, res.stderr, before, snapshot(work)))
    native, compat = results
    assert b"touch: cannot touch 'x': Read-only file system" in native[2]
    assert native[3] == native[4] and compat[3] == compat[4], "nothing may change"
    assert compat[:3] == native[:3]


# no-exec ---------------------------------------------------------------------------------
NO_EXEC_SCRIPT = (
    'echo builtin; (echo subshell); ls >/dev/null; echo "ls $?"; /nonexistent; '
    'echo "missing $?"; /usr; echo "dir $?"; [ -x /usr/bin/ls ] && echo executable || '
    'echo not-executable; exec ls'
)


def test_no_exec_fails_exec_as_a_noexec_mount(apps_runner: Runner) -> None:
    """Native: bash running when /usr becomes noexec (mounted after bash started). Every exec
    fails with EACCES (126) while a missing program is still ENOENT (127) and the shell
    itself, its builtins and subshells work; `[ -x ]` says no, as access(X_OK) does."""
    need("bash", "ls")
    native_can(["unshare", "-m", "true"])
    work = apps_runner.new_area("no-exec")
    native = run_in(["unshare", "-m", "bash", "-c",
                     f"mount --bind -o noexec /usr /usr; {NO_EXEC_SCRIPT}"], work)
    compat = run_in([*policed(["--policy", "no-exec"]), "bash", "-c", NO_EXEC_SCRIPT], work)
    assert native.returncode == 126
    assert b"/usr/bin/ls: Permission denied" in native.stderr
    assert (compat.returncode, compat.stdout, compat.stderr) == \
        (native.returncode, native.stdout, native.stderr)
