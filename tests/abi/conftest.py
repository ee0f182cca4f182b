"""ABI tests: small C programs, compiled once per session with `gcc -static -O1`, each run
natively and under `compatd run --strict` in the same (fresh) cwd; outputs and files compared.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from harness import Runner, drop_base, make_base

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="session")
def abi_base() -> Iterator[Path]:
    base = make_base("compatd-abi-")
    yield base
    drop_base(base)


@pytest.fixture(scope="session")
def abi_bins(abi_base: Path) -> dict[str, Path]:
    """{program name: static binary}, every tests/abi/programs/*.c compiled once."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (scripts/test installs gcc and libc6-dev)")
    out = abi_base / "bin"
    out.mkdir()
    sources = sorted(PROGRAMS.glob("*.c"))

    def build(src: Path) -> tuple[str, Path, subprocess.CompletedProcess[str]]:
        exe = out / src.stem
        cmd = ["gcc", "-static", "-O1", "-Wall", "-o", str(exe), str(src)]
        return src.stem, exe, subprocess.run(cmd, capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        built = list(pool.map(build, sources))
    errors = [f"{name}:\n{p.stderr}" for name, _, p in built if p.returncode != 0]
    if errors:
        if "cannot find -lc" in "".join(errors):
            pytest.skip("static libc missing (install libc6-dev)")
        pytest.fail("compiling the ABI programs failed:\n" + "\n".join(errors))
    return {name: exe for name, exe, _ in built}


@pytest.fixture(scope="session")
def runner(abi_base: Path) -> Runner:
    return Runner(abi_base / "runs")


@pytest.fixture(scope="session")
def tmp_token() -> str:
    """A per-session suffix for names under /tmp, so native runs never collide on the host."""
    return secrets.token_hex(4)
