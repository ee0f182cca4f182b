"""Host System V shared memory segments, owned by the supervisor (ctypes on libc).

A sandboxed program's segment is a real host segment so that a process outside the sandbox
(an X server doing MIT-SHM) can attach it by the id the program sends it. The supervisor
creates it with ``IPC_PRIVATE`` (the program's key stays in the model, so it never meets a
host key); the task attaches it by an injected ``shmat`` whose arguments are all registers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

from compatd.errors import KernelError

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_shmget = _libc.shmget
_shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
_shmget.restype = ctypes.c_int
_shmctl = _libc.shmctl
_shmctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_shmctl.restype = ctypes.c_int

IPC_PRIVATE = 0
SHMID_DS_SIZE = 112  # struct shmid64_ds on x86-64
IPC_RMID, IPC_SET, IPC_STAT = 0, 1, 2


def _fail(what: str) -> KernelError:
    err = ctypes.get_errno() or errno.EINVAL
    return KernelError(err, f"host {what}")


def shm_create(size: int, flags: int) -> int:
    """A new host segment (IPC_PRIVATE) of ``size`` bytes; ``flags`` carries the mode and
    SHM_HUGETLB/SHM_NORESERVE. The host's errors (EINVAL for sizes, ENOSPC, ENOMEM) are
    Linux's."""
    shmid = _shmget(IPC_PRIVATE, size, flags | 0o1000)  # IPC_CREAT
    if shmid < 0:
        raise _fail("shmget")
    return shmid


def shm_ctl(shmid: int, cmd: int, data: bytes | None = None) -> tuple[int, bytes]:
    """shmctl on the host with a struct buffer; returns (result, buffer after the call)."""
    buf = ctypes.create_string_buffer(data or b"", 256)
    ret = _shmctl(shmid, cmd, buf)
    if ret < 0:
        raise _fail(f"shmctl {cmd}")
    return ret, buf.raw[:SHMID_DS_SIZE]


def shm_remove(shmid: int) -> None:
    """IPC_RMID: the host destroys the segment when its last attachment goes."""
    try:
        shm_ctl(shmid, IPC_RMID)
    except KernelError:
        pass
