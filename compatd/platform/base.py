"""What the kernel model needs from a platform (ptrace today; a fake one in unit tests)."""

from __future__ import annotations

from typing import Protocol

from compatd.platform.events import Event


class Memory(Protocol):
    """A task's address space. Every method raises ``KernelError(EFAULT)`` on a bad pointer."""

    def read(self, addr: int, size: int) -> bytes: ...

    def write(self, addr: int, data: bytes) -> None: ...

    def read_cstring(self, addr: int, limit: int) -> bytes:
        """The bytes before the NUL; ENAMETOOLONG past ``limit`` bytes."""
        ...


class Platform(Protocol):
    def spawn(self, path: bytes, argv: list[bytes], envp: list[bytes]) -> int:
        """Start ``path`` under the filter; return its tid. Its first event is EXECED."""
        ...

    def wait(self) -> Event:
        """Block until a task stops or exits."""
        ...

    def memory(self, tid: int) -> Memory: ...

    def complete(self, tid: int, result: int) -> None:
        """Finish the trapped syscall with ``result`` (a value or -errno); the host skips it."""
        ...

    def passthrough(self, tid: int) -> None:
        """Let the host run the trapped syscall as it is."""
        ...

    def inject(self, tid: int, nr: int, *args: int) -> int:
        """Run syscall ``nr`` inside the stopped task now and return its raw result."""
        ...

    def resume(self, tid: int, signo: int = 0) -> None:
        """Resume a task after a non-syscall stop, delivering ``signo`` if not 0."""
        ...

    def forget(self, tid: int) -> None:
        """Drop what the platform holds for a task that exited."""
        ...

    def kill_all(self) -> None: ...
