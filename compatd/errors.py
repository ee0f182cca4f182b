"""The one exception that becomes a syscall's ``-errno``."""

from __future__ import annotations

import errno as _errno
import signal as _signal
from collections.abc import Callable
from typing import ClassVar


class KernelError(Exception):
    """A failure a Linux syscall reports to the program as ``-errno``.

    ``why`` is for people reading a trace or a run report; the program only sees the errno.
    """

    __slots__ = ("errno", "why")

    def __init__(self, err: int, why: str = "") -> None:
        super().__init__(err, why)
        self.errno = err
        self.why = why

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno, str(self.errno))
        return f"{name}: {self.why}" if self.why else name


class Unsupported(KernelError):
    """A flag or case compatd does not implement: fails with the errno Linux uses for an
    unknown value, and the kernel records it as unsupported in the run report."""

    __slots__ = ()


class SignalingError(KernelError):
    """A failure that also sends the calling thread ``signo``, as Linux's
    ``send_sig(signo, current, 0)`` beside the error (``Kernel.finish_failed`` sends it)."""

    __slots__ = ()
    signo: ClassVar[int] = 0


class BrokenPipe(SignalingError):
    """EPIPE from writing to a pipe without readers: Linux also sends the writer SIGPIPE."""

    __slots__ = ()
    signo = _signal.SIGPIPE

    def __init__(self, why: str = "") -> None:
        super().__init__(_errno.EPIPE, why)


class FileTooBig(SignalingError):
    """EFBIG from a write or truncate past RLIMIT_FSIZE: Linux also sends SIGXFSZ
    (generic_write_check_limits, inode_newsize_ok)."""

    __slots__ = ()
    signo = _signal.SIGXFSZ

    def __init__(self, why: str = "") -> None:
        super().__init__(_errno.EFBIG, why)


class WouldBlock(Exception):  # noqa: N818 - a condition, not an error: the call waits
    """A handler cannot finish now without blocking (a read of an empty pipe that has
    writers, a lock held by another description).

    Not a ``KernelError``: the kernel loop leaves the task stopped in its syscall, parks it
    and retries later; ``retry`` (default: the handler again with the same arguments) is
    what it calls, so a call that made progress (part of a large pipe write) can resume
    where it stopped instead of starting over. A retry may raise ``WouldBlock`` again."""

    def __init__(self, why: str = "", retry: Callable[[], int] | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.retry = retry
