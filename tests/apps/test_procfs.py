"""/proc and /sys read by busybox-static, natively and under compatd, compared.

Only what is deterministic between two runs: the program's own argv, exe, cwd, fds, comm
and limits; the host's CPU list; the field names of status; modes and types of proc files.
"""

from __future__ import annotations

import pytest
from harness import Runner

CASES: dict[str, list[str]] = {
    "cmdline": ["cat", "/proc/self/cmdline"],
    "exe": ["readlink", "/proc/self/exe"],
    "cwd": ["readlink", "/proc/self/cwd"],
    "root": ["readlink", "/proc/self/root"],
    "fd-list": ["ls", "/proc/self/fd"],
    "fd-zero": ["readlink", "/proc/self/fd/0"],
    "comm": ["cat", "/proc/self/comm"],
    "comm-thread": ["cat", "/proc/thread-self/comm"],
    "environ": ["cat", "/proc/self/environ"],
    "limits": ["cat", "/proc/self/limits"],
    "cpuinfo-head": ["head", "-1", "/proc/cpuinfo"],
    "cpuinfo-count": ["grep", "-c", "processor", "/proc/cpuinfo"],
    "status-fields": ["cut", "-f1", "-d:", "/proc/self/status"],
    "status-seccomp": ["grep", "-E", "^(TracerPid|Seccomp|NoNewPrivs|Umask|Name|State):",
                       "/proc/self/status"],
    "ostype": ["cat", "/proc/sys/kernel/ostype", "/proc/sys/kernel/osrelease"],
    "mounts-link": ["readlink", "/proc/mounts"],
    "stat-modes": ["stat", "-c", "%n|%a|%F", "/proc/self/cmdline", "/proc/self/environ",
                   "/proc/self/fd", "/proc/self/task", "/proc/cpuinfo", "/proc/self/comm",
                   "/proc/self/fdinfo", "/proc", "/proc/self/maps"],
    # mnt_id numbers are the host's natively and ours in compatd
    "fdinfo-zero": ["grep", "-v", "mnt_id", "/proc/self/fdinfo/0"],
    "sys-cpu-online": ["cat", "/sys/devices/system/cpu/online",
                       "/sys/devices/system/cpu/possible", "/sys/devices/system/cpu/present"],
    "sys-thp": ["cat", "/sys/kernel/mm/transparent_hugepage/enabled"],
    "sys-cgroup-absent": ["ls", "/sys/fs/cgroup"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_proc(case: str, busybox: str, apps_runner: Runner) -> None:
    pair = apps_runner.compare(f"proc-{case}", [busybox, *CASES[case]])
    if case == "sys-cgroup-absent":
        # Natively the host's cgroup tree is listed; in compatd it does not exist.
        assert pair.compat.returncode != 0 and b"No such file" in pair.compat.stderr
        return
    pair.assert_same()


def test_dev_stdin_reopens_the_pipe(busybox: str, apps_runner: Runner) -> None:
    """cat /dev/stdin: /dev/stdin -> /proc/self/fd/0, reopened through the magic link."""
    pair = apps_runner.compare("proc-dev-stdin", [busybox, "cat", "/dev/stdin"],
                               stdin=b"piped through /proc/self/fd/0\n")
    pair.assert_same()
