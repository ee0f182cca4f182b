"""The exec stub: a 200-byte static ELF the host executes in place of every program.

compatd loads programs itself (DESIGN.md "exec is ours"): the host execs this stub with the
program's argv and envp (so the host sizes the stack and applies its own E2BIG rules), the
stub's only instruction traps with ``STUB_TRAP_NR``, and the supervisor then maps the real
program and its interpreter from the VFS, rebuilds the stack and starts it. Built here in
Python so installing compatd needs no compiler.
"""

from __future__ import annotations

import os
import struct

STUB_BASE = 0x10000  # mmap_min_addr: below every executable's usual link address
STUB_TRAP_NR = 0x3FFC0DE  # not a syscall; under the x32 bit, so the filter traps it
_CODE = (
    b"\xb8" + struct.pack("<I", STUB_TRAP_NR)  # mov eax, STUB_TRAP_NR
    + b"\x0f\x05"  # syscall: traps; the supervisor never lets it return here
    + b"\x0f\x0b"  # ud2
)  # fmt: skip
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")


def stub_elf() -> bytes:
    code_off = _EHDR.size + _PHDR.size
    size = code_off + len(_CODE)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    ehdr = _EHDR.pack(
        ident, 2, 0x3E, 1, STUB_BASE + code_off, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, 1,
        0, 0, 0,
    )  # fmt: skip  (ET_EXEC, EM_X86_64, entry, phoff, shoff, flags, sizes, 1 phdr)
    phdr = _PHDR.pack(1, 5, 0, STUB_BASE, STUB_BASE, size, size, 0x1000)  # PT_LOAD, R+X
    return ehdr + phdr + _CODE


def stub_memfd() -> int:
    """A sealed-in-practice memfd holding the stub, which the child fexecve()s."""
    fd = os.memfd_create("compatd-stub", os.MFD_CLOEXEC)
    os.write(fd, stub_elf())
    return fd
