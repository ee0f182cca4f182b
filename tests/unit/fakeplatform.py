"""A platform without ptrace: scripted syscall events and a flat memory, for unit tests."""

from __future__ import annotations

import errno
import os

from compatd.errors import KernelError
from compatd.platform.events import EXECED, EXITED, SYSCALL, Event
from syscalls.numbers import NUMBERS


class FakeMemory:
    """A task's address space: one bytearray mapped at ``base``; anything else is EFAULT."""

    def __init__(self, base: int = 0x10000, size: int = 1 << 16) -> None:
        self.base = base
        self.data = bytearray(size)
        self.brk = base

    def _off(self, addr: int, size: int) -> int:
        off = addr - self.base
        if off < 0 or off + size > len(self.data):
            raise KernelError(errno.EFAULT, f"{addr:#x}")
        return off

    def read(self, addr: int, size: int) -> bytes:
        off = self._off(addr, size)
        return bytes(self.data[off : off + size])

    def write(self, addr: int, data: bytes) -> None:
        off = self._off(addr, len(data))
        self.data[off : off + len(data)] = data

    def read_cstring(self, addr: int, limit: int) -> bytes:
        off = self._off(addr, 1)
        end = self.data.find(b"\0", off)
        if end < 0:
            raise KernelError(errno.EFAULT, "unterminated")
        if end - off > limit:
            raise KernelError(errno.ENAMETOOLONG, "too long")
        return bytes(self.data[off:end])

    def alloc(self, data: bytes) -> int:
        """Place ``data`` in memory and return its address (a bump allocator)."""
        addr = self.brk
        self.write(addr, data)
        self.brk += (len(data) + 15) & ~15
        return addr


class FakePlatform:
    """Replays a script of syscalls for one task and records every result."""

    TID = 4242

    def __init__(self, calls: list[tuple[str, tuple[int, ...]]]) -> None:
        self.mem = FakeMemory()
        self.calls = list(calls)
        self.results: list[int | str] = []
        self.events = [Event(EXECED, self.TID)]

    def spawn(self, argv: list[bytes], envp: list[bytes]) -> int:
        return self.TID

    def memory(self, tid: int) -> FakeMemory:
        return self.mem

    def _next(self) -> None:
        if self.calls:
            name, args = self.calls.pop(0)
            padded = tuple(args) + (0,) * (6 - len(args))
            self.events.append(Event(SYSCALL, self.TID, NUMBERS[name], padded))
        else:
            self.events.append(Event(EXITED, self.TID, value=0))

    def wait(self, timeout: float | None = None) -> Event:
        if not self.events:
            self._next()
        return self.events.pop(0)

    def complete(self, tid: int, result: int) -> None:
        self.results.append(result)

    def passthrough(self, tid: int) -> None:
        self.results.append("host")

    def resume(self, tid: int, signo: int = 0) -> None:
        pass

    def inject(self, tid: int, nr: int, *args: int) -> int:
        raise NotImplementedError

    def place_fd(self, tid: int, host_fd: int, number: int, scratch: int) -> bool:
        self.results.append(f"place {number}")
        return False

    def restart(self, tid: int) -> None:
        self.results.append("restart")

    def signalfd(self, fd: int, mask: int, flags: int) -> int:
        """A host fd standing for the supervisor's signalfd (an eventfd: it takes F_SETFL)."""
        return os.eventfd(0, os.EFD_CLOEXEC | (flags & os.O_NONBLOCK)) if fd == -1 else fd

    def interrupted_result(self, tid: int, result: int) -> None:
        self.results.append(f"interrupted {result}")

    def signal_thread(self, tgid: int, tid: int, signo: int) -> None:
        self.results.append(f"signal {signo}")

    def queue_signal(self, tgid: int, signo: int, info: bytes) -> None:
        self.results.append(f"siginfo {signo} {info.hex()}")

    def watch_host_fd(self, fd: int, events: int) -> None:
        pass

    def unwatch_host_fd(self, fd: int) -> None:
        pass

    def ready_host_fds(self) -> list[int]:
        return []

    def signal_action(self, tid: int, signo: int) -> str:
        return "default"

    def waits_on_notification(self, tid: int) -> bool:
        return False

    def set_args(self, tid: int, args: tuple[int, ...]) -> None:
        pass

    def still_waiting(self, tid: int) -> bool:
        return True

    def forget(self, tid: int) -> None:
        pass

    def kill_all(self) -> None:
        pass
