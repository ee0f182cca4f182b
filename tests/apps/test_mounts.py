"""The sandbox's mounts with real programs: / is an overlay of the host's / (a program may
change any file, the host is untouched), --root, --bind, --tmpfs and --ro.

busybox's applets run one at a time (`busybox sh` forks, which compatd does not support yet),
so each test checks what one applet did: its output, its status, and the host afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from harness import COMPATD_RUN, Runner, run_in

HOST_FILES = ["/etc/hostname", "/etc/passwd", "/etc/apt", "/etc/os-release"]


def _fingerprint(paths: list[str]) -> dict[str, str]:
    """What must not change on the host: file contents, modes, and whole directory trees."""
    out: dict[str, str] = {}
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(top) if os.path.isdir(top) else [
                (os.path.dirname(top), [], [os.path.basename(top)])]:
            for name in sorted(dirnames + filenames):
                p = os.path.join(dirpath, name)
                s = os.lstat(p)
                digest = ""
                if os.path.isfile(p) and not os.path.islink(p):
                    digest = hashlib.sha256(Path(p).read_bytes()).hexdigest()
                out[p] = f"{s.st_mode:o} {s.st_uid} {s.st_mtime_ns} {digest}"
    return out


@pytest.fixture
def host_untouched():
    paths = [p for p in HOST_FILES if os.path.exists(p)]
    before = _fingerprint(paths)
    etc = sorted(os.listdir("/etc"))
    yield
    assert _fingerprint(paths) == before, "a host file changed"
    assert sorted(os.listdir("/etc")) == etc, "/etc on the host changed"


# These runs change host files inside the sandbox: never run them with a test wrapper
# (COMPATD_TEST_WRAPPER) that might not be compatd, such as "" for native runs.
if COMPATD_RUN[-3:] != ["run", "--strict", "--"]:
    pytest.skip("COMPATD_TEST_WRAPPER is set: these runs need compatd itself",
                allow_module_level=True)


def _compatd(area: Path, *argv: str, opts: tuple[str, ...] = ()):
    return run_in([*COMPATD_RUN[:-1], *opts, "--", *argv], area)


@pytest.fixture
def area(apps_runner: Runner, request) -> Path:
    return apps_runner.new_area(request.node.name)


@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("argv", [
    ["rm", "/etc/hostname"],
    ["cp", "/etc/hostname", "/etc/hostname2"],
    ["mv", "/etc/hostname", "/etc/hostname3"],
    ["chmod", "600", "/etc/passwd"],
    ["touch", "/etc/passwd"],
    ["sed", "-i", "s/root/toor/", "/etc/passwd"],
    ["mkdir", "-p", "/etc/compatd-new/a/b"],
    ["rm", "-r", "/etc/apt"],
    ["mv", "/etc/apt", "/etc/apt-moved"],  # a lower directory: EXDEV, mv copies
], ids=lambda a: "-".join(a[:2]))
def test_change_host_files_in_overlay(busybox: str, area: Path, argv: list[str]):
    if not os.path.exists("/etc/apt") and "/etc/apt" in argv:
        pytest.skip("no /etc/apt here")
    res = _compatd(area, busybox, *argv)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stderr == b""


@pytest.mark.usefixtures("host_untouched")
def test_program_sees_its_change(busybox: str, area: Path):
    # one process: remove a lower tree, verbosely; rm -r lists each directory after
    # removing entries from it, so whiteouts must hide what it removed
    if not os.path.isdir("/etc/apt"):
        pytest.skip("no /etc/apt here")
    res = _compatd(area, busybox, "rm", "-rv", "/etc/apt")
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    # "removed 'P'" / "removed directory: 'P'": every entry, the directory itself last; its
    # rmdir succeeded, so the merged listing was empty after the unlinks (whiteouts hide)
    said = [ln.rpartition(" '")[2].rstrip("'") for ln in res.stdout.decode().splitlines()]
    assert sorted(said) == sorted([*_fingerprint(["/etc/apt"]), "/etc/apt"])
    assert said[-1] == "/etc/apt"


@pytest.fixture
def rootfs(tmp_path_factory, busybox: str) -> Path:
    root = tmp_path_factory.mktemp("rootfs")
    (root / "bin").mkdir()
    shutil.copy2(busybox, root / "bin" / "busybox")
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("tiny-root\n")
    (root / "home").mkdir()
    return root


def test_root_option(rootfs: Path, area: Path):
    before = _fingerprint([str(rootfs)])
    res = _compatd(area, "/bin/busybox", "ls", "/", opts=("--root", str(rootfs)))
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    names = res.stdout.decode().split()
    assert {"bin", "etc", "home", "dev", "tmp"} <= set(names)
    assert "usr" not in names and "var" not in names  # not the host's /
    res = _compatd(area, "/bin/busybox", "cat", "/etc/hostname", opts=("--root", str(rootfs)))
    assert res.stdout == b"tiny-root\n"
    # the program starts at / (the host cwd is outside the root) and its changes stay inside
    res = _compatd(area, "/bin/busybox", "rm", "-r", "etc", opts=("--root", str(rootfs)))
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert _fingerprint([str(rootfs)]) == before


def test_bind_option(rootfs: Path, area: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from the host\n")
    opts = ("--root", str(rootfs), "--bind", f"{data}:/mnt/data")
    res = _compatd(area, "/bin/busybox", "cp", "/mnt/data/in.txt", "/mnt/data/out.txt",
                   opts=opts)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert (data / "out.txt").read_text() == "from the host\n"  # a read-write bind
    assert not (rootfs / "mnt").exists()  # the mount point was made in the overlay
    res = _compatd(area, "/bin/busybox", "rm", "/mnt/data/in.txt",
                   opts=("--root", str(rootfs), "--bind", f"{data}:/mnt/data:ro"))
    assert res.returncode == 1 and b"Read-only file system" in res.stderr
    assert (data / "in.txt").exists()
    # the cwd, given by a bind, is where the program starts
    res = _compatd(data, "/bin/busybox", "pwd", opts=("--root", str(rootfs), "--bind",
                                                      f"{data}:/work"))
    assert res.stdout == b"/work\n"


def test_tmpfs_option(busybox: str, area: Path):
    res = _compatd(area, busybox, "ls", "-a", "/usr/share", opts=("--tmpfs", "/usr/share"))
    assert res.returncode == 0 and res.stdout.split() == [b".", b".."]


def test_ro_option_keeps_the_cwd(busybox: str, area: Path):
    (area / "keep.txt").write_text("keep\n")
    res = _compatd(area, busybox, "rm", "keep.txt", opts=("--ro",))
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    res = _compatd(area, busybox, "cp", "keep.txt", "copy.txt", opts=("--ro",))
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert sorted(p.name for p in area.iterdir()) == ["keep.txt"]
    # without --ro the cwd is the host's
    res = _compatd(area, busybox, "cp", "keep.txt", "copy.txt")
    assert res.returncode == 0 and (area / "copy.txt").read_text() == "keep\n"


@pytest.mark.parametrize("opts", [
    ("--bind", "/compatd-no-such-dir:/x"),
    ("--bind", "nocolon"),
    ("--bind", "/tmp:relative"),
    ("--root", "/compatd-no-such-dir"),
    ("--tmpfs", "relative"),
])
def test_bad_mount_options(busybox: str, area: Path, opts: tuple[str, ...]):
    res = _compatd(area, busybox, "true", opts=opts)
    assert res.returncode == 2
    assert res.stdout == b"" and res.stderr.count(b"\n") == 1 and res.stderr.startswith(
        b"compatd: ")
