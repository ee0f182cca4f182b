"""The supervisor's single-threaded loop: wait for a stop, dispatch it, repeat.

Only ``KernelError`` becomes ``-errno``. Any other exception in a handler is a compatd bug:
it is reported on stderr with the syscall and traceback, the call fails with ENOSYS and the
loop goes on; ``strict`` (used by the tests) makes it fatal instead.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from compatd import loader
from compatd.errors import KernelError, Unsupported
from compatd.kernel.fdtable import FDTable
from compatd.kernel.mm import TaskSpace
from compatd.kernel.task import Creds, FSContext, Task, ThreadGroup, host_rlimits
from compatd.platform.events import CLONED, EXECED, EXITED, SIGNAL, STOPPED, SYSCALL, Event
from compatd.platform.stub import STUB_TRAP_NR
from syscalls.table import BY_NR, MAX_NR, Level, load_all
from vfs.base import tick

if TYPE_CHECKING:
    from compatd.loader import ExecPlan
    from compatd.platform.base import Platform
    from vfs.base import Dentry, OpenFile
    from vfs.mount import MountTable

# A handler returns this (never a possible result: results fit in 64 bits) when the model
# has done its part and the host must now run the call itself (exit, exit_group).
RUN_ON_HOST = 1 << 64

ENOSYS = -errno.ENOSYS


class HandlerCrash(RuntimeError):
    """Raised in strict mode when a handler fails with something other than KernelError."""


class Kernel:
    def __init__(
        self,
        platform: Platform,
        ns: MountTable,
        *,
        strict: bool = False,
        log: TextIO | None = None,
    ) -> None:
        load_all()
        self.platform = platform
        self.ns = ns
        self.strict = strict
        self.log = log or sys.stderr
        self.tasks: dict[int, Task] = {}
        self.groups: dict[int, ThreadGroup] = {}
        self.first_tgid = 0
        # The task whose syscall is being handled: procfs answers "self" and "thread-self"
        # for it (one assignment per trapped call).
        self.current: Task | None = None
        self.exit_status: int | None = None  # the first process's wait status
        self.unsupported: Counter[str] = Counter()  # "name: case" -> times hit
        self.crashes: list[str] = []

    # start ------------------------------------------------------------------------------
    def start(
        self,
        plan: ExecPlan,
        cwd: Dentry,
        stdio: dict[int, OpenFile],
    ) -> Task:
        """Start the first program: the host runs the exec stub, ``finish_exec`` loads it."""
        tid = self.platform.spawn(plan.argv, plan.envp)
        group = ThreadGroup(tid, os.getpid(), Creds.from_host(), host_rlimits())
        fdt = FDTable()
        for fd, f in stdio.items():
            fdt.install_at(fd, f)
        fs = FSContext(root=self.ns.root_dentry(), cwd=cwd, umask=os.umask(0o022))
        os.umask(fs.umask)
        task = Task(tid, group, fdt, fs, self.platform.memory(tid), self)
        task.pending_exec = plan
        group.tasks[tid] = task
        self.tasks[tid] = task
        self.groups[tid] = group
        self.first_tgid = tid
        return task

    def finish_exec(self, task: Task) -> None:
        """The task sits in the exec stub: map its program and start it (Linux's point of no
        return is passed: a failure now kills the process, as a failed load does)."""
        plan = task.pending_exec
        assert plan is not None
        task.pending_exec = None
        platform = self.platform
        group = task.group
        try:
            space = TaskSpace(task)
            group.scratch = space.scratch_page()
            entry, sp, brk = loader.load(task, space, plan, platform.host_auxv(task.tid),
                                         platform.stack_top(task.tid))
            platform.unmap_stub(task.tid)
        except KernelError as e:
            print(f"compatd: loading {plan.exe!r} failed: {e}", file=self.log, flush=True)
            platform.kill(task.tid)
            return
        finally:
            plan.program.file.release()
            if plan.interpreter is not None:
                plan.interpreter.file.release()
        group.brk_start = group.brk = brk
        group.exe = plan.exe
        group.argv = plan.argv
        group.envp = plan.envp
        group.comm = plan.exe.rpartition(b"/")[2][:15]
        platform.start_at(task.tid, entry, sp)

    # the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        """Run until every task has exited; return the first process's wait status."""
        wait = self.platform.wait
        on_syscall = self.on_syscall
        try:
            while self.tasks:
                ev = wait()
                if ev.kind == SYSCALL:
                    on_syscall(ev)
                else:
                    self.on_other(ev)
        except BaseException:
            self.platform.kill_all()
            raise
        return self.exit_status if self.exit_status is not None else 0

    def on_syscall(self, ev: Event) -> None:
        platform = self.platform
        tid = ev.tid
        task = self.tasks[tid]
        nr = ev.nr
        if not task.started:
            # The spawner's own calls between installing the filter and exec (the exec).
            platform.passthrough(tid)
            return
        self.current = task
        entry = BY_NR[nr] if 0 <= nr <= MAX_NR else None
        if entry is None:
            if nr == STUB_TRAP_NR and task.pending_exec is not None:
                self.finish_exec(task)
            else:
                platform.complete(tid, ENOSYS)
            return
        invoke = entry.invoke
        if invoke is None or (entry.host_when and entry.host_allows(ev.args)):
            # HOST entries (stopped only under --trace-all) run on the host; ENOSYS ones fail.
            if entry.level is Level.HOST or entry.host_when:
                platform.passthrough(tid)
            else:
                platform.complete(tid, ENOSYS)
            return
        tick()  # a new syscall: what filesystems cached for the previous one is stale
        try:
            ret = invoke(task, ev.args)
        except KernelError as e:
            ret = -e.errno
            if type(e) is Unsupported:
                self.unsupported[f"{entry.name}: {e.why}"] += 1
        except Exception as e:
            ret = self.handler_crashed(entry.name, ev, e)
        if ret == RUN_ON_HOST:
            platform.passthrough(tid)
        else:
            platform.complete(tid, ret)

    def handler_crashed(self, name: str, ev: Event, exc: Exception) -> int:
        args = ", ".join(hex(a) for a in ev.args)
        text = "".join(traceback.format_exception(exc))
        report = f"compatd: bug in the {name}({args}) handler (tid {ev.tid}):\n{text}"
        self.crashes.append(report)
        print(report, file=self.log, end="", flush=True)
        if self.strict:
            raise HandlerCrash(f"{name} handler raised {exc!r}") from exc
        return ENOSYS

    def on_other(self, ev: Event) -> None:
        kind = ev.kind
        tid = ev.tid
        if kind == EXITED:
            self.task_exited(tid, ev)
        elif kind == EXECED:
            task = self.tasks.get(tid)
            if task is not None:
                task.started = True
            self.platform.resume(tid)
        elif kind == SIGNAL:
            self.platform.resume(tid, ev.value)
        elif kind == STOPPED:
            self.platform.resume(tid)
        elif kind == CLONED:
            # Process creation is declared ENOSYS until the processes issue; a clone that
            # still happened (it cannot, with the filter) would run untracked.
            self.platform.resume(tid)

    def task_exited(self, tid: int, ev: Event) -> None:
        task = self.tasks.pop(tid, None)
        self.platform.forget(tid)
        if task is None:
            return
        group = task.group
        group.tasks.pop(tid, None)
        if tid == group.tgid:
            status = (ev.value & 0x7F) if ev.signaled else (ev.value & 0xFF) << 8
            group.exit_status = status
            if tid == self.first_tgid:
                self.exit_status = status
        if not group.tasks:
            task.fdt.close_all()
            self.groups.pop(group.tgid, None)
        if tid == self.first_tgid and self.tasks:
            # The first program is gone: nothing may outlive it (the processes issue will
            # let its children finish first).
            self.platform.kill_all()


def shell_status(wait_status: int) -> int:
    """What a shell reports for a wait status: the exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)
