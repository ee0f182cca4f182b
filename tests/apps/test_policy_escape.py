"""Escape attempts against a file policy (the acceptance suite of the security-policy issue).

tests/apps/policy_escape/escape.c tries, one way per mode, to read a file the policy denies
(the secret). Each attempt runs natively first, where it must work, so the test is real;
then under ``compatd run --policy P --audit A``, where it must fail with the policy's errno,
never show the secret, and leave a deny record naming the secret and the rule.

The rule's errno is EKEYREJECTED, which nothing else in these programs produces: a failure
with it is the policy's and no other cause's.

Three policies, each with one rule on the secret, everything else allowed:

- ``exact``: the secret's literal path, every access. The secret lives beside the cwd, on
  the host's read-only layer of the root overlay, another mount than the cwd's.
- ``glob``: a glob naming the secret, for read, write and exec but not stat, so O_PATH
  descriptors of it can be had and what is done with them is what gets checked. The
  secret lives in the cwd (the read-write bind of the host directory): renames and links
  there really happen.
- ``read``: a glob, for reading only: renaming and linking are allowed, so a new name must
  not be a way out of the rule. The exec attempts are not about reading and do not run.

What "works natively" means for the attempts that exec: a program cannot read its own
interpreter, so the proof is how exec fails. The secret is executable text: as a ``#!``
interpreter or an execveat'd file the kernel opens and reads it and answers ENOEXEC (no
format it knows); as a PT_INTERP it answers ELIBBAD (its ELF header is wrong). A refused
open would have been EACCES before any byte was read.

test_connect_to_denied_address does the same for a network rule: connecting to the denied
address, and taking a connection to it made by a process outside.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness import Result, Runner, compatd_with, run_in

SOURCE = Path(__file__).parent / "policy_escape" / "escape.c"
SECRET = "TOPSECRET-7f3a9c: the policy must keep this line from the program; it is longer " \
         "than an ELF header so that exec reads a whole one\n"
ERRNO = errno.EKEYREJECTED
DENIED = f"errno={ERRNO} ({os.strerror(ERRNO)})"

# Attempts that read the secret and print it (GOT: ...) when they work.
READS = ["direct", "symlink", "dotdot", "dirfd", "proc-root", "opath", "hardlink",
         "linkat-fd", "prelinked", "chroot", "renamefile", "renamedir", "race", "fdpass"]
# Attempts that exec: the errno exec gives natively once it has opened and read the secret.
EXECS = {"shebang-interp": errno.ENOEXEC, "execveat": errno.ENOEXEC, "interp": errno.ELIBBAD}
# cat, run by a #! line, reads the secret (natively) or reports the policy's refusal.
CAT = "shebang-cat"


@dataclass
class Variant:
    inside: bool  # the secret in the cwd (a read-write host bind) or beside it (the overlay)
    pattern: str  # the rule's path, relative to the secret's directory
    access: list[str] = field(default_factory=list)  # empty: every access


VARIANTS = {
    "exact": Variant(inside=False, pattern="secret.txt"),
    "glob": Variant(inside=True, pattern="*secret*", access=["read", "write", "exec"]),
    "read": Variant(inside=True, pattern="secret.*", access=["read"]),
}
CASES = [(v, m) for v in VARIANTS for m in [*READS, CAT, *EXECS]
         if not (v == "read" and m in EXECS)]


@pytest.fixture(scope="session")
def escape_bin(apps_base: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (scripts/test installs gcc and libc6-dev)")
    exe = apps_base / "escape"
    p = subprocess.run(["gcc", "-static", "-O1", "-Wall", "-pthread", "-o", str(exe),
                        str(SOURCE)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"compiling {SOURCE.name} failed:\n{p.stderr}")
    return exe


class Scene:
    """One attempt's directories: ``area/cwd`` where the program runs, the secret in
    ``vault/`` (in the cwd or beside it), the policy and the audit log beside the cwd."""

    def __init__(self, area: Path, variant: Variant) -> None:
        self.area = area
        self.cwd = area / "cwd"
        self.vault = (self.cwd if variant.inside else area) / "vault"
        self.secret = self.vault / "secret.txt"
        self.policy = area / "policy.toml"
        self.audit = area / "audit.jsonl"
        access = f"access = {json.dumps(variant.access)}\n" if variant.access else ""
        self.policy.write_text(f'[[rule]]\npath = "{self.vault}/{variant.pattern}"\n{access}'
                               'action = "deny"\nerrno = "EKEYREJECTED"\n')

    def reset(self) -> None:
        """A fresh cwd and secret (attempts rename and link them, natively for real), and a
        hard link to the secret made before the program starts."""
        for d in (self.cwd, self.vault, self.vault.with_name("vault-moved")):
            shutil.rmtree(d, ignore_errors=True)
        self.cwd.mkdir()
        self.vault.mkdir()
        self.secret.write_text(SECRET)
        self.secret.chmod(0o755)  # exec may open it (as root: any x bit)
        os.link(self.secret, self.cwd / "prelinked")

    def compatd(self) -> list[str]:
        return compatd_with("--policy", str(self.policy), "--audit", str(self.audit))

    def denials(self) -> list[dict[str, str]]:
        records = [json.loads(line) for line in self.audit.read_text().splitlines()]
        return [r for r in records if r["verdict"] == "deny"]


@dataclass
class Helper:
    """Something native the attempt talks to, running in a thread of the test."""

    args: list[str]
    thread: threading.Thread

    def join(self) -> None:
        self.thread.join(timeout=30)


def fd_passer(path: Path, opener: Callable[[], int]) -> Helper:
    """A process outside the sandbox (this test) that passes a descriptor it opened
    (``opener``) to whoever connects to its AF_UNIX socket at ``path``."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    srv.settimeout(60)

    def serve() -> None:
        with srv:
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                return
            fd = opener()
            with conn:
                socket.send_fds(conn, [b"x"], [fd])
                conn.recv(1)  # until the other side is done
            os.close(fd)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return Helper([str(path)], t)


def run_attempt(escape: Path, scene: Scene, mode: str, prefix: list[str]) -> Result:
    """Run one attempt in a fresh scene, natively (no prefix) or under compatd."""
    scene.reset()
    args = [str(escape), mode, str(scene.secret)]
    helper = None
    if mode == "prelinked":
        args.append("prelinked")
    elif mode == "interp":
        args.append(str(interp_program(scene)))
    elif mode == "fdpass":
        helper = fd_passer(scene.cwd / "passer.sock", lambda: os.open(scene.secret, os.O_RDONLY))
        args += helper.args
    result = run_in(prefix + args, scene.cwd)
    if helper is not None:
        helper.join()
    return result


def interp_program(scene: Scene) -> Path:
    """A program whose ELF interpreter (PT_INTERP) is the secret."""
    exe = scene.area / "interp-elf"
    if not exe.exists():
        src = scene.area / "interp.c"
        src.write_text("int main(void) { return 0; }\n")
        subprocess.run(["gcc", "-o", str(exe), str(src),
                        f"-Wl,--dynamic-linker={scene.secret}"], check=True)
    return exe


def text(r: Result) -> str:
    return (r.stdout + r.stderr).decode("utf-8", "replace")


def expected_path(scene: Scene, mode: str) -> str:
    """What the deny record names: the secret; for a renamed directory, what is under it."""
    return f"{scene.vault}/**" if mode == "renamedir" else str(scene.secret)


@pytest.mark.parametrize(("variant", "mode"), CASES, ids=[f"{v}-{m}" for v, m in CASES])
def test_escape_attempt(variant: str, mode: str, escape_bin: Path, apps_runner: Runner) -> None:
    scene = Scene(apps_runner.new_area(f"escape-{variant}-{mode}"), VARIANTS[variant])
    native = run_attempt(escape_bin, scene, mode, [])
    if mode in EXECS:
        assert f"EXEC FAILED: errno={EXECS[mode]} " in text(native), text(native)
    else:
        assert SECRET in text(native), f"the attempt does not work natively:\n{text(native)}"
        if mode == "race":
            assert " 0 decoy" not in text(native), "the names were never swapped"

    ours = run_attempt(escape_bin, scene, mode, scene.compatd())
    out = text(ours)
    assert "TOPSECRET" not in out, f"{mode} read the secret under compatd:\n{out}"
    if mode == "fdpass":
        # security_file_receive refuses with no errno: the descriptor is just not there.
        assert "no descriptor received (MSG_CTRUNC set)" in out, out
    else:
        assert os.strerror(ERRNO) in out, f"not refused by the policy:\n{out}"
    if mode == "race":
        assert " 0 decoy" not in out, "the names were never swapped"
    denials = scene.denials()
    label = f"rule 1 ({scene.policy}:1)"
    want = expected_path(scene, mode)
    assert any(r["path"] == want and r["rule"] == label and r["errno"] == "EKEYREJECTED"
               for r in denials), f"no deny record for {want}: {denials}\n{out}"
    if mode == "race":
        # Every refused open was audited, once.
        refused = int(re.search(r"(\d+) refused", out).group(1))  # type: ignore[union-attr]
        assert refused > 0 and len(denials) == refused, (refused, len(denials))


def test_passed_descriptor_maps_without_a_policy(escape_bin: Path, apps_runner: Runner) -> None:
    """The fd-passing attempt, under compatd with no policy, does read the secret: what
    stops it in test_escape_attempt is the policy's receive check, nothing else."""
    scene = Scene(apps_runner.new_area("escape-fdpass-no-policy"), VARIANTS["exact"])
    ours = run_attempt(escape_bin, scene, "fdpass", compatd_with())
    assert SECRET in text(ours), text(ours)


@pytest.fixture
def listener() -> Iterator[int]:
    """A native TCP listener on 127.0.0.2 that greets whoever connects; yields its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.2", 0))
    srv.listen()
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HELLO from the denied address\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield port
    stop.set()
    t.join()
    srv.close()


def test_connect_to_denied_address(escape_bin: Path, apps_runner: Runner, listener: int) -> None:
    """connect to a denied address, and take a connection to it from a process outside
    (an fd passed over AF_UNIX): natively both talk to the listener; under compatd the
    first fails with the rule's errno, the second descriptor is not installed."""
    area = apps_runner.new_area("escape-connect")
    policy = area / "policy.toml"
    audit = area / "audit.jsonl"
    address = f"127.0.0.2:{listener}"
    policy.write_text(f'[[rule]]\nconnect = "{address}"\naction = "deny"\n'
                      'errno = "EKEYREJECTED"\n')
    ours = compatd_with("--policy", str(policy), "--audit", str(audit))

    def attempt(mode: str, prefix: list[str]) -> str:
        args = [str(escape_bin), mode, "-"]
        helper = None
        if mode == "connect":
            args += ["127.0.0.2", str(listener)]
        else:
            sock = area / "passer.sock"
            sock.unlink(missing_ok=True)
            helper = fd_passer(sock, lambda: socket.create_connection(
                ("127.0.0.2", listener)).detach())
            args += helper.args
        result = run_in(prefix + args, area)
        if helper is not None:
            helper.join()
        return text(result)

    for mode, refusal in (("connect", DENIED), ("fdpass", "no descriptor received")):
        native = attempt(mode, [])
        assert "GOT: HELLO from the denied address" in native, native
        out = attempt(mode, ours)
        assert "HELLO" not in out and refusal in out, out
        records = [json.loads(line) for line in audit.read_text().splitlines()]
        assert any(r["verdict"] == "deny" and r["address"] == address and r["op"] == "connect"
                   and r["syscall"] == ("connect" if mode == "connect" else "recvmsg")
                   and r["rule"] == f"rule 1 ({policy}:1)" for r in records), records
