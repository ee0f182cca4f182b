"""Syscall groups a rule can name (``@file``, ``@network``…), as systemd's SystemCallFilter
sets do. Most follow the syscall table's families (one handler module each); the signal
senders are also in ``@signal``. ``@all`` is every syscall.
"""

from __future__ import annotations

from syscalls.table import REGISTRY, load_all

FAMILY_GROUPS: dict[str, tuple[str, ...]] = {
    "@file": ("fs_open", "fs_path", "fs_stat", "fs_dir", "fs_attr", "xattr", "locks", "memfd",
              "files", "splice"),
    "@io": ("read_write", "fd_ops", "pipes", "polling", "eventfds", "aio"),
    "@network": ("sockets",),
    "@process": ("process", "threads", "prctl", "sched", "scheduling", "resources"),
    "@identity": ("identity", "credentials"),
    "@signal": ("signals",),
    "@ipc": ("ipc", "mqueue"),
    "@time": ("time",),
    "@memory": ("memory", "numa"),
    "@debug": ("processes",),  # ptrace, process_vm_*, kcmp, seccomp, unshare, setns
    "@system": ("admin", "mounts", "security", "obsolete"),
}
SIGNAL_SENDERS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
                  "pidfd_send_signal")


def groups() -> dict[str, frozenset[str]]:
    """Every group name and the syscall names in it."""
    load_all()
    out: dict[str, set[str]] = {g: set() for g in FAMILY_GROUPS}
    family_of = {f: g for g, fams in FAMILY_GROUPS.items() for f in fams}
    for entry in REGISTRY.values():
        group = family_of.get(entry.family)
        if group is not None:
            out[group].add(entry.name)
    out["@signal"].update(SIGNAL_SENDERS)
    out["@all"] = set(REGISTRY)
    return {g: frozenset(names) for g, names in out.items()}
