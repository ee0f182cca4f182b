"""Doom (chocolate-doom with Freedoom, SDL's dummy video driver) plays its timedemo under
compatd as natively: the same gametics, the same exit status (255 ends a timedemo)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

DOOM = Path("/usr/games/chocolate-doom")
WAD = Path("/usr/share/games/doom/freedoom1.wad")
ARGS = [str(DOOM), "-iwad", str(WAD), "-timedemo", "demo1", "-nosound", "-nomusic", "-nogui"]
TIMED = re.compile(rb"timed (\d+) gametics in \d+ realtics")


def run(argv: list[str], cwd: Path, extra: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Run with SDL's dummy video and audio drivers, or on X11 when ``extra`` names a
    DISPLAY; without a session bus address SDL would try to launch dbus."""
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", HOME=str(cwd),
               DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
    if extra:
        env.update(extra)
        env.pop("SDL_VIDEODRIVER", None)
    else:
        env["SDL_VIDEODRIVER"] = "dummy"
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_timedemo_matches_native() -> None:
    if not DOOM.exists() or not WAD.exists():
        pytest.skip("chocolate-doom and freedoom are not installed (scripts/test installs them)")
    # Not under /tmp: inside compatd that is a private tmpfs, and the cwd must be the host's.
    work = Path(tempfile.mkdtemp(prefix="compatd-doom-", dir="/var/tmp"))
    try:
        native_rc, native_out = run(ARGS, work)
        ours_rc, ours_out = run(
            [sys.executable, "-m", "compatd", "run", "--strict", "--", *ARGS], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert_same_timedemo(native_rc, native_out, ours_rc, ours_out)


def assert_same_timedemo(native_rc: int, native_out: bytes, ours_rc: int,
                         ours_out: bytes) -> None:
    """Both runs played the whole demo (1531 gametics) and exited as Doom does (255)."""
    native = TIMED.search(native_out)
    ours = TIMED.search(ours_out)
    assert native is not None, native_out[-2000:]
    assert ours is not None, ours_out[-2000:]
    assert ours.group(1) == native.group(1) == b"1531"
    assert ours_rc == native_rc == 255


XVFB = Path("/usr/bin/Xvfb")


def test_timedemo_on_x11_matches_native() -> None:
    """Doom as an X11 client of a native Xvfb (the sockets issue's acceptance): its
    connection to the X server's abstract socket, MIT-SHM segments and Mesa's threads."""
    if not DOOM.exists() or not WAD.exists() or not XVFB.exists():
        pytest.skip("chocolate-doom, freedoom and xvfb are needed (scripts/test installs them)")
    display = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                   and not Path(f"/tmp/.X{n}-lock").exists())
    xvfb = subprocess.Popen([str(XVFB), f":{display}", "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="compatd-doom-x11-", dir="/var/tmp"))
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{display}").exists():
                break
            time.sleep(0.1)
        args = [*ARGS, "-window"]
        env = {"DISPLAY": f":{display}"}
        native_rc, native_out = run(args, work, env)
        ours_rc, ours_out = run(
            [sys.executable, "-m", "compatd", "run", "--strict", "--", *args], work, env)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    assert_same_timedemo(native_rc, native_out, ours_rc, ours_out)
