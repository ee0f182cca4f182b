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
    def spawn(self, argv: list[bytes], envp: list[bytes]) -> int:
        """Start the exec stub under the filter with ``argv`` and ``envp``; return its tid.

        Its first event is EXECED, then a syscall stop with STUB_TRAP_NR."""
        ...

    def wait(self, timeout: float | None = None) -> Event | None:
        """Block until a task stops, exits or makes a notified call, or ``timeout`` seconds
        pass (None)."""
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

    def install_fd(self, tid: int, host_fd: int, scratch: int) -> int:
        """Copy ``host_fd`` into the stopped task for an injected call; return its number."""
        ...

    def place_fd(self, tid: int, host_fd: int, number: int, scratch: int) -> bool:
        """Copy ``host_fd`` into the task's process at fd ``number`` (close-on-exec); True
        if that took injected calls and the trapped call must be ``restart``ed."""
        ...

    def restart(self, tid: int) -> None:
        """After injected calls: the task makes its trapped call again (it traps anew)."""
        ...

    def signalfd(self, fd: int, mask: int, flags: int) -> int:
        """signalfd4 in the supervisor (raises OSError)."""
        ...

    def start_at(self, tid: int, rip: int, rsp: int) -> None:
        """Start a loaded program at ``rip`` with stack ``rsp``."""
        ...

    def unmap_stub(self, tid: int) -> None: ...

    def host_auxv(self, tid: int) -> list[tuple[int, int]]: ...

    def stack_top(self, tid: int) -> int: ...

    def kill(self, tid: int) -> None: ...

    def still_waiting(self, tid: int) -> bool: ...

    def set_args(self, tid: int, args: tuple[int, ...]) -> None: ...

    def waits_on_notification(self, tid: int) -> bool: ...

    def signal_action(self, tid: int, signo: int) -> str: ...

    def watch_host_fd(self, fd: int, events: int) -> None: ...

    def unwatch_host_fd(self, fd: int) -> None: ...

    def ready_host_fds(self) -> list[int]: ...

    def signal_thread(self, tgid: int, tid: int, signo: int) -> None: ...

    def queue_signal(self, tgid: int, signo: int, info: bytes) -> None:
        """Send process ``tgid`` signal ``signo`` with the siginfo ``info`` (128 bytes)."""
        ...

    def interrupted_result(self, tid: int, result: int) -> None: ...

    def resume(self, tid: int, signo: int = 0) -> None:
        """Resume a task after a non-syscall stop, delivering ``signo`` if not 0."""
        ...

    def forget(self, tid: int) -> None:
        """Drop what the platform holds for a task that exited."""
        ...

    def kill_all(self) -> None: ...
