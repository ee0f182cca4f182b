"""The supervisor's single-threaded loop: wait for a stop, dispatch it, repeat.

Only ``KernelError`` becomes ``-errno``. Any other exception in a handler is a compatd bug:
it is reported on stderr with the syscall and traceback, the call fails with ENOSYS and the
loop goes on; ``strict`` (used by the tests) makes it fatal instead.
"""

from __future__ import annotations

import copy
import errno
import heapq
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import vfs.base as vfs_base
from compatd import loader
from compatd.errors import KernelError, SignalingError, Unsupported, WouldBlock
from compatd.kernel.fdtable import FDTable
from compatd.kernel.ipc import IpcNamespace
from compatd.kernel.mm import TaskSpace
from compatd.kernel.task import Creds, FSContext, Task, ThreadGroup, host_rlimits
from compatd.platform.events import CLONED, EXECED, EXITED, SIGNAL, STOPPED, SYSCALL, Event
from compatd.platform.stub import STUB_TRAP_NR
from syscalls.numbers import NUMBERS
from syscalls.table import BY_NR, MAX_NR, Arg, Level, load_all
from vfs.common import host_signal_masks

if TYPE_CHECKING:
    from compatd.loader import ExecPlan
    from compatd.platform.base import Platform
    from compatd.report import Recorder
    from policies.engine import Enforcer
    from policies.limits import Limiter
    from vfs.base import Dentry, OpenFile
    from vfs.mount import MountTable

# A handler returns this (never a possible result: results fit in 64 bits) when the model
# has done its part and the host must now run the call itself (exit, exit_group).
RUN_ON_HOST = 1 << 64
# A handler returns this when it has already put the task where it must run next (exec
# leaves it in the fresh stub): the loop only resumes it.
RESUMED = 1 << 65
# A handler returns this when calls it injected changed what the trapped call will find (a
# host fd placed for it, at a ptrace stop, where the host can no longer run the call as it
# stands): the task makes the call again and it traps anew.
RESTART = 1 << 66

ENOSYS = -errno.ENOSYS
CLONE_FILES = 0x400
CLONE_FS = 0x200
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
NR_WAIT4 = NUMBERS["wait4"]
WNOHANG = 1
WALL = 0x40000000


class TerminalSignal(Exception):  # noqa: N818 - an event, not an error
    """Raised by the supervisor's SIGINT/SIGQUIT handler to leave a blocking wait."""


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
        trace: TextIO | None = None,
        recorder: Recorder | None = None,
        overrides: dict[int, str | tuple[str, int, int]] | None = None,
        enforcer: Enforcer | None = None,
    ) -> None:
        load_all()
        self.platform = platform
        self.complete = platform.complete
        self.ns = ns
        self.strict = strict
        self.log = log or sys.stderr
        self.trace = trace  # --trace: every trapped call and its result, as strace prints
        self.tasks: dict[int, Task] = {}
        self.groups: dict[int, ThreadGroup] = {}
        self.first_tgid = 0
        # The task whose syscall is being handled: procfs answers "self" and "thread-self"
        # for it (one assignment per trapped call).
        self.current: Task | None = None
        self.exit_status: int | None = None  # the first process's wait status
        self.unsupported: Counter[str] = Counter()  # "name: case" -> times hit
        # Tasks waiting in an emulated blocking call: tid -> how to try the call again.
        self.parked: dict[int, Callable[[], int]] = {}
        # New tasks whose first stop came before their parent's clone event.
        self.early_stops: set[int] = set()
        self.max_procs = 512
        self.waiting = False  # in the platform's blocking wait (a signal may break it)
        # Timeouts of blocking calls: a heap of (deadline, handle, callback).
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.timer_seq = 0
        self.cancelled_timers: set[int] = set()
        self.host_watches: dict[int, Callable[[], None]] = {}
        self.interrupt_all_parked = False
        self.crashes: list[str] = []
        self.ipc = IpcNamespace()  # System V IPC: removed on the host when the sandbox ends
        # What must happen once the call being handled is answered (``when_answered``).
        self.answered_hooks: list[Callable[[], None]] = []
        # --report (a Recorder) and explore's stubbed/faked syscalls (nr -> "enosys" or
        # "fake"): only when one is given does the loop use on_syscall_observed, and finish
        # tell the recorder each result; otherwise nothing is added to the hot path.
        self.recorder = recorder
        self.overrides = overrides or {}
        if recorder is not None or self.overrides:
            self.on_syscall = self.on_syscall_observed  # type: ignore[method-assign]
        if recorder is not None:
            recorder.kernel = self
            self.finish = self.finish_recorded  # type: ignore[method-assign]
        # --policy: syscall rules are decided before everything above (and cost nothing
        # when no policy is loaded: the plain method stays in place). Its [limits] set
        # ``limits`` (policies/limits.py), which the handlers' hooks test for None.
        self.enforcer = enforcer
        self.limits: Limiter | None = None
        if enforcer is not None:
            self.on_syscall_unpoliced = self.on_syscall
            self.on_syscall = self.on_syscall_policed  # type: ignore[method-assign]
            enforcer.attach(self)

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
        if self.limits is not None:
            self.limits.first_process(task)
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
        self.ipc.forget(group.tgid)  # exec detached every segment
        group.exec_id += 1
        group.exe = plan.exe
        group.argv = plan.argv
        group.envp = plan.envp
        task.exec_reset()
        # begin_new_exec names the task after the path as given (a script's, "exe" for
        # /proc/self/exe), not after the file that runs.
        group.comm = plan.execfn.rpartition(b"/")[2][:15]
        platform.start_at(task.tid, entry, sp)

    # the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        """Run until every task has exited; return the first process's wait status."""
        wait = self.platform.wait
        on_syscall = self.on_syscall
        timers = self.timers
        tasks = self.tasks
        monotonic = time.monotonic
        try:
            while tasks:
                try:
                    self.waiting = True
                    ev = wait(timers[0][0] - monotonic() if timers else None)
                except TerminalSignal:
                    ev = None
                finally:
                    self.waiting = False
                if timers and timers[0][0] <= monotonic():
                    self.run_timers()
                if ev is None and self.host_watches:
                    self.host_fds_ready()
                if self.interrupt_all_parked:
                    # Parked calls fail with EINTR; the host then delivers the signal the
                    # terminal sent to the program's process group.
                    self.interrupt_all_parked = False
                    for tgid in {self.tasks[t].group.tgid for t in self.parked}:
                        self.interrupt_parked(tgid)
                if ev is None:
                    continue
                if ev.kind == SYSCALL:
                    on_syscall(ev)
                else:
                    self.on_other(ev)
        except BaseException:
            self.platform.kill_all()
            raise
        finally:
            self.ipc.release()
            if self.enforcer is not None:
                self.enforcer.detach()
        return self.exit_status if self.exit_status is not None else 0

    # host fds ---------------------------------------------------------------------------
    def watch_host_fd(self, fd: int, events: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` from the loop when host fd ``fd`` (behind an emulated file: a
        host socket, the terminal) has ``events``; parked calls are retried after it."""
        self.host_watches[fd] = callback
        self.platform.watch_host_fd(fd, events)

    def unwatch_host_fd(self, fd: int) -> None:
        if self.host_watches.pop(fd, None) is not None:
            self.platform.unwatch_host_fd(fd)

    def host_fds_ready(self) -> None:
        for fd in self.platform.ready_host_fds():
            callback = self.host_watches.get(fd)
            if callback is not None:
                callback()
        if self.parked:
            self.retry_parked()

    # timers ---------------------------------------------------------------------------------
    def add_timer(self, delay: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` from the loop after ``delay`` seconds (a blocking call's
        timeout); returns a handle for ``cancel_timer``."""
        self.timer_seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.timer_seq, callback))
        return self.timer_seq

    def cancel_timer(self, handle: int) -> None:
        self.cancelled_timers.add(handle)

    def run_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, seq, callback = heapq.heappop(self.timers)
            if seq in self.cancelled_timers:
                self.cancelled_timers.discard(seq)
                continue
            callback()
        if self.parked:
            self.retry_parked()

    def on_syscall(self, ev: Event) -> None:
        platform = self.platform
        tid = ev.tid
        task = self.tasks[tid]
        nr = ev.nr
        self.current = task
        if self.parked and tid in self.parked:
            # A signal withdrew the parked call (notification lane) and the host restarted
            # it or the program made a new one: the old wait is over.
            del self.parked[tid]
        entry = BY_NR[nr] if 0 <= nr <= MAX_NR else None
        if self.trace is not None:
            print(f"[{tid}] {describe_call(task, nr, ev.args)}", end="", file=self.trace)
        if entry is None:
            if nr == STUB_TRAP_NR and task.pending_exec is not None:
                if self.trace is not None:
                    print(" = <program loaded>", file=self.trace, flush=True)
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
        # tick(), inline: a new syscall, what filesystems cached for the previous one is stale
        vfs_base.generation += 1
        try:
            ret = invoke(task, ev.args)
        except KernelError as e:
            self.finish_failed(task, self.failed(task, entry.name, e), e)
            if self.parked:
                self.retry_parked()
            return
        except WouldBlock as e:
            args = ev.args
            self.parked[tid] = e.retry or (lambda: invoke(task, args))
            if self.trace is not None:
                print(" <parked>", file=self.trace, flush=True)
            if e.retry is not None and len(self.parked) > 1:
                # A call that goes on later may have done part of its work first (a pipe
                # write larger than the room left fills it): a parked reader must hear of
                # it now, or both wait for each other.
                self.retry_parked()
            return
        except Exception as e:
            ret = self.handler_crashed(entry.name, ev, e)
        if entry.needs_stop and task.group.host_zombies and ret < RUN_ON_HOST:
            # At a ptrace stop with a result to write: reap the host zombies too (a call the
            # host must still run cannot follow an injection).
            self.reap_on_host(task)
        if (ret < RUN_ON_HOST and self.trace is None and self.recorder is None
                and not self.answered_hooks):
            self.complete(tid, ret)  # what finish does for a plain result, one call less
        else:
            self.finish(tid, ret)
        if self.parked:
            self.retry_parked()

    def on_syscall_observed(self, ev: Event) -> None:
        """``on_syscall`` with a recorder and/or stubbed or faked syscalls (explore)."""
        task = self.tasks[ev.tid]
        recorder = self.recorder
        if recorder is not None:
            recorder.enter(task, ev)
        action = self.overrides.get(ev.nr)
        if type(action) is tuple:
            # explore per flag: ("clear", arg, bits) drops those bits from the argument,
            # for the handler and, for a call the host runs (mmap, clone), in the task.
            args = list(ev.args)
            args[action[1]] &= ~action[2]
            ev.args = tuple(args)
            self.platform.set_args(ev.tid, ev.args)
        elif action is not None:
            # Loupe's method: the call fails with ENOSYS or "succeeds" doing nothing.
            ret = ENOSYS if action == "enosys" else 0
            if recorder is not None:
                recorder.result(ev.tid, ret)
            if self.trace is not None:
                print(f"[{ev.tid}] {describe_call(task, ev.nr, ev.args)} = "
                      f"{describe_result(ret)} <{action}>", file=self.trace, flush=True)
            self.platform.complete(ev.tid, ret)
            return
        Kernel.on_syscall(self, ev)

    def on_syscall_policed(self, ev: Event) -> None:
        """``on_syscall`` under a policy: its syscall rules decide at entry, then the checks
        its limits make at entry (memory growth); the path and network rules run later, in
        the resolver and the socket layer (policies/engine.py), the other limits in the
        handlers (policies/limits.py)."""
        enforcer = self.enforcer
        assert enforcer is not None
        nr = ev.nr
        task = self.tasks[ev.tid]
        enforcer.begin(task, nr, ev.args)
        if not 0 <= nr <= MAX_NR:
            self.on_syscall_unpoliced(ev)
            return
        decide = enforcer.deciders.get(nr)
        if decide is not None:
            action, rule = decide(task, ev.args)
            kind = action.kind
            if kind != "allow":
                enforcer.log(task, action, rule)
                if kind != "audit":
                    if kind == "kill":
                        enforcer.kill(task)
                    ret = action.value if kind == "fake" else -(action.errno or errno.EPERM)
                    self.refuse(task, nr, ev.args, ret, f"policy {kind}")
                    return
        check = enforcer.at_entry[nr]
        if check is not None:
            ret = check(task, ev.args)
            if ret is not None:
                self.refuse(task, nr, ev.args, ret, "limit")
                return
        self.on_syscall_unpoliced(ev)

    def refuse(self, task: Task, nr: int, args: tuple[int, ...], ret: int, why: str) -> None:
        """Answer a call the policy decided at entry with ``ret``, without running it."""
        tid = task.tid
        if self.trace is not None:
            print(f"[{tid}] {describe_call(task, nr, args)} = {describe_result(ret)} <{why}>",
                  file=self.trace, flush=True)
        if self.parked and tid in self.parked:
            del self.parked[tid]
        self.platform.complete(tid, ret)

    def finish_recorded(self, tid: int, ret: int) -> None:
        recorder = self.recorder
        # The recorder needs a result only for a failure, or to see what an open opened.
        if -4096 < ret < 0 or recorder.open_args:  # type: ignore[union-attr]
            recorder.result(tid, ret)  # type: ignore[union-attr]
        Kernel.finish(self, tid, ret)

    def failed(self, task: Task, name: str, e: KernelError) -> int:
        """-errno for a failed call; an unsupported case is counted."""
        if type(e) is Unsupported:
            self.unsupported[f"{name}: {e.why}"] += 1
        return -e.errno

    def finish_failed(self, task: Task, ret: int, e: KernelError) -> None:
        """Finish a call that failed with ``e``, and what the failure also does: pipe_write
        sends the writer SIGPIPE with EPIPE, a write past RLIMIT_FSIZE SIGXFSZ with EFBIG.

        At a ptrace stop the signal goes first: it stays pending while the task is stopped
        and is delivered as the call returns, before the program's next instruction, as
        Linux delivers a signal sent in the call. On the notification lane a signal sent
        first ends the wait: right for one that kills (the default action of both), so
        the program dies in the call; one that a handler catches, or that is blocked or
        ignored, goes after the answer (sent before, it would withdraw the waiting call
        and have it restarted)."""
        if isinstance(e, SignalingError):
            platform = self.platform
            tgid, tid, signo = task.group.tgid, task.tid, e.signo
            if not platform.waits_on_notification(tid):
                platform.signal_thread(tgid, tid, signo)
                self.finish(tid, ret)
                return
            if platform.signal_action(tid, signo) == "default":
                platform.signal_thread(tgid, tid, signo)
                return
            self.finish(tid, ret)
            platform.signal_thread(tgid, tid, signo)
            return
        self.finish(task.tid, ret)

    def finish(self, tid: int, ret: int) -> None:
        """Complete a trapped call with ``ret`` (or the sentinels' meaning)."""
        if self.trace is not None:
            print(f" = {describe_result(ret)}", file=self.trace, flush=True)
        if ret < RUN_ON_HOST:
            self.platform.complete(tid, ret)
        elif ret == RUN_ON_HOST:
            self.platform.passthrough(tid)
        elif ret == RESTART:
            self.platform.restart(tid)
        else:
            self.platform.resume(tid)  # RESUMED
        if self.answered_hooks:
            hooks, self.answered_hooks = self.answered_hooks, []
            for hook in hooks:
                hook()

    def when_answered(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` right after the call being handled is answered, before the loop
        takes another event. For a signal the call raises (an mq_notify signal): queued
        before the answer, it would withdraw the caller's own waiting call, which the
        model has carried out and the host would then restart; queued after the loop took
        another event, it would withdraw that one the same way."""
        self.answered_hooks.append(hook)

    def run_on_host(self, task: Task, fd: int, f: OpenFile) -> int:
        """The host runs the trapped call on ``fd`` itself: ``f`` is a description only the
        host can serve (``host_reads``: a signalfd). Its host table gets a copy of ``f`` at
        that very number first, unless it holds it there already (placed by an earlier
        call, or by the parent before a fork)."""
        fdt = task.fdt
        if fdt.host.get(fd) is f:
            return RUN_ON_HOST
        injected = self.platform.place_fd(task.tid, f.host_copy, fd, task.group.scratch)
        fdt.host[fd] = f
        return RESTART if injected else RUN_ON_HOST

    def retry_parked(self) -> None:
        """Try every parked call again (something changed: a syscall completed, a task
        exited); finish those that no longer block."""
        for tid, retry in list(self.parked.items()):
            task = self.tasks.get(tid)
            if task is None:
                self.parked.pop(tid, None)
                continue
            if not self.platform.still_waiting(tid):
                # A signal withdrew the call: carrying it out now would lose its effect. It
                # stays parked until the task's signal stop (parked_call_interrupted) or its
                # next call ends the wait.
                continue
            self.current = task
            try:
                ret = retry()
            except WouldBlock as e:
                if e.retry is not None:
                    self.parked[tid] = e.retry
                continue
            except KernelError as e:
                del self.parked[tid]
                self.finish_failed(task, self.failed(task, "parked call", e), e)
                continue
            except Exception as e:
                ret = self.handler_crashed("parked", Event(0, tid), e)
            del self.parked[tid]
            self.finish(tid, ret)

    def interrupt_parked(self, tgid: int) -> None:
        """A signal for a process whose thread waits in an emulated call: the call fails
        with EINTR so the host can deliver the signal (restart semantics arrive with
        interruptible parking)."""
        for tid in [tid for tid in self.parked if self.tasks[tid].group.tgid == tgid]:
            if self.platform.waits_on_notification(tid):
                continue  # the host's signal delivery wakes it and decides EINTR or restart
            del self.parked[tid]
            self.platform.complete(tid, -errno.EINTR)

    def parked_call_interrupted(self, tid: int, signo: int) -> None:
        """The task stops to take a signal while its call is parked: the signal withdrew
        the call (notification lane) and the host set it to restart (-ERESTARTSYS: restart
        if the handler has SA_RESTART or there is no handler, else EINTR). A call that
        Linux never restarts after a handler (poll, select, epoll_wait) carries
        ``interrupted(handler_runs)`` on its retry: it returns the result the program gets
        instead (-EINTR), or None to let the host restart it."""
        retry = self.parked.pop(tid)
        hook = getattr(retry, "interrupted", None)
        task = self.tasks.get(tid)
        if hook is None or task is None:
            return
        self.current = task
        ret = hook(signal_caught(task.group.tgid, signo))
        if ret is not None:
            self.platform.interrupted_result(tid, ret)

    def terminal_signal(self, signo: int, frame: object) -> None:
        """SIGINT/SIGQUIT from the terminal reached the supervisor too (it shares the
        program's process group). Only tasks parked in emulated calls need us."""
        if self.parked:
            self.interrupt_all_parked = True
            if self.waiting:  # otherwise the loop sees the flag after the current stop
                raise TerminalSignal

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
            if self.parked:
                self.retry_parked()
        elif kind == EXECED:
            # Every exec is ours (the first one run by the platform, later ones injected):
            # a host exec event has nothing for the model.
            self.platform.resume(tid)
        elif kind == SIGNAL:
            if self.parked and tid in self.parked:
                self.parked_call_interrupted(tid, ev.value)
            self.platform.resume(tid, ev.value)
        elif kind == STOPPED:
            if tid in self.tasks:
                self.platform.resume(tid)
            else:
                self.early_stops.add(tid)  # a new task: it runs once the model has it
        elif kind == CLONED:
            self.on_clone(tid, ev.value)

    # processes ----------------------------------------------------------------------------
    def on_clone(self, parent_tid: int, child_tid: int) -> None:
        """The host created a task for a trapped clone/fork/vfork: build its model (what
        the clone flags share, what they copy) before it runs its first instruction."""
        parent = self.tasks[parent_tid]
        flags = parent.pending_clone
        parent.pending_clone = 0
        pg = parent.group
        if flags & CLONE_THREAD:
            group = pg
        else:
            ppid = pg.ppid if flags & CLONE_PARENT else pg.tgid
            group = ThreadGroup(child_tid, ppid, copy.copy(pg.creds),
                                {k: list(v) for k, v in pg.rlimits.items()})
            group.creds.groups = list(pg.creds.groups)
            group.pgid, group.sid = pg.pgid, pg.sid
            group.exe, group.comm, group.argv, group.envp = pg.exe, pg.comm, pg.argv, pg.envp
            group.brk_start, group.brk, group.scratch = pg.brk_start, pg.brk, pg.scratch
            group.mapped_files = dict(pg.mapped_files)
            self.ipc.fork(pg.tgid, child_tid)
            self.groups[child_tid] = group
        fdt = parent.fdt if flags & CLONE_FILES else parent.fdt.copy()
        fs = parent.fs if flags & CLONE_FS else parent.fs.copy()
        child = Task(child_tid, group, fdt, fs, self.platform.memory(child_tid), self)
        child.inherit(parent)
        group.tasks[child_tid] = child
        self.tasks[child_tid] = child
        self.platform.resume(parent_tid)
        if child_tid in self.early_stops:
            self.early_stops.discard(child_tid)
            self.platform.resume(child_tid)

    def check_process_limit(self, task: Task, flags: int) -> None:
        """A clone with ``flags`` is about to run: past --max-procs processes, or a policy's
        processes or threads limit, it fails with EAGAIN, as copy_process fails past
        RLIMIT_NPROC (so a fork bomb stops)."""
        if not flags & CLONE_THREAD:
            live = sum(1 for g in self.groups.values() if g.tasks)
            if live >= self.max_procs:
                raise KernelError(errno.EAGAIN, f"process limit {self.max_procs} reached")
        if self.limits is not None:
            self.limits.check_clone(self, task, flags)

    def exec_task(self, task: Task, plan: ExecPlan, argv: int, envp: int) -> int:
        """Replace the task's program: the host execs the stub (argv/envp: the caller's
        own arrays, so the host sizes the stack), then ``finish_exec`` loads ``plan``."""
        ret = self.platform.exec_stub(task.tid, task.group.scratch, argv, envp)
        if ret < 0:
            plan.program.file.release()
            if plan.interpreter is not None:
                plan.interpreter.file.release()
            raise KernelError(-ret, "the host refused to exec the stub")
        # Past the point of no return: close-on-exec descriptors go (from a private copy of
        # the table, as exec unshares it), the host has killed the other threads.
        fdt = task.fdt = task.fdt.unshare()
        for fd in list(fdt.cloexec):
            fdt.close(fd)
        fdt.host.clear()  # the host closed its copies: they are all close-on-exec
        task.pending_exec = plan
        return RESUMED

    def reap(self, waiter: Task, group: ThreadGroup) -> None:
        """The parent collected a zombie: the model forgets it. The host zombie (whose pid
        stays reserved meanwhile) is reaped by an injected wait4 in the parent at its next
        ptrace stop (wait4 itself answers on the notification lane, where a signal can
        interrupt it), or by the supervisor, subreaper of orphans, once the parent exits."""
        self.groups.pop(group.tgid, None)
        waiter.group.host_zombies.append(group.tgid)

    def reap_on_host(self, task: Task) -> None:
        zombies = task.group.host_zombies
        while zombies:
            self.platform.inject(task.tid, NR_WAIT4, zombies.pop(), 0, WNOHANG | WALL, 0)

    def signal_process(self, tgid: int, sig: int) -> None:
        # A parked call of the target is woken by the host itself: the signal withdraws it.
        try:
            os.kill(tgid, sig)
        except ProcessLookupError:
            pass

    def find_reaper(self, group: ThreadGroup) -> ThreadGroup | None:
        """The sandboxed ancestor with PR_SET_CHILD_SUBREAPER and a live thread, if any."""
        seen = set()
        g = self.groups.get(group.ppid)
        while g is not None and g.tgid not in seen:
            if g.child_subreaper and g.tasks:
                return g
            seen.add(g.tgid)
            g = self.groups.get(g.ppid)
        return None

    def task_exited(self, tid: int, ev: Event) -> None:
        task = self.tasks.pop(tid, None)
        self.platform.forget(tid)
        self.parked.pop(tid, None)
        if self.enforcer is not None:
            self.enforcer.forget(tid)
        if task is None:
            return
        group = task.group
        group.tasks.pop(tid, None)
        task.fdt.detach()
        if tid == group.tgid:
            status = (ev.value & 0x7F) if ev.signaled else (ev.value & 0xFF) << 8
            group.exit_status = status
            if tid == self.first_tgid:
                self.exit_status = status
        if group.tasks:
            return
        if group.exit_status is None:
            group.exit_status = 0
        self.ipc.exited(group.tgid)
        # Orphans go to the nearest live ancestor that is a child subreaper, as the host
        # reparents them (find_new_reaper); else to no sandboxed process: nobody will wait
        # for them.
        reaper = self.find_reaper(group)
        for g in list(self.groups.values()):
            if g.ppid == group.tgid:
                if reaper is not None:
                    g.ppid = reaper.tgid
                    continue
                g.ppid = os.getpid()
                if not g.tasks:
                    self.groups.pop(g.tgid, None)
        if group.ppid not in self.groups:
            self.groups.pop(group.tgid, None)  # no sandboxed parent will reap it
        if tid == self.first_tgid and self.tasks:
            # The first program is gone: nothing may outlive it (as a container's init).
            self.platform.kill_all()


def signal_caught(tgid: int, signo: int) -> bool:
    """Whether process ``tgid`` has a handler for ``signo`` (SigCgt in its status)."""
    if not 0 < signo <= 64:
        return False
    return bool(host_signal_masks(tgid).get(b"SigCgt", 0) >> (signo - 1) & 1)


def describe_call(task: Task, nr: int, args: tuple[int, ...]) -> str:
    """``name(arg, …)`` with arguments decoded by the table's specs (for --trace)."""
    entry = BY_NR[nr] if 0 <= nr <= MAX_NR else None
    if nr == STUB_TRAP_NR:
        return "<exec stub>()"
    if entry is None:
        return f"syscall_{nr:#x}({', '.join(hex(a) for a in args)})"
    parts = [arg_text(task, raw, arg) for raw, arg in zip(args, entry.args, strict=False)]
    return f"{entry.name}({', '.join(parts)})"


def arg_text(task: Task, raw: int, arg: Arg) -> str:
    """One argument as strace shows it: a quoted path, flag names, a signed number or hex
    (for --trace and the policy audit log)."""
    from syscalls.flags import render

    if arg.kind in ("path", "str"):
        try:
            return repr(task.mem.read_cstring(raw, 256))[1:]
        except KernelError:
            return hex(raw)
    if arg.flagset:
        try:
            return render(raw & 0xFFFFFFFF, arg.flagset)
        except KeyError:
            return hex(raw)
    if arg.decoding in ("s32", "s64", "u32"):
        value = raw & 0xFFFFFFFF if arg.decoding != "s64" else raw
        bits = 64 if arg.decoding == "s64" else 32
        if arg.decoding != "u32" and value >> (bits - 1):
            value -= 1 << bits
        return str(value)
    return hex(raw)


def describe_result(ret: int) -> str:
    if ret == RUN_ON_HOST:
        return "<host>"
    if ret == RESUMED:
        return "<resumed>"
    if ret == RESTART:
        return "<restarted>"
    if -4096 < ret < 0:
        return f"-1 {errno.errorcode.get(-ret, str(-ret))}"
    return hex(ret) if ret > 0xFFFF else str(ret)


def shell_status(wait_status: int) -> int:
    """What a shell reports for a wait status: the exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)
