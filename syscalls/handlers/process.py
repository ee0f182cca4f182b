"""Process lifetime: clone family, exec, exit, wait, process groups and signals to others.

The host creates processes and threads; the model learns of them at the trapped call and
at the ptrace clone event (Kernel.on_clone) and builds their Task and ThreadGroup before
they run. Exec is ours (compatd.loader). Waiting is the model's: children's exits reach the
supervisor, which keeps them as zombies until the parent reaps them.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable

from compatd import loader
from compatd.errors import KernelError, Unsupported, WouldBlock
from compatd.kernel.kernel import RUN_ON_HOST
from compatd.kernel.task import Task, ThreadGroup
from syscalls.handlers.common import path_context
from syscalls.table import Level, syscall
from vfs import ops
from vfs.anonfs import AnonFile
from vfs.base import POLLIN
from vfs.flags import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW

FULL = Level.FULL


# exit ------------------------------------------------------------------------------------
# The model's bookkeeping (exit status, fds closed) happens when the host reports the exit,
# so a thread killed by a signal is accounted for the same way; the host ends the thread.
@syscall("exit", FULL, "status:int")
def sys_exit(t: Task, status: int) -> int:
    return RUN_ON_HOST


@syscall("exit_group", FULL, "status:int")
def sys_exit_group(t: Task, status: int) -> int:
    return RUN_ON_HOST


# clone family ----------------------------------------------------------------------------
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_PIDFD = 0x1000
CLONE_VFORK = 0x4000
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
CLONE_NEWNS = 0x20000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x80
CLONE_INTO_CGROUP = 0x200000000
SIGCHLD = 17
NAMESPACES = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
              | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)
CLONE_UNSUPPORTED = (
    "namespaces (CLONE_NEW*): EPERM",
    "CLONE_PIDFD: EINVAL until pidfds are virtual",
    "clone3 set_tid and CLONE_INTO_CGROUP: EINVAL",
)


def do_clone(t: Task, flags: int) -> int:
    """Check what the model cannot follow, note the flags for the clone event, and let the
    host create the task (its registers, stack, TLS and tid pointers are its own)."""
    if flags & NAMESPACES:
        raise Unsupported(errno.EPERM, "CLONE_NEW* namespaces")
    if flags & CLONE_PIDFD:
        raise Unsupported(errno.EINVAL, "CLONE_PIDFD")
    # kernel/fork.c copy_process: the sharing rules that make no sense are EINVAL.
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise KernelError(errno.EINVAL, "CLONE_THREAD without CLONE_SIGHAND")
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise KernelError(errno.EINVAL, "CLONE_SIGHAND without CLONE_VM")
    t.kernel.check_process_limit(t, flags)
    t.pending_clone = flags
    return RUN_ON_HOST


@syscall("clone", Level.PARTIAL,
         "flags:flags/clone stack:ptr parent_tid:ptr child_tid:ptr tls:ulong",
         unsupported=CLONE_UNSUPPORTED, needs_stop=True)
def sys_clone(t: Task, flags: int, stack: int, ptid: int, ctid: int, tls: int) -> int:
    return do_clone(t, flags & 0xFFFFFFFF)


CLONE_ARGS = struct.Struct("<11Q")  # struct clone_args, up to CLONE_ARGS_SIZE_VER2


@syscall("clone3", Level.PARTIAL, "args:struct_in size:size", unsupported=CLONE_UNSUPPORTED,
         needs_stop=True)
def sys_clone3(t: Task, args: int, size: int) -> int:
    if size < 64 or size > 4096:
        raise KernelError(errno.EINVAL, f"clone_args size {size}")
    raw = t.mem.read(args, min(size, CLONE_ARGS.size)).ljust(CLONE_ARGS.size, b"\0")
    flags, _, _, _, exit_signal, _, _, _, _, set_tid_size, cgroup = CLONE_ARGS.unpack(raw)
    if set_tid_size or flags & CLONE_INTO_CGROUP:
        raise Unsupported(errno.EINVAL, "clone3 set_tid or CLONE_INTO_CGROUP")
    if exit_signal > 64:
        raise KernelError(errno.EINVAL, "exit_signal out of range")
    return do_clone(t, flags)


@syscall("fork", FULL, needs_stop=True)
def sys_fork(t: Task) -> int:
    return do_clone(t, SIGCHLD)


@syscall("vfork", FULL, needs_stop=True)
def sys_vfork(t: Task) -> int:
    return do_clone(t, CLONE_VM | CLONE_VFORK | SIGCHLD)


# exec ------------------------------------------------------------------------------------
ARG_PTR = struct.Struct("<Q")
MAX_ARG_STRINGS = 0x7FFFFFFF


def read_string_array(t: Task, addr: int) -> list[bytes]:
    """argv/envp: a NULL-terminated array of string pointers (NULL array: empty)."""
    out: list[bytes] = []
    if not addr:
        return out
    while True:
        chunk = t.mem.read(addr, 8 * 64) if (addr & 4095) <= 4096 - 512 else t.mem.read(addr, 8)
        for i in range(0, len(chunk), 8):
            (ptr,) = ARG_PTR.unpack_from(chunk, i)
            if not ptr:
                return out
            out.append(t.mem.read_cstring(ptr, loader.MAX_ARG_STRLEN))
            if len(out) > MAX_ARG_STRINGS:
                raise KernelError(errno.E2BIG, "too many arguments")
        addr += len(chunk)


def do_execveat(t: Task, dirfd: int, path_addr: int, argv_addr: int, envp_addr: int,
                flags: int) -> int:
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW):
        raise KernelError(errno.EINVAL, f"execveat flags {flags:#x}")
    path = t.read_path(path_addr)
    argv = read_string_array(t, argv_addr)
    envp = read_string_array(t, envp_addr)
    file = None
    if not path and flags & AT_EMPTY_PATH:
        file = t.fdt.get(dirfd).dentry
        if file is None:
            raise KernelError(errno.EACCES, "descriptor has no file to run")
        path = file.path()
        dirfd = AT_FDCWD
    ctx = path_context(t, dirfd, path)
    if flags & AT_SYMLINK_NOFOLLOW and file is None:
        if ops.lookup(ctx, path, follow=False).inode.is_symlink():
            raise KernelError(errno.ELOOP, "AT_SYMLINK_NOFOLLOW on a symbolic link")
    limit = t.group.rlimits[3][0]  # RLIMIT_STACK
    plan = loader.prepare(ctx, path, argv or [b""], envp, limit, file)
    if not argv:
        plan.argv = plan.argv[1:] if plan.scripts else []
    return t.kernel.exec_task(t, plan, argv_addr, envp_addr)


@syscall("execve", FULL, "path:path argv:ptr envp:ptr", needs_stop=True)
def sys_execve(t: Task, path: int, argv: int, envp: int) -> int:
    return do_execveat(t, AT_FDCWD, path, argv, envp, 0)


@syscall("execveat", FULL, "dirfd:fd path:path argv:ptr envp:ptr flags:flags/at", needs_stop=True)
def sys_execveat(t: Task, dirfd: int, path: int, argv: int, envp: int, flags: int) -> int:
    return do_execveat(t, dirfd, path, argv, envp, flags)


# wait ------------------------------------------------------------------------------------
WNOHANG = 1
WUNTRACED = 2
WSTOPPED = 2
WEXITED = 4
WCONTINUED = 8
WNOWAIT = 0x01000000
WNOTHREAD = 0x20000000
WALL = 0x40000000
WCLONE = 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
WAIT_UNSUPPORTED = ("stopped and continued children (WUNTRACED/WSTOPPED, WCONTINUED) are never "
                    "reported", "rusage of reaped children is zero")


def children(t: Task, match: int, pgid: bool) -> list[ThreadGroup]:
    """The caller's child processes that ``match`` selects: -1 any, else a pid, or with
    ``pgid`` a process group."""
    me = t.group.tgid
    out = []
    for g in t.kernel.groups.values():
        if g.ppid != me:
            continue
        if match == -1 or (g.pgid == match if pgid else g.tgid == match):
            out.append(g)
    return out


def do_wait(t: Task, match: int, by_pgid: bool, options: int,
            report: Callable[[ThreadGroup], None]) -> int:
    """Find a zombie child and ``report`` it, or 0 with WNOHANG, or wait (WouldBlock)."""
    candidates = children(t, match, by_pgid)
    if not candidates:
        raise KernelError(errno.ECHILD, "no such child")
    for g in candidates:
        if g.exit_status is not None and not g.tasks:
            report(g)
            if not options & WNOWAIT:
                t.kernel.reap(t, g)
            return g.tgid
    if options & WNOHANG:
        return 0
    raise WouldBlock("no child has exited yet")


RUSAGE_SIZE = 144


@syscall("wait4", Level.PARTIAL,
         "pid:pid wstatus:struct_out options:flags/wait rusage:struct_out",
         unsupported=WAIT_UNSUPPORTED)
def sys_wait4(t: Task, pid: int, wstatus: int, options: int, rusage: int) -> int:
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE):
        raise KernelError(errno.EINVAL, f"wait4 options {options:#x}")
    if pid < -1:
        match, by_pgid = -pid, True
    elif pid == 0:
        match, by_pgid = t.group.pgid, True
    else:
        match, by_pgid = pid, False

    def report(g: ThreadGroup) -> None:
        if wstatus:
            t.mem.write(wstatus, struct.pack("<i", g.exit_status or 0))
        if rusage:
            t.mem.write(rusage, bytes(RUSAGE_SIZE))

    return do_wait(t, match, by_pgid, options, report)


SIGINFO = struct.Struct("<iii4xiiiI")  # signo, errno, code, pad, pid, uid, status, …
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3


@syscall("waitid", Level.PARTIAL, "idtype:int id:pid infop:struct_out options:flags/wait "
         "rusage:struct_out", unsupported=WAIT_UNSUPPORTED)
def sys_waitid(t: Task, idtype: int, ident: int, infop: int, options: int, rusage: int) -> int:
    if options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL
                   | WCLONE) or not options & (WEXITED | WSTOPPED | WCONTINUED):
        raise KernelError(errno.EINVAL, f"waitid options {options:#x}")
    if idtype == P_ALL:
        match, by_pgid = -1, False
    elif idtype == P_PID:
        match, by_pgid = ident, False
    elif idtype == P_PGID:
        match, by_pgid = (ident or t.group.pgid), True
    elif idtype == P_PIDFD:
        match, by_pgid = pidfd_group(t, ident).tgid, False
    else:
        raise KernelError(errno.EINVAL, f"idtype {idtype}")
    if not options & WEXITED:
        if options & WNOHANG:
            return 0
        raise WouldBlock("only stop/continue events asked for")

    def report(g: ThreadGroup) -> None:
        status = g.exit_status or 0
        if os.WIFSIGNALED(status):
            code = CLD_DUMPED if status & 0x80 else CLD_KILLED
            value = os.WTERMSIG(status)
        else:
            code, value = CLD_EXITED, os.WEXITSTATUS(status)
        if infop:
            info = SIGINFO.pack(SIGCHLD, 0, code, g.tgid, g.creds.uid, value, 0)
            t.mem.write(infop, info.ljust(128, b"\0"))
        if rusage:
            t.mem.write(rusage, bytes(RUSAGE_SIZE))

    found = do_wait(t, match, by_pgid, options, report)
    if found == 0 and infop:
        t.mem.write(infop, bytes(128))  # WNOHANG with nothing: si_pid 0
    return 0


# process groups and sessions ---------------------------------------------------------------
def group_of(t: Task, pid: int) -> ThreadGroup:
    """A sandboxed process by pid (0: the caller); ESRCH for anything outside the sandbox."""
    if pid == 0:
        return t.group
    g = t.kernel.groups.get(pid)
    if g is None or (g.exit_status is not None and not g.tasks):
        raise KernelError(errno.ESRCH, f"no process {pid} in the sandbox")
    return g


@syscall("getpgid", FULL, "pid:pid")
def sys_getpgid(t: Task, pid: int) -> int:
    return group_of(t, pid).pgid


@syscall("getpgrp", FULL)
def sys_getpgrp(t: Task) -> int:
    return t.group.pgid


@syscall("getsid", FULL, "pid:pid")
def sys_getsid(t: Task, pid: int) -> int:
    return group_of(t, pid).sid


@syscall("setpgid", FULL, "pid:pid pgid:pid")
def sys_setpgid(t: Task, pid: int, pgid: int) -> int:
    # kernel/sys.c setpgid: the caller or one of its children (EPERM after it exec'd is not
    # tracked), in the caller's session; the group must exist in that session.
    if pgid < 0:
        raise KernelError(errno.EINVAL, "negative pgid")
    target = group_of(t, pid)
    if target is not t.group and target.ppid != t.group.tgid:
        raise KernelError(errno.ESRCH, "not the caller or its child")
    if target.sid != t.group.sid:
        raise KernelError(errno.EPERM, "child in another session")
    if target.tgid == target.sid:
        raise KernelError(errno.EPERM, "a session leader cannot change group")
    pgid = pgid or target.tgid
    if pgid != target.tgid and not any(
        g.pgid == pgid and g.sid == t.group.sid for g in t.kernel.groups.values()
    ):
        raise KernelError(errno.EPERM, "no such process group in the session")
    target.pgid = pgid
    # The host's groups follow the model's, so terminal job control (TIOCSPGRP) works.
    return RUN_ON_HOST


@syscall("setsid", FULL)
def sys_setsid(t: Task) -> int:
    g = t.group
    if any(o.pgid == g.tgid for o in t.kernel.groups.values()):
        raise KernelError(errno.EPERM, "already a process group leader")
    g.sid = g.pgid = g.tgid
    return RUN_ON_HOST


# signals to other processes ----------------------------------------------------------------
def check_signal(sig: int) -> None:
    if not 0 <= sig <= 64:
        raise KernelError(errno.EINVAL, f"signal {sig}")


@syscall("kill", FULL, "pid:pid sig:signo/signals")
def sys_kill(t: Task, pid: int, sig: int) -> int:
    """Only sandboxed processes can be reached: -1 and process groups are expanded here to
    the sandbox's members (the host would reach the supervisor and beyond)."""
    check_signal(sig)
    if pid > 0:
        group_of(t, pid)
        return RUN_ON_HOST
    pgid = t.group.pgid if pid == 0 else -pid
    targets = [g for g in t.kernel.groups.values() if g.tasks and (
        g.tgid != t.group.tgid if pid == -1 else g.pgid == pgid)]
    if not targets:
        raise KernelError(errno.ESRCH, "no process in that group")
    for g in targets:
        if sig:
            t.kernel.signal_process(g.tgid, sig)
    return 0


def thread_of(t: Task, tgid: int, tid: int) -> Task:
    task = t.kernel.tasks.get(tid)
    if task is None or (tgid != -1 and task.group.tgid != tgid):
        raise KernelError(errno.ESRCH, f"no thread {tid} in the sandbox")
    return task


@syscall("tgkill", FULL, "tgid:pid tid:pid sig:signo/signals")
def sys_tgkill(t: Task, tgid: int, tid: int, sig: int) -> int:
    if tgid <= 0 or tid <= 0:
        raise KernelError(errno.EINVAL, "tgid and tid must be positive")
    check_signal(sig)
    thread_of(t, tgid, tid)
    return RUN_ON_HOST


@syscall("tkill", FULL, "tid:pid sig:signo/signals")
def sys_tkill(t: Task, tid: int, sig: int) -> int:
    if tid <= 0:
        raise KernelError(errno.EINVAL, "tid must be positive")
    check_signal(sig)
    thread_of(t, -1, tid)
    return RUN_ON_HOST



@syscall("rt_sigqueueinfo", FULL, "tgid:pid sig:signo/signals info:struct_in")
def sys_rt_sigqueueinfo(t: Task, tgid: int, sig: int, info: int) -> int:
    # The host reads the siginfo and applies Linux's rule (another process may only send
    # negative si_codes); the model checks the target is sandboxed.
    check_signal(sig)
    group_of(t, tgid)
    return RUN_ON_HOST


@syscall("rt_tgsigqueueinfo", FULL, "tgid:pid tid:pid sig:signo/signals info:struct_in")
def sys_rt_tgsigqueueinfo(t: Task, tgid: int, tid: int, sig: int, info: int) -> int:
    check_signal(sig)
    thread_of(t, tgid, tid)
    return RUN_ON_HOST


# pidfds ------------------------------------------------------------------------------------
PIDFD_NONBLOCK = 0o4000
PIDFD_THREAD = 0o200


class PidFile(AnonFile):
    """A pidfd: names a sandboxed process; readable once it exited. (Its waiters are woken
    by the loop's retries after every exit, so it needs no wait queue of its own.)"""

    anon_name = b"[pidfd]"

    def __init__(self, group: ThreadGroup, flags: int) -> None:
        super().__init__(flags)
        self.group = group

    def poll(self) -> int:
        return POLLIN if self.group.exit_status is not None and not self.group.tasks else 0


def pidfd_group(t: Task, fd: int) -> ThreadGroup:
    f = t.fdt.get(fd)
    if not isinstance(f, PidFile):
        raise KernelError(errno.EBADF, "not a pidfd")
    return f.group


@syscall("pidfd_open", Level.PARTIAL, "pid:pid flags:flags",
         unsupported=("PIDFD_THREAD: EINVAL",))
def sys_pidfd_open(t: Task, pid: int, flags: int) -> int:
    if flags & PIDFD_THREAD:
        raise Unsupported(errno.EINVAL, "PIDFD_THREAD")
    if flags & ~PIDFD_NONBLOCK or pid <= 0:
        raise KernelError(errno.EINVAL, "bad flags or pid")
    g = t.kernel.groups.get(pid)
    if g is None or pid != g.tgid:
        raise KernelError(errno.ESRCH, f"no process {pid} in the sandbox")
    return t.install_fd(PidFile(g, flags & PIDFD_NONBLOCK), cloexec=True)


@syscall("pidfd_send_signal", Level.PARTIAL,
         "pidfd:fd sig:signo/signals info:struct_in flags:flags",
         unsupported=("a siginfo argument: EINVAL", "PIDFD_SIGNAL_* scopes: EINVAL"))
def sys_pidfd_send_signal(t: Task, pidfd: int, sig: int, info: int, flags: int) -> int:
    g = pidfd_group(t, pidfd)
    check_signal(sig)
    if flags:
        raise Unsupported(errno.EINVAL, "pidfd_send_signal flags")
    if info:
        raise Unsupported(errno.EINVAL, "pidfd_send_signal with a siginfo")
    if not g.tasks:
        raise KernelError(errno.ESRCH, "the process has exited")
    if sig:
        t.kernel.signal_process(g.tgid, sig)
    return 0


@syscall("pidfd_getfd", FULL, "pidfd:fd targetfd:int flags:flags")
def sys_pidfd_getfd(t: Task, pidfd: int, targetfd: int, flags: int) -> int:
    """A copy of another sandboxed process's descriptor (same description, FD_CLOEXEC set),
    allowed as ptrace access would be: same user, or a privileged caller."""
    g = pidfd_group(t, pidfd)
    if flags:
        raise KernelError(errno.EINVAL, "flags must be 0")
    if not g.tasks:
        raise KernelError(errno.ESRCH, "the process has exited")
    me = t.creds
    if me.euid != 0 and (g.creds.uid, g.creds.euid, g.creds.suid) != (me.uid,) * 3:
        raise KernelError(errno.EPERM, "no ptrace access to the target")
    target = next(iter(g.tasks.values()))
    return t.install_fd(target.fdt.get(targetfd), cloexec=True)
