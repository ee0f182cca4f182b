"""Extended attributes: the generic rules of fs/xattr.c over the filesystems' Inode methods.

Filesystems implement ``Inode.getxattr/setxattr/listxattr/removexattr`` (the defaults say
EOPNOTSUPP, as Linux for a filesystem without xattr handlers); this module does what the VFS
does before and after them, in Linux's order: the namespace rules of ``xattr_permission``
(trusted.* needs CAP_SYS_ADMIN, user.* only on regular files and directories, the sticky
directory rule, then inode permission), commoncap's rule that writing security.* needs
CAP_SYS_ADMIN, EROFS, and the names a namespace prefix alone makes (EINVAL).

``SimpleXattrs`` is the in-memory store tmpfs uses (mm/shmem.c's simple_xattrs).
"""

from __future__ import annotations

import errno
import stat as st
from typing import TYPE_CHECKING

from compatd.errors import KernelError, Unsupported
from vfs.base import Inode
from vfs.resolver import CredsLike, may_access

if TYPE_CHECKING:
    from vfs.mount import Mount

XATTR_CREATE = 1
XATTR_REPLACE = 2
XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_LIST_MAX = 65536

SECURITY = b"security."
SYSTEM = b"system."
TRUSTED = b"trusted."
USER = b"user."
PREFIXES = (SECURITY, SYSTEM, TRUSTED, USER)
POSIX_ACLS = (b"system.posix_acl_access", b"system.posix_acl_default")
CAP_SYS_ADMIN = 21
MAY_WRITE = 2
MAY_READ = 4


def privileged(creds: CredsLike) -> bool:
    capable = getattr(creds, "capable", None)
    return bool(capable(CAP_SYS_ADMIN)) if capable is not None else creds.fsuid == 0


def check_permission(inode: Inode, creds: CredsLike, name: bytes, mask: int) -> None:
    """xattr_permission (and cap_inode_setxattr/removexattr for security.*)."""
    if name.startswith(SECURITY) or name.startswith(SYSTEM):
        if mask & MAY_WRITE and name.startswith(SECURITY) \
                and name != b"security.capability" and not privileged(creds):
            raise KernelError(errno.EPERM, "security.* needs CAP_SYS_ADMIN")
        return
    if name.startswith(TRUSTED):
        if not privileged(creds):
            raise KernelError(errno.EPERM if mask & MAY_WRITE else errno.ENODATA,
                              "trusted.* needs CAP_SYS_ADMIN")
        return
    s = inode.stat()
    if name.startswith(USER):
        if not (st.S_ISREG(s.mode) or st.S_ISDIR(s.mode)):
            raise KernelError(errno.EPERM if mask & MAY_WRITE else errno.ENODATA,
                              "user.* only on regular files and directories")
        if (st.S_ISDIR(s.mode) and s.mode & st.S_ISVTX and mask & MAY_WRITE
                and creds.fsuid not in (0, s.uid)):
            raise KernelError(errno.EPERM, "user.* on a sticky directory not ours")
    if not may_access(s, creds, mask):
        raise KernelError(errno.EACCES, f"xattr permission {mask:o} denied")


def resolve_name(name: bytes) -> None:
    """xattr_resolve_name: EOPNOTSUPP for a name in no namespace, EINVAL for a bare prefix."""
    for p in PREFIXES:
        if name.startswith(p):
            if name == p:
                raise KernelError(errno.EINVAL, "xattr name is only a namespace prefix")
            return
    raise KernelError(errno.EOPNOTSUPP, f"xattr namespace of {name!r}")


# The operations take the inode and the mount it was reached through (None for files outside
# the mount tree: pipes, memfds).

def getxattr(inode: Inode, creds: CredsLike, name: bytes) -> bytes:
    check_permission(inode, creds, name, MAY_READ)
    resolve_name(name)
    return inode.getxattr(name)


def setxattr(inode: Inode, mount: Mount | None, creds: CredsLike, name: bytes, value: bytes,
             flags: int) -> None:
    if mount is not None:
        mount.check_writable()
    check_permission(inode, creds, name, MAY_WRITE)
    resolve_name(name)
    inode.setxattr(name, value, flags)


def removexattr(inode: Inode, mount: Mount | None, creds: CredsLike, name: bytes) -> None:
    if mount is not None:
        mount.check_writable()
    check_permission(inode, creds, name, MAY_WRITE)
    resolve_name(name)
    inode.removexattr(name)


def listxattr(inode: Inode, creds: CredsLike) -> list[bytes]:
    """The names a caller may see: trusted.* only for CAP_SYS_ADMIN (simple_xattr_list)."""
    names = inode.listxattr()
    if not privileged(creds):
        names = [n for n in names if not n.startswith(TRUSTED)]
    return names


class SimpleXattrs:
    """An in-memory xattr store (simple_xattrs): every namespace; POSIX ACLs can be read
    (none is ever set) but not set."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}

    def get(self, name: bytes) -> bytes:
        try:
            return self.values[name]
        except KeyError:
            raise KernelError(errno.ENODATA, f"no xattr {name!r}") from None

    def set(self, name: bytes, value: bytes, flags: int) -> None:
        if name in POSIX_ACLS:
            raise Unsupported(errno.EOPNOTSUPP, "setting POSIX ACLs")
        if name.startswith(SYSTEM):
            raise KernelError(errno.EOPNOTSUPP, f"system xattr {name!r}")
        exists = name in self.values
        if flags & XATTR_CREATE and exists:
            raise KernelError(errno.EEXIST, f"xattr {name!r} exists")
        if flags & XATTR_REPLACE and not exists:
            raise KernelError(errno.ENODATA, f"no xattr {name!r}")
        self.values[name] = value

    def remove(self, name: bytes) -> None:
        if self.values.pop(name, None) is None:
            raise KernelError(errno.ENODATA, f"no xattr {name!r}")

    def names(self) -> list[bytes]:
        return list(self.values)


def copy_xattrs(src: Inode, dst: Inode) -> None:
    """Copy what can be copied (overlay copy-up); what the target refuses is skipped."""
    try:
        names = src.listxattr()
    except KernelError:
        return
    for name in names:
        try:
            dst.setxattr(name, src.getxattr(name), 0)
        except KernelError:
            pass
