"""Stops reported by a platform, as plain objects the kernel dispatches on.

``kind`` is a small int so the kernel's loop can branch without ``isinstance`` chains; one
event object is made per stop and nothing else.
"""

from __future__ import annotations

SYSCALL = 0  # a trapped syscall entry: the task waits for complete/passthrough/inject
EXITED = 1  # a task is gone: status is the exit code, or the killing signal when signaled
SIGNAL = 2  # a signal is about to be delivered to the task
CLONED = 3  # a task created another (clone/fork/vfork); child is its tid
EXECED = 4  # the task completed an execve on the host
STOPPED = 5  # a group-stop or an interrupt: resume when the kernel decides


class Event:
    __slots__ = ("kind", "tid", "nr", "args", "value", "signaled")

    def __init__(
        self,
        kind: int,
        tid: int,
        nr: int = -1,
        args: tuple[int, ...] = (),
        value: int = 0,
        signaled: bool = False,
    ) -> None:
        self.kind = kind
        self.tid = tid
        self.nr = nr  # SYSCALL: the syscall number
        self.args = args  # SYSCALL: the six argument registers, raw
        self.value = value  # EXITED: code or signal; SIGNAL: signo; CLONED: child tid
        self.signaled = signaled  # EXITED: killed by signal ``value``

    def __repr__(self) -> str:
        names = ["SYSCALL", "EXITED", "SIGNAL", "CLONED", "EXECED", "STOPPED"]
        return f"Event({names[self.kind]}, tid={self.tid}, nr={self.nr}, value={self.value})"
