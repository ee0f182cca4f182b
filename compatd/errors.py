"""The one exception that becomes a syscall's ``-errno``."""

from __future__ import annotations

import errno as _errno


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
