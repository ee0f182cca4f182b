"""Our hand-declared ptrace structures and syscall prototypes against python-ptrace's."""

from __future__ import annotations

import ctypes

from ptrace.binding.linux_struct import user_regs_struct
from ptrace.syscall.prototypes import SYSCALL_PROTOTYPES

from compatd.platform.ptrace import ptrace_registers_t
from syscalls.table import REGISTRY, load_all


def test_register_layout_matches_python_ptrace():
    ours = [(n, getattr(ptrace_registers_t, n).offset) for n, _ in ptrace_registers_t._fields_]
    theirs = [(n, getattr(user_regs_struct, n).offset) for n, _ in user_regs_struct._fields_]
    assert ours == theirs
    assert ctypes.sizeof(ptrace_registers_t) == ctypes.sizeof(user_regs_struct)


# Prototypes that changed after python-ptrace's table was written.
NEWER_THAN_PYTHON_PTRACE = {"membarrier"}  # cpu_id argument since Linux 5.10


def test_argument_counts_match_python_ptrace_prototypes():
    load_all()
    mismatches = []
    for name, (_, params) in SYSCALL_PROTOTYPES.items():
        entry = REGISTRY.get(name)
        if name in NEWER_THAN_PYTHON_PTRACE:
            continue
        if entry is not None and len(entry.args) != len(params):
            mismatches.append(f"{name}: ours {len(entry.args)}, python-ptrace {len(params)}")
    assert not mismatches, "\n".join(mismatches)
