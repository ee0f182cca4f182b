"""Each C program in programs/ prints exactly the same under compatd as natively."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Runner, remove_host_path

# Programs taking a base directory: run once in the cwd (bound read-write under compatd) and
# once in a fresh directory under /tmp (a private tmpfs under compatd, the host's /tmp natively).
BASED = ["fileio", "stat", "dirs", "links", "fdops", "rename", "trunc", "access", "fileops",
         "pipes", "xattrs", "locks", "copies", "memfd"]
# Programs without a base directory.
PLAIN = ["identity", "sysinfo", "rlimit", "devfs", "procs", "prctl", "creds", "sched", "usage",
         "polls", "epolls"]
# Programs with a test of their own below.
SPECIAL = ["leave", "exits"]
# Sockets: AF_UNIX by path in the base directory (a socket inode in hostfs and in tmpfs);
# TCP and UDP on the loopback.
BASED += ["unixsock"]
PLAIN += ["inet"]
# System V IPC (issue 5): shared memory, message queues, semaphores.
PLAIN += ["sysvshm", "sysvipc"]
PLAIN += ["pidfd"]
# POSIX message queues (issue 5).
PLAIN += ["mqueue"]
# signalfd: read through the host, readiness from the host's pending signals.
PLAIN += ["signalfd"]


def test_every_program_has_a_test() -> None:
    sources = {p.stem for p in (Path(__file__).parent / "programs").glob("*.c")}
    assert sources == set(BASED + PLAIN + SPECIAL)


@pytest.mark.parametrize("prog", PLAIN)
def test_plain(prog: str, abi_bins: dict[str, Path], runner: Runner) -> None:
    pair = runner.compare(prog, [str(abi_bins[prog])])
    assert pair.native.returncode == 0, pair.native.stdout.decode()
    pair.assert_same()


@pytest.mark.parametrize("where", ["cwd", "tmp"])
@pytest.mark.parametrize("prog", BASED)
def test_based(
    prog: str, where: str, abi_bins: dict[str, Path], runner: Runner, tmp_token: str
) -> None:
    if where == "cwd":
        pair = runner.compare(f"{prog}-cwd", [str(abi_bins[prog]), "."])
    else:
        host = Path(f"/tmp/compatd-abi-{tmp_token}-{prog}")
        remove_host_path(host)
        try:
            pair = runner.compare(
                f"{prog}-tmp", [str(abi_bins[prog]), str(host)],
                between=lambda: remove_host_path(host),
            )
            leaked = host.exists()
        finally:
            remove_host_path(host)
        assert not leaked, f"{host} appeared on the host after the compatd run"
    assert pair.native.returncode == 0, pair.native.stdout.decode()
    pair.assert_same()


def test_tmp_files_stay_private(abi_bins: dict[str, Path], runner: Runner, tmp_token: str) -> None:
    """A file written under /tmp is visible during the run and gone from the host after it."""
    host = Path(f"/tmp/compatd-abi-{tmp_token}-leave")
    remove_host_path(host)
    seen_natively: list[bool] = []

    def after_native() -> None:
        seen_natively.append((host / "kept.txt").is_file())
        remove_host_path(host)

    try:
        pair = runner.compare(
            "leave-tmp", [str(abi_bins["leave"]), str(host)], between=after_native
        )
        leaked = host.exists()
    finally:
        remove_host_path(host)
    assert seen_natively == [True], "the native run did not create the file (test bug)"
    assert not leaked, f"{host} is on the host after the compatd run: /tmp is not private"
    pair.assert_same()


def test_cwd_files_reach_the_host(abi_bins: dict[str, Path], runner: Runner) -> None:
    """A file written in the cwd is on the host after the run, identical to the native one."""
    pair = runner.compare("leave-cwd", [str(abi_bins["leave"]), "kept"])
    produced = pair.workdir.parent / "cwd.compatd" / "kept" / "kept.txt"
    assert produced.is_file(), f"{produced} is not on the host after the compatd run"
    assert produced.read_text() == "left behind\n"
    assert (pair.workdir.parent / "cwd.compatd" / "kept" / "sub" / "link").is_symlink()
    pair.assert_same()
