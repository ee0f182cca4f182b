"""A task's address space as the kernel model changes it: mappings made by injected calls.

The host keeps the real page tables; the model decides what is mapped and records what
``/proc/PID/maps`` must name. A file mapping needs a host fd in the task for the length of
one call: the platform passes it over the channel, the task maps it, the fd is closed.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from compatd.errors import KernelError, Unsupported
from compatd.loader import (
    MAP_ANONYMOUS,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    PAGE,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
    page_up,
)
from syscalls.numbers import NUMBERS

if TYPE_CHECKING:
    from compatd.kernel.task import Task
    from vfs.base import OpenFile

MAP_SHARED = 0x01
MAP_TYPE = 0x0F
NR_MMAP = NUMBERS["mmap"]
NR_MUNMAP = NUMBERS["munmap"]
NR_MPROTECT = NUMBERS["mprotect"]
NR_CLOSE = NUMBERS["close"]


class TaskSpace(AddressSpace):
    """The address space of a task stopped at a syscall, changed by injected calls."""

    __slots__ = ("task", "platform")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.platform = task.kernel.platform

    def call(self, nr: int, *args: int) -> int:
        ret = self.platform.inject(self.task.tid, nr, *args)
        if -4096 < ret < 0:
            raise KernelError(-ret, f"injected syscall {nr} failed")
        return ret

    def map_anon(self, addr: int, length: int, prot: int, flags: int) -> int:
        return self.call(NR_MMAP, addr, length, prot, flags | MAP_ANONYMOUS, -1, 0)

    def unmap(self, addr: int, length: int) -> None:
        self.call(NR_MUNMAP, addr, length)

    def write(self, addr: int, data: bytes) -> None:
        self.task.mem.write(addr, data)

    def map_file(self, addr: int, length: int, prot: int, flags: int, file: OpenFile,
                 offset: int) -> int:
        host_fd = file.host_fd() if hasattr(file, "host_fd") else None
        if host_fd is None:
            return self._map_copy(addr, length, prot, flags, file, offset)
        group = self.task.group
        tfd = self.platform.install_fd(self.task.tid, host_fd, group.scratch)
        try:
            ret = self.call(NR_MMAP, addr, length, prot, flags, tfd, offset)
        finally:
            self.platform.inject(self.task.tid, NR_CLOSE, tfd)
        if file.dentry is not None:
            s = os.fstat(host_fd)
            group.mapped_files[(s.st_dev, s.st_ino)] = file.dentry.path()
        return ret

    def _map_copy(self, addr: int, length: int, prot: int, flags: int, file: OpenFile,
                  offset: int) -> int:
        """A private mapping of a file with no host fd: anonymous memory with the bytes
        copied in (no page sharing; a shared one cannot be done this way)."""
        if flags & MAP_TYPE != MAP_PRIVATE:
            raise Unsupported(errno.ENODEV, "shared mapping of a file without a host fd")
        base = self.map_anon(addr, length, prot | PROT_WRITE, flags)
        data = file.pread(length, offset)
        self.write(base, data)
        if not prot & PROT_WRITE:
            self.call(NR_MPROTECT, base, length, prot)
        return base

    def scratch_page(self) -> int:
        """A page of the process's own for the msghdr of fd transfers."""
        return self.map_anon(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE)

    def set_brk(self, addr: int) -> int:
        """brk(2) on the model's program break: grow with fresh zero pages right after the
        current end (never over an existing mapping), shrink by unmapping; on failure the
        break stays where it was, as Linux returns the old break."""
        group = self.task.group
        if addr < group.brk_start:
            return group.brk
        old_end = page_up(group.brk)
        new_end = page_up(addr)
        try:
            if new_end > old_end:
                self.map_anon(old_end, new_end - old_end, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_FIXED_NOREPLACE)
            elif new_end < old_end:
                self.unmap(new_end, old_end - new_end)
        except KernelError:
            return group.brk
        group.brk = addr
        return addr
