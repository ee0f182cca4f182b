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
import gc
import os
import signal
import socket
import struct

from compatd.errors import KernelError, Unsupported
from compatd.platform import seccomp
from compatd.platform.events import CLONED, EXECED, EXITED, SIGNAL, STOPPED, SYSCALL, Event
from compatd.platform.notify import NotifyLane
from compatd.platform.stub import STUB_BASE, stub_memfd

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

PTRACE_GET_SYSCALL_INFO = 0x420E
SYSCALL_INFO_ENTRY = 1
SYSCALL_INFO_EXIT = 2

WALL = 0x40000000  # __WALL: threads and children alike
# Host fds a tracee holds: the channel over which the supervisor passes it a host fd for the
# length of one injected call (a file mmap), and the stub it execs; besides them only copies
# of files the host itself serves (signalfds), each at the number the model gave it
# (``place_fd``).
CHANNEL_FD = 100
STUB_FD = 101
LISTENER_FD = 0  # where the child's seccomp listener lands: the lowest free fd
SYS_RECVMSG = 47
SYS_CLOSE = 3
SYS_MUNMAP = 11
SYS_DUP3 = 292
SYS_SIGNALFD4 = 289
SYS_EXECVEAT = 322
O_CLOEXEC = 0o2000000
SIGSET_SIZE = 8
MSG_CMSG_CLOEXEC = 0x40000000
SYSCALL_STOP = signal.SIGTRAP | (PTRACE_EVENT_SECCOMP << 8)
SYSCALL_EXIT_STOP = signal.SIGTRAP | 0x80  # TRACESYSGOOD marks syscall stops
U64 = (1 << 64) - 1
# What a syscall interrupted by a signal leaves in rax for the host's restart logic.
ERESTARTSYS = 512
ERESTART_RESTARTBLOCK = 516
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
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
SYS_TGKILL = 234
SYS_RT_SIGQUEUEINFO = 129
PR_SET_CHILD_SUBREAPER = 36


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

    def __init__(self, filter_program: bytes, pin_cpu: int | None = None,
                 notify_nrs: frozenset[int] = frozenset()) -> None:
        """``notify_nrs``: the calls the filter sends to the user-notification lane; then the
        supervisor takes the listener fd and waits on it beside ptrace stops."""
        self.filter_program = filter_program
        self.pin_cpu = pin_cpu
        self.notify = bool(notify_nrs)
        self.notify_nrs = notify_nrs
        self.regs: dict[int, ptrace_registers_t] = {}
        self.mems: dict[int, ProcMemory] = {}
        self.at_exit_stop: set[int] = set()  # tids stopped at a syscall exit (after inject)
        self.trapped_nr: dict[int, int] = {}  # their trapped call, for ``restart``
        self.tids: set[int] = set()
        # Stops and notifications are waited for together (also with no listener): the
        # lane's wait and complete are ours, one call less on every notified syscall.
        self.lane = NotifyLane(self._next_stop, self._complete_stop)
        self.wait = self.lane.next_event  # type: ignore[method-assign]
        self.complete = self.lane.complete  # type: ignore[method-assign]
        # Orphaned sandboxed processes come to the supervisor, which reaps their zombies.
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.listener_closed = False

    # start ------------------------------------------------------------------------------
    def spawn(self, argv: list[bytes], envp: list[bytes]) -> int:
        """Start the exec stub with ``argv`` and ``envp``; it traps with STUB_TRAP_NR once
        the host has exec'd it, and the kernel then loads the real program."""
        if self.pin_cpu is not None:
            os.sched_setaffinity(0, {self.pin_cpu})  # the child inherits it
        env = dict(e.partition(b"=")[::2] for e in envp)  # os.execve takes a mapping
        stub = stub_memfd()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.kill(os.getpid(), signal.SIGSTOP)  # until the supervisor has seized us
                # The tracee holds no host fds but the channel and the stub (closed at
                # exec): every fd the program uses is virtual.
                os.dup2(theirs.fileno(), CHANNEL_FD)
                os.dup2(stub, STUB_FD, inheritable=False)
                os.closerange(0, CHANNEL_FD)
                os.closerange(STUB_FD + 1, 1 << 16)
                # From the filter on, the only syscall may be the exec (trapped, passed
                # through): a notified call here would wait for an answer nobody gives yet.
                gc.disable()
                # Python ignores SIGPIPE and SIGXFSZ for itself; an ignored signal stays
                # ignored across exec, so give the program the defaults a shell gives.
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
                seccomp.install(self.filter_program, listener=self.notify)
                os.execve(STUB_FD, argv, env)
            finally:
                os._exit(127)
        theirs.close()
        os.close(stub)
        self.channel = ours
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"child did not stop before exec (status {status:#x})")
        _check(_ptrace(PTRACE_SEIZE, pid, None, OPTIONS), "SEIZE")
        os.kill(pid, signal.SIGCONT)
        self._add(pid)
        self._follow_to_exec(pid)
        return pid

    def _follow_to_exec(self, pid: int) -> None:
        """Run the spawned child to its exec of the stub; at that trapped exec, take the
        user-notification listener it created (its fd 0, the lowest free) with pidfd_getfd."""
        while True:
            _, status = os.waitpid(pid, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise RuntimeError(f"the exec stub did not start (status {status:#x})")
            stop = status >> 8
            if stop == SYSCALL_STOP:
                if self.notify and self.lane.fd < 0:
                    self.lane.take_listener(pid, LISTENER_FD)
                _ptrace(PTRACE_CONT, pid, None, None)
            elif stop == signal.SIGTRAP | (PTRACE_EVENT_EXEC << 8):
                self.memory(pid).reopen()
                _ptrace(PTRACE_CONT, pid, None, None)
                return
            elif (stop >> 8) == PTRACE_EVENT_STOP or stop & 0xFF == signal.SIGSTOP:
                _ptrace(PTRACE_CONT, pid, None, None)
            else:
                _ptrace(PTRACE_CONT, pid, None, stop & 0xFF)

    def _add(self, tid: int) -> None:
        self.tids.add(tid)
        self.regs[tid] = ptrace_registers_t()

    def memory(self, tid: int) -> ProcMemory:
        mem = self.mems.get(tid)
        if mem is None:
            mem = self.mems[tid] = ProcMemory(tid)
        return mem

    # stops ------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Event | None:
        """The next stop or notified call; None when ``timeout`` seconds passed first (or a
        wakeup had nothing for us: the caller just asks again). The instance's ``wait`` is
        the lane's ``next_event`` itself; this is for the class's readers."""
        return self.lane.next_event(timeout)

    def _next_stop(self) -> Event | None:
        """The next ptrace stop SIGCHLD announced, or None (and no more announced)."""
        while True:
            tid, status = os.waitpid(-1, WALL | os.WNOHANG)
            if not tid:
                self.lane.sigchld = False
                return None
            ev = self._decode(tid, status)
            if ev is not None:
                return ev

    def set_args(self, tid: int, args: tuple[int, ...]) -> None:
        """Rewrite a trapped call's arguments before the host runs it (a notified call is
        answered by the model from the decoded arguments instead)."""
        if tid in self.lane.ids:
            return
        regs = self.regs[tid]
        regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 = (a & U64 for a in args)
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")

    def signal_action(self, tid: int, signo: int) -> str:
        """What the task would do with ``signo`` now: "blocked", "ignored", "caught" or
        "default" (its dispositions are the host's: rt_sigaction runs there)."""
        masks: dict[bytes, int] = {}
        try:
            with open(f"/proc/{tid}/status", "rb") as f:
                for line in f:
                    key, _, value = line.partition(b":")
                    if key in (b"SigBlk", b"SigIgn", b"SigCgt"):
                        masks[key] = int(value.strip(), 16)
        except (OSError, ValueError):
            return "default"
        bit = 1 << (signo - 1)
        for key, action in ((b"SigBlk", "blocked"), (b"SigIgn", "ignored"),
                            (b"SigCgt", "caught")):
            if masks.get(key, 0) & bit:
                return action
        return "default"

    def waits_on_notification(self, tid: int) -> bool:
        """The task waits for an answer on the notification lane (not at a ptrace stop)."""
        return tid in self.lane.ids

    def still_waiting(self, tid: int) -> bool:
        """Whether the call ``tid`` waits in is still there to be answered."""
        return self.lane.still_waiting(tid)

    def watch_host_fd(self, fd: int, events: int) -> None:
        """Wake ``wait`` when host fd ``fd`` has ``events`` (poll bits) ready."""
        self.lane.watch(fd, events)

    def unwatch_host_fd(self, fd: int) -> None:
        self.lane.unwatch(fd)

    def ready_host_fds(self) -> list[int]:
        """Watched host fds found ready since the last call (``wait`` returned None)."""
        ready, self.lane.ready = self.lane.ready, []
        return ready

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
        self.lane.ids.pop(tid, None)
        self.tids.discard(tid)
        self.regs.pop(tid, None)
        self.at_exit_stop.discard(tid)
        self.trapped_nr.pop(tid, None)
        mem = self.mems.pop(tid, None)
        if mem is not None:
            mem.close()

    def forget(self, tid: int) -> None:
        self._drop(tid)

    # resuming ---------------------------------------------------------------------------
    def complete(self, tid: int, result: int) -> None:
        """Finish the trapped call with ``result``; the instance's ``complete`` is the
        lane's, which comes to ``_complete_stop`` for a task at a ptrace stop."""
        self.lane.complete(tid, result)

    def _complete_stop(self, tid: int, result: int) -> None:
        regs = self.regs[tid]
        if tid in self.at_exit_stop:
            self.at_exit_stop.discard(tid)
        else:
            regs.orig_rax = U64  # -1: the host skips the call
        regs.rax = result & U64
        _ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs))
        _ptrace(PTRACE_CONT, tid, None, None)

    def passthrough(self, tid: int) -> None:
        lane = self.lane
        if tid in lane.ids:
            lane.answer(tid, 0, run_on_host=True)
            return
        if tid in self.at_exit_stop:
            raise RuntimeError("cannot pass a call through after injecting into it")
        _ptrace(PTRACE_CONT, tid, None, None)

    def resume(self, tid: int, signo: int = 0) -> None:
        _ptrace(PTRACE_CONT, tid, None, signo)

    def restart(self, tid: int) -> None:
        """The task sits at the exit stop of calls injected for its trapped call: put it
        back on its syscall instruction with that call's registers, so it makes the call
        again (and it traps again), as the host's ERESTARTNOINTR would."""
        regs = self.regs[tid]
        regs.rax = self.trapped_nr.pop(tid)
        regs.rip -= 2
        self.at_exit_stop.discard(tid)
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")
        _check(_ptrace(PTRACE_CONT, tid, None, None), "CONT")

    def interrupted_result(self, tid: int, result: int) -> None:
        """At a signal-delivery stop right after a call the host means to restart
        (-ERESTARTSYS and kin in rax: a signal withdrew a notification), make the call
        return ``result`` instead; the host's restart logic runs after this stop."""
        regs = self.regs[tid]
        _check(_ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(regs)), "GETREGS")
        if -ERESTART_RESTARTBLOCK <= regs.rax - (1 << 64) <= -ERESTARTSYS:
            regs.rax = result & U64
            _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")

    def inject(self, tid: int, nr: int, *args: int) -> int:
        """Run syscall ``nr`` inside the stopped task now and return its raw result.

        At the seccomp stop the trapped call is replaced (seccomp re-checks a changed number
        once and lets it run); at a syscall exit (after an earlier injection) the syscall
        instruction is run again. Either way we step to the injected call's exit stop and
        put the registers back; the trapped call is then finished by ``complete`` or
        ``start_at`` from that exit stop.
        """
        if tid in self.lane.ids:
            raise RuntimeError("inject needs a ptrace stop: declare the syscall needs_stop")
        regs = self.regs[tid]
        saved = ptrace_registers_t()
        ctypes.pointer(saved)[0] = regs
        regs.orig_rax = nr
        regs.rax = nr
        a = (list(args) + [0] * 6)[:6]
        regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 = (x & U64 for x in a)
        again = tid in self.at_exit_stop
        if again:
            regs.rip -= 2  # back onto the 2-byte syscall instruction
        else:
            self.trapped_nr[tid] = saved.orig_rax
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")
        self._step_to_exit(tid, again, nr)
        _check(_ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(regs)), "GETREGS")
        result = regs.rax
        ctypes.pointer(regs)[0] = saved
        # At a syscall exit, orig_rax -1 keeps the kernel from restarting anything.
        regs.orig_rax = U64
        self.at_exit_stop.add(tid)
        return result - (1 << 64) if result >> 63 else result

    def _step_to_exit(self, tid: int, from_exit: bool, nr: int) -> bool:
        """Resume with PTRACE_SYSCALL until the task reaches the exit stop of syscall ``nr``
        it was set up to run; return whether it exec'd on the way (an injected execve).

        From an exit stop the task first passes a syscall-entry stop. Then the filter runs:
        a trapped call gives a seccomp stop (stepped over: the host runs it); a call the
        filter sends to the notification lane waits for an answer, which is "run it on the
        host" (other tasks' notifications that arrive meanwhile are kept for later).
        """
        info = ctypes.create_string_buffer(88)
        execed = False
        notified = nr in self.notify_nrs
        _check(_ptrace(PTRACE_SYSCALL, tid, None, None), "SYSCALL")
        entered = not from_exit
        if entered and notified:
            self.lane.let_host_run(tid)
        while True:
            _, status = os.waitpid(tid, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise KernelError(errno.ESRCH, "task died during an injected syscall")
            if status >> 8 == signal.SIGTRAP | (PTRACE_EVENT_EXEC << 8):
                execed = True
                self.memory(tid).reopen()
            elif status >> 8 == SYSCALL_EXIT_STOP:
                if entered:
                    _ptrace(PTRACE_GET_SYSCALL_INFO, tid, 88, ctypes.addressof(info))
                    if not from_exit or info.raw[0] == SYSCALL_INFO_EXIT:
                        return execed
                else:  # the entry stop: the filter comes next
                    entered = True
                    _check(_ptrace(PTRACE_SYSCALL, tid, None, None), "SYSCALL")
                    if notified:
                        self.lane.let_host_run(tid)
                    continue
            # A seccomp stop, or a signal arriving (delivered later by the host, which
            # re-raises pending signals when the task returns to user mode).
            _check(_ptrace(PTRACE_SYSCALL, tid, None, None), "SYSCALL")

    def install_fd(self, tid: int, host_fd: int, scratch: int) -> int:
        """Give the stopped task a copy of ``host_fd``; return its number there.

        The supervisor sends the fd over the channel and injects ``recvmsg`` into the task,
        with the msghdr built at ``scratch`` (a page of the task's that compatd mapped). A
        thread scribbling on that page can only make the transfer fail, never receive
        another file: what arrives is what we sent.
        """
        socket.send_fds(self.channel, [b"\0"], [host_fd])
        msghdr = struct.pack("<QI4xQQQQi4x", 0, 0, scratch + 64, 1, scratch + 96, 24, 0)
        iov = struct.pack("<QQ", scratch + 80, 1)
        mem = self.memory(tid)
        mem.write(scratch, msghdr.ljust(64, b"\0") + iov + bytes(16 + 24))
        ret = self.inject(tid, SYS_RECVMSG, CHANNEL_FD, scratch, MSG_CMSG_CLOEXEC)
        if ret < 0:
            raise KernelError(-ret, "receiving a host fd in the task")
        _, level, kind, fd = struct.unpack("<QiiI", mem.read(scratch + 96, 20))
        if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
            raise KernelError(errno.EFAULT, "the host fd did not arrive")
        return fd

    def place_fd(self, tid: int, host_fd: int, number: int, scratch: int) -> bool:
        """Give the process of the stopped task a copy of ``host_fd`` at fd ``number``,
        close-on-exec, replacing what its host table held there. True when that took
        injected calls (a ptrace stop): the trapped call must then be ``restart``ed to reach
        the host. A task waiting on the notification lane adds it itself (ADDFD): False.
        Fails with the host's errno (EBADF at or above the task's host RLIMIT_NOFILE)."""
        if number == CHANNEL_FD:
            raise Unsupported(errno.EMFILE, f"fd {number} is compatd's channel in the task")
        if tid in self.lane.ids:
            try:
                self.lane.add_fd(tid, host_fd, number)
            except OSError as e:
                raise KernelError(e.errno or errno.EBADF, "placing a host fd") from e
            return False
        tmp = self.install_fd(tid, host_fd, scratch)  # close-on-exec (MSG_CMSG_CLOEXEC)
        if tmp != number:
            ret = self.inject(tid, SYS_DUP3, tmp, number, O_CLOEXEC)
            self.inject(tid, SYS_CLOSE, tmp)
            if ret < 0:
                raise KernelError(-ret, "placing a host fd")
        return True

    def signalfd(self, fd: int, mask: int, flags: int) -> int:
        """signalfd4 in the supervisor: a new signalfd (``fd`` -1) or a new mask for one of
        its own. A signalfd reads the signals of whichever thread reads it, so the tracees
        read copies of the supervisor's (``place_fd``)."""
        sigset = ctypes.c_uint64(mask)
        ret = _syscall(SYS_SIGNALFD4, ctypes.c_long(fd), ctypes.byref(sigset),
                       ctypes.c_long(SIGSET_SIZE), ctypes.c_long(flags))
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"signalfd4: {os.strerror(err)}")
        return ret

    def exec_stub(self, tid: int, scratch: int, argv: int, envp: int) -> int:
        """execve the stub in the stopped task with the program's own argv and envp arrays
        (so the host sizes the new stack and applies its E2BIG rules); 0 once the task sits
        in the fresh stub image (resume it: it traps with STUB_TRAP_NR), else -errno with
        the task as it was."""
        stub = stub_memfd()
        try:
            tfd = self.install_fd(tid, stub, scratch)
        finally:
            os.close(stub)
        self.memory(tid).write(scratch + 192, b"\0")  # the empty path of AT_EMPTY_PATH
        regs = self.regs[tid]
        saved = ptrace_registers_t()
        ctypes.pointer(saved)[0] = regs
        regs.orig_rax = regs.rax = SYS_EXECVEAT
        regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8 = tfd, scratch + 192, argv, envp, 0x1000
        regs.rip -= 2  # install_fd left the task at a syscall exit: run the instruction again
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")
        execed = self._step_to_exit(tid, True, SYS_EXECVEAT)
        _check(_ptrace(PTRACE_GETREGS, tid, None, ctypes.addressof(regs)), "GETREGS")
        if execed:
            self.at_exit_stop.discard(tid)
            return 0
        result = regs.rax - (1 << 64) if regs.rax >> 63 else regs.rax
        ctypes.pointer(regs)[0] = saved
        regs.orig_rax = U64
        self.inject(tid, SYS_CLOSE, tfd)
        return result

    def start_at(self, tid: int, rip: int, rsp: int) -> None:
        """Start a freshly loaded program: entry point, stack, general registers zeroed (as
        the kernel's ELF_PLAT_INIT does), the stub's trapped call skipped."""
        regs = self.regs[tid]
        for name in ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                     "rax", "rcx", "rdx", "rsi", "rdi"):
            setattr(regs, name, 0)
        regs.rip = rip
        regs.rsp = rsp
        regs.orig_rax = U64
        self.at_exit_stop.discard(tid)
        _check(_ptrace(PTRACE_SETREGS, tid, None, ctypes.addressof(regs)), "SETREGS")
        _check(_ptrace(PTRACE_CONT, tid, None, None), "CONT")

    def unmap_stub(self, tid: int) -> None:
        """The last injections of a load: the stub's page goes (the task never returns
        there), and the first program drops the listener fd its spawner left it."""
        if self.notify and not self.listener_closed:
            self.listener_closed = True
            self.inject(tid, SYS_CLOSE, LISTENER_FD)
        self.inject(tid, SYS_MUNMAP, STUB_BASE, 0x1000)

    def host_auxv(self, tid: int) -> list[tuple[int, int]]:
        """The auxiliary vector the host gave the stub (vDSO address, hwcaps, page size…)."""
        with open(f"/proc/{tid}/auxv", "rb") as f:
            data = f.read()
        pairs = [struct.unpack_from("<QQ", data, i) for i in range(0, len(data) - 15, 16)]
        return [(k, v) for k, v in pairs if k != 0]

    def stack_top(self, tid: int) -> int:
        """The end of the task's [stack] mapping, where the stub's strings are."""
        with open(f"/proc/{tid}/maps", "rb") as f:
            for line in f:
                if line.rstrip().endswith(b"[stack]"):
                    return int(line.split(b"-", 1)[1].split(b" ", 1)[0], 16)
        raise KernelError(errno.EFAULT, "no [stack] mapping")

    def interrupt(self, tid: int) -> None:
        _ptrace(PTRACE_INTERRUPT, tid, None, None)

    def signal_thread(self, tgid: int, tid: int, signo: int) -> None:
        """tgkill: a signal for one thread (the model checked the target is sandboxed)."""
        if _syscall(SYS_TGKILL, ctypes.c_long(tgid), ctypes.c_long(tid),
                    ctypes.c_long(signo)) < 0:
            err = ctypes.get_errno()
            if err != errno.ESRCH:
                raise OSError(err, "tgkill")

    def queue_signal(self, tgid: int, signo: int, info: bytes) -> None:
        """rt_sigqueueinfo: a signal with a siginfo the model made. Its si_code must be
        negative (SI_MESGQ…): the host lets one process send another only those."""
        buf = ctypes.create_string_buffer(info, len(info))
        if _syscall(SYS_RT_SIGQUEUEINFO, ctypes.c_long(tgid), ctypes.c_long(signo), buf) < 0:
            err = ctypes.get_errno()
            if err != errno.ESRCH:
                raise OSError(err, "rt_sigqueueinfo")

    def kill(self, tid: int) -> None:
        try:
            os.kill(tid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_all(self) -> None:
        for tid in list(self.tids):
            try:
                os.kill(tid, signal.SIGKILL)
            except ProcessLookupError:
                pass
