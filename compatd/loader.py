"""Our ELF loader: programs come from the VFS, not from the host's exec.

``prepare`` resolves the program through the VFS with Linux's checks (permissions, noexec,
``#!`` scripts nested up to 4 levels, ELF validation, the PT_INTERP interpreter, argument
size), and ``load`` maps it into a task that is sitting in the exec stub
(``compatd.platform.stub``), builds the initial stack with a complete auxv, and returns the
entry point and stack pointer. It follows fs/binfmt_elf.c and fs/binfmt_script.c.

ELF headers are parsed with ``struct``: pyelftools costs 54 ms to import, a third of our
start-up budget, for the two tables we read (tests/unit/test_loader.py checks our parse
against pyelftools').
"""

from __future__ import annotations

import errno
import os
import stat as st
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compatd.errors import KernelError
from vfs import ops
from vfs.flags import O_RDONLY
from vfs.resolver import reached

if TYPE_CHECKING:
    from compatd.kernel.task import Task
    from vfs.base import Dentry, OpenFile
    from vfs.resolver import CredsLike

PAGE = 4096
BINPRM_BUF_SIZE = 256  # how much of a file exec reads to recognise it (#! line limit)
MAX_SCRIPT_DEPTH = 5  # fs/exec.c exec_binprm: depth > 5 is ELOOP (measured: 5 #! levels run)
MAX_ARG_STRLEN = 32 * PAGE  # one argument or environment string
ELF_ET_DYN_BASE = 0x555555554000  # where Linux puts PIE executables (without ASLR)

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
ET_EXEC, ET_DYN = 2, 3
EM_X86_64 = 0x3E
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x02, 0x10, 0x20, 0x100000

# auxv keys (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h)
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ = 0, 3, 4, 5, 6
AT_BASE, AT_FLAGS, AT_ENTRY = 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = 23, 25, 26, 31, 33, 51


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


@dataclass(slots=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int

    @property
    def prot(self) -> int:
        return ((PROT_READ if self.flags & PF_R else 0) | (PROT_WRITE if self.flags & PF_W else 0)
                | (PROT_EXEC if self.flags & PF_X else 0))


@dataclass(slots=True)
class ElfImage:
    """An ELF file opened from the VFS, with what loading it needs."""

    path: bytes
    dentry: Dentry
    file: OpenFile
    type: int
    entry: int
    phoff: int
    phnum: int
    segments: list[Segment]
    interp: bytes | None = None
    phdr_vaddr: int | None = None  # PT_PHDR, if present

    @property
    def span(self) -> tuple[int, int]:
        lo = page_down(min(s.vaddr for s in self.segments))
        hi = page_up(max(s.vaddr + s.memsz for s in self.segments))
        return lo, hi

    def phdr_address(self, bias: int) -> int:
        """AT_PHDR: PT_PHDR's address, else where the load containing e_phoff puts it."""
        if self.phdr_vaddr is not None:
            return bias + self.phdr_vaddr
        for s in self.segments:
            if s.offset <= self.phoff < s.offset + s.filesz:
                return bias + s.vaddr + self.phoff - s.offset
        return 0


@dataclass(slots=True)
class ExecPlan:
    """Everything exec decided before touching the task: what to map and the new argv."""

    program: ElfImage
    interpreter: ElfImage | None
    argv: list[bytes]
    envp: list[bytes]
    execfn: bytes  # the path as given (AT_EXECFN), of the outermost script or program
    exe: bytes  # the sandbox path of the ELF actually run (/proc/PID/exe)
    scripts: list[bytes] = field(default_factory=list)


def open_exec(ctx: ops.PathContext, path: bytes) -> tuple[Dentry, OpenFile, bytes]:
    """Resolve and open a file for exec: ENOENT…, then as ``open_exec_dentry``."""
    return open_exec_dentry(ops.lookup(ctx, path), ctx.creds)


def open_exec_dentry(d: Dentry, creds: CredsLike) -> tuple[Dentry, OpenFile, bytes]:
    """Open a file for exec: EACCES (not regular, no x permission, noexec mount), then its
    first BINPRM_BUF_SIZE bytes."""
    s = d.inode.stat()
    if not st.S_ISREG(s.mode):
        raise KernelError(errno.EACCES, "not a regular file")
    if d.mount.noexec:
        raise KernelError(errno.EACCES, "noexec mount")
    ops.permission(d, creds, 1)
    f = ops.open_dentry(d, O_RDONLY, creds)
    f.dentry = d
    return d, f, f.pread(BINPRM_BUF_SIZE, 0)


def parse_shebang(head: bytes) -> tuple[bytes, bytes | None]:
    """fs/binfmt_script.c: the interpreter and one optional argument (the rest of the line,
    whitespace-trimmed). A line not ended within the buffer is ENOEXEC unless the
    interpreter name itself ended."""
    line = head[2:]
    nl = line.find(b"\n")
    if nl < 0:
        if len(head) < BINPRM_BUF_SIZE:
            nl = len(line)
        else:
            stripped = line.lstrip(b" \t")
            if not stripped or not any(c in b" \t" for c in stripped):
                raise KernelError(errno.ENOEXEC, "#! line too long")
            nl = len(line)
    line = line[:nl].strip(b" \t")
    if not line:
        raise KernelError(errno.ENOEXEC, "empty #! line")
    name, _, arg = line.replace(b"\t", b" ").partition(b" ")
    arg = arg.strip(b" ")
    return name, (arg or None)


def parse_elf(path: bytes, d: Dentry, f: OpenFile, head: bytes, *, interp: bool) -> ElfImage:
    """The ELF header and program headers; ENOEXEC for what is not an x86-64 ELF program
    (ELIBBAD instead when it is the interpreter)."""
    bad = errno.ELIBBAD if interp else errno.ENOEXEC
    if len(head) < EHDR.size or head[:4] != b"\x7fELF":
        raise KernelError(bad, "not an ELF file")
    ident, etype, machine, _, entry, phoff, _, _, _, phentsize, phnum, *_ = EHDR.unpack_from(head)
    if ident[4] != 2 or ident[5] != 1 or machine != EM_X86_64:
        raise KernelError(bad, "not a 64-bit little-endian x86-64 ELF")
    if etype not in (ET_EXEC, ET_DYN) or phentsize != PHDR.size or not 0 < phnum <= 65536 // 56:
        raise KernelError(bad, "not an executable ELF")
    table = f.pread(phnum * PHDR.size, phoff)
    if len(table) != phnum * PHDR.size:
        raise KernelError(errno.EIO, "short program header table")
    segments: list[Segment] = []
    image = ElfImage(path, d, f, etype, entry, phoff, phnum, segments)
    for i in range(phnum):
        ptype, flags, offset, vaddr, _, filesz, memsz, _ = PHDR.unpack_from(table, i * PHDR.size)
        if ptype == PT_LOAD:
            if filesz > memsz or (vaddr - offset) % PAGE:
                raise KernelError(bad, "inconsistent PT_LOAD")
            segments.append(Segment(vaddr, offset, filesz, memsz, flags))
        elif ptype == PT_INTERP and not interp:
            if image.interp is not None or not 2 <= filesz <= 4096:
                raise KernelError(errno.ENOEXEC, "bad PT_INTERP")
            name = f.pread(filesz, offset)
            # binfmt_elf only checks the terminating NUL; the name is the C string.
            if not name.endswith(b"\0"):
                raise KernelError(errno.ENOEXEC, "PT_INTERP is not NUL-terminated")
            image.interp = name.partition(b"\0")[0]
        elif ptype == PT_PHDR:
            image.phdr_vaddr = vaddr
    if not segments:
        raise KernelError(bad, "no PT_LOAD")
    return image


def check_args(argv: list[bytes], envp: list[bytes], stack_limit: int) -> None:
    """E2BIG as fs/exec.c: one string over MAX_ARG_STRLEN, or all of them (with their
    pointers) over a quarter of the stack limit (at least 128 KiB… at most 3/4 of 8 MiB)."""
    total = 0
    for s in (*argv, *envp):
        if len(s) + 1 > MAX_ARG_STRLEN:
            raise KernelError(errno.E2BIG, "an argument longer than MAX_ARG_STRLEN")
        total += len(s) + 1 + 8
    limit = max(min(stack_limit // 4, 6 << 20), 32 * PAGE)
    if total > limit:
        raise KernelError(errno.E2BIG, "arguments and environment exceed the limit")


def prepare(ctx: ops.PathContext, path: bytes, argv: list[bytes], envp: list[bytes],
            stack_limit: int = 8 << 20, file: Dentry | None = None) -> ExecPlan:
    """Decide what exec of ``path`` runs: follows ``#!`` chains, opens the ELF and its
    interpreter. ``file`` is the file itself when the call named it by descriptor
    (execveat with AT_EMPTY_PATH; ``path`` is then only its name): it is not looked up
    again by a path that may name another file by now. Raises what execve(2) returns."""
    if not path:
        raise KernelError(errno.ENOENT, "empty path")
    execfn = path
    argv = list(argv)
    scripts: list[bytes] = []
    for depth in range(MAX_SCRIPT_DEPTH + 1):
        if depth == 0 and file is not None:
            d, f, head = open_exec_dentry(reached(file), ctx.creds)
        else:
            d, f, head = open_exec(ctx, path)
        if head[:2] != b"#!":
            break
        if depth == MAX_SCRIPT_DEPTH:
            raise KernelError(errno.ELOOP, "too many levels of #! interpreters")
        interp, arg = parse_shebang(head)
        f.release()
        scripts.append(path)
        # binfmt_script: argv[0] is replaced by interp [arg] path.
        argv = [interp, *([arg] if arg else []), path, *argv[1:]]
        path = interp
    else:  # pragma: no cover - the loop always breaks or raises
        raise KernelError(errno.ELOOP, "too many levels of #! interpreters")
    check_args(argv, envp, stack_limit)
    program = parse_elf(path, d, f, head, interp=False)
    interpreter = None
    if program.interp is not None:
        try:
            di, fi, hi = open_exec(ctx, program.interp)
        except KernelError as e:
            # A missing interpreter is ENOENT, like Linux (open_exec's own error).
            raise KernelError(e.errno, f"interpreter {program.interp!r}: {e.why}") from None
        interpreter = parse_elf(program.interp, di, fi, hi, interp=True)
    exe = d.path()
    return ExecPlan(program, interpreter, argv, list(envp), execfn, exe, scripts)


class AddressSpace:
    """What ``load`` needs from the kernel: map, unmap and write the task's memory."""

    def map_file(self, addr: int, length: int, prot: int, flags: int, file: OpenFile,
                 offset: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def map_anon(self, addr: int, length: int, prot: int, flags: int) -> int:  # pragma: no cover
        raise NotImplementedError

    def write(self, addr: int, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def map_image(space: AddressSpace, image: ElfImage, hint: int) -> tuple[int, int]:
    """Map an ELF's PT_LOAD segments; return (load bias, end of the highest segment).

    A fixed-position ELF (ET_EXEC) goes where it says; a position-independent one gets its
    whole span reserved first (at ``hint``, or where the host chooses with hint 0), then
    its segments mapped over the reservation, as ld.so and binfmt_elf do.
    """
    lo, hi = image.span
    if image.type == ET_DYN:
        flags = MAP_PRIVATE | MAP_ANONYMOUS | (MAP_FIXED_NOREPLACE if hint else 0)
        try:
            base = space.map_anon(hint, hi - lo, 0, flags)
        except KernelError:
            if not hint:
                raise
            base = space.map_anon(0, hi - lo, 0, MAP_PRIVATE | MAP_ANONYMOUS)
        bias = base - lo
    else:
        bias = 0
    fixed = MAP_FIXED if image.type == ET_DYN else MAP_FIXED_NOREPLACE
    end = 0
    for seg in image.segments:
        start = bias + seg.vaddr
        pagestart = page_down(start)
        file_end = start + seg.filesz
        mem_end = start + seg.memsz
        if seg.filesz:
            space.map_file(pagestart, page_up(file_end) - pagestart, seg.prot,
                           MAP_PRIVATE | fixed, image.file, seg.offset - (start - pagestart))
        if seg.memsz > seg.filesz:
            # .bss: zero the rest of the last file page (padzero), then anonymous pages.
            if seg.filesz and file_end % PAGE:
                space.write(file_end, bytes(PAGE - file_end % PAGE))
            anon_start = page_up(file_end) if seg.filesz else pagestart
            if page_up(mem_end) > anon_start:
                space.map_anon(anon_start, page_up(mem_end) - anon_start, seg.prot,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
        end = max(end, mem_end)
    return bias, end


def build_stack(top: int, plan: ExecPlan, auxv: list[tuple[int, int]],
                strings_random: bytes) -> tuple[int, bytes]:
    """The initial stack below ``top``: (new rsp, bytes to write at rsp).

    Layout as create_elf_tables: strings at the top (execfn, envp, argv, platform, 16 random
    bytes), then aligned: argc, argv pointers, NULL, envp pointers, NULL, auxv pairs.
    """
    blob = bytearray()
    pos = top

    def push(data: bytes) -> int:
        nonlocal pos
        pos -= len(data)
        blob[0:0] = data
        return pos

    push(bytes(8))  # the kernel leaves a NULL word at the very top
    execfn_addr = push(plan.execfn + b"\0")
    env_addrs = [push(e + b"\0") for e in reversed(plan.envp)][::-1]
    arg_addrs = [push(a + b"\0") for a in reversed(plan.argv)][::-1]
    platform_addr = push(b"x86_64\0")
    random_addr = push(strings_random)
    aux = []
    for key, value in auxv:
        if key == AT_PLATFORM:
            value = platform_addr
        elif key == AT_RANDOM:
            value = random_addr
        elif key == AT_EXECFN:
            value = execfn_addr
        aux += [key, value]
    aux += [AT_NULL, 0]
    words = [len(plan.argv), *arg_addrs, 0, *env_addrs, 0, *aux]
    table = struct.pack(f"<{len(words)}Q", *words)
    sp = (pos - len(table)) & ~15
    pad = pos - sp - len(table)
    return sp, table + bytes(pad) + bytes(blob)


def load(task: Task, space: AddressSpace, plan: ExecPlan, host_auxv: list[tuple[int, int]],
         stack_top: int) -> tuple[int, int, int]:
    """Map the plan into the task; return (entry point, initial rsp, program break start)."""
    prog = plan.program
    hint = ELF_ET_DYN_BASE if prog.type == ET_DYN else 0
    bias, prog_end = map_image(space, prog, hint)
    entry = bias + prog.entry
    interp_base = 0
    if plan.interpreter is not None:
        interp_bias, _ = map_image(space, plan.interpreter, 0)
        interp_base = interp_bias + plan.interpreter.span[0]
        entry = interp_bias + plan.interpreter.entry
    creds = task.creds
    ours = {
        AT_PHDR: prog.phdr_address(bias), AT_PHENT: PHDR.size, AT_PHNUM: prog.phnum,
        AT_BASE: interp_base, AT_FLAGS: 0, AT_ENTRY: bias + prog.entry, AT_UID: creds.uid,
        AT_EUID: creds.euid, AT_GID: creds.gid, AT_EGID: creds.egid, AT_SECURE: 0,
        AT_EXECFN: 0, AT_PLATFORM: 0, AT_RANDOM: 0, AT_PAGESZ: PAGE,
    }  # fmt: skip
    auxv = [(k, ours.pop(k, v)) for k, v in host_auxv]
    auxv += sorted(ours.items())
    sp, data = build_stack(stack_top, plan, auxv, os.urandom(16))
    space.write(sp, data)
    return entry, sp, page_up(prog_end)
