"""Changing credentials: the setuid family, setgroups, capget/capset.

Emulated on the model's ``Creds`` with Linux's rules (kernel/sys.c, kernel/groups.c,
kernel/capability.c, security/commoncap.c). The host process keeps its real ids and
capabilities: the model's are what programs see (getuid, /proc/PID/status, AT_SECURE…) and
what the VFS checks. Privilege is the model's effective capability set: CAP_SETUID,
CAP_SETGID, CAP_SETPCAP as Linux checks them; root holds them after exec and loses them by
changing its uids away from 0 (cap_emulate_setxuid), unless it keeps them (PR_SET_KEEPCAPS).

Credentials are per process in the model (Linux keeps them per thread; glibc's setxid
broadcast makes every thread change them alike, which is what programs rely on).
"""

from __future__ import annotations

import errno
import struct

from compatd.errors import KernelError
from compatd.kernel.task import CAP_SETGID, CAP_SETPCAP, CAP_SETUID, Creds, Task, suid_dumpable
from syscalls.numbers import NUMBERS
from syscalls.table import Level, syscall

FULL = Level.FULL
NO_ID = 0xFFFFFFFF  # (uid_t)-1: "leave unchanged", and never a valid id
NGROUPS_MAX = 65536
NR_PRCTL = NUMBERS["prctl"]
PR_SET_PDEATHSIG = 1
CREDS_NOTE = ("RLIMIT_NPROC is not checked when the real uid changes (Linux fails a later "
              "execve with EAGAIN)",)


def commit(t: Task, old: Creds) -> int:
    """commit_creds: a change of euid, egid, fsuid or fsgid makes the process non-dumpable
    (fs.suid_dumpable) and clears the caller's parent-death signal, on the host too (an
    injected prctl: every caller of this is declared ``needs_stop``)."""
    c = t.group.creds
    if (old.euid, old.egid, old.fsuid, old.fsgid) != (c.euid, c.egid, c.fsuid, c.fsgid):
        t.group.dumpable = suid_dumpable()
        if t.pdeathsig:
            t.pdeathsig = 0
            t.kernel.platform.inject(t.tid, NR_PRCTL, PR_SET_PDEATHSIG, 0, 0, 0, 0)
    return 0


def snapshot(c: Creds) -> Creds:
    return Creds(c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid,
                 list(c.groups), c.cap_inh, c.cap_prm, c.cap_eff, c.cap_bnd, c.cap_amb,
                 c.securebits)


def fix_uids(t: Task, old: Creds) -> int:
    t.group.creds.fix_setuid(old.uid, old.euid, old.suid, old.fsuid)
    return commit(t, old)


# uids ------------------------------------------------------------------------------------
@syscall("setuid", Level.PARTIAL, "uid:uid", unsupported=CREDS_NOTE, needs_stop=True)
def sys_setuid(t: Task, uid: int) -> int:
    c = t.group.creds
    if uid == NO_ID:
        raise KernelError(errno.EINVAL, "uid -1")
    old = snapshot(c)
    if c.capable(CAP_SETUID):
        c.uid = c.suid = uid
    elif uid not in (c.uid, c.suid):
        raise KernelError(errno.EPERM, f"uid {uid} is neither the real nor the saved uid")
    c.euid = c.fsuid = uid
    return fix_uids(t, old)


@syscall("setreuid", Level.PARTIAL, "ruid:uid euid:uid", unsupported=CREDS_NOTE,
         needs_stop=True)
def sys_setreuid(t: Task, ruid: int, euid: int) -> int:
    c = t.group.creds
    priv = c.capable(CAP_SETUID)
    if ruid != NO_ID and ruid not in (c.uid, c.euid) and not priv:
        raise KernelError(errno.EPERM, f"real uid {ruid}")
    if euid != NO_ID and euid not in (c.uid, c.euid, c.suid) and not priv:
        raise KernelError(errno.EPERM, f"effective uid {euid}")
    old = snapshot(c)
    if ruid != NO_ID:
        c.uid = ruid
    if euid != NO_ID:
        c.euid = euid
    if ruid != NO_ID or (euid != NO_ID and euid != old.uid):
        c.suid = c.euid
    c.fsuid = c.euid
    return fix_uids(t, old)


@syscall("setresuid", Level.PARTIAL, "ruid:uid euid:uid suid:uid", unsupported=CREDS_NOTE,
         needs_stop=True)
def sys_setresuid(t: Task, ruid: int, euid: int, suid: int) -> int:
    c = t.group.creds
    if ((ruid == NO_ID or ruid == c.uid) and (euid == NO_ID or euid == c.euid == c.fsuid)
            and (suid == NO_ID or suid == c.suid)):
        return 0
    ids = (c.uid, c.euid, c.suid)
    if any(v != NO_ID and v not in ids for v in (ruid, euid, suid)) and not c.capable(CAP_SETUID):
        raise KernelError(errno.EPERM, "a new uid needs CAP_SETUID")
    old = snapshot(c)
    if ruid != NO_ID:
        c.uid = ruid
    if euid != NO_ID:
        c.euid = euid
    if suid != NO_ID:
        c.suid = suid
    c.fsuid = c.euid
    return fix_uids(t, old)


@syscall("setfsuid", FULL, "fsuid:uid", needs_stop=True)
def sys_setfsuid(t: Task, fsuid: int) -> int:
    """Always returns the old fsuid; changes it only when allowed (no errors at all)."""
    c = t.group.creds
    old_fsuid = c.fsuid
    if fsuid == NO_ID or fsuid == old_fsuid:
        return old_fsuid
    if fsuid in (c.uid, c.euid, c.suid) or c.capable(CAP_SETUID):
        old = snapshot(c)
        c.fsuid = fsuid
        c.fix_setfsuid(old_fsuid)
        commit(t, old)
    return old_fsuid


# gids ------------------------------------------------------------------------------------
@syscall("setgid", FULL, "gid:gid", needs_stop=True)
def sys_setgid(t: Task, gid: int) -> int:
    c = t.group.creds
    if gid == NO_ID:
        raise KernelError(errno.EINVAL, "gid -1")
    old = snapshot(c)
    if c.capable(CAP_SETGID):
        c.gid = c.sgid = gid
    elif gid not in (c.gid, c.sgid):
        raise KernelError(errno.EPERM, f"gid {gid} is neither the real nor the saved gid")
    c.egid = c.fsgid = gid
    return commit(t, old)


@syscall("setregid", FULL, "rgid:gid egid:gid", needs_stop=True)
def sys_setregid(t: Task, rgid: int, egid: int) -> int:
    c = t.group.creds
    priv = c.capable(CAP_SETGID)
    if rgid != NO_ID and rgid not in (c.gid, c.egid) and not priv:
        raise KernelError(errno.EPERM, f"real gid {rgid}")
    if egid != NO_ID and egid not in (c.gid, c.egid, c.sgid) and not priv:
        raise KernelError(errno.EPERM, f"effective gid {egid}")
    old = snapshot(c)
    if rgid != NO_ID:
        c.gid = rgid
    if egid != NO_ID:
        c.egid = egid
    if rgid != NO_ID or (egid != NO_ID and egid != old.gid):
        c.sgid = c.egid
    c.fsgid = c.egid
    return commit(t, old)


@syscall("setresgid", FULL, "rgid:gid egid:gid sgid:gid", needs_stop=True)
def sys_setresgid(t: Task, rgid: int, egid: int, sgid: int) -> int:
    c = t.group.creds
    if ((rgid == NO_ID or rgid == c.gid) and (egid == NO_ID or egid == c.egid == c.fsgid)
            and (sgid == NO_ID or sgid == c.sgid)):
        return 0
    ids = (c.gid, c.egid, c.sgid)
    if any(v != NO_ID and v not in ids for v in (rgid, egid, sgid)) and not c.capable(CAP_SETGID):
        raise KernelError(errno.EPERM, "a new gid needs CAP_SETGID")
    old = snapshot(c)
    if rgid != NO_ID:
        c.gid = rgid
    if egid != NO_ID:
        c.egid = egid
    if sgid != NO_ID:
        c.sgid = sgid
    c.fsgid = c.egid
    return commit(t, old)


@syscall("setfsgid", FULL, "fsgid:gid", needs_stop=True)
def sys_setfsgid(t: Task, fsgid: int) -> int:
    c = t.group.creds
    old_fsgid = c.fsgid
    if fsgid == NO_ID or fsgid == old_fsgid:
        return old_fsgid
    if fsgid in (c.gid, c.egid, c.sgid) or c.capable(CAP_SETGID):
        old = snapshot(c)
        c.fsgid = fsgid
        commit(t, old)
    return old_fsgid


@syscall("setgroups", FULL, "size:int list:struct_in")
def sys_setgroups(t: Task, size: int, addr: int) -> int:
    c = t.group.creds
    if not c.capable(CAP_SETGID):
        raise KernelError(errno.EPERM, "setgroups needs CAP_SETGID")
    if not 0 <= size <= NGROUPS_MAX:
        raise KernelError(errno.EINVAL, f"{size} groups")
    groups = list(struct.unpack(f"<{size}I", t.mem.read(addr, 4 * size))) if size else []
    if NO_ID in groups:
        raise KernelError(errno.EINVAL, "gid -1 in the list")
    c.groups = sorted(groups)  # groups_sort: getgroups returns them sorted
    return 0


# capabilities ------------------------------------------------------------------------------
LINUX_CAPABILITY_VERSION_1 = 0x19980330
LINUX_CAPABILITY_VERSION_2 = 0x20071026
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_HEADER = struct.Struct("<Ii")
CAP_DATA = struct.Struct("<III")  # effective, permitted, inheritable (one 32-bit word each)
LOW = 0xFFFFFFFF


def cap_words(t: Task, hdr: int) -> int:
    """cap_validate_magic: 1 or 2 data words; an unknown version is answered with ours."""
    (version,) = struct.unpack("<I", t.mem.read(hdr, 4))
    if version == LINUX_CAPABILITY_VERSION_1:
        return 1
    if version in (LINUX_CAPABILITY_VERSION_2, LINUX_CAPABILITY_VERSION_3):
        return 2
    t.mem.write(hdr, struct.pack("<I", LINUX_CAPABILITY_VERSION_3))
    raise KernelError(errno.EINVAL, f"capability version {version:#x}")


@syscall("capget", FULL, "hdrp:struct_inout datap:struct_out")
def sys_capget(t: Task, hdr: int, data: int) -> int:
    try:
        words = cap_words(t, hdr)
    except KernelError as e:
        if e.errno == errno.EINVAL and not data:
            return 0  # a NULL data pointer asks for the preferred version only
        raise
    if not data:
        return 0
    _, pid = CAP_HEADER.unpack(t.mem.read(hdr, CAP_HEADER.size))
    if pid < 0:
        raise KernelError(errno.EINVAL, "negative pid")
    if pid in (0, t.tid):
        c = t.group.creds
    else:
        target = t.kernel.tasks.get(pid)
        if target is None:
            raise KernelError(errno.ESRCH, f"no task {pid} in the sandbox")
        c = target.group.creds
    out = b"".join(CAP_DATA.pack(c.cap_eff >> s & LOW, c.cap_prm >> s & LOW, c.cap_inh >> s & LOW)
                   for s in (0, 32)[:words])
    t.mem.write(data, out)
    return 0


@syscall("capset", FULL, "hdrp:struct_in datap:struct_in")
def sys_capset(t: Task, hdr: int, data: int) -> int:
    words = cap_words(t, hdr)
    _, pid = CAP_HEADER.unpack(t.mem.read(hdr, CAP_HEADER.size))
    if pid not in (0, t.tid):
        raise KernelError(errno.EPERM, "capset only changes the caller")
    raw = t.mem.read(data, CAP_DATA.size * words)
    eff = prm = inh = 0
    for i in range(words):
        e, p, h = CAP_DATA.unpack_from(raw, CAP_DATA.size * i)
        eff, prm, inh = eff | e << 32 * i, prm | p << 32 * i, inh | h << 32 * i
    c = t.group.creds
    # security/commoncap.c cap_capset
    if inh & ~(c.cap_inh | c.cap_prm) and not c.capable(CAP_SETPCAP):
        raise KernelError(errno.EPERM, "new inheritable caps not permitted")
    if inh & ~(c.cap_inh | c.cap_bnd):
        raise KernelError(errno.EPERM, "new inheritable caps outside the bounding set")
    if prm & ~c.cap_prm:
        raise KernelError(errno.EPERM, "permitted caps can only shrink")
    if eff & ~prm:
        raise KernelError(errno.EPERM, "effective caps must be permitted")
    c.cap_eff, c.cap_prm, c.cap_inh = eff, prm, inh
    c.cap_amb &= prm & inh
    return 0
