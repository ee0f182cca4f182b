"""Doom (chocolate-doom with Freedoom, SDL's dummy video driver) plays its timedemo under
compatd as natively: the same gametics, the same exit status (255 ends a timedemo)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DOOM = Path("/usr/games/chocolate-doom")
WAD = Path("/usr/share/games/doom/freedoom1.wad")
ARGS = [str(DOOM), "-iwad", str(WAD), "-timedemo", "demo1", "-nosound", "-nomusic", "-nogui"]
TIMED = re.compile(rb"timed (\d+) gametics in \d+ realtics")


def run(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", HOME=str(cwd),
               DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
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
    native = TIMED.search(native_out)
    ours = TIMED.search(ours_out)
    assert native is not None, native_out[-2000:]
    assert ours is not None, ours_out[-2000:]
    assert ours.group(1) == native.group(1) == b"1531"
    assert ours_rc == native_rc == 255
