"""The ELF loader's decisions, against pyelftools and Linux's exec rules."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile

import pytest
from elftools.elf.elffile import ELFFile

from compatd import loader
from compatd.errors import KernelError
from compatd.platform.stub import stub_elf
from vfs import ops
from vfs.hostfs import HostFS
from vfs.mount import MountTable


class Root:
    fsuid = fsgid = 0
    groups: list[int] = []

    def in_group(self, gid: int) -> bool:
        return gid == 0


@pytest.fixture
def ctx(tmp_path):
    """The host's / read-only, as the sandbox sees it; test files in tmp_path."""
    ns = MountTable(HostFS(b"/", readonly=True))
    root = ns.root_dentry()
    return ops.PathContext(root, root, Root(), 0o022), tmp_path


def put(tmp_path, name, data, mode=0o755):
    p = tmp_path / name
    p.write_bytes(data)
    p.chmod(mode)
    return str(p).encode()


@pytest.mark.parametrize("binary", ["/bin/busybox", "/usr/bin/python3.11", "/bin/ls"])
def test_program_headers_match_pyelftools(ctx, binary):
    c, tmp = ctx
    if not os.path.exists(binary):
        pytest.skip(f"{binary} not installed")
    path = put(tmp, "prog", open(binary, "rb").read())
    plan = loader.prepare(c, path, [b"prog"], [])
    with open(binary, "rb") as f:
        elf = ELFFile(f)
        loads = [(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"], s["p_flags"])
                 for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        interp = [s.get_interp_name() for s in elf.iter_segments() if s["p_type"] == "PT_INTERP"]
        assert plan.program.entry == elf["e_entry"]
    ours = [(s.vaddr, s.offset, s.filesz, s.memsz, s.flags) for s in plan.program.segments]
    assert ours == loads
    assert (plan.program.interp.decode() if plan.program.interp else None) == (
        interp[0] if interp else None)


def test_the_stub_is_a_valid_elf(ctx):
    c, tmp = ctx
    plan = loader.prepare(c, put(tmp, "stub", stub_elf()), [b"stub"], [])
    assert plan.program.type == loader.ET_EXEC and plan.interpreter is None


def test_scripts_rewrite_argv_and_nest_five_levels(ctx):
    c, tmp = ctx
    prog = put(tmp, "prog", stub_elf())
    s1 = put(tmp, "s1", b"#!" + prog + b"  -x \n")
    s2 = put(tmp, "s2", b"#!" + s1 + b"\n")
    plan = loader.prepare(c, s2, [b"s2", b"a"], [])
    assert plan.argv == [prog, b"-x", s1, s2, b"a"]
    assert plan.execfn == s2 and plan.exe == prog
    for i in range(3, 7):
        put(tmp, f"s{i}", b"#!" + str(tmp / f"s{i - 1}").encode() + b"\n")
    loader.prepare(c, str(tmp / "s5").encode(), [b"s5"], [])  # 5 levels of #! run natively
    with pytest.raises(KernelError) as e:
        loader.prepare(c, str(tmp / "s6").encode(), [b"s6"], [])
    assert e.value.errno == errno.ELOOP


@pytest.mark.parametrize(
    "name, data, mode, err",
    [
        ("missing", None, 0, errno.ENOENT),
        ("noexec", b"\x7fELF", 0o644, errno.EACCES),
        ("text", b"hello world\n", 0o755, errno.ENOEXEC),
        ("badinterp", b"#!/nonexistent/interpreter\n", 0o755, errno.ENOENT),
    ],
)
def test_exec_errors_as_linux(ctx, name, data, mode, err):
    c, tmp = ctx
    if data is not None:
        put(tmp, name, data, mode)
    with pytest.raises(KernelError) as e:
        loader.prepare(c, str(tmp / name).encode(), [name.encode()], [])
    assert e.value.errno == err


def test_a_bad_interpreter_is_elibbad(ctx):
    c, tmp = ctx
    fd, name = tempfile.mkstemp(dir="/tmp", prefix="elibbad")  # short enough to patch in
    os.write(fd, b"just text, not an ELF at all" * 4)
    os.close(fd)
    os.chmod(name, 0o755)
    notelf = name.encode()
    elf = bytearray(open(shutil.which("ls"), "rb").read())
    plan = loader.prepare(c, put(tmp, "ls", bytes(elf)), [b"ls"], [])
    interp = plan.program.interp
    assert interp is not None
    patched = bytes(elf).replace(interp + b"\0", notelf.ljust(len(interp), b"\0") + b"\0")
    try:
        with pytest.raises(KernelError) as e:
            loader.prepare(c, put(tmp, "ls2", patched), [b"ls2"], [])
        assert e.value.errno == errno.ELIBBAD
    finally:
        os.unlink(name)


def test_huge_arguments_are_e2big(ctx):
    c, tmp = ctx
    path = put(tmp, "prog", stub_elf())
    with pytest.raises(KernelError) as e:
        loader.prepare(c, path, [b"prog", b"x" * (loader.MAX_ARG_STRLEN + 1)], [])
    assert e.value.errno == errno.E2BIG


def test_stack_layout_is_aligned_and_complete():
    plan = loader.ExecPlan(None, None, [b"a", b"bb"], [b"K=V"], b"/x", b"/x")  # type: ignore[arg-type]
    auxv = [(loader.AT_PAGESZ, 4096), (loader.AT_RANDOM, 0), (loader.AT_EXECFN, 0)]
    top = 0x7FFF0000
    sp, data = loader.build_stack(top, plan, auxv, bytes(16))
    assert sp % 16 == 0 and sp + len(data) == top
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, 12 * 8, 8)]
    assert words[0] == 2  # argc
    argv0 = words[1] - sp
    assert data[argv0:argv0 + 2] == b"a\0"
    assert words[3] == 0 and words[5] == 0  # argv and envp terminators
    assert words[6:8] == [loader.AT_PAGESZ, 4096]
