"""Named flag sets, for printing arguments (``--trace``), policy matching and reports.

An argument spec names its set after a slash: ``"flags:flags/open"``, ``"cmd:cmd/fcntl_cmd"``,
``"whence:whence/seek"``. ``FLAGSETS[name]`` maps values to names. A set is one of:

- bits (the default): the value is an OR of the names; ``render`` prints ``A|B|0x…``. A name may
  stand for several bits (``O_TMPFILE``, ``O_SYNC``, ``STATX_BASIC_STATS``); the widest name that
  fits is used first.
- enum (``ENUM_SETS``): the value is exactly one of the names (``F_GETFL``, ``TCGETS``, ``SIGINT``).
- bits with an enum field (``ENUM_FIELDS``): some bits of the value hold an enum rather than
  flags: the access mode in the low 2 bits of ``open`` flags, the exit signal in the low byte of
  ``clone`` flags, the socket type in ``socket_type``, the futex command in ``futex_op``.

Values are those of x86-64 Linux (``include/uapi``, ``arch/x86``), not the host Python's.
"""

from __future__ import annotations

# --- files --------------------------------------------------------------------------------

OPEN_ACCMODE: dict[int, str] = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}

OPEN: dict[int, str] = {
    0o100: "O_CREAT",
    0o200: "O_EXCL",
    0o400: "O_NOCTTY",
    0o1000: "O_TRUNC",
    0o2000: "O_APPEND",
    0o4000: "O_NONBLOCK",
    0o10000: "O_DSYNC",
    0o20000: "O_ASYNC",  # FASYNC
    0o40000: "O_DIRECT",
    0o100000: "O_LARGEFILE",
    0o200000: "O_DIRECTORY",
    0o400000: "O_NOFOLLOW",
    0o1000000: "O_NOATIME",
    0o2000000: "O_CLOEXEC",
    0o4010000: "O_SYNC",  # __O_SYNC | O_DSYNC
    0o10000000: "O_PATH",
    0o20200000: "O_TMPFILE",  # __O_TMPFILE | O_DIRECTORY
}

# AT_* flags of the *at calls. 0x200 is AT_REMOVEDIR for unlinkat, AT_EACCESS for faccessat
# and AT_HANDLE_FID for name_to_handle_at: the calls with those meanings name their own sets.
AT: dict[int, str] = {
    0x100: "AT_SYMLINK_NOFOLLOW",
    0x400: "AT_SYMLINK_FOLLOW",
    0x800: "AT_NO_AUTOMOUNT",
    0x1000: "AT_EMPTY_PATH",
    0x2000: "AT_STATX_FORCE_SYNC",
    0x4000: "AT_STATX_DONT_SYNC",
    0x8000: "AT_RECURSIVE",
}
UNLINKAT: dict[int, str] = {0x200: "AT_REMOVEDIR"}
FACCESSAT: dict[int, str] = {
    0x100: "AT_SYMLINK_NOFOLLOW",
    0x200: "AT_EACCESS",
    0x1000: "AT_EMPTY_PATH",
}

ACCESS_MODE: dict[int, str] = {0: "F_OK", 1: "X_OK", 2: "W_OK", 4: "R_OK"}

RENAMEAT2: dict[int, str] = {1: "RENAME_NOREPLACE", 2: "RENAME_EXCHANGE", 4: "RENAME_WHITEOUT"}

STATX_MASK: dict[int, str] = {
    0x1: "STATX_TYPE",
    0x2: "STATX_MODE",
    0x4: "STATX_NLINK",
    0x8: "STATX_UID",
    0x10: "STATX_GID",
    0x20: "STATX_ATIME",
    0x40: "STATX_MTIME",
    0x80: "STATX_CTIME",
    0x100: "STATX_INO",
    0x200: "STATX_SIZE",
    0x400: "STATX_BLOCKS",
    0x7FF: "STATX_BASIC_STATS",
    0x800: "STATX_BTIME",
    0x1000: "STATX_MNT_ID",
    0x2000: "STATX_DIOALIGN",
    0x4000: "STATX_MNT_ID_UNIQUE",
    0x8000: "STATX_SUBVOL",
    0x10000: "STATX_WRITE_ATOMIC",
    0x20000: "STATX_DIO_READ_ALIGN",
}

FCNTL_CMD: dict[int, str] = {
    0: "F_DUPFD",
    1: "F_GETFD",
    2: "F_SETFD",
    3: "F_GETFL",
    4: "F_SETFL",
    5: "F_GETLK",
    6: "F_SETLK",
    7: "F_SETLKW",
    8: "F_SETOWN",
    9: "F_GETOWN",
    10: "F_SETSIG",
    11: "F_GETSIG",
    15: "F_SETOWN_EX",
    16: "F_GETOWN_EX",
    17: "F_GETOWNER_UIDS",
    36: "F_OFD_GETLK",
    37: "F_OFD_SETLK",
    38: "F_OFD_SETLKW",
    1024: "F_SETLEASE",
    1025: "F_GETLEASE",
    1026: "F_NOTIFY",
    1027: "F_DUPFD_QUERY",
    1028: "F_CREATED_QUERY",
    1029: "F_CANCELLK",
    1030: "F_DUPFD_CLOEXEC",
    1031: "F_SETPIPE_SZ",
    1032: "F_GETPIPE_SZ",
    1033: "F_ADD_SEALS",
    1034: "F_GET_SEALS",
    1035: "F_GET_RW_HINT",
    1036: "F_SET_RW_HINT",
    1037: "F_GET_FILE_RW_HINT",
    1038: "F_SET_FILE_RW_HINT",
}

FD_FLAGS: dict[int, str] = {1: "FD_CLOEXEC"}

CLOSE_RANGE: dict[int, str] = {2: "CLOSE_RANGE_UNSHARE", 4: "CLOSE_RANGE_CLOEXEC"}

FLOCK: dict[int, str] = {1: "LOCK_SH", 2: "LOCK_EX", 4: "LOCK_NB", 8: "LOCK_UN"}

SEEK: dict[int, str] = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}

IOCTL: dict[int, str] = {
    # terminals (asm-generic/ioctls.h, which x86 uses)
    0x5401: "TCGETS",
    0x5402: "TCSETS",
    0x5403: "TCSETSW",
    0x5404: "TCSETSF",
    0x5405: "TCGETA",
    0x5406: "TCSETA",
    0x5407: "TCSETAW",
    0x5408: "TCSETAF",
    0x5409: "TCSBRK",
    0x540A: "TCXONC",
    0x540B: "TCFLSH",
    0x540C: "TIOCEXCL",
    0x540D: "TIOCNXCL",
    0x540E: "TIOCSCTTY",
    0x540F: "TIOCGPGRP",
    0x5410: "TIOCSPGRP",
    0x5411: "TIOCOUTQ",
    0x5412: "TIOCSTI",
    0x5413: "TIOCGWINSZ",
    0x5414: "TIOCSWINSZ",
    0x5415: "TIOCMGET",
    0x5416: "TIOCMBIS",
    0x5417: "TIOCMBIC",
    0x5418: "TIOCMSET",
    0x5419: "TIOCGSOFTCAR",
    0x541A: "TIOCSSOFTCAR",
    0x541B: "FIONREAD",
    0x541C: "TIOCLINUX",
    0x541D: "TIOCCONS",
    0x541E: "TIOCGSERIAL",
    0x541F: "TIOCSSERIAL",
    0x5420: "TIOCPKT",
    0x5421: "FIONBIO",
    0x5422: "TIOCNOTTY",
    0x5423: "TIOCSETD",
    0x5424: "TIOCGETD",
    0x5425: "TCSBRKP",
    0x5427: "TIOCSBRK",
    0x5428: "TIOCCBRK",
    0x5429: "TIOCGSID",
    0x802C542A: "TCGETS2",
    0x402C542B: "TCSETS2",
    0x402C542C: "TCSETSW2",
    0x402C542D: "TCSETSF2",
    0x80045430: "TIOCGPTN",
    0x40045431: "TIOCSPTLCK",
    0x80045432: "TIOCGDEV",
    0x80045438: "TIOCGPKT",
    0x80045439: "TIOCGPTLCK",
    0x80045440: "TIOCGEXCL",
    0x5441: "TIOCGPTPEER",
    0x5450: "FIONCLEX",
    0x5451: "FIOCLEX",
    0x5452: "FIOASYNC",
    0x5456: "TIOCGLCKTRMIOS",
    0x5457: "TIOCSLCKTRMIOS",
    0x5459: "TIOCSERGETLSR",
    0x545C: "TIOCMIWAIT",
    0x545D: "TIOCGICOUNT",
    0x5460: "FIOQSIZE",
    # virtual consoles and keyboards (linux/kd.h, linux/vt.h)
    0x4B3A: "KDSETMODE",
    0x4B3B: "KDGETMODE",
    0x4B44: "KDGKBMODE",
    0x4B45: "KDSKBMODE",
    0x4B4A: "KDGKBDIACR",
    0x4B64: "KDGKBLED",
    0x4B65: "KDSKBLED",
    0x5601: "VT_GETMODE",
    0x5603: "VT_GETSTATE",
    0x5606: "VT_ACTIVATE",
    # files and block devices (linux/fs.h)
    0x1: "FIBMAP",
    0x2: "FIGETBSZ",
    0x1268: "BLKSSZGET",
    0x80081272: "BLKGETSIZE64",
    0x80086601: "FS_IOC_GETFLAGS",
    0x40086602: "FS_IOC_SETFLAGS",
    0xC020660B: "FS_IOC_FIEMAP",
    0x40049409: "FICLONE",
    0x4020940D: "FICLONERANGE",
    0x80045200: "RNDGETENTCNT",
    # sockets (linux/sockios.h)
    0x8901: "FIOSETOWN",
    0x8902: "SIOCSPGRP",
    0x8903: "FIOGETOWN",
    0x8904: "SIOCGPGRP",
    0x8905: "SIOCATMARK",
    0x8910: "SIOCGIFNAME",
    0x8912: "SIOCGIFCONF",
    0x8913: "SIOCGIFFLAGS",
    0x8915: "SIOCGIFADDR",
    0x8921: "SIOCGIFMTU",
    0x8927: "SIOCGIFHWADDR",
    0x8933: "SIOCGIFINDEX",
}

# --- memory -------------------------------------------------------------------------------

MMAP_PROT: dict[int, str] = {
    0x0: "PROT_NONE",
    0x1: "PROT_READ",
    0x2: "PROT_WRITE",
    0x4: "PROT_EXEC",
    0x8: "PROT_SEM",
    0x01000000: "PROT_GROWSDOWN",
    0x02000000: "PROT_GROWSUP",
}

MMAP_TYPE: dict[int, str] = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}

MMAP_FLAGS: dict[int, str] = {
    0x10: "MAP_FIXED",
    0x20: "MAP_ANONYMOUS",
    0x40: "MAP_32BIT",
    0x100: "MAP_GROWSDOWN",
    0x800: "MAP_DENYWRITE",
    0x1000: "MAP_EXECUTABLE",
    0x2000: "MAP_LOCKED",
    0x4000: "MAP_NORESERVE",
    0x8000: "MAP_POPULATE",
    0x10000: "MAP_NONBLOCK",
    0x20000: "MAP_STACK",
    0x40000: "MAP_HUGETLB",
    0x80000: "MAP_SYNC",
    0x100000: "MAP_FIXED_NOREPLACE",
    0x4000000: "MAP_UNINITIALIZED",
}

MREMAP: dict[int, str] = {1: "MREMAP_MAYMOVE", 2: "MREMAP_FIXED", 4: "MREMAP_DONTUNMAP"}

MSYNC: dict[int, str] = {1: "MS_ASYNC", 2: "MS_INVALIDATE", 4: "MS_SYNC"}

MLOCKALL: dict[int, str] = {1: "MCL_CURRENT", 2: "MCL_FUTURE", 4: "MCL_ONFAULT"}

MLOCK2: dict[int, str] = {1: "MLOCK_ONFAULT"}

MADVISE: dict[int, str] = {
    0: "MADV_NORMAL",
    1: "MADV_RANDOM",
    2: "MADV_SEQUENTIAL",
    3: "MADV_WILLNEED",
    4: "MADV_DONTNEED",
    8: "MADV_FREE",
    9: "MADV_REMOVE",
    10: "MADV_DONTFORK",
    11: "MADV_DOFORK",
    12: "MADV_MERGEABLE",
    13: "MADV_UNMERGEABLE",
    14: "MADV_HUGEPAGE",
    15: "MADV_NOHUGEPAGE",
    16: "MADV_DONTDUMP",
    17: "MADV_DODUMP",
    18: "MADV_WIPEONFORK",
    19: "MADV_KEEPONFORK",
    20: "MADV_COLD",
    21: "MADV_PAGEOUT",
    22: "MADV_POPULATE_READ",
    23: "MADV_POPULATE_WRITE",
    24: "MADV_DONTNEED_LOCKED",
    25: "MADV_COLLAPSE",
    100: "MADV_HWPOISON",
    101: "MADV_SOFT_OFFLINE",
    102: "MADV_GUARD_INSTALL",
    103: "MADV_GUARD_REMOVE",
}

MEMFD: dict[int, str] = {
    0x1: "MFD_CLOEXEC",
    0x2: "MFD_ALLOW_SEALING",
    0x4: "MFD_HUGETLB",
    0x8: "MFD_NOEXEC_SEAL",
    0x10: "MFD_EXEC",
}

# --- processes, threads, signals ----------------------------------------------------------

CLONE: dict[int, str] = {
    0x100: "CLONE_VM",
    0x200: "CLONE_FS",
    0x400: "CLONE_FILES",
    0x800: "CLONE_SIGHAND",
    0x1000: "CLONE_PIDFD",
    0x2000: "CLONE_PTRACE",
    0x4000: "CLONE_VFORK",
    0x8000: "CLONE_PARENT",
    0x10000: "CLONE_THREAD",
    0x20000: "CLONE_NEWNS",
    0x40000: "CLONE_SYSVSEM",
    0x80000: "CLONE_SETTLS",
    0x100000: "CLONE_PARENT_SETTID",
    0x200000: "CLONE_CHILD_CLEARTID",
    0x400000: "CLONE_DETACHED",
    0x800000: "CLONE_UNTRACED",
    0x1000000: "CLONE_CHILD_SETTID",
    0x2000000: "CLONE_NEWCGROUP",
    0x4000000: "CLONE_NEWUTS",
    0x8000000: "CLONE_NEWIPC",
    0x10000000: "CLONE_NEWUSER",
    0x20000000: "CLONE_NEWPID",
    0x40000000: "CLONE_NEWNET",
    0x80000000: "CLONE_IO",
}

SIGNALS: dict[int, str] = {
    1: "SIGHUP",
    2: "SIGINT",
    3: "SIGQUIT",
    4: "SIGILL",
    5: "SIGTRAP",
    6: "SIGABRT",
    7: "SIGBUS",
    8: "SIGFPE",
    9: "SIGKILL",
    10: "SIGUSR1",
    11: "SIGSEGV",
    12: "SIGUSR2",
    13: "SIGPIPE",
    14: "SIGALRM",
    15: "SIGTERM",
    16: "SIGSTKFLT",
    17: "SIGCHLD",
    18: "SIGCONT",
    19: "SIGSTOP",
    20: "SIGTSTP",
    21: "SIGTTIN",
    22: "SIGTTOU",
    23: "SIGURG",
    24: "SIGXCPU",
    25: "SIGXFSZ",
    26: "SIGVTALRM",
    27: "SIGPROF",
    28: "SIGWINCH",
    29: "SIGIO",
    30: "SIGPWR",
    31: "SIGSYS",
    32: "SIGRTMIN",  # the kernel's SIGRTMIN; glibc keeps 32 and 33 for itself
    **{32 + i: f"SIGRTMIN+{i}" for i in range(1, 33)},
}

SIGPROCMASK_HOW: dict[int, str] = {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}

WAIT: dict[int, str] = {
    0x1: "WNOHANG",
    0x2: "WUNTRACED",  # also WSTOPPED for waitid
    0x4: "WEXITED",
    0x8: "WCONTINUED",
    0x01000000: "WNOWAIT",
    0x20000000: "__WNOTHREAD",
    0x40000000: "__WALL",
    0x80000000: "__WCLONE",
}

PRCTL: dict[int, str] = {
    1: "PR_SET_PDEATHSIG",
    2: "PR_GET_PDEATHSIG",
    3: "PR_GET_DUMPABLE",
    4: "PR_SET_DUMPABLE",
    5: "PR_GET_UNALIGN",
    6: "PR_SET_UNALIGN",
    7: "PR_GET_KEEPCAPS",
    8: "PR_SET_KEEPCAPS",
    9: "PR_GET_FPEMU",
    10: "PR_SET_FPEMU",
    11: "PR_GET_FPEXC",
    12: "PR_SET_FPEXC",
    13: "PR_GET_TIMING",
    14: "PR_SET_TIMING",
    15: "PR_SET_NAME",
    16: "PR_GET_NAME",
    19: "PR_GET_ENDIAN",
    20: "PR_SET_ENDIAN",
    21: "PR_GET_SECCOMP",
    22: "PR_SET_SECCOMP",
    23: "PR_CAPBSET_READ",
    24: "PR_CAPBSET_DROP",
    25: "PR_GET_TSC",
    26: "PR_SET_TSC",
    27: "PR_GET_SECUREBITS",
    28: "PR_SET_SECUREBITS",
    29: "PR_SET_TIMERSLACK",
    30: "PR_GET_TIMERSLACK",
    31: "PR_TASK_PERF_EVENTS_DISABLE",
    32: "PR_TASK_PERF_EVENTS_ENABLE",
    33: "PR_MCE_KILL",
    34: "PR_MCE_KILL_GET",
    35: "PR_SET_MM",
    36: "PR_SET_CHILD_SUBREAPER",
    37: "PR_GET_CHILD_SUBREAPER",
    38: "PR_SET_NO_NEW_PRIVS",
    39: "PR_GET_NO_NEW_PRIVS",
    40: "PR_GET_TID_ADDRESS",
    41: "PR_SET_THP_DISABLE",
    42: "PR_GET_THP_DISABLE",
    43: "PR_MPX_ENABLE_MANAGEMENT",
    44: "PR_MPX_DISABLE_MANAGEMENT",
    45: "PR_SET_FP_MODE",
    46: "PR_GET_FP_MODE",
    47: "PR_CAP_AMBIENT",
    50: "PR_SVE_SET_VL",
    51: "PR_SVE_GET_VL",
    52: "PR_GET_SPECULATION_CTRL",
    53: "PR_SET_SPECULATION_CTRL",
    54: "PR_PAC_RESET_KEYS",
    55: "PR_SET_TAGGED_ADDR_CTRL",
    56: "PR_GET_TAGGED_ADDR_CTRL",
    57: "PR_SET_IO_FLUSHER",
    58: "PR_GET_IO_FLUSHER",
    59: "PR_SET_SYSCALL_USER_DISPATCH",
    60: "PR_PAC_SET_ENABLED_KEYS",
    61: "PR_PAC_GET_ENABLED_KEYS",
    62: "PR_SCHED_CORE",
    63: "PR_SME_SET_VL",
    64: "PR_SME_GET_VL",
    65: "PR_SET_MDWE",
    66: "PR_GET_MDWE",
    67: "PR_SET_MEMORY_MERGE",
    68: "PR_GET_MEMORY_MERGE",
    0x53564D41: "PR_SET_VMA",
    0x59616D61: "PR_SET_PTRACER",
}

ARCH_PRCTL: dict[int, str] = {
    0x1001: "ARCH_SET_GS",
    0x1002: "ARCH_SET_FS",
    0x1003: "ARCH_GET_FS",
    0x1004: "ARCH_GET_GS",
    0x1011: "ARCH_GET_CPUID",
    0x1012: "ARCH_SET_CPUID",
    0x1021: "ARCH_GET_XCOMP_SUPP",
    0x1022: "ARCH_GET_XCOMP_PERM",
    0x1023: "ARCH_REQ_XCOMP_PERM",
    0x1024: "ARCH_GET_XCOMP_GUEST_PERM",
    0x1025: "ARCH_REQ_XCOMP_GUEST_PERM",
    0x2001: "ARCH_MAP_VDSO_X32",
    0x2002: "ARCH_MAP_VDSO_32",
    0x2003: "ARCH_MAP_VDSO_64",
    0x4001: "ARCH_GET_UNTAG_MASK",
    0x4002: "ARCH_ENABLE_TAGGED_ADDR",
    0x4003: "ARCH_GET_MAX_TAG_BITS",
    0x4004: "ARCH_FORCE_TAGGED_SVA",
    0x5001: "ARCH_SHSTK_ENABLE",
    0x5002: "ARCH_SHSTK_DISABLE",
    0x5003: "ARCH_SHSTK_LOCK",
    0x5004: "ARCH_SHSTK_UNLOCK",
    0x5005: "ARCH_SHSTK_STATUS",
}

FUTEX_CMD: dict[int, str] = {
    0: "FUTEX_WAIT",
    1: "FUTEX_WAKE",
    2: "FUTEX_FD",
    3: "FUTEX_REQUEUE",
    4: "FUTEX_CMP_REQUEUE",
    5: "FUTEX_WAKE_OP",
    6: "FUTEX_LOCK_PI",
    7: "FUTEX_UNLOCK_PI",
    8: "FUTEX_TRYLOCK_PI",
    9: "FUTEX_WAIT_BITSET",
    10: "FUTEX_WAKE_BITSET",
    11: "FUTEX_WAIT_REQUEUE_PI",
    12: "FUTEX_CMP_REQUEUE_PI",
    13: "FUTEX_LOCK_PI2",
}
FUTEX_OP: dict[int, str] = {128: "FUTEX_PRIVATE_FLAG", 256: "FUTEX_CLOCK_REALTIME"}

# --- time ---------------------------------------------------------------------------------

CLOCK: dict[int, str] = {
    0: "CLOCK_REALTIME",
    1: "CLOCK_MONOTONIC",
    2: "CLOCK_PROCESS_CPUTIME_ID",
    3: "CLOCK_THREAD_CPUTIME_ID",
    4: "CLOCK_MONOTONIC_RAW",
    5: "CLOCK_REALTIME_COARSE",
    6: "CLOCK_MONOTONIC_COARSE",
    7: "CLOCK_BOOTTIME",
    8: "CLOCK_REALTIME_ALARM",
    9: "CLOCK_BOOTTIME_ALARM",
    11: "CLOCK_TAI",
}

TIMER: dict[int, str] = {1: "TIMER_ABSTIME"}

ITIMER: dict[int, str] = {0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}

# --- random -------------------------------------------------------------------------------

GETRANDOM: dict[int, str] = {1: "GRND_NONBLOCK", 2: "GRND_RANDOM", 4: "GRND_INSECURE"}

# --- sockets, polling, event fds ----------------------------------------------------------

SOCKET_FAMILY: dict[int, str] = {
    0: "AF_UNSPEC",
    1: "AF_UNIX",
    2: "AF_INET",
    3: "AF_AX25",
    4: "AF_IPX",
    5: "AF_APPLETALK",
    6: "AF_NETROM",
    7: "AF_BRIDGE",
    8: "AF_ATMPVC",
    9: "AF_X25",
    10: "AF_INET6",
    11: "AF_ROSE",
    12: "AF_DECnet",
    13: "AF_NETBEUI",
    14: "AF_SECURITY",
    15: "AF_KEY",
    16: "AF_NETLINK",
    17: "AF_PACKET",
    18: "AF_ASH",
    19: "AF_ECONET",
    20: "AF_ATMSVC",
    21: "AF_RDS",
    22: "AF_SNA",
    23: "AF_IRDA",
    24: "AF_PPPOX",
    25: "AF_WANPIPE",
    26: "AF_LLC",
    27: "AF_IB",
    28: "AF_MPLS",
    29: "AF_CAN",
    30: "AF_TIPC",
    31: "AF_BLUETOOTH",
    32: "AF_IUCV",
    33: "AF_RXRPC",
    34: "AF_ISDN",
    35: "AF_PHONET",
    36: "AF_IEEE802154",
    37: "AF_CAIF",
    38: "AF_ALG",
    39: "AF_NFC",
    40: "AF_VSOCK",
    41: "AF_KCM",
    42: "AF_QIPCRTR",
    43: "AF_SMC",
    44: "AF_XDP",
    45: "AF_MCTP",
}

SOCKET_TYPE_BASE: dict[int, str] = {
    1: "SOCK_STREAM",
    2: "SOCK_DGRAM",
    3: "SOCK_RAW",
    4: "SOCK_RDM",
    5: "SOCK_SEQPACKET",
    6: "SOCK_DCCP",
    10: "SOCK_PACKET",
}
SOCKET_TYPE: dict[int, str] = {0o4000: "SOCK_NONBLOCK", 0o2000000: "SOCK_CLOEXEC"}

MSG: dict[int, str] = {
    0x1: "MSG_OOB",
    0x2: "MSG_PEEK",
    0x4: "MSG_DONTROUTE",
    0x8: "MSG_CTRUNC",
    0x10: "MSG_PROBE",
    0x20: "MSG_TRUNC",
    0x40: "MSG_DONTWAIT",
    0x80: "MSG_EOR",
    0x100: "MSG_WAITALL",
    0x200: "MSG_FIN",
    0x400: "MSG_SYN",
    0x800: "MSG_CONFIRM",
    0x1000: "MSG_RST",
    0x2000: "MSG_ERRQUEUE",
    0x4000: "MSG_NOSIGNAL",
    0x8000: "MSG_MORE",
    0x10000: "MSG_WAITFORONE",
    0x40000: "MSG_BATCH",
    0x4000000: "MSG_ZEROCOPY",
    0x20000000: "MSG_FASTOPEN",
    0x40000000: "MSG_CMSG_CLOEXEC",
}

EVENTFD: dict[int, str] = {0x1: "EFD_SEMAPHORE", 0o4000: "EFD_NONBLOCK", 0o2000000: "EFD_CLOEXEC"}

SIGNALFD: dict[int, str] = {0o4000: "SFD_NONBLOCK", 0o2000000: "SFD_CLOEXEC"}

# epoll_create1 flags; the event bits are ``epoll_events`` and the operations ``epoll_ctl``.
EPOLL: dict[int, str] = {0o2000000: "EPOLL_CLOEXEC"}

EPOLL_CTL: dict[int, str] = {1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}

EPOLL_EVENTS: dict[int, str] = {
    0x1: "EPOLLIN",
    0x2: "EPOLLPRI",
    0x4: "EPOLLOUT",
    0x8: "EPOLLERR",
    0x10: "EPOLLHUP",
    0x20: "EPOLLNVAL",
    0x40: "EPOLLRDNORM",
    0x80: "EPOLLRDBAND",
    0x100: "EPOLLWRNORM",
    0x200: "EPOLLWRBAND",
    0x400: "EPOLLMSG",
    0x2000: "EPOLLRDHUP",
    0x10000000: "EPOLLEXCLUSIVE",
    0x20000000: "EPOLLWAKEUP",
    0x40000000: "EPOLLONESHOT",
    0x80000000: "EPOLLET",
}

# --- the registry of sets -----------------------------------------------------------------

FLAGSETS: dict[str, dict[int, str]] = {
    "open": OPEN,
    "at": AT,
    "unlinkat": UNLINKAT,
    "faccessat": FACCESSAT,
    "access_mode": ACCESS_MODE,
    "renameat2": RENAMEAT2,
    "statx_mask": STATX_MASK,
    "fcntl_cmd": FCNTL_CMD,
    "fd_flags": FD_FLAGS,
    "close_range": CLOSE_RANGE,
    "flock": FLOCK,
    "seek": SEEK,
    "ioctl": IOCTL,
    "mmap_prot": MMAP_PROT,
    "mmap_flags": MMAP_FLAGS,
    "mremap": MREMAP,
    "msync": MSYNC,
    "mlockall": MLOCKALL,
    "mlock2": MLOCK2,
    "madvise": MADVISE,
    "memfd": MEMFD,
    "clone": CLONE,
    "signals": SIGNALS,
    "sigprocmask_how": SIGPROCMASK_HOW,
    "wait": WAIT,
    "prctl": PRCTL,
    "arch_prctl": ARCH_PRCTL,
    "futex_op": FUTEX_OP,
    "clock": CLOCK,
    "timer": TIMER,
    "itimer": ITIMER,
    "getrandom": GETRANDOM,
    "socket_family": SOCKET_FAMILY,
    "socket_type": SOCKET_TYPE,
    "msg": MSG,
    "eventfd": EVENTFD,
    "signalfd": SIGNALFD,
    "epoll": EPOLL,
    "epoll_ctl": EPOLL_CTL,
    "epoll_events": EPOLL_EVENTS,
}

# Sets whose value is exactly one name (everything else is an OR of bits).
ENUM_SETS: set[str] = {
    "fcntl_cmd",
    "seek",
    "ioctl",
    "madvise",
    "signals",
    "sigprocmask_how",
    "prctl",
    "arch_prctl",
    "clock",
    "itimer",
    "socket_family",
    "epoll_ctl",
}

# Bit sets with an enum in some of their bits: set name -> (mask of those bits, their names).
# The enum part is printed first; a zero enum field is printed only when it has a name
# (O_RDONLY), so a clone without an exit signal prints just its flags.
ENUM_FIELDS: dict[str, tuple[int, dict[int, str]]] = {
    "open": (0o3, OPEN_ACCMODE),
    "mmap_flags": (0x3, MMAP_TYPE),
    "clone": (0xFF, SIGNALS),
    "socket_type": (0xF, SOCKET_TYPE_BASE),
    "futex_op": (0x7F, FUTEX_CMD),
}


_WIDEST_FIRST: dict[str, list[tuple[int, str]]] = {
    # Widest names first, so O_TMPFILE wins over O_DIRECTORY and STATX_BASIC_STATS over its bits.
    name: sorted(
        ((b, n) for b, n in names.items() if b), key=lambda kv: (-kv[0].bit_count(), kv[0])
    )
    for name, names in FLAGSETS.items()
    if name not in ENUM_SETS
}


def _fmt_unknown(value: int) -> str:
    return str(value) if -4096 < value < 4096 else hex(value)


def render(value: int, setname: str) -> str:
    """``value`` as names from ``FLAGSETS[setname]``: ``O_RDWR|O_CLOEXEC|0x40000000``.

    Bits no name covers are printed as one trailing hex number; an enum value without a name is
    printed as a number. An unknown set name raises ``KeyError``.
    """
    names = FLAGSETS[setname]
    if setname in ENUM_SETS:
        return names.get(value, _fmt_unknown(value))
    if value < 0:  # a sign-extended register: show the bits the kernel would test
        value &= 0xFFFFFFFFFFFFFFFF
    parts: list[str] = []
    rest = value
    field = ENUM_FIELDS.get(setname)
    if field is not None:
        mask, field_names = field
        sub = rest & mask
        if sub in field_names:
            parts.append(field_names[sub])
        elif sub:
            parts.append(hex(sub))
        rest &= ~mask
    if value == 0 and 0 in names:
        return names[0]
    for bits, name in _WIDEST_FIRST[setname]:
        if rest & bits == bits:
            parts.append(name)
            rest &= ~bits
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) if parts else "0"
