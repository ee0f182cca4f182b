"""The per-process table of virtual file descriptors.

The tracee's fd numbers live here: an entry is an open file description (shared by ``dup``)
plus the descriptor's own FD_CLOEXEC bit. The tracee holds no host fds of its own, except
copies of the few descriptions only the host can serve (a signalfd reads the calling
thread's signals), placed in its host table at the number this table gave them; ``host``
records them.
"""

from __future__ import annotations

import errno

from compatd.errors import KernelError
from vfs import locks
from vfs.base import OpenFile
from vfs.epoll import eventpoll_release


class FDTable:
    __slots__ = ("files", "cloexec", "users", "host")

    def __init__(self) -> None:
        self.files: dict[int, OpenFile] = {}
        self.cloexec: set[int] = set()
        # What the process's host table holds at a number: a copy of a description with
        # ``host_reads`` (Kernel.run_on_host places it when a call needs it there, always
        # close-on-exec). An entry may outlive this table's descriptor (close_range, dup2
        # over it): that stale copy is never used, a close of the number closes it too,
        # and exec drops every copy. The host's table is copied at fork and shared by
        # CLONE_FILES exactly as this one, so the record follows the table.
        self.host: dict[int, OpenFile] = {}
        # Tasks using this table (CLONE_FILES shares it): the last one to leave closes
        # every descriptor, as put_files_struct does.
        self.users = 0

    def attach(self) -> FDTable:
        self.users += 1
        return self

    def detach(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.close_all()

    def unshare(self) -> FDTable:
        """The table a task keeps when it must stop sharing (exec, unshare(CLONE_FILES))."""
        if self.users == 1:
            return self
        self.users -= 1
        return self.copy().attach()

    def get(self, fd: int) -> OpenFile:
        f = self.files.get(fd)
        if f is None:
            raise KernelError(errno.EBADF, f"fd {fd} is not open")
        return f

    def lowest_free(self, minfd: int, limit: int) -> int:
        fd = minfd
        files = self.files
        while fd in files:
            fd += 1
        if fd >= limit:
            raise KernelError(errno.EMFILE, f"no free fd below RLIMIT_NOFILE {limit}")
        return fd

    def install(self, f: OpenFile, limit: int, cloexec: bool = False, minfd: int = 0) -> int:
        """Put ``f`` at the lowest free fd >= ``minfd`` (open, dup, F_DUPFD)."""
        fd = self.lowest_free(minfd, limit)
        self.install_at(fd, f, cloexec)
        return fd

    def install_at(self, fd: int, f: OpenFile, cloexec: bool = False) -> None:
        """Put ``f`` at ``fd``, closing what was there (dup2/dup3)."""
        f.refs += 1
        old = self.files.get(fd)
        self.files[fd] = f
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)
        if old is not None:
            self._closed(old)

    def close(self, fd: int) -> None:
        f = self.files.pop(fd, None)
        if f is None:
            raise KernelError(errno.EBADF, f"fd {fd} is not open")
        self.cloexec.discard(fd)
        self._closed(f)

    def _closed(self, f: OpenFile) -> None:
        """A descriptor of ``f`` is gone: this process's record locks on the file go with
        it (whichever descriptor held them), the file hears of it (``flush``), then the
        description loses a reference."""
        if locks.TABLE:
            locks.file_closed(self, f)
        if f.flushes:
            f.flush(self)
        _unref(f)

    def close_all(self) -> None:
        for fd in list(self.files):
            self.close(fd)

    def copy(self) -> FDTable:
        """For fork without CLONE_FILES: the same descriptions, new descriptors."""
        new = FDTable()
        for fd, f in self.files.items():
            f.refs += 1
            new.files[fd] = f
        new.cloexec = set(self.cloexec)
        new.host = dict(self.host)
        return new


def _unref(f: OpenFile) -> None:
    f.refs -= 1
    if f.refs == 0:
        if locks.TABLE:
            locks.description_released(f)  # its flock and OFD locks
        f.release()
        if "ep_items" in f.__dict__:
            eventpoll_release(f)  # its epoll interests go with it
