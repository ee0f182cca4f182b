"""Flag sets: rendering, and their values against the kernel's (via the host's Python)."""

from __future__ import annotations

import mmap
import os
import select
import signal
import socket

import pytest

from syscalls.flags import ENUM_FIELDS, ENUM_SETS, FLAGSETS, render


def test_sets_are_well_formed():
    assert ENUM_SETS <= set(FLAGSETS)
    assert set(ENUM_FIELDS) <= set(FLAGSETS) - ENUM_SETS
    for name, values in FLAGSETS.items():
        assert values, name
        assert len(set(values.values())) == len(values), f"{name}: a name used twice"


@pytest.mark.parametrize(
    ("value", "setname", "text"),
    [
        (0, "open", "O_RDONLY"),
        (os.O_RDWR | os.O_CLOEXEC, "open", "O_RDWR|O_CLOEXEC"),
        (0o20200002, "open", "O_RDWR|O_TMPFILE"),
        (0o4010001, "open", "O_WRONLY|O_SYNC"),
        (0o2000000 | 0x40000000, "open", "O_RDONLY|O_CLOEXEC|0x40000000"),
        (0x1000 | 0x100, "at", "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"),
        (0, "at", "0"),
        (0, "mmap_prot", "PROT_NONE"),
        (3, "mmap_prot", "PROT_READ|PROT_WRITE"),
        (0x22, "mmap_flags", "MAP_PRIVATE|MAP_ANONYMOUS"),
        (0x3D0F00 | 17, "clone", "SIGCHLD|CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
         "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"),
        (0x4100, "clone", "CLONE_VM|CLONE_VFORK"),
        (0x7FF | 0x1000, "statx_mask", "STATX_BASIC_STATS|STATX_MNT_ID"),
        (0, "access_mode", "F_OK"),
        (6, "access_mode", "W_OK|R_OK"),
        (0x5413, "ioctl", "TIOCGWINSZ"),
        (0x1234, "ioctl", "0x1234"),
        (1030, "fcntl_cmd", "F_DUPFD_CLOEXEC"),
        (2, "seek", "SEEK_END"),
        (15, "prctl", "PR_SET_NAME"),
        (17, "signals", "SIGCHLD"),
        (0o2000001, "socket_type", "SOCK_STREAM|SOCK_CLOEXEC"),
        (137, "futex_op", "FUTEX_WAIT_BITSET|FUTEX_PRIVATE_FLAG"),
        (1, "getrandom", "GRND_NONBLOCK"),
    ],
)
def test_render(value, setname, text):
    assert render(value, setname) == text


def test_render_unknown_set():
    with pytest.raises(KeyError):
        render(1, "no_such_set")


# Names whose userspace value differs from the kernel's on purpose.
USERSPACE_DIFFERS = {"O_LARGEFILE", "SIGRTMIN"}


@pytest.mark.parametrize(
    ("setname", "module"),
    [
        ("open", os),
        ("seek", os),
        ("access_mode", os),
        ("mmap_prot", mmap),
        ("mmap_flags", mmap),
        ("madvise", mmap),
        ("signals", signal),
        ("socket_family", socket),
        ("socket_type", socket),
        ("msg", socket),
        ("epoll_events", select),
    ],
)
def test_values_match_host_python(setname, module):
    for value, name in FLAGSETS[setname].items():
        if name in USERSPACE_DIFFERS or not hasattr(module, name):
            continue
        assert int(getattr(module, name)) == value, name
