"""Advisory file locks (fs/locks.c): flock locks, POSIX record locks and OFD locks.

One table, keyed by inode key, for every filesystem:

- **flock** locks belong to an open file description: shared or exclusive on the whole
  file, converted by unlocking first (so a conversion that must wait has lost the old lock,
  as on Linux), released with the description's last reference.
- **POSIX** record locks (fcntl F_SETLK/F_SETLKW) belong to a process's descriptor table
  (Linux's ``current->files``): byte ranges, split and merged per owner, released when the
  owner closes *any* descriptor of the file (``FDTable`` calls ``file_closed``) and so when
  it exits.
- **OFD** locks (F_OFD_SETLK…) are record locks owned by an open file description, released
  with it. POSIX and OFD locks share one list and conflict with each other; flock locks are
  separate.

A lock that must wait raises ``WouldBlock`` whose ``retry`` tries again; the kernel retries
parked calls after every syscall, so an unlock or a close wakes the waiter. Waiting POSIX
owners are recorded for deadlock detection (EDEADLK, as ``posix_locks_deadlock``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from compatd.errors import KernelError, WouldBlock
from vfs.base import OpenFile

F_RDLCK = 0
F_WRLCK = 1
F_UNLCK = 2
OFFSET_MAX = (1 << 63) - 1
MAX_DEADLK_ITERATIONS = 10


@dataclass(slots=True)
class Lock:
    start: int
    end: int  # inclusive; OFFSET_MAX: to the end of the file, whatever its size
    type: int  # F_RDLCK or F_WRLCK
    owner: object  # an FDTable (POSIX) or an OpenFile (OFD, flock)
    pid: int  # what F_GETLK reports: the owner's tgid, -1 for OFD locks
    ofd: bool = False


@dataclass(slots=True)
class InodeLocks:
    flocks: list[Lock] = field(default_factory=list)
    posix: list[Lock] = field(default_factory=list)


# inode key -> its locks; empty entries are removed, so a close costs one truthiness test
# while no process holds any lock.
TABLE: dict[tuple[int, int], InodeLocks] = {}
# POSIX owner -> the owner whose lock it waits for (deadlock detection).
_WAITING: dict[object, object] = {}


def _locks(key: tuple[int, int]) -> InodeLocks:
    il = TABLE.get(key)
    if il is None:
        il = TABLE[key] = InodeLocks()
    return il


def _tidy(key: tuple[int, int]) -> None:
    il = TABLE.get(key)
    if il is not None and not il.flocks and not il.posix:
        del TABLE[key]


def _conflicts(a: Lock, b: Lock) -> bool:
    return (a.owner is not b.owner and (a.type == F_WRLCK or b.type == F_WRLCK)
            and a.start <= b.end and b.start <= a.end)


# flock ----------------------------------------------------------------------------------

def flock(key: tuple[int, int], f: OpenFile, type: int, nonblock: bool) -> int:
    """flock_lock_inode: unlock, or convert/take a whole-file lock for description ``f``."""
    il = _locks(key)
    mine = next((lk for lk in il.flocks if lk.owner is f), None)
    if mine is not None:
        if mine.type == type:
            return 0
        il.flocks.remove(mine)  # Linux drops the old lock before trying the new one
    if type == F_UNLCK:
        _tidy(key)
        return 0
    want = Lock(0, OFFSET_MAX, type, f, -1)

    def attempt() -> int:
        cur = _locks(key)
        if any(_conflicts(want, lk) for lk in cur.flocks):
            if nonblock:
                _tidy(key)
                raise KernelError(errno.EWOULDBLOCK, "flock held by another description")
            raise WouldBlock("flock held by another description", attempt)
        cur.flocks.append(want)
        return 0

    return attempt()


# record locks ---------------------------------------------------------------------------

def test_lock(key: tuple[int, int], want: Lock) -> Lock | None:
    """posix_test_lock: the first lock of another owner that conflicts with ``want``."""
    il = TABLE.get(key)
    if il is None:
        return None
    return next((lk for lk in il.posix if _conflicts(want, lk)), None)


def _deadlock(owner: object, blocker: object) -> bool:
    for _ in range(MAX_DEADLK_ITERATIONS):
        if blocker is owner:
            return True
        nxt = _WAITING.get(blocker)
        if nxt is None:
            return False
        blocker = nxt
    return False


def set_lock(key: tuple[int, int], req: Lock, wait: bool) -> int:
    """posix_lock_inode: take, change or release (F_UNLCK) ``req.owner``'s locks on the
    range. EAGAIN when another owner's lock conflicts; with ``wait``, EDEADLK for a POSIX
    wait that closes a cycle, else ``WouldBlock``."""
    owner = req.owner
    _WAITING.pop(owner, None)

    def attempt() -> int:
        il = _locks(key)
        if req.type != F_UNLCK:
            blocker = next((lk for lk in il.posix if _conflicts(req, lk)), None)
            if blocker is not None:
                if not wait:
                    _tidy(key)
                    raise KernelError(errno.EAGAIN, "range locked by another owner")
                if not req.ofd and not blocker.ofd and _deadlock(owner, blocker.owner):
                    _WAITING.pop(owner, None)
                    _tidy(key)
                    raise KernelError(errno.EDEADLK, "lock wait would deadlock")
                if not req.ofd:
                    _WAITING[owner] = blocker.owner
                raise WouldBlock("record lock held by another owner", attempt)
        _WAITING.pop(owner, None)
        _apply(il, req)
        _tidy(key)
        return 0

    return attempt()


def _apply(il: InodeLocks, req: Lock) -> None:
    """Replace the owner's locks over the request's range with the request (none for
    F_UNLCK), splitting what overlaps, then merge the owner's adjacent locks of one type."""
    owner = req.owner
    others: list[Lock] = []
    mine: list[Lock] = []
    for lk in il.posix:
        (mine if lk.owner is owner else others).append(lk)
    kept: list[Lock] = []
    for lk in mine:
        if lk.end < req.start or lk.start > req.end:
            kept.append(lk)
            continue
        if lk.start < req.start:
            kept.append(Lock(lk.start, req.start - 1, lk.type, owner, lk.pid, lk.ofd))
        if lk.end > req.end:
            kept.append(Lock(req.end + 1, lk.end, lk.type, owner, lk.pid, lk.ofd))
    if req.type != F_UNLCK:
        kept.append(Lock(req.start, req.end, req.type, owner, req.pid, req.ofd))
    kept.sort(key=lambda lk: lk.start)
    merged: list[Lock] = []
    for lk in kept:
        last = merged[-1] if merged else None
        if last is not None and last.type == lk.type and last.end + 1 >= lk.start:
            last.end = max(last.end, lk.end)
        else:
            merged.append(lk)
    il.posix = others + merged


# releases -------------------------------------------------------------------------------

def _held(f: OpenFile) -> tuple[tuple[int, int], InodeLocks] | None:
    """The key and the locks of ``f``'s file, if anyone holds a lock on it."""
    inode = f.inode
    if inode is None:
        return None
    il = TABLE.get(inode.key)
    return None if il is None else (inode.key, il)


def file_closed(table: object, f: OpenFile) -> None:
    """A descriptor of ``f`` was closed by the process whose descriptor table is ``table``:
    its POSIX locks on the file go (locks_remove_posix)."""
    held = _held(f)
    if held is None:
        return
    key, il = held
    il.posix = [lk for lk in il.posix if lk.owner is not table]
    _WAITING.pop(table, None)
    _tidy(key)


def description_released(f: OpenFile) -> None:
    """The last reference to ``f`` is gone: its flock and OFD locks go (locks_remove_file)."""
    held = _held(f)
    if held is None:
        return
    key, il = held
    il.flocks = [lk for lk in il.flocks if lk.owner is not f]
    il.posix = [lk for lk in il.posix if lk.owner is not f]
    _tidy(key)
