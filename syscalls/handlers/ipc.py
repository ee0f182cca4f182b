"""System V shared memory: shmget, shmat, shmdt, shmctl.

Choice (issue 5, MIT-SHM): a segment is a real host segment, created by the supervisor with
IPC_PRIVATE (compatd.platform.sysvipc), and the program sees the host's id. An X server
outside the sandbox can then attach what the program created, by the id the program sends
it. The model (compatd.kernel.ipc) keeps what a sandbox sees: keys, owners, modes, the
permission checks, which ids belong to the sandbox (others: EINVAL), attachments per
process. shmat and shmdt run in the task as injected calls whose arguments are all
registers (a validated host id, an address, flags), so nothing is read from task memory
that another thread could swap. The host keeps sizes, times, attach counts and destroys a
removed segment at its last detach, as Linux does.
"""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError, Unsupported
from compatd.kernel.ipc import (
    CAP_IPC_OWNER,
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    S_IRUGO,
    S_IWUGO,
    IpcNamespace,
    ShmSegment,
)
from compatd.kernel.mm import TaskSpace
from compatd.kernel.task import Creds, Task
from compatd.loader import page_up
from compatd.platform import sysvipc
from syscalls.numbers import NUMBERS
from syscalls.table import Level, syscall

NR_SHMAT = NUMBERS["shmat"]
NR_SHMDT = NUMBERS["shmdt"]
CAP_SYS_ADMIN = 21
SHM_RDONLY = 0o10000
SHM_RND = 0o20000
SHM_REMAP = 0o40000
SHM_EXEC = 0o100000
SHM_HUGETLB = 0o4000
SHM_NORESERVE = 0o10000
SHMLBA = 4096
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
IPC_64 = 0x100
# struct shmid64_ds: ipc64_perm {key uid gid cuid cgid mode seq} segsz atime dtime ctime
# cpid lpid nattch.
SHMID_DS = struct.Struct("<iIIIIIHH4xQQQqqqiiQQQ")
SHM_INFO_S = struct.Struct("<i4xQQQQQ")
SHMINFO_SIZE = 9 * 8


def namespace(t: Task) -> IpcNamespace:
    ns = t.kernel.ipc
    if ns.remove_host is None:
        ns.remove_host = sysvipc.shm_remove
    return ns


def in_group(c: Creds, gid: int) -> bool:
    return c.egid == gid or gid in c.groups


def ipcperms(t: Task, seg: ShmSegment, flag: int) -> bool:
    """ipc/util.c ipcperms: the owner's, group's or others' bits, or CAP_IPC_OWNER."""
    c = t.group.creds
    requested = (flag >> 6) | (flag >> 3) | flag
    granted = seg.mode
    if c.euid in (seg.cuid, seg.uid):
        granted >>= 6
    elif in_group(c, seg.cgid) or in_group(c, seg.gid):
        granted >>= 3
    return not (requested & ~granted & 0o7) or c.capable(CAP_IPC_OWNER)


def owner_or_admin(t: Task, seg: ShmSegment) -> None:
    c = t.group.creds
    if c.euid not in (seg.cuid, seg.uid) and not c.capable(CAP_SYS_ADMIN):
        raise KernelError(errno.EPERM, "not the segment's owner or creator")


def segment(t: Task, shmid: int) -> ShmSegment:
    ns = namespace(t)
    seg = ns.shm.get(shmid)
    if seg is None:
        raise KernelError(errno.EINVAL, f"no segment {shmid} in the sandbox")
    if seg.removed:
        try:
            sysvipc.shm_ctl(shmid, IPC_STAT)
        except KernelError:  # destroyed at its last detach
            ns.drop(seg)
            raise KernelError(errno.EINVAL, f"segment {shmid} is gone") from None
    return seg


@syscall("shmget", Level.FULL, "key:int size:size shmflg:int")
def sys_shmget(t: Task, key: int, size: int, shmflg: int) -> int:
    ns = namespace(t)
    key = key - (1 << 32) if key >= 1 << 31 else key
    if key != IPC_PRIVATE and key in ns.shm_keys:
        seg = segment(t, ns.shm_keys[key])
        if shmflg & IPC_CREAT and shmflg & IPC_EXCL:
            raise KernelError(errno.EEXIST, f"key {key:#x} exists")
        if not ipcperms(t, seg, shmflg):
            raise KernelError(errno.EACCES, "segment mode")
        if size > seg.size:
            raise KernelError(errno.EINVAL, "larger than the segment")
        return seg.shmid
    if key != IPC_PRIVATE and not shmflg & IPC_CREAT:
        raise KernelError(errno.ENOENT, f"no segment with key {key:#x}")
    shmid = sysvipc.shm_create(size, shmflg & ~(IPC_CREAT | IPC_EXCL))
    c = t.group.creds
    seg = ShmSegment(shmid, key, size, c.euid, c.egid, c.euid, c.egid, shmflg & 0o777,
                     t.group.tgid)
    ns.shm[shmid] = seg
    if key != IPC_PRIVATE:
        ns.shm_keys[key] = shmid
    return shmid


@syscall("shmat", Level.FULL, "shmid:int shmaddr:ptr shmflg:int", needs_stop=True)
def sys_shmat(t: Task, shmid: int, addr: int, shmflg: int) -> int:
    shmid = shmid - (1 << 32) if shmid >= 1 << 31 else shmid
    if shmid < 0:
        raise KernelError(errno.EINVAL, "negative id")
    if addr & (SHMLBA - 1) and not shmflg & SHM_RND:
        raise KernelError(errno.EINVAL, "unaligned address without SHM_RND")
    seg = segment(t, shmid)
    want = S_IRUGO if shmflg & SHM_RDONLY else S_IRUGO | S_IWUGO
    if shmflg & SHM_EXEC:
        want |= 0o111
    if not ipcperms(t, seg, want):
        raise KernelError(errno.EACCES, "segment mode")
    base = TaskSpace(t).call(NR_SHMAT, shmid, addr, shmflg)
    ns = namespace(t)
    ns.attaches.setdefault(t.group.tgid, {})[base] = (shmid, page_up(seg.size))
    return base


@syscall("shmdt", Level.FULL, "shmaddr:ptr", needs_stop=True)
def sys_shmdt(t: Task, addr: int) -> int:
    TaskSpace(t).call(NR_SHMDT, addr)
    namespace(t).attaches.get(t.group.tgid, {}).pop(addr, None)
    return 0


def stat_bytes(seg: ShmSegment) -> bytes:
    _, raw = sysvipc.shm_ctl(seg.shmid, IPC_STAT)
    f = list(SHMID_DS.unpack(raw))
    # Our key, owners and mode bits; the host's SHM_DEST/SHM_LOCKED, seq, times, counts.
    f[0] = IPC_PRIVATE if seg.removed else seg.key
    f[1:5] = [seg.uid, seg.gid, seg.cuid, seg.cgid]
    f[5] = (f[5] & ~0o777) | seg.mode
    f[14] = seg.cpid
    return SHMID_DS.pack(*f)


@syscall(
    "shmctl",
    Level.PARTIAL,
    "shmid:int cmd:int buf:struct_inout",
    unsupported=("SHM_STAT and SHM_STAT_ANY (indexes are not modelled): EINVAL",),
)
def sys_shmctl(t: Task, shmid: int, cmd: int, buf: int) -> int:
    shmid = shmid - (1 << 32) if shmid >= 1 << 31 else shmid
    cmd &= ~IPC_64
    if cmd < 0 or shmid < 0:
        raise KernelError(errno.EINVAL, "negative id or command")
    ns = namespace(t)
    if cmd == IPC_INFO:
        _, raw = sysvipc.shm_ctl(0, IPC_INFO)
        t.mem.write(buf, raw[:SHMINFO_SIZE])
        return max(ns.shm, default=0)
    if cmd == SHM_INFO:
        segs = list(ns.shm.values())
        pages = sum(page_up(s.size) // 4096 for s in segs)
        t.mem.write(buf, SHM_INFO_S.pack(len(segs), pages, pages, 0, 0, 0))
        return max(ns.shm, default=0)
    if cmd in (SHM_STAT, SHM_STAT_ANY):
        raise Unsupported(errno.EINVAL, "SHM_STAT by index")
    if cmd not in (IPC_STAT, IPC_SET, IPC_RMID, SHM_LOCK, SHM_UNLOCK):
        raise KernelError(errno.EINVAL, f"shmctl command {cmd}")
    seg = segment(t, shmid)
    if cmd == IPC_STAT:
        if not ipcperms(t, seg, S_IRUGO):
            raise KernelError(errno.EACCES, "segment mode")
        t.mem.write(buf, stat_bytes(seg))
        return 0
    if cmd == IPC_SET:
        new = SHMID_DS.unpack(t.mem.read(buf, SHMID_DS.size))
        owner_or_admin(t, seg)
        _, raw = sysvipc.shm_ctl(shmid, IPC_STAT)
        host = list(SHMID_DS.unpack(raw))
        host[5] = (host[5] & ~0o777) | (new[5] & 0o777)
        sysvipc.shm_ctl(shmid, IPC_SET, SHMID_DS.pack(*host))
        seg.uid, seg.gid, seg.mode = new[1], new[2], new[5] & 0o777
        return 0
    owner_or_admin(t, seg)
    if cmd == IPC_RMID:
        sysvipc.shm_ctl(shmid, IPC_RMID)
        seg.removed = True
        if ns.shm_keys.get(seg.key) == shmid:
            del ns.shm_keys[seg.key]
        try:
            sysvipc.shm_ctl(shmid, IPC_STAT)
        except KernelError:  # nobody attached: destroyed now
            ns.drop(seg)
        return 0
    sysvipc.shm_ctl(shmid, cmd)  # SHM_LOCK / SHM_UNLOCK
    return 0
