"""memfd_create: anonymous tmpfs files (their data in a host memfd, so they can be mapped)."""

from __future__ import annotations

import errno
import itertools
import stat as st

from compatd.errors import KernelError, Unsupported
from compatd.kernel.task import Task
from syscalls.table import Level, syscall
from vfs.base import Dentry, OpenFile
from vfs.flags import O_ACCMODE, O_LARGEFILE, O_RDONLY, O_RDWR
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

MFD_CLOEXEC = 0x1
MFD_ALLOW_SEALING = 0x2
MFD_HUGETLB = 0x4
MFD_NOEXEC_SEAL = 0x8
MFD_EXEC = 0x10
MFD_NAME_MAX = 249  # NAME_MAX minus "memfd:"
F_SEAL_SEAL = 0x1
F_SEAL_EXEC = 0x20

# memfds live in one internal tmpfs that is mounted nowhere (Linux's shm_mnt): their names
# are for /proc/PID/fd only ("/memfd:NAME (deleted)").
MEMFD_NS = MountTable(TmpFS())
_names = itertools.count(1)


@syscall("memfd_create", Level.PARTIAL, "name:str flags:flags/memfd",
         unsupported=("MFD_HUGETLB: EINVAL",
                      "seals are kept and reported (F_ADD_SEALS/F_GET_SEALS) but "
                      "F_SEAL_WRITE/GROW/SHRINK are not enforced"))
def sys_memfd_create(t: Task, name_addr: int, flags: int) -> int:
    if flags & MFD_HUGETLB:
        raise Unsupported(errno.EINVAL, "MFD_HUGETLB")
    if flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC):
        raise KernelError(errno.EINVAL, f"memfd_create flags {flags:#x}")
    if flags & MFD_NOEXEC_SEAL and flags & MFD_EXEC:
        raise KernelError(errno.EINVAL, "MFD_NOEXEC_SEAL with MFD_EXEC")
    try:
        name = t.mem.read_cstring(name_addr, MFD_NAME_MAX)
    except KernelError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise KernelError(errno.EINVAL, "memfd name longer than 249 bytes") from None
        raise
    root = MEMFD_NS.root_dentry()
    tmp = b"%d" % next(_names)
    # mode 0777 (0666 with MFD_NOEXEC_SEAL), owned by the caller, as shmem_file_setup does.
    perm = 0o666 if flags & MFD_NOEXEC_SEAL else 0o777
    creds = t.creds
    inode = root.inode.create(tmp, st.S_IFREG | perm, creds.fsuid, creds.fsgid)
    f = inode.open(O_RDWR | O_LARGEFILE)
    root.inode.unlink(tmp)
    f.dentry = Dentry(MEMFD_NS.root_mount, inode, b"memfd:" + name, root)
    # Without MFD_ALLOW_SEALING the seal set is sealed itself; NOEXEC_SEAL seals exec.
    seals = 0 if flags & MFD_ALLOW_SEALING else F_SEAL_SEAL
    if flags & MFD_NOEXEC_SEAL:
        seals |= F_SEAL_EXEC
    SEALS[inode.key] = seals
    return t.install_fd(f, cloexec=bool(flags & MFD_CLOEXEC))


# Seals belong to the file (every descriptor sees them), kept by inode identity.
SEALS: dict[tuple[int, int], int] = {}
F_ADD_SEALS = 1033
F_GET_SEALS = 1034
KNOWN_SEALS = 0x3F  # SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE, EXEC


def do_seals(f: OpenFile, cmd: int, arg: int) -> int:
    """fcntl F_ADD_SEALS/F_GET_SEALS (memfd_fcntl): EINVAL for files that take no seals,
    EPERM once F_SEAL_SEAL is set or for a file not open for writing."""
    key = f.inode.key if f.inode is not None else None
    if key not in SEALS:
        raise KernelError(errno.EINVAL, "not a memfd")
    if cmd == F_GET_SEALS:
        return SEALS[key]
    if arg & ~KNOWN_SEALS:
        raise KernelError(errno.EINVAL, f"unknown seals {arg:#x}")
    if f.flags & O_ACCMODE == O_RDONLY:
        raise KernelError(errno.EPERM, "adding seals needs a writable descriptor")
    if SEALS[key] & F_SEAL_SEAL:
        raise KernelError(errno.EPERM, "the seals are sealed")
    SEALS[key] |= arg
    return 0
