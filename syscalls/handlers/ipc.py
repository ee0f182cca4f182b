"""System V IPC: shared memory (shmget, shmat, shmdt, shmctl), message queues (msgget,
msgsnd, msgrcv, msgctl) and semaphores (semget, semop, semtimedop, semctl).

Choice (issue 5, MIT-SHM): a segment is a real host segment, created by the supervisor with
IPC_PRIVATE (compatd.platform.sysvipc), and the program sees the host's id. An X server
outside the sandbox can then attach what the program created, by the id the program sends
it. The model (compatd.kernel.ipc) keeps what a sandbox sees: keys, owners, modes, the
permission checks, which ids belong to the sandbox (others: EINVAL), attachments per
process. shmat and shmdt run in the task as injected calls whose arguments are all
registers (a validated host id, an address, flags), so nothing is read from task memory
that another thread could swap. The host keeps sizes, times, attach counts and destroys a
removed segment at its last detach, as Linux does.

Message queues and semaphores are the model's alone (HOST would reach other host processes'
queues and sets by key): a call that must wait parks (WouldBlock) and is tried again when
anything changes; removing a queue or set wakes its waiters with EIDRM.
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable
from typing import Any

from compatd.errors import KernelError, Unsupported, WouldBlock
from compatd.kernel.ipc import (
    CAP_IPC_OWNER,
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    S_IRUGO,
    S_IWUGO,
    IpcNamespace,
    IpcObject,
    MsgQueue,
    SemSet,
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


def ipcperms(t: Task, seg: ShmSegment | IpcObject, flag: int) -> bool:
    """ipc/util.c ipcperms: the owner's, group's or others' bits, or CAP_IPC_OWNER."""
    c = t.group.creds
    requested = (flag >> 6) | (flag >> 3) | flag
    granted = seg.mode
    if c.euid in (seg.cuid, seg.uid):
        granted >>= 6
    elif in_group(c, seg.cgid) or in_group(c, seg.gid):
        granted >>= 3
    return not (requested & ~granted & 0o7) or c.capable(CAP_IPC_OWNER)


def owner_or_admin(t: Task, seg: ShmSegment | IpcObject) -> None:
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


# --- message queues and semaphore sets (the model's own) ------------------------------------

IPC_NOWAIT = 0o4000
MSG_NOERROR = 0o10000
MSG_EXCEPT = 0o20000
MSG_COPY = 0o40000
MSGMAX = 8192
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20
SEM_UNDO = 0x1000
SEMMSL, SEMOPM, SEMVMX = 32000, 500, 32767
PERM = struct.Struct("<iIIIIIHH4xQQ")
MSQID_DS = struct.Struct("<48sqqqQQQiiQQ")
SEMID_DS = struct.Struct("<48sqQqQQQQ")
SEMBUF = struct.Struct("<Hhh")
TIMESPEC = struct.Struct("<qq")
NS = 1_000_000_000


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def perm_bytes(o: IpcObject) -> bytes:
    return PERM.pack(IPC_PRIVATE if o.removed else o.key, o.uid, o.gid, o.cuid, o.cgid,
                     o.mode, 0, 0, 0, 0)


def ipc_get(t: Task, table: dict, keys: dict, key: int, flg: int, make: Callable) -> int:
    """ipcget: an existing key (EEXIST, EACCES, the caller's checks) or a new object."""
    key = s32(key)
    if key != IPC_PRIVATE and key in keys:
        o = table[keys[key]]
        if flg & IPC_CREAT and flg & IPC_EXCL:
            raise KernelError(errno.EEXIST, f"key {key:#x} exists")
        if not ipcperms(t, o, flg):
            raise KernelError(errno.EACCES, "mode")
        make(o)
        return o.id
    if key != IPC_PRIVATE and not flg & IPC_CREAT:
        raise KernelError(errno.ENOENT, f"no object with key {key:#x}")
    o = make(None)
    c = t.group.creds
    o.id, o.key, o.uid, o.gid, o.cuid, o.cgid = namespace(t).new_id(), key, c.euid, c.egid, \
        c.euid, c.egid
    o.mode, o.ctime = flg & 0o777, int(time.time())
    table[o.id] = o
    if key != IPC_PRIVATE:
        keys[key] = o.id
    return o.id


def ipc_lookup(table: dict, ident: int) -> Any:
    o = table.get(s32(ident))
    if o is None:
        raise KernelError(errno.EINVAL, f"no object {s32(ident)}")
    return o


def ipc_set(t: Task, o: IpcObject, raw: bytes) -> None:
    owner_or_admin(t, o)
    _, uid, gid, _, _, mode, *_ = PERM.unpack(raw[:PERM.size])
    o.uid, o.gid, o.mode, o.ctime = uid, gid, mode & 0o777, int(time.time())


def ipc_rmid(t: Task, o: IpcObject, table: dict, keys: dict) -> None:
    owner_or_admin(t, o)
    o.removed = True
    table.pop(o.id, None)
    if keys.get(o.key) == o.id:
        del keys[o.key]


@syscall("msgget", Level.FULL, "key:int msgflg:int")
def sys_msgget(t: Task, key: int, flg: int) -> int:
    ns = namespace(t)
    return ipc_get(t, ns.msg, ns.msg_keys, key, flg,
                   lambda o: o or MsgQueue(0, 0, 0, 0, 0, 0, 0, 0))


@syscall("msgsnd", Level.FULL, "msqid:int msgp:buf_in msgsz:size msgflg:int")
def sys_msgsnd(t: Task, msqid: int, msgp: int, size: int, flg: int) -> int:
    if size > MSGMAX or size >> 63:
        raise KernelError(errno.EINVAL, "message size")
    (mtype,) = struct.unpack("<q", t.mem.read(msgp, 8))
    if mtype < 1:
        raise KernelError(errno.EINVAL, "mtype < 1")
    data = t.mem.read(msgp + 8, size)
    q = ipc_lookup(namespace(t).msg, msqid)
    if not ipcperms(t, q, S_IWUGO):
        raise KernelError(errno.EACCES, "queue mode")

    def send() -> int:
        if q.removed:
            raise KernelError(errno.EIDRM, "queue removed")
        if q.cbytes() + size > q.qbytes or len(q.messages) + 1 > q.qbytes:
            if flg & IPC_NOWAIT:
                raise KernelError(errno.EAGAIN, "queue full")
            raise WouldBlock("queue full", send)
        q.messages.append((mtype, data))
        q.lspid, q.stime = t.group.tgid, int(time.time())
        return 0

    return send()


@syscall("msgrcv", Level.PARTIAL, "msqid:int msgp:buf_out msgsz:size msgtyp:long msgflg:int",
         unsupported=("MSG_COPY (checkpoint/restore): EINVAL",))
def sys_msgrcv(t: Task, msqid: int, msgp: int, size: int, msgtyp: int, flg: int) -> int:
    if size >> 63:
        raise KernelError(errno.EINVAL, "negative size")
    if flg & MSG_COPY:
        raise Unsupported(errno.EINVAL, "MSG_COPY")
    msgtyp = msgtyp - (1 << 64) if msgtyp >> 63 else msgtyp
    q = ipc_lookup(namespace(t).msg, msqid)
    if not ipcperms(t, q, S_IRUGO):
        raise KernelError(errno.EACCES, "queue mode")

    def pick() -> int | None:
        best = None
        for i, (mt, _) in enumerate(q.messages):
            if msgtyp == 0:
                return i
            if msgtyp > 0 and (mt != msgtyp if flg & MSG_EXCEPT else mt == msgtyp):
                return i
            if msgtyp < 0 and mt <= -msgtyp and (best is None or mt < q.messages[best][0]):
                best = i
        return best

    def receive() -> int:
        if q.removed:
            raise KernelError(errno.EIDRM, "queue removed")
        i = pick()
        if i is None:
            if flg & IPC_NOWAIT:
                raise KernelError(errno.ENOMSG, "no message of that type")
            raise WouldBlock("no message", receive)
        mt, data = q.messages[i]
        if len(data) > size:
            if not flg & MSG_NOERROR:
                raise KernelError(errno.E2BIG, "message longer than the buffer")
            data = data[:size]
        t.mem.write(msgp, struct.pack("<q", mt) + data)
        del q.messages[i]
        q.lrpid, q.rtime = t.group.tgid, int(time.time())
        return len(data)

    return receive()


@syscall("msgctl", Level.PARTIAL, "msqid:int cmd:int buf:struct_inout",
         unsupported=("MSG_STAT and MSG_STAT_ANY (indexes are not modelled): EINVAL",))
def sys_msgctl(t: Task, msqid: int, cmd: int, buf: int) -> int:
    ns = namespace(t)
    cmd &= ~IPC_64
    if cmd in (IPC_INFO, MSG_INFO):
        used = len(ns.msg)
        info = struct.pack("<iiiiiiiH2x", 16384 if cmd == IPC_INFO else used,
                           8192, 16384, 32000, 8192, used if cmd == MSG_INFO else 16384,
                           8192 if cmd == IPC_INFO else sum(len(q.messages) for q in
                                                            ns.msg.values()), 16)
        t.mem.write(buf, info)
        return max(ns.msg, default=0)
    if cmd not in (IPC_STAT, IPC_SET, IPC_RMID):
        raise Unsupported(errno.EINVAL, f"msgctl command {cmd}")
    q = ipc_lookup(ns.msg, msqid)
    if cmd == IPC_STAT:
        if not ipcperms(t, q, S_IRUGO):
            raise KernelError(errno.EACCES, "queue mode")
        t.mem.write(buf, MSQID_DS.pack(perm_bytes(q), q.stime, q.rtime, q.ctime, q.cbytes(),
                                       len(q.messages), q.qbytes, q.lspid, q.lrpid, 0, 0))
    elif cmd == IPC_SET:
        raw = MSQID_DS.unpack(t.mem.read(buf, MSQID_DS.size))
        if raw[6] > 16384 and not t.group.creds.capable(24):  # CAP_SYS_RESOURCE
            raise KernelError(errno.EPERM, "msg_qbytes above MSGMNB")
        ipc_set(t, q, raw[0])
        q.qbytes = raw[6]
    else:
        ipc_rmid(t, q, ns.msg, ns.msg_keys)
    return 0


@syscall("semget", Level.FULL, "key:int nsems:int semflg:int")
def sys_semget(t: Task, key: int, nsems: int, flg: int) -> int:
    nsems = s32(nsems)
    if nsems < 0 or nsems > SEMMSL:
        raise KernelError(errno.EINVAL, "nsems")
    ns = namespace(t)

    def make(o: SemSet | None) -> SemSet:
        if o is not None:
            if nsems > len(o.values):
                raise KernelError(errno.EINVAL, "more semaphores than the set has")
            return o
        if nsems == 0:
            raise KernelError(errno.EINVAL, "a new set needs nsems > 0")
        return SemSet(0, 0, 0, 0, 0, 0, 0, 0, values=[0] * nsems, pids=[0] * nsems)

    return ipc_get(t, ns.sem, ns.sem_keys, key, flg, make)


def do_semop(t: Task, semid: int, sops: int, nsops: int, timeout: int) -> int:
    if nsops < 1:
        raise KernelError(errno.EINVAL, "nsops < 1")
    if nsops > SEMOPM:
        raise KernelError(errno.E2BIG, "nsops > SEMOPM")
    ops = [SEMBUF.unpack_from(t.mem.read(sops, SEMBUF.size * nsops), i * SEMBUF.size)
           for i in range(nsops)]
    deadline = None
    if timeout:
        sec, nsec = TIMESPEC.unpack(t.mem.read(timeout, TIMESPEC.size))
        if sec < 0 or not 0 <= nsec < NS:
            raise KernelError(errno.EINVAL, "timeout")
        deadline = time.monotonic() + sec + nsec / NS
    ns = namespace(t)
    s = ipc_lookup(ns.sem, semid)
    if any(num >= len(s.values) for num, _, _ in ops):
        raise KernelError(errno.EFBIG, "sem_num out of range")
    alter = any(op for _, op, _ in ops)
    if not ipcperms(t, s, S_IWUGO if alter else S_IRUGO):
        raise KernelError(errno.EACCES, "set mode")
    tid, tgid = t.tid, t.group.tgid
    expired = [False]
    if deadline is not None:
        t.kernel.add_timer(max(0.0, deadline - time.monotonic()),
                           lambda: expired.__setitem__(0, True))

    def attempt() -> int:
        ns.sem_waiters.pop(tid, None)
        if s.removed:
            raise KernelError(errno.EIDRM, "set removed")
        vals = list(s.values)
        for num, op, flg in ops:
            if op > 0:
                if vals[num] + op > SEMVMX:
                    raise KernelError(errno.ERANGE, "above SEMVMX")
                vals[num] += op
            elif (op == 0 and vals[num]) or (op < 0 and vals[num] + op < 0):
                if flg & IPC_NOWAIT:
                    raise KernelError(errno.EAGAIN, "would wait")
                if expired[0]:
                    raise KernelError(errno.EAGAIN, "timed out")
                ns.sem_waiters[tid] = [(s.id, num, op == 0)]
                raise WouldBlock("semaphore", attempt)
            else:
                vals[num] += op
        s.values = vals
        s.otime = int(time.time())
        for num, op, flg in ops:
            s.pids[num] = tgid
            if flg & SEM_UNDO and op:
                undo = ns.sem_undo.setdefault(tgid, {})
                undo[(s.id, num)] = undo.get((s.id, num), 0) - op
        return 0

    return attempt()


@syscall("semop", Level.FULL, "semid:int sops:struct_in nsops:uint")
def sys_semop(t: Task, semid: int, sops: int, nsops: int) -> int:
    return do_semop(t, semid, sops, nsops, 0)


@syscall("semtimedop", Level.FULL, "semid:int sops:struct_in nsops:uint timeout:struct_in")
def sys_semtimedop(t: Task, semid: int, sops: int, nsops: int, timeout: int) -> int:
    return do_semop(t, semid, sops, nsops, timeout)


@syscall("semctl", Level.PARTIAL, "semid:int semnum:int cmd:int arg:ulong",
         unsupported=("SEM_STAT and SEM_STAT_ANY (indexes are not modelled): EINVAL",))
def sys_semctl(t: Task, semid: int, semnum: int, cmd: int, arg: int) -> int:
    ns = namespace(t)
    cmd &= ~IPC_64
    semnum = s32(semnum)
    if cmd in (IPC_INFO, SEM_INFO):
        used = len(ns.sem)
        total = sum(len(x.values) for x in ns.sem.values())
        t.mem.write(arg, struct.pack("<10i", 32000, 32000, 32000 * 32000, 32000, SEMMSL,
                                     SEMOPM, used if cmd == SEM_INFO else 32000, SEMVMX,
                                     total if cmd == SEM_INFO else 32000, 32767))
        return max(ns.sem, default=0)
    if cmd not in (IPC_STAT, IPC_SET, IPC_RMID, GETPID, GETVAL, GETALL, GETNCNT, GETZCNT,
                   SETVAL, SETALL):
        raise Unsupported(errno.EINVAL, f"semctl command {cmd}")
    s = ipc_lookup(ns.sem, semid)
    if cmd == IPC_RMID:
        ipc_rmid(t, s, ns.sem, ns.sem_keys)
        return 0
    if cmd == IPC_SET:
        ipc_set(t, s, t.mem.read(arg, PERM.size))
        return 0
    write = cmd in (SETVAL, SETALL)
    if not ipcperms(t, s, S_IWUGO if write else S_IRUGO):
        raise KernelError(errno.EACCES, "set mode")
    n = len(s.values)
    if cmd == IPC_STAT:
        t.mem.write(arg, SEMID_DS.pack(perm_bytes(s), s.otime, 0, s.ctime, 0, n, 0, 0))
        return 0
    if cmd == GETALL:
        t.mem.write(arg, struct.pack(f"<{n}H", *s.values))
        return 0
    if cmd == SETALL:
        vals = list(struct.unpack(f"<{n}H", t.mem.read(arg, 2 * n)))
        if any(v > SEMVMX for v in vals):
            raise KernelError(errno.ERANGE, "above SEMVMX")
        s.values, s.ctime = vals, int(time.time())
        s.pids = [t.group.tgid] * n
        drop_undo(ns, s.id, None)
        return 0
    if not 0 <= semnum < n:
        raise KernelError(errno.EINVAL, "semnum out of range")
    if cmd == GETVAL:
        return s.values[semnum]
    if cmd == GETPID:
        return s.pids[semnum]
    if cmd in (GETNCNT, GETZCNT):
        zero = cmd == GETZCNT
        return sum(1 for tid, w in ns.sem_waiters.items() if tid in t.kernel.parked
                   for sid, num, z in w if sid == s.id and num == semnum and z == zero)
    val = s32(arg)  # SETVAL
    if not 0 <= val <= SEMVMX:
        raise KernelError(errno.ERANGE, "value out of range")
    s.values[semnum], s.pids[semnum], s.ctime = val, t.group.tgid, int(time.time())
    drop_undo(ns, s.id, semnum)
    return 0


def drop_undo(ns: IpcNamespace, semid: int, num: int | None) -> None:
    """SETVAL and SETALL clear the semaphores' undo entries in every process."""
    for undo in ns.sem_undo.values():
        for k in [k for k in undo if k[0] == semid and (num is None or k[1] == num)]:
            del undo[k]
