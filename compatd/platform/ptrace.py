"""The ptrace platform: spawn under the seccomp filter, report stops, complete calls.

One stop per trapped syscall: the filter returns SECCOMP_RET_TRACE, the tracee stops with
PTRACE_EVENT_SECCOMP, we read the registers once (PTRACE_GETREGS), and either write the
result with the syscall number set to -1 (the host skips the call) or let it run.
The ptrace function is called through one cached ctypes binding with fixed argtypes (the hot
path). The register layout is declared here rather than imported from python-ptrace: importing
its binding package costs 14 ms of start-up; tests/unit/test_platform_layout.py checks that
the two layouts agree.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal

from compatd.errors import KernelError
from compatd.platform import seccomp
from compatd.platform.events import CLONED, EXECED, EXITED, SIGNAL, STOPPED, SYSCALL, Event

PTRACE_CONT = 7
PTRACE_SYSCALL = 24
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_GETEVENTMSG = 0x4201
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207

PTRACE_O_TRACESYSGOOD = 0x1
PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

OPTIONS = (
    PTRACE_O_TRACESECCOMP
    | PTRACE_O_TRACECLONE
    | PTRACE_O_TRACEFORK
    | PTRACE_O_TRACEVFORK
    | PTRACE_O_TRACEEXEC
    | PTRACE_O_EXITKILL
    | PTRACE_O_TRACESYSGOOD
)

WALL = 0x40000000  # __WALL: threads and children alike
SYSCALL_STOP = signal.SIGTRAP | (PTRACE_EVENT_SECCOMP << 8)
SYSCALL_EXIT_STOP = signal.SIGTRAP | 0x80  # TRACESYSGOOD marks syscall stops
U64 = (1 << 64) - 1
PAGE = 4096


class ptrace_registers_t(ctypes.Structure):  # noqa: N801 - the kernel's struct name
    """struct user_regs_struct (arch/x86/include/asm/user_64.h), what PTRACE_GETREGS fills."""

    _fields_ = [
        (name, ctypes.c_ulong)
        for name in (
            "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
            "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
            "gs_base", "ds", "es", "fs", "gs",
        )
    ]  # fmt: skip


_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_ptrace.restype = ctypes.c_long


def _check(ret: int, what: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        if err:
            raise OSError(err, f"ptrace {what}: {os.strerror(err)}")
    return ret


class ProcMemory:
    """A task's memory through ``/proc/TID/mem``: pread/pwrite, also into read-only pages."""

    __slots__ = ("tid", "fd")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.fd = -1
        self.reopen()

    def reopen(self) -> None:
        """After an exec the old descriptor names the old address space."""
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = os.open(f"/proc/{self.tid}/mem", os.O_RDWR | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        try:
            data = os.pread(self.fd, size, addr)
        except (OSError, OverflowError) as e:
            raise KernelError(errno.EFAULT, f"read of {size} bytes at {addr:#x}") from e
        if len(data) != size:
            raise KernelError(errno.EFAULT, f"read of {size} bytes at {addr:#x} is partial")
        return data

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        try:
            n = os.pwrite(self.fd, data, addr)
        except (OSError, OverflowError) as e:
            raise KernelError(errno.EFAULT, f"write of {len(data)} bytes at {addr:#x}") from e
        if n != len(data):
            raise KernelError(errno.EFAULT, f"write of {len(data)} bytes at {addr:#x} is partial")

    def read_cstring(self, addr: int, limit: int) -> bytes:
        out = b""
        while True:
            # Read to the end of the page first: the next page may not be mapped.
            chunk = PAGE - (addr % PAGE)
            try:
                data = os.pread(self.fd, chunk, addr)
            except (OSError, OverflowError) as e:
                raise KernelError(errno.EFAULT, f"string at {addr:#x}") from e
            if not data:
                raise KernelError(errno.EFAULT, f"string at {addr:#x}")
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                if len(out) > limit:
                    raise KernelError(errno.ENAMETOOLONG, "string longer than the limit")
                return out
            out += data
            if len(out) > limit:
                raise KernelError(errno.ENAMETOOLONG, "string longer than the limit")
            addr += len(data)


class PtracePlatform:
    """Runs tracees under seccomp + ptrace; one instance per supervisor."""

    def __init__(self, filter_program: bytes, pin_cpu: int | None = None) -> None:
        self.filter_program = filter_program
        self.pin_cpu = pin_cpu
        self.regs: dict[int, ptrace_registers_t] = {}
        self.mems: dict[int, ProcMemory] = {}
        self.at_exit_stop: set[int] = set()  # tids stopped at a syscall exit (after inject)
        self.tids: set[int] = set()

    # start ------------------------------------------------------------------------------
    def spawn(self, path: bytes, argv: list[bytes], envp: list[bytes]) -> int:
        if self.pin_cpu is not None:
            os.sched_setaffinity(0, {self.pin_cpu})  # the child inherits it
        env = dict(e.partition(b"=")[::2] for e in envp)  # os.execve takes a mapping
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.kill(os.getpid(), signal.SIGSTOP)  # until the supervisor has seized us
                # The tracee holds no host fds: every fd it uses is virtual.
                os.closerange(0, 1 << 16)
                seccomp.install(self.filter_program)
                os.execve(path, argv, env)
            finally:
                os._exit(127)
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"child did not stop before exec (status {status:#x})")
        _check(_ptrace(PTRACE_SEIZE, pid, None, OPTIONS), "SEIZE")
        os.kill(pid, signal.SIGCONT)
        self._add(pid)
        return pid

    def _add(self, tid: int) -> None:
        self.tids.add(tid)
        self.regs[tid] = ptrace_registers_t()

    def memory(self, tid: int) -> ProcMemory:
        mem = self.mems.get(tid)
        if mem is None:
            mem = self.mems[tid] = ProcMemory(tid)
        return mem

    # stops ------------------------------------------------------------------------------
    def wait(self) -> Event:
        while True:
            tid, status = os.waitpid(-1, WALL)
            ev = self._decode(tid, status)
            if ev is not None:
                return ev

    def _decode(self, tid: int, status: int) -> Event | None:
        stop = status >> 8
        if stop == SYSCALL_STOP and status & 0xFF == 0x7F:
            regs = self.regs[tid]
            _ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(regs))
            return Event(
                SYSCALL,
                tid,
                regs.orig_rax,
                (regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9),
            )
        if os.WIFEXITED(status):
            self._drop(tid)
            return Event(EXITED, tid, value=os.WEXITSTATUS(status))
        if os.WIFSIGNALED(status):
            self._drop(tid)
            return Event(EXITED, tid, value=os.WTERMSIG(status), signaled=True)
        if not os.WIFSTOPPED(status):
            return None
        sig = stop & 0xFF
        event = stop >> 8
        if tid not in self.tids:
            # A new child reports its first stop before or after its parent's event.
            self._add(tid)
        if event in (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE):
            msg = ctypes.c_ulong()
            _check(_ptrace(PTRACE_GETEVENTMSG, tid, None, ctypes.addressof(msg)), "GETEVENTMSG")
            if msg.value not in self.tids:
                self._add(msg.value)
            return Event(CLONED, tid, value=msg.value)
        if event == PTRACE_EVENT_EXEC:
            mem = self.mems.get(tid)
            if mem is not None:
                mem.reopen()
            return Event(EXECED, tid)
        if event == PTRACE_EVENT_STOP:
            return Event(STOPPED, tid, value=sig)
        if stop == SYSCALL_EXIT_STOP:
            return Event(STOPPED, tid, value=sig)
        return Event(SIGNAL, tid, value=sig)

    def _drop(self, tid: int) -> None:
        self.tids.discard(tid)
        self.regs.pop(tid, None)
        self.at_exit_stop.discard(tid)
        mem = self.mems.pop(tid, None)
        if mem is not None:
            mem.close()

    def forget(self, tid: int) -> None:
        self._drop(tid)

    # resuming ---------------------------------------------------------------------------
    def complete(self, tid: int, result: int) -> None:
        regs = self.regs[tid]
        if tid in self.at_exit_stop:
            self.at_exit_stop.discard(tid)
        else:
            regs.orig_rax = U64  # -1: the host skips the call
        regs.rax = result & U64
        _ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs))
        _ptrace(PTRACE_CONT, tid, None, None)

    def passthrough(self, tid: int) -> None:
        if tid in self.at_exit_stop:
            raise RuntimeError("cannot pass a call through after injecting into it")
        _ptrace(PTRACE_CONT, tid, None, None)

    def resume(self, tid: int, signo: int = 0) -> None:
        _ptrace(PTRACE_CONT, tid, None, signo)

    def inject(self, tid: int, nr: int, *args: int) -> int:
        """Run syscall ``nr`` in the task stopped at a seccomp stop and return its result.

        The call replaces the trapped one (seccomp re-checks a changed number once and lets
        it run), we step to its exit stop, then put the registers back; the trapped call is
        then finished by ``complete`` at that exit stop.
        """
        regs = self.regs[tid]
        saved = ptrace_registers_t()
        ctypes.pointer(saved)[0] = regs
        regs.orig_rax = nr
        regs.rax = nr
        a = (list(args) + [0] * 6)[:6]
        regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 = (x & U64 for x in a)
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")
        _check(_ptrace(PTRACE_SYSCALL, tid, None, None), "SYSCALL")
        while True:
            _, status = os.waitpid(tid, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise KernelError(errno.ESRCH, "task died during an injected syscall")
            if status >> 8 == SYSCALL_EXIT_STOP:
                break
            # Anything else (a signal arriving) is delivered later by the host; continue.
            _check(_ptrace(PTRACE_SYSCALL, tid, None, None), "SYSCALL")
        _check(_ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(regs)), "GETREGS")
        result = regs.rax
        ctypes.pointer(regs)[0] = saved
        # At a syscall exit, orig_rax -1 keeps the kernel from restarting anything.
        regs.orig_rax = U64
        self.at_exit_stop.add(tid)
        return result - (1 << 64) if result >> 63 else result

    def interrupt(self, tid: int) -> None:
        _ptrace(PTRACE_INTERRUPT, tid, None, None)

    def kill_all(self) -> None:
        for tid in list(self.tids):
            try:
                os.kill(tid, signal.SIGKILL)
            except ProcessLookupError:
                pass
