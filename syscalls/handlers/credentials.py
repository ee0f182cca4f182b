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


# the uid and gid calls: one set of rules over either family ------------------------------
class IdFamily:
    """The four ids of one family in ``Creds`` (real, effective, saved, fs) and the
    capability that lets a process set them to anything."""

    def __init__(self, name: str, cap: int) -> None:
        self.name = name  # "uid" or "gid"
        self.real, self.eff, self.saved, self.fs = name, "e" + name, "s" + name, "fs" + name
        self.cap = cap

    def get(self, c: Creds) -> tuple[int, int, int, int]:
        return (getattr(c, self.real), getattr(c, self.eff), getattr(c, self.saved),
                getattr(c, self.fs))

    def set(self, c: Creds, real: int, eff: int, saved: int, fs: int) -> None:
        setattr(c, self.real, real)
        setattr(c, self.eff, eff)
        setattr(c, self.saved, saved)
        setattr(c, self.fs, fs)


UIDS = IdFamily("uid", CAP_SETUID)
GIDS = IdFamily("gid", CAP_SETGID)


def do_setid(c: Creds, f: IdFamily, new: int) -> Creds:
    """setuid/setgid: with the capability all of real, effective, saved and fs; else only
    effective and fs, to the real or saved id (EPERM otherwise). Returns the old creds."""
    if new == NO_ID:
        raise KernelError(errno.EINVAL, f"{f.name} -1")
    old = snapshot(c)
    real, _, saved, _ = f.get(c)
    if c.capable(f.cap):
        real = saved = new
    elif new not in (real, saved):
        raise KernelError(errno.EPERM, f"{f.name} {new} is neither the real nor the saved "
                          f"{f.name}")
    f.set(c, real, new, saved, new)
    return old


def do_setreid(c: Creds, f: IdFamily, r: int, e: int) -> Creds:
    """setreuid/setregid: unprivileged, real may become real or effective, effective any
    of the three; the saved id follows the effective when real is set or effective
    changes away from the old real."""
    real, eff, saved, _ = f.get(c)
    priv = c.capable(f.cap)
    if r != NO_ID and r not in (real, eff) and not priv:
        raise KernelError(errno.EPERM, f"real {f.name} {r}")
    if e != NO_ID and e not in (real, eff, saved) and not priv:
        raise KernelError(errno.EPERM, f"effective {f.name} {e}")
    old = snapshot(c)
    new_real = r if r != NO_ID else real
    new_eff = e if e != NO_ID else eff
    if r != NO_ID or (e != NO_ID and e != real):
        saved = new_eff
    f.set(c, new_real, new_eff, saved, new_eff)
    return old


def do_setresid(c: Creds, f: IdFamily, r: int, e: int, s: int) -> Creds | None:
    """setresuid/setresgid: each id to any of the three (any id with the capability);
    None when nothing would change (Linux returns before touching the credentials)."""
    real, eff, saved, fs = f.get(c)
    if ((r == NO_ID or r == real) and (e == NO_ID or e == eff == fs)
            and (s == NO_ID or s == saved)):
        return None
    ids = (real, eff, saved)
    if any(v != NO_ID and v not in ids for v in (r, e, s)) and not c.capable(f.cap):
        raise KernelError(errno.EPERM, f"a new {f.name} needs CAP_SET{f.name.upper()}")
    old = snapshot(c)
    new_eff = e if e != NO_ID else eff
    f.set(c, r if r != NO_ID else real, new_eff, s if s != NO_ID else saved, new_eff)
    return old


def do_setfsid(c: Creds, f: IdFamily, new: int) -> tuple[int, Creds | None]:
    """setfsuid/setfsgid: the old fs id, and the old creds if it changed (to one of the
    other three ids, or any with the capability; never an error)."""
    real, eff, saved, fs = f.get(c)
    if new == NO_ID or new == fs:
        return fs, None
    if new in (real, eff, saved) or c.capable(f.cap):
        old = snapshot(c)
        f.set(c, real, eff, saved, new)
        return fs, old
    return fs, None


@syscall("setuid", Level.PARTIAL, "uid:uid", unsupported=CREDS_NOTE, needs_stop=True)
def sys_setuid(t: Task, uid: int) -> int:
    return fix_uids(t, do_setid(t.group.creds, UIDS, uid))


@syscall("setreuid", Level.PARTIAL, "ruid:uid euid:uid", unsupported=CREDS_NOTE,
         needs_stop=True)
def sys_setreuid(t: Task, ruid: int, euid: int) -> int:
    return fix_uids(t, do_setreid(t.group.creds, UIDS, ruid, euid))


@syscall("setresuid", Level.PARTIAL, "ruid:uid euid:uid suid:uid", unsupported=CREDS_NOTE,
         needs_stop=True)
def sys_setresuid(t: Task, ruid: int, euid: int, suid: int) -> int:
    old = do_setresid(t.group.creds, UIDS, ruid, euid, suid)
    return 0 if old is None else fix_uids(t, old)


@syscall("setfsuid", FULL, "fsuid:uid", needs_stop=True)
def sys_setfsuid(t: Task, fsuid: int) -> int:
    """Always returns the old fsuid; changes it only when allowed (no errors at all)."""
    old_fsuid, old = do_setfsid(t.group.creds, UIDS, fsuid)
    if old is not None:
        t.group.creds.fix_setfsuid(old_fsuid)
        commit(t, old)
    return old_fsuid


@syscall("setgid", FULL, "gid:gid", needs_stop=True)
def sys_setgid(t: Task, gid: int) -> int:
    return commit(t, do_setid(t.group.creds, GIDS, gid))


@syscall("setregid", FULL, "rgid:gid egid:gid", needs_stop=True)
def sys_setregid(t: Task, rgid: int, egid: int) -> int:
    return commit(t, do_setreid(t.group.creds, GIDS, rgid, egid))


@syscall("setresgid", FULL, "rgid:gid egid:gid sgid:gid", needs_stop=True)
def sys_setresgid(t: Task, rgid: int, egid: int, sgid: int) -> int:
    old = do_setresid(t.group.creds, GIDS, rgid, egid, sgid)
    return 0 if old is None else commit(t, old)


@syscall("setfsgid", FULL, "fsgid:gid", needs_stop=True)
def sys_setfsgid(t: Task, fsgid: int) -> int:
    """Always returns the old fsgid; changes it only when allowed (no errors at all)."""
    old_fsgid, old = do_setfsid(t.group.creds, GIDS, fsgid)
    if old is not None:
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
