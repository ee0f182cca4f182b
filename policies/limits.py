"""A policy's ``[limits]``, enforced with the errno or signal Linux uses for its rlimits.

What each limit is, and who enforces it:

- ``processes``, ``threads``: the sandbox's live processes / threads (tasks). A clone, fork,
  vfork or clone3 that would make one more fails with EAGAIN, as copy_process does past
  RLIMIT_NPROC (``Kernel.check_process_limit`` asks ``check_clone``).
- ``open_files``: RLIMIT_NOFILE of the first process, inherited. The model's fd table
  enforces it already (EMFILE for a new fd, EBADF for dup2/dup3 to a number past it,
  EINVAL for F_DUPFD past it); getrlimit reports it.
- ``file_size``: RLIMIT_FSIZE of the first process, inherited, checked here on the writing
  process's soft limit (which a program may lower, not raise): a write at or past it to a
  regular file fails with EFBIG and sends SIGXFSZ, one that crosses it writes up to it
  first (generic_write_check_limits); a truncate or fallocate that would grow a file past
  it is EFBIG + SIGXFSZ (inode_newsize_ok). sendfile, splice and copy_file_range into a
  file are writes. Files are those of the sandbox's filesystems: compatd's own stdio
  (what the shell that started compatd redirected) is outside.
- ``bytes_written``: bytes the whole sandbox writes to regular files, with the same
  behaviour as file_size once spent (the write that crosses it is cut short, the next one
  is EFBIG + SIGXFSZ). Pipes, sockets, terminals and devices are not counted: the limit is
  about what a program leaves in files, not what it says to others (a network limit is the
  network rules' job). Extending a file by truncate or fallocate writes no bytes, and
  stores through a shared writable mapping are the host's: neither is counted.
- ``cpu_seconds``: RLIMIT_CPU set on the host process before the program loads (soft N,
  hard N+1, inherited by children): the host sends SIGXCPU at N seconds of CPU time and
  SIGKILL at N+1, as ``prlimit --cpu=N:N+1``. Raising it is refused (below).
- ``wall_seconds``: a timer in the supervisor's loop; when it fires every sandboxed task is
  killed with SIGKILL, so compatd exits with 137 like a program killed by ``timeout -s KILL``.
- ``memory``: RLIMIT_AS. The check needs each process's total mapped size, and compatd's own
  record of mappings (``compatd.kernel.mm``) only names mapped files: the host keeps the
  address space, and its /proc/TID/statm and maps (what our procfs shows) are the record
  used here. mmap, mremap, brk and shmat trap while the limit is set (anonymous mmap and
  mremap normally run on the host untrapped) and a call whose growth would take the
  process's total past the limit fails with ENOMEM (brk: returns the old break), counted
  as may_expand_vm counts it: MAP_FIXED and MREMAP_FIXED ranges replace what they cover.
  Growth without a syscall is invisible: the stack grows on page faults, so a stack that
  runs past the limit is not stopped (Linux: SIGSEGV); the mappings compatd's loader makes
  for exec are not checked either (they count once made).

The policy's values are also ceilings: setrlimit/prlimit64 raising a hard limit past one
fails with EPERM, as Linux refuses an unprivileged raise, whatever the program's uid.
A hit is logged in the audit log (``--audit``) with the limit's name.
"""

from __future__ import annotations

import errno
import resource
from collections.abc import Callable
from typing import TYPE_CHECKING

from compatd.errors import FileTooBig, KernelError
from compatd.kernel.kernel import CLONE_THREAD
from compatd.kernel.task import RLIM_INFINITY
from compatd.loader import MAP_FIXED, MAP_FIXED_NOREPLACE, PAGE, page_up
from policies.model import Action, Limits
from syscalls.handlers.common import is_regular
from syscalls.handlers.ipc import SHM_REMAP
from syscalls.handlers.resources import NR_OPEN
from syscalls.numbers import NUMBERS
from vfs import ops
from vfs.flags import O_APPEND

if TYPE_CHECKING:
    from compatd.kernel.kernel import Kernel
    from compatd.kernel.task import Task
    from policies.engine import Enforcer
    from vfs.base import OpenFile

RLIMIT_CPU = resource.RLIMIT_CPU
RLIMIT_FSIZE = resource.RLIMIT_FSIZE
RLIMIT_NOFILE = resource.RLIMIT_NOFILE
RLIMIT_AS = resource.RLIMIT_AS
PAGE_SHIFT = 12
SEEK_CUR = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

# What an entry check returns: None (go on), or the call's result (-ENOMEM; brk's old break).
EntryCheck = Callable[["Task", tuple[int, ...]], "int | None"]


def pages(size: int) -> int:
    """``size`` bytes in whole pages (PAGE_ALIGN, then the page count)."""
    return page_up(size) // PAGE


def vm_pages(tid: int) -> int:
    """The task's address-space size in pages: mm->total_vm, what RLIMIT_AS limits
    (/proc/TID/statm's first field)."""
    with open(f"/proc/{tid}/statm", "rb") as f:
        return int(f.read().split(None, 1)[0])


def mapped_pages(tid: int, start: int, length: int) -> int:
    """Pages already mapped in [start, start+length): what a MAP_FIXED mapping replaces
    (count_vma_pages_range)."""
    end = start + (pages(length) << PAGE_SHIFT)
    total = 0
    with open(f"/proc/{tid}/maps", "rb") as f:
        for line in f:
            lo_text, _, rest = line.partition(b"-")
            lo = int(lo_text, 16)
            if lo >= end:
                break  # the maps are in address order
            hi = int(rest.split(b" ", 1)[0], 16)
            if hi > start:
                total += (min(hi, end) - max(lo, start)) >> PAGE_SHIFT
    return total


def position(f: OpenFile) -> int:
    """Where a write without an offset starts: the end with O_APPEND, else the offset."""
    return f.size() if f.flags & O_APPEND else f.seek(0, SEEK_CUR)


class Limiter:
    """The limits of one run, and the hooks the kernel and the handlers call
    (``Kernel.limits`` is None without limits, so the hooks cost nothing then)."""

    def __init__(self, limits: Limits, enforcer: Enforcer) -> None:
        self.limits = limits
        self.enforcer = enforcer
        self.kernel: Kernel | None = None
        self.written = 0  # bytes written to regular files by the whole sandbox
        self.files = limits.file_size is not None or limits.bytes_written is not None
        # The hard limits setrlimit may not raise past, and the first process's limits.
        self.ceilings: dict[int, int] = {}
        if limits.open_files is not None:
            self.ceilings[RLIMIT_NOFILE] = min(limits.open_files, NR_OPEN)
        if limits.file_size is not None:
            self.ceilings[RLIMIT_FSIZE] = limits.file_size
        if limits.cpu_seconds is not None:
            self.ceilings[RLIMIT_CPU] = limits.cpu_seconds + 1
        if limits.memory is not None:
            self.ceilings[RLIMIT_AS] = limits.memory
        # Checked when the call enters, before it runs (on the host, for anonymous mmap):
        # the Enforcer has these calls trap.
        self.at_entry: dict[int, EntryCheck] = {}
        if limits.memory is not None:
            self.at_entry = {NUMBERS["mmap"]: self.check_mmap,
                             NUMBERS["mremap"]: self.check_mremap,
                             NUMBERS["brk"]: self.check_brk,
                             NUMBERS["shmat"]: self.check_shmat}

    # set-up -------------------------------------------------------------------------------
    def attach(self, kernel: Kernel) -> None:
        self.kernel = kernel
        kernel.limits = self
        if self.limits.file_size is not None:
            ops.newsize_hook = self.check_newsize

    def detach(self) -> None:
        ops.newsize_hook = None

    def first_process(self, task: Task) -> None:
        """The first process is created and has not loaded its program yet: give it the
        limits (its children inherit them) and start the wall clock. A policy lowers
        limits, never raises one above what compatd itself was given."""
        rlimits = task.group.rlimits
        for res, ceiling in self.ceilings.items():
            hard = min(ceiling, rlimits[res][1])
            soft = min(hard, ceiling - 1) if res == RLIMIT_CPU else hard
            rlimits[res] = [soft, hard]
        if self.limits.cpu_seconds is not None:
            # Enforced by the host: it counts the process's CPU time (ptrace stops are not).
            soft, hard = rlimits[RLIMIT_CPU]
            resource.prlimit(task.tid, RLIMIT_CPU, (soft, hard))
        if self.limits.wall_seconds is not None and self.kernel is not None:
            self.kernel.add_timer(self.limits.wall_seconds, self.wall_expired)

    def ceiling(self, res: int) -> int:
        """The hard limit a process may set for ``res`` (RLIM_INFINITY: no ceiling)."""
        return self.ceilings.get(res, RLIM_INFINITY)

    # verdicts -------------------------------------------------------------------------------
    def hit(self, task: Task | None, name: str, err: int, **what: object) -> None:
        """Log a limit that refused a call (or, ``err`` 0, killed the sandbox)."""
        action = Action("deny", errno=err) if err else Action("kill")
        self.enforcer.log_limit(task, name, getattr(self.limits, name), action, **what)

    def current(self) -> Task | None:
        return self.kernel.current if self.kernel is not None else None

    # processes ----------------------------------------------------------------------------
    def check_clone(self, kernel: Kernel, task: Task, flags: int) -> None:
        """processes / threads: EAGAIN for a clone that would pass either. Clones the host
        is still carrying out for other tasks count too (their tasks exist already)."""
        lim = self.limits
        new_process = not flags & CLONE_THREAD
        if lim.threads is not None:
            pending = sum(1 for t in kernel.tasks.values() if t.pending_clone and t is not task)
            if len(kernel.tasks) + pending >= lim.threads:
                self.hit(task, "threads", errno.EAGAIN)
                raise KernelError(errno.EAGAIN, f"policy limit: {lim.threads} threads")
        if lim.processes is not None and new_process:
            pending = sum(1 for t in kernel.tasks.values()
                          if t.pending_clone and not t.pending_clone & CLONE_THREAD
                          and t is not task)
            live = sum(1 for g in kernel.groups.values() if g.tasks)
            if live + pending >= lim.processes:
                self.hit(task, "processes", errno.EAGAIN)
                raise KernelError(errno.EAGAIN, f"policy limit: {lim.processes} processes")

    # files --------------------------------------------------------------------------------
    def write(self, f: OpenFile, pos: int | None, count: int, write: Callable[[int], int]) -> int:
        """A write of ``count`` bytes at ``pos`` (None: the description's position) done by
        ``write(n)``, which returns how many it wrote: cut short or refused by the limits."""
        n = write(self.allow(f, pos, count))
        self.account(f, n)
        return n

    def allow(self, f: OpenFile, pos: int | None, count: int, empty: bool = False) -> int:
        """How many of ``count`` bytes a write to ``f`` at ``pos`` may write; FileTooBig if
        none (generic_write_check_limits, then bytes_written). Only regular files are
        limited, and a write of nothing is not refused (generic_write_checks) unless
        ``empty`` (copy_file_range checks even an empty copy)."""
        if not self.files or not (count or empty) or not is_regular(f):
            return count
        lim = self.limits
        task = self.current()
        if lim.file_size is not None and task is not None:
            fsize = task.group.rlimits[RLIMIT_FSIZE][0]
            if fsize != RLIM_INFINITY:
                at = position(f) if pos is None else pos
                if at >= fsize:
                    self.hit(task, "file_size", errno.EFBIG, offset=at)
                    raise FileTooBig(f"write at {at}: RLIMIT_FSIZE is {fsize}")
                count = min(count, fsize - at)
        if lim.bytes_written is not None:
            left = lim.bytes_written - self.written
            if left <= 0:
                self.hit(task, "bytes_written", errno.EFBIG)
                raise FileTooBig(f"policy limit: {lim.bytes_written} bytes written")
            count = min(count, left)
        return count

    def account(self, f: OpenFile, n: int) -> None:
        """``n`` bytes were written to ``f`` (after ``allow``)."""
        if self.files and is_regular(f):
            self.written += n

    def check_newsize(self, old: int, new: int) -> None:
        """vfs.ops' hook for a truncate or fallocate that sets a regular file's size:
        growing it past RLIMIT_FSIZE is EFBIG + SIGXFSZ (inode_newsize_ok)."""
        task = self.current()
        if new <= old or task is None:
            return
        fsize = task.group.rlimits[RLIMIT_FSIZE][0]
        if fsize != RLIM_INFINITY and new > fsize:
            self.hit(task, "file_size", errno.EFBIG, size=new)
            raise FileTooBig(f"size {new}: RLIMIT_FSIZE is {fsize}")

    # memory -------------------------------------------------------------------------------
    def grows(self, task: Task, npages: int) -> bool:
        """Whether ``npages`` more pages stay within the process's RLIMIT_AS
        (may_expand_vm); a process whose host record is gone is let through."""
        limit = task.group.rlimits[RLIMIT_AS][0]
        if npages <= 0 or limit == RLIM_INFINITY:
            return True
        try:
            # Not the page compatd maps in each process for fd transfers: natively it is
            # not there.
            total = vm_pages(task.tid) - (1 if task.group.scratch else 0)
        except (OSError, ValueError):
            return True
        if total + npages <= limit >> PAGE_SHIFT:
            return True
        self.hit(task, "memory", errno.ENOMEM, pages=total + npages)
        return False

    def replaced(self, task: Task, addr: int, length: int) -> int:
        try:
            return mapped_pages(task.tid, addr, length)
        except (OSError, ValueError):
            return 0

    def check_mmap(self, task: Task, args: tuple[int, ...]) -> int | None:
        addr, length, _, flags = args[0], args[1], args[2], args[3] & 0xFFFFFFFF
        if not length or length >= 1 << 63:
            return None  # EINVAL or ENOMEM from the call itself
        npages = pages(length)
        if flags & MAP_FIXED and not flags & MAP_FIXED_NOREPLACE:
            npages -= self.replaced(task, addr, length)
        return None if self.grows(task, npages) else -errno.ENOMEM

    def check_mremap(self, task: Task, args: tuple[int, ...]) -> int | None:
        _, old_size, new_size, flags, new_addr = args[:5]
        flags &= 0xFFFFFFFF
        old, new = pages(old_size), pages(new_size)
        # A copy (old size 0) or MREMAP_DONTUNMAP keeps the old mapping: all of it is new.
        npages = new if flags & MREMAP_DONTUNMAP or not old else new - old
        if npages > 0 and flags & MREMAP_FIXED:
            npages -= self.replaced(task, new_addr, new_size)  # mremap_to unmaps it first
        return None if self.grows(task, npages) else -errno.ENOMEM

    def check_brk(self, task: Task, args: tuple[int, ...]) -> int | None:
        group = task.group
        if args[0] < group.brk_start:
            return None
        npages = pages(args[0]) - pages(group.brk)
        # brk reports a failure by returning the break unchanged.
        return None if self.grows(task, npages) else group.brk

    def check_shmat(self, task: Task, args: tuple[int, ...]) -> int | None:
        shmid, addr, flags = args[0] & 0xFFFFFFFF, args[1], args[2]
        seg = task.kernel.ipc.shm.get(shmid)
        if seg is None:
            return None  # the call fails on its own
        npages = pages(seg.size)
        if flags & SHM_REMAP:
            npages -= self.replaced(task, addr, seg.size)
        return None if self.grows(task, npages) else -errno.ENOMEM

    # wall clock ---------------------------------------------------------------------------
    def wall_expired(self) -> None:
        """wall_seconds passed: SIGKILL for every sandboxed task."""
        kernel = self.kernel
        if kernel is None or not kernel.tasks:
            return
        self.hit(None, "wall_seconds", 0)
        kernel.platform.kill_all()
