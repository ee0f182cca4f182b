"""Network programs under compatd: python3 -m http.server fetched by a native client, an
asyncio TCP echo server and client both under compatd (compared with native), and the
--net modes. All traffic stays on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from harness import COMPATD_RUN, Runner, child_env, compatd_with

PYTHON = Path("/usr/bin/python3.11")

ECHO = r"""
import asyncio

async def handle(reader, writer):
    while data := await reader.readline():
        writer.write(data.upper())
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for line in (b"hello\n", b"asyncio echo\n", b"x" * 50000 + b"\n"):
        writer.write(line)
        await writer.drain()
        got = await reader.readline()
        print(len(got), got[:20])
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print("done")

asyncio.run(main())
"""


def need_python() -> None:
    if not PYTHON.exists():
        pytest.skip("python3.11 from Debian is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_asyncio_echo_server_and_client(apps_runner: Runner) -> None:
    need_python()
    pair = apps_runner.compare("asyncio-echo", [str(PYTHON), "-c", ECHO])
    assert pair.native.returncode == 0, pair.native.stderr
    pair.assert_same()


def test_asyncio_echo_on_the_private_loopback() -> None:
    """--net none: the same echo over the sandbox's own loopback network (the model)."""
    need_python()
    native = subprocess.run([str(PYTHON), "-c", ECHO], capture_output=True, timeout=120)
    ours = subprocess.run([*compatd_with("--net", "none"), str(PYTHON), "-c", ECHO],
                          capture_output=True, timeout=120, env=child_env())
    assert native.returncode == 0, native.stderr
    assert (ours.returncode, ours.stdout) == (0, native.stdout), ours.stderr.decode()


def test_http_server_fetched_by_a_native_client(tmp_path: Path) -> None:
    need_python()
    (tmp_path / "hello.txt").write_bytes(b"served by compatd\n" * 100)
    port = free_port()
    cmd = [*COMPATD_RUN, str(PYTHON), "-m", "http.server", "--bind", "127.0.0.1",
           str(port), "--directory", str(tmp_path)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=child_env(), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: "
                                         f"{server.stderr.read().decode()}") from None
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/"
        if shutil.which("curl"):
            body = subprocess.run(["curl", "-sS", "--max-time", "30", url + "hello.txt"],
                                  capture_output=True, check=True).stdout
            listing = subprocess.run(["curl", "-sS", "--max-time", "30", url],
                                     capture_output=True, check=True).stdout
        else:
            body = urllib.request.urlopen(url + "hello.txt", timeout=30).read()
            listing = urllib.request.urlopen(url, timeout=30).read()
        assert body == b"served by compatd\n" * 100
        assert b"hello.txt" in listing
        missing = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  url + "missing"], capture_output=True).stdout \
            if shutil.which("curl") else b"404"
        assert missing == b"404"
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()


NET_CHECK = r"""
import errno, socket, sys
port = int(sys.argv[1])
c = socket.socket()
print("connect to the host's listener:", errno.errorcode.get(c.connect_ex(("127.0.0.1", port)), 0))
c = socket.socket()
print("connect elsewhere:", errno.errorcode.get(c.connect_ex(("192.0.2.1", 9)), 0))
b = socket.socket()
try:
    b.bind(("192.0.2.1", 0))
    print("bind elsewhere: ok")
except OSError as e:
    print("bind elsewhere:", errno.errorcode[e.errno])
w = socket.socket()
w.bind(("0.0.0.0", 0))
print("wildcard bind:", w.getsockname()[0])
"""


@pytest.mark.parametrize("net,expect", [
    ("loopback", ["connect to the host's listener: 0", "connect elsewhere: ENETUNREACH",
                  "bind elsewhere: EADDRNOTAVAIL", "wildcard bind: 127.0.0.1"]),
    ("none", ["connect to the host's listener: ECONNREFUSED", "connect elsewhere: ENETUNREACH",
              "bind elsewhere: EADDRNOTAVAIL", "wildcard bind: 0.0.0.0"]),
])
def test_net_modes(net: str, expect: list[str]) -> None:
    """--net loopback reaches the host's loopback only; --net none not even that."""
    need_python()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        cmd = [*compatd_with("--net", net), str(PYTHON), "-c", NET_CHECK, str(port)]
        out = subprocess.run(cmd, capture_output=True, timeout=120, env=child_env())
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().splitlines() == expect

