"""Extended attributes: get/set/list/remove in their path, l (no follow), f (descriptor) and
*at forms. The namespace and permission rules are in vfs/xattrs.py; each filesystem keeps
(tmpfs), forwards (hostfs) or refuses (procfs) the attributes themselves.

Argument checks in Linux 6.18's order (fs/xattr.c): the flags, the name (ERANGE when empty
or 256+ bytes), the value's size (E2BIG past 64 KiB) and bytes (EFAULT), then the file (the
walk's errors, EBADF), EROFS, the permission rules, the namespace (EOPNOTSUPP, EINVAL).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from compatd.errors import KernelError
from compatd.kernel.task import Task
from syscalls.handlers.common import copy_struct_from_user, not_path, path_context
from syscalls.table import Level, syscall
from vfs import ops, xattrs
from vfs.base import Inode
from vfs.flags import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW
from vfs.resolver import reached
from vfs.xattrs import (
    XATTR_CREATE,
    XATTR_LIST_MAX,
    XATTR_NAME_MAX,
    XATTR_REPLACE,
    XATTR_SIZE_MAX,
)

if TYPE_CHECKING:
    from vfs.mount import Mount

FULL = Level.FULL
PARTIAL = Level.PARTIAL
SET_GAPS = (
    "system.posix_acl_access/default on tmpfs and overlay (copy-up) files: EOPNOTSUPP "
    "(ACLs are not modelled; hostfs passes them to the host)",
    "xattrs on devfs nodes cannot be set: EOPNOTSUPP",
    "security.capability values are stored as given (no v2/v3 conversion or validation)",
)
XATTR_ARGS = struct.Struct("<QII")  # struct xattr_args {u64 value; u32 size; u32 flags;}


def read_name(t: Task, addr: int) -> bytes:
    """import_xattr_name: EFAULT, or ERANGE for an empty name or one of 256+ bytes."""
    if not addr:
        raise KernelError(errno.EFAULT, "NULL xattr name")
    try:
        name = t.mem.read_cstring(addr, XATTR_NAME_MAX)
    except KernelError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise KernelError(errno.ERANGE, "xattr name too long") from None
        raise
    if not name:
        raise KernelError(errno.ERANGE, "empty xattr name")
    return name


Target = tuple[Inode, "Mount | None"]


def fd_target(t: Task, fd: int) -> Target:
    """The file an f* call names: EBADF for a closed or O_PATH descriptor; a file outside
    the mount tree (a pipe) has no mount to be read-only."""
    f = not_path(t.fdt.get(fd))
    if f.dentry is not None:
        d = reached(f.dentry)
        return d.inode, d.mount
    if f.inode is None:
        raise KernelError(errno.EOPNOTSUPP, "descriptor without an inode")
    return f.inode, None


Where = Callable[[], Target]  # finds the file, after the name and value are copied in


def by_path(t: Task, path_addr: int, at_flags: int = 0) -> Where:
    return lambda: at_target(t, AT_FDCWD, path_addr, at_flags)


def by_fd(t: Task, fd: int) -> Where:
    return lambda: fd_target(t, fd)


def by_at(t: Task, dirfd: int, path_addr: int, at_flags: int) -> Where:
    return lambda: at_target(t, dirfd, path_addr, at_flags)


def at_target(t: Task, dirfd: int, path_addr: int, at_flags: int) -> Target:
    """The file an *at call names (getname_maybe_null: a NULL path, or "" with
    AT_EMPTY_PATH, is the descriptor ``dirfd`` itself)."""
    path = t.read_path(path_addr) if path_addr or not at_flags & AT_EMPTY_PATH else b""
    if not path:
        if not at_flags & AT_EMPTY_PATH:
            raise KernelError(errno.ENOENT, "empty path without AT_EMPTY_PATH")
        return fd_target(t, dirfd)
    d = ops.lookup(path_context(t, dirfd, path), path,
                   follow=not at_flags & AT_SYMLINK_NOFOLLOW)
    return d.inode, d.mount


# get ------------------------------------------------------------------------------------
def do_getxattr(t: Task, where: Where, name_addr: int, value: int, size: int) -> int:
    name = read_name(t, name_addr)
    data = xattrs.getxattr(where()[0], t.creds, name)
    if size:
        if len(data) > min(size, XATTR_SIZE_MAX):
            raise KernelError(errno.E2BIG if size >= XATTR_SIZE_MAX else errno.ERANGE,
                              "xattr value larger than the buffer")
        t.mem.write(value, data)
    return len(data)


@syscall("getxattr", FULL, "path:path name:str value:buf_out size:size")
def sys_getxattr(t: Task, path: int, name: int, value: int, size: int) -> int:
    return do_getxattr(t, by_path(t, path), name, value, size)


@syscall("lgetxattr", FULL, "path:path name:str value:buf_out size:size")
def sys_lgetxattr(t: Task, path: int, name: int, value: int, size: int) -> int:
    return do_getxattr(t, by_path(t, path, AT_SYMLINK_NOFOLLOW), name, value, size)


@syscall("fgetxattr", FULL, "fd:fd name:str value:buf_out size:size")
def sys_fgetxattr(t: Task, fd: int, name: int, value: int, size: int) -> int:
    return do_getxattr(t, by_fd(t, fd), name, value, size)


def read_xattr_args(t: Task, uargs: int, usize: int) -> tuple[int, int, int]:
    """struct xattr_args (16 bytes)."""
    return copy_struct_from_user(t, uargs, usize, XATTR_ARGS, "xattr_args")  # type: ignore[return-value]


@syscall("getxattrat", FULL, "dirfd:fd path:path at_flags:flags/at name:str "
         "args:struct_inout usize:size")
def sys_getxattrat(t: Task, dirfd: int, path: int, at_flags: int, name: int, uargs: int,
                   usize: int) -> int:
    value, size, flags = read_xattr_args(t, uargs, usize)
    if flags:
        raise KernelError(errno.EINVAL, "getxattrat flags")
    if at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"at_flags {at_flags:#x}")
    return do_getxattr(t, by_at(t, dirfd, path, at_flags), name, value, size)


# set ------------------------------------------------------------------------------------
def setxattr_copy(t: Task, name_addr: int, value: int, size: int, flags: int) -> tuple[bytes,
                                                                                        bytes]:
    if flags & ~(XATTR_CREATE | XATTR_REPLACE):
        raise KernelError(errno.EINVAL, f"setxattr flags {flags:#x}")
    name = read_name(t, name_addr)
    data = b""
    if size:
        if size > XATTR_SIZE_MAX:
            raise KernelError(errno.E2BIG, "xattr value larger than 64 KiB")
        data = t.mem.read(value, size)
    return name, data


def do_setxattr(t: Task, where: Where, name_addr: int, value: int, size: int,
                flags: int) -> int:
    name, data = setxattr_copy(t, name_addr, value, size, flags)
    inode, mount = where()
    xattrs.setxattr(inode, mount, t.creds, name, data, flags)
    return 0


@syscall("setxattr", PARTIAL, "path:path name:str value:buf_in size:size flags:flags",
         unsupported=SET_GAPS)
def sys_setxattr(t: Task, path: int, name: int, value: int, size: int, flags: int) -> int:
    return do_setxattr(t, by_path(t, path), name, value, size, flags)


@syscall("lsetxattr", PARTIAL, "path:path name:str value:buf_in size:size flags:flags",
         unsupported=SET_GAPS)
def sys_lsetxattr(t: Task, path: int, name: int, value: int, size: int, flags: int) -> int:
    return do_setxattr(t, by_path(t, path, AT_SYMLINK_NOFOLLOW), name, value, size, flags)


@syscall("fsetxattr", PARTIAL, "fd:fd name:str value:buf_in size:size flags:flags",
         unsupported=SET_GAPS)
def sys_fsetxattr(t: Task, fd: int, name: int, value: int, size: int, flags: int) -> int:
    return do_setxattr(t, by_fd(t, fd), name, value, size, flags)


@syscall("setxattrat", PARTIAL, "dirfd:fd path:path at_flags:flags/at name:str "
         "args:struct_in usize:size", unsupported=SET_GAPS)
def sys_setxattrat(t: Task, dirfd: int, path: int, at_flags: int, name: int, uargs: int,
                   usize: int) -> int:
    value, size, flags = read_xattr_args(t, uargs, usize)
    if at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"at_flags {at_flags:#x}")
    return do_setxattr(t, by_at(t, dirfd, path, at_flags), name, value, size, flags)


# list -----------------------------------------------------------------------------------
def do_listxattr(t: Task, where: Where, out: int, size: int) -> int:
    data = b"".join(n + b"\0" for n in xattrs.listxattr(where()[0], t.creds))
    if size:
        if len(data) > min(size, XATTR_LIST_MAX):
            raise KernelError(errno.E2BIG if size >= XATTR_LIST_MAX else errno.ERANGE,
                              "xattr list larger than the buffer")
        if data:
            t.mem.write(out, data)
    return len(data)


@syscall("listxattr", FULL, "path:path list:buf_out size:size")
def sys_listxattr(t: Task, path: int, out: int, size: int) -> int:
    return do_listxattr(t, by_path(t, path), out, size)


@syscall("llistxattr", FULL, "path:path list:buf_out size:size")
def sys_llistxattr(t: Task, path: int, out: int, size: int) -> int:
    return do_listxattr(t, by_path(t, path, AT_SYMLINK_NOFOLLOW), out, size)


@syscall("flistxattr", FULL, "fd:fd list:buf_out size:size")
def sys_flistxattr(t: Task, fd: int, out: int, size: int) -> int:
    return do_listxattr(t, by_fd(t, fd), out, size)


@syscall("listxattrat", FULL, "dirfd:fd path:path at_flags:flags/at list:buf_out size:size")
def sys_listxattrat(t: Task, dirfd: int, path: int, at_flags: int, out: int,
                    size: int) -> int:
    if at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"at_flags {at_flags:#x}")
    return do_listxattr(t, by_at(t, dirfd, path, at_flags), out, size)


# remove ---------------------------------------------------------------------------------
def do_removexattr(t: Task, where: Where, name_addr: int) -> int:
    name = read_name(t, name_addr)
    inode, mount = where()
    xattrs.removexattr(inode, mount, t.creds, name)
    return 0


@syscall("removexattr", FULL, "path:path name:str")
def sys_removexattr(t: Task, path: int, name: int) -> int:
    return do_removexattr(t, by_path(t, path), name)


@syscall("lremovexattr", FULL, "path:path name:str")
def sys_lremovexattr(t: Task, path: int, name: int) -> int:
    return do_removexattr(t, by_path(t, path, AT_SYMLINK_NOFOLLOW), name)


@syscall("fremovexattr", FULL, "fd:fd name:str")
def sys_fremovexattr(t: Task, fd: int, name: int) -> int:
    return do_removexattr(t, by_fd(t, fd), name)


@syscall("removexattrat", FULL, "dirfd:fd path:path at_flags:flags/at name:str")
def sys_removexattrat(t: Task, dirfd: int, path: int, at_flags: int, name: int) -> int:
    if at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise KernelError(errno.EINVAL, f"at_flags {at_flags:#x}")
    return do_removexattr(t, by_at(t, dirfd, path, at_flags), name)
