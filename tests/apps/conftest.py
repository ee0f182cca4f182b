"""Real programs run natively and under compatd, compared (harness shared with tests/abi)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "abi"))

from harness import Runner, drop_base, make_base  # noqa: E402

BUSYBOX = Path("/bin/busybox")


@pytest.fixture(scope="session")
def apps_base() -> Iterator[Path]:
    base = make_base("compatd-apps-")
    yield base
    drop_base(base)


@pytest.fixture(scope="session")
def apps_runner(apps_base: Path) -> Runner:
    return Runner(apps_base / "runs")


@pytest.fixture(scope="session")
def busybox() -> str:
    if not BUSYBOX.is_file() or shutil.which("busybox") is None:
        pytest.skip("busybox-static is not installed (scripts/test installs it)")
    if has_interpreter(BUSYBOX):
        pytest.skip(f"{BUSYBOX} is dynamically linked: install busybox-static")
    return str(BUSYBOX)


def has_interpreter(path: Path) -> bool:
    """True if the ELF file asks for a dynamic loader (has a PT_INTERP program header)."""
    data = path.read_bytes()[:65536]
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off : off + 4], "little") == 3:  # PT_INTERP
            return True
    return False
