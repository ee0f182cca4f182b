"""redis under compatd, driven by a native redis-benchmark, and the reverse (the sockets
issue's acceptance): every request answered, no errors. Only 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SERVER = shutil.which("redis-server")
BENCH = shutil.which("redis-benchmark")
CLI = shutil.which("redis-cli")
COMPATD = [sys.executable, "-m", "compatd", "run", "--"]

pytestmark = pytest.mark.skipif(
    not (SERVER and BENCH and CLI),
    reason="redis-server and redis-tools are not installed (scripts/test installs them)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(prefix: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [*prefix, str(SERVER), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ping = subprocess.run([str(CLI), "-p", str(port), "ping"], capture_output=True)
        if ping.stdout.strip() == b"PONG":
            return server
        time.sleep(0.2)
    server.kill()
    pytest.fail("redis-server did not answer PING")


def benchmark(prefix: list[str], port: int, cwd: Path) -> str:
    proc = subprocess.run(
        [*prefix, str(BENCH), "-q", "-n", "20000", "-c", "20", "-p", str(port), "-t", "set,get"],
        cwd=cwd, capture_output=True, timeout=300)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, out
    return out


def stop(server: subprocess.Popen[bytes], port: int) -> None:
    subprocess.run([str(CLI), "-p", str(port), "shutdown", "nosave"], capture_output=True)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.mark.parametrize("sandboxed", ["server", "benchmark"])
def test_redis_benchmark_without_errors(sandboxed: str) -> None:
    port = free_port()
    cwd = Path(tempfile.mkdtemp(prefix="compatd-redis-", dir="/var/tmp"))
    try:
        server = serve(COMPATD if sandboxed == "server" else [], port, cwd)
        try:
            out = benchmark(COMPATD if sandboxed == "benchmark" else [], port, cwd)
        finally:
            stop(server, port)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    final = [line for line in out.replace("\r", "\n").splitlines() if "requests per second" in line]
    assert [line.split(":")[0].strip() for line in final] == ["SET", "GET"], out
    assert "error" not in out.lower(), out
