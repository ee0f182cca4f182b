"""Event loops and pools over our readiness model, natively and under compatd: selectors and
asyncio (epoll on pipes, timers, a subprocess), multiprocessing.Pool (poll on pipes between
processes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Runner

PYTHON = Path("/usr/bin/python3.11")

ASYNCIO = r"""
import asyncio, os, selectors, time

async def reader(r):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.add_reader(r, lambda: fut.done() or fut.set_result(os.read(r, 100)))
    data = await fut
    loop.remove_reader(r)
    return data

async def main():
    r, w = os.pipe()
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, os.write, w, b"hello")
    t0 = time.monotonic()
    data, _ = await asyncio.gather(reader(r), asyncio.sleep(0.1))
    print("read", data, "slept", time.monotonic() - t0 >= 0.09)
    try:
        await asyncio.wait_for(asyncio.sleep(5), 0.05)
    except TimeoutError:
        print("wait_for timed out")
    proc = await asyncio.create_subprocess_exec("/bin/echo", "sub",
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    print("subprocess", out, proc.returncode)

asyncio.run(main())
for cls in (selectors.SelectSelector, selectors.PollSelector, selectors.EpollSelector):
    sel = cls()
    r, w = os.pipe()
    sel.register(r, selectors.EVENT_READ, "r")
    sel.register(w, selectors.EVENT_WRITE, "w")
    first = sorted((k.data, ev) for k, ev in sel.select(0))
    os.write(w, b"x")
    second = sorted((k.data, ev) for k, ev in sel.select(1))
    sel.unregister(w)
    os.close(w)
    third = sorted((k.data, ev) for k, ev in sel.select(1))
    t0 = time.monotonic()
    os.read(r, 1)
    sel.modify(r, selectors.EVENT_READ, "again")
    print(cls.__name__, first, second, third)
"""

POOL = ("import multiprocessing as m; "
        "print(m.get_context('fork').Pool(2).map(abs, [-1,-2]))")


def need_python() -> None:
    if not PYTHON.exists():
        pytest.skip("python3.11 from Debian is not installed")


def test_asyncio_and_selectors(apps_runner: Runner) -> None:
    need_python()
    from syscalls.table import REGISTRY, Level, load_all

    load_all()
    if REGISTRY["socketpair"].level is Level.ENOSYS:
        pytest.skip("asyncio's self-pipe is a socketpair: needs sockfs")
    pair = apps_runner.compare("python-asyncio", [str(PYTHON), "-c", ASYNCIO])
    assert pair.native.returncode == 0, pair.native.stderr
    pair.assert_same()


def test_multiprocessing_pool(apps_runner: Runner) -> None:
    need_python()
    pair = apps_runner.compare("python-pool", [str(PYTHON), "-c", POOL])
    assert pair.native.returncode == 0, pair.native.stderr
    assert pair.native.stdout == b"[1, 2]\n"
    pair.assert_same()
