"""open(2), *at(2) and rename(2) flag values for x86-64 Linux (the tracee's ABI, not the host's)."""

from __future__ import annotations

O_RDONLY = 0
O_WRONLY = 1
O_RDWR = 2
O_ACCMODE = 3
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000  # includes O_DIRECTORY, as in Linux

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
AT_EACCESS = 0x200  # faccessat only; shares AT_REMOVEDIR's value

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

# access(2) modes
F_OK = 0
X_OK = 1
W_OK = 2
R_OK = 4


def readable(flags: int) -> bool:
    """Whether an open file description with these flags may be read (FMODE_READ)."""
    return not flags & O_PATH and (flags & O_ACCMODE) in (O_RDONLY, O_RDWR)


def writable(flags: int) -> bool:
    """Whether an open file description with these flags may be written (FMODE_WRITE)."""
    return not flags & O_PATH and (flags & O_ACCMODE) in (O_WRONLY, O_RDWR)
