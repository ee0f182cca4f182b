"""Every syscall no handler module owns: HOST, STUB or ENOSYS, each with its reason.

Argument specs follow the kernel's ``SYSCALL_DEFINE`` prototypes (x86-64), so ``--trace`` can
print these calls and the coverage reports can name the flags a program passed even for calls
compatd does not implement yet.

Issues named in reasons: issue 3 = dynamic programs (loader, file mmap, overlay, procfs) and the
full file family; issue 4 = processes, threads, signals, credentials, scheduling; issue 5 =
sockets, poll/epoll/select, event fds, SysV and POSIX IPC.

When a handler module takes one of these over, delete its line here (a name declared twice is
an error at import time).
"""

from __future__ import annotations

from functools import partial

from syscalls.table import Level, declare

HOST = Level.HOST
STUB = Level.STUB
ENOSYS = Level.ENOSYS

PRIVILEGED = "needs host privileges a sandbox does not grant"


def later(issue: int, what: str) -> str:
    """A reason for a call that a planned issue implements."""
    return f"arrives with issue {issue}: {what}"


def privileged(what: str) -> str:
    """A reason for a call that is permanently unavailable inside the sandbox."""
    return f"{what}; {PRIVILEGED}"


def removed(what: str) -> str:
    """A reason for a call the host kernel itself no longer implements."""
    return f"{what}; current Linux answers ENOSYS too"


memory = partial(declare, family="memory")
signals = partial(declare, family="signals")
threads = partial(declare, family="threads")
clock = partial(declare, family="time")
files = partial(declare, family="files")
mounts = partial(declare, family="mounts")
procs = partial(declare, family="processes")
creds = partial(declare, family="credentials")
sched = partial(declare, family="scheduling")
net = partial(declare, family="sockets")
ipc = partial(declare, family="ipc")
aio = partial(declare, family="aio")
numa = partial(declare, family="numa")
security = partial(declare, family="security")
admin = partial(declare, family="admin")
obsolete = partial(declare, family="obsolete")


# ==========================================================================================
# HOST: the host runs these without a stop. Each touches only the caller's own address
# space, its own thread, or a clock.
# ==========================================================================================

# --- memory: the caller's own address space -----------------------------------------------
# (mmap itself is owned by the memory handler: anonymous mappings run on the host there.)

memory("munmap", HOST, "addr:ptr length:size",
       reason="unmaps part of the caller's own address space; file mappings keep no state "
              "in the supervisor yet")
memory("mprotect", HOST, "addr:ptr length:size prot:flags/mmap_prot",
       reason="changes protections of the caller's own pages; the host still refuses "
              "PROT_WRITE on a shared mapping of a file opened read-only")
memory("pkey_mprotect", HOST, "addr:ptr length:size prot:flags/mmap_prot pkey:int",
       reason="mprotect plus a protection key of the caller's own; touches only its pages")
memory("pkey_alloc", HOST, "flags:flags access_rights:ulong",
       reason="allocates a protection key in the caller's own PKRU register")
memory("pkey_free", HOST, "pkey:int",
       reason="frees a protection key of the caller's own address space")
memory("madvise", HOST, "addr:ptr length:size advice:int/madvise",
       reason="advice about the caller's own pages; mappings of files came through the VFS "
              "with the access the program was granted")
memory("mremap", HOST, "old_addr:ptr old_size:size new_size:size flags:flags/mremap "
       "new_addr:ptr",
       reason="resizes or moves the caller's own mapping; issue 3 will trap it to keep the "
              "map record behind /proc/PID/maps (a policy's memory limit traps it already)")
memory("mlock", HOST, "addr:ptr length:size",
       reason="pins the caller's own pages, within the host's RLIMIT_MEMLOCK")
memory("mlock2", HOST, "addr:ptr length:size flags:flags/mlock2",
       reason="pins the caller's own pages (MLOCK_ONFAULT), within the host's RLIMIT_MEMLOCK")
memory("munlock", HOST, "addr:ptr length:size",
       reason="unpins the caller's own pages")
memory("mlockall", HOST, "flags:flags/mlockall",
       reason="pins the caller's whole address space, within the host's RLIMIT_MEMLOCK")
memory("munlockall", HOST, "",
       reason="unpins the caller's whole address space")
memory("mincore", HOST, "addr:ptr length:size vec:buf_out",
       reason="reports residency of the caller's own pages into its own buffer")
memory("msync", HOST, "addr:ptr length:size flags:flags/msync",
       reason="flushes mappings the host made; file mappings arrive with the loader issue")
memory("map_shadow_stack", HOST, "addr:ptr size:size flags:flags",
       reason="maps a CET shadow stack in the caller's own address space")
memory("mseal", HOST, "addr:ptr length:size flags:flags",
       reason="seals the caller's own mappings against later changes")

# --- threads: the caller's own thread state -----------------------------------------------

threads("arch_prctl", HOST, "code:cmd/arch_prctl addr:ulong",
        reason="sets or reads the caller's own FS/GS base and CPUID/AMX/shadow-stack state")
threads("set_tid_address", HOST, "tidptr:ptr",
        reason="records the caller's own clear-child-tid address and returns its host tid, "
               "which is also the model's tid")
threads("set_robust_list", HOST, "head:ptr len:size",
        reason="records the caller's own robust futex list head")
threads("get_robust_list", HOST, "pid:pid head_ptr:struct_out len_ptr:struct_out",
        reason="pid 0 (all glibc uses) reads the caller's own list head; another pid is "
               "refused by the host's ptrace access check")
threads("rseq", HOST, "rseq:ptr rseq_len:uint flags:int sig:uint",
        reason="registers the caller's own restartable-sequence area")
threads("futex", HOST, "uaddr:ptr op:flags/futex_op val:uint timeout:struct_in uaddr2:ptr "
        "val3:uint",
        reason="waits and wakes on words in the caller's own memory; only processes that "
               "share that memory can meet there")
threads("futex_waitv", HOST, "waiters:struct_in nr_futexes:uint flags:flags "
        "timeout:struct_in clockid:int/clock",
        reason="waits on several futex words in the caller's own memory")
threads("futex_wake", HOST, "uaddr:ptr mask:ulong nr:int flags:flags",
        reason="wakes waiters on a futex word in the caller's own memory")
threads("futex_wait", HOST, "uaddr:ptr val:ulong mask:ulong flags:flags timeout:struct_in "
        "clockid:int/clock",
        reason="waits on a futex word in the caller's own memory")
threads("futex_requeue", HOST, "waiters:struct_in flags:flags nr_wake:int nr_requeue:int",
        reason="moves waiters between futex words in the caller's own memory")
threads("membarrier", HOST, "cmd:int flags:flags cpu_id:int",
        reason="issues memory barriers on CPUs running the caller's threads; changes no state "
               "another process can see")
threads("getcpu", HOST, "cpu:struct_out node:struct_out cache:ptr",
        reason="reports which CPU the caller runs on, into its own memory")
threads("uretprobe", HOST, "",
        reason="the host kernel calls it from its own uretprobe trampoline and kills any "
               "other caller with SIGILL")
threads("rseq_slice_yield", ENOSYS, "",
        reason=later(4, "the rseq time-slice extension must first be enabled with "
                        "prctl(PR_RSEQ_SLICE_EXTENSION)"))

# --- signals: dispositions, masks and frames stay with the host (DESIGN: signals) ----------

signals("rt_sigaction", HOST, "signum:signo/signals act:struct_in oldact:struct_out "
        "sigsetsize:size",
        reason="signal dispositions live in the host's copy of the process, which is where "
               "signals are delivered")
signals("rt_sigprocmask", HOST, "how:int/sigprocmask_how set:struct_in oldset:struct_out "
        "sigsetsize:size",
        reason="changes the caller's own signal mask")
signals("rt_sigreturn", HOST, "",
        reason="restores the caller's own registers and mask from the frame the host built")
signals("rt_sigpending", HOST, "set:struct_out sigsetsize:size",
        reason="reads the caller's own pending signals")
signals("rt_sigsuspend", HOST, "mask:struct_in sigsetsize:size",
        reason="sleeps with a temporary mask of the caller's own until a host signal arrives, "
               "like pause")
signals("rt_sigtimedwait", HOST, "set:struct_in info:struct_out timeout:struct_in "
        "sigsetsize:size",
        reason="dequeues a signal pending for the caller itself; touches nothing else")
signals("sigaltstack", HOST, "ss:struct_in old_ss:struct_out",
        reason="sets the caller's own alternate signal stack")
signals("pause", HOST, "",
        reason="sleeps the caller until a signal, which the host delivers")
signals("restart_syscall", HOST, "",
        reason="the host restarts a sleep it was running itself (nanosleep, clock_nanosleep, "
               "futex) after a signal")

# --- timers and usage of the caller's own process --------------------------------------

_ITIMER = ("arms or reads a timer of the caller's own process, whose signal (SIGALRM, "
           "SIGVTALRM, SIGPROF) goes to that process only")
clock("alarm", HOST, "seconds:uint", reason=_ITIMER)
clock("setitimer", HOST, "which:int/itimer new_value:struct_in old_value:struct_out",
      reason=_ITIMER)
clock("getitimer", HOST, "which:int/itimer curr_value:struct_out", reason=_ITIMER)
clock("timer_create", HOST, "clockid:int/clock sevp:struct_in timerid:struct_out",
      reason="creates a POSIX timer of the caller's own process: the host refuses a "
             "SIGEV_THREAD_ID outside the caller's thread group (EINVAL), so the signal can "
             "only reach the caller; another process's CPU clock can be timed, as "
             "clock_gettime can read it")
clock("timer_settime", HOST, "timerid:int flags:flags/timer new_value:struct_in "
      "old_value:struct_out",
      reason="arms one of the caller's own POSIX timers (ids are per process)")
clock("timer_gettime", HOST, "timerid:int curr_value:struct_out",
      reason="reads one of the caller's own POSIX timers")
clock("timer_getoverrun", HOST, "timerid:int",
      reason="reads one of the caller's own POSIX timers")
clock("timer_delete", HOST, "timerid:int",
      reason="deletes one of the caller's own POSIX timers")

# --- time: reading clocks and sleeping ----------------------------------------------------

clock("sched_yield", HOST, "",
      reason="gives up the caller's own time slice")
clock("nanosleep", HOST, "req:struct_in rem:struct_out",
      reason="sleeps the caller; no state outside it changes")
clock("clock_nanosleep", HOST, "clockid:int/clock flags:flags/timer req:struct_in "
      "rem:struct_out",
      reason="sleeps the caller on a host clock; no state outside it changes")
clock("clock_gettime", HOST, "clockid:int/clock tp:struct_out",
      reason="reads a host clock (the vDSO answers most calls without a syscall anyway)")
clock("clock_getres", HOST, "clockid:int/clock res:struct_out",
      reason="reads a host clock's resolution")
clock("gettimeofday", HOST, "tv:struct_out tz:struct_out",
      reason="reads the host wall clock (the vDSO answers most calls anyway)")
clock("time", HOST, "tloc:struct_out",
      reason="reads the host wall clock (the vDSO answers most calls anyway)")


# ==========================================================================================
# STUB: answering 0 without doing anything is what the program needs.
# ==========================================================================================



# ==========================================================================================
# ENOSYS: declared unimplemented. The kernel's own answer, -ENOSYS, is what the program gets.
# ==========================================================================================

# --- files: the rest of the file family (issue 3) -----------------------------------------

files("ustat", ENOSYS, "dev:uint ubuf:struct_out",
      reason="obsolete (glibc dropped its wrapper in 2.28); statfs, which arrives with "
             "issue 3, replaces it")
files("sysfs", ENOSYS, "option:int arg1:ulong arg2:ulong",
      reason="obsolete filesystem-type query; programs read /proc/filesystems, which "
             "arrives with issue 3")
files("remap_file_pages", ENOSYS, "addr:ptr size:size prot:ulong pgoff:ulong flags:ulong",
      reason="deprecated nonlinear file mappings; if ever, with the file mmap work of issue 3")
files("cachestat", ENOSYS, "fd:fd range:struct_in cstat:struct_out flags:flags",
      reason="page-cache statistics have no meaning for VFS files; callers treat ENOSYS "
             "as an older kernel")
files("inotify_init", ENOSYS, "",
      reason="not planned yet: needs change notifications from the VFS; tail -f and editors "
             "fall back to polling")
files("inotify_init1", ENOSYS, "flags:flags/open",
      reason="not planned yet: needs change notifications from the VFS; tail -f and editors "
             "fall back to polling")
files("inotify_add_watch", ENOSYS, "fd:fd path:path mask:flags",
      reason="no inotify instance can exist (inotify_init is ENOSYS)")
files("inotify_rm_watch", ENOSYS, "fd:fd wd:int",
      reason="no inotify instance can exist (inotify_init is ENOSYS)")
files("fanotify_init", ENOSYS, "flags:flags event_f_flags:flags/open",
      reason="filesystem-wide monitoring is for privileged daemons; not planned")
files("fanotify_mark", ENOSYS, "fanotify_fd:fd flags:flags mask:ulong dirfd:fd path:path",
      reason="no fanotify instance can exist (fanotify_init is ENOSYS)")
files("file_getattr", ENOSYS, "dirfd:fd path:path attr:struct_out usize:size "
      "at_flags:flags/at",
      reason=later(3, "inode attribute flags (FS_IOC_FSGETXATTR by path)"))
files("file_setattr", ENOSYS, "dirfd:fd path:path attr:struct_in usize:size "
      "at_flags:flags/at",
      reason=later(3, "inode attribute flags (FS_IOC_FSSETXATTR by path)"))

# --- mounts: the mount table is built from the command line, not by the program ---------

mounts("statmount", ENOSYS, "req:struct_in buf:struct_out bufsize:size flags:flags",
       reason=later(3, "mount information by id, together with /proc/self/mountinfo"))
mounts("listmount", ENOSYS, "req:struct_in mnt_ids:struct_out nr_mnt_ids:size flags:flags",
       reason=later(3, "mount listing by id, together with /proc/self/mountinfo"))
_MOUNT = privileged("changing mounts needs CAP_SYS_ADMIN; the sandbox's mounts come from "
                    "the command line and policy")
mounts("mount", ENOSYS, "source:str target:path fstype:str flags:flags data:ptr",
       reason=_MOUNT)
mounts("umount2", ENOSYS, "target:path flags:flags",
       reason=_MOUNT)
mounts("pivot_root", ENOSYS, "new_root:path put_old:path",
       reason=_MOUNT)
mounts("open_tree", ENOSYS, "dirfd:fd path:path flags:flags",
       reason=_MOUNT)
mounts("open_tree_attr", ENOSYS, "dirfd:fd path:path flags:flags attr:struct_in usize:size",
       reason=_MOUNT)
mounts("move_mount", ENOSYS, "from_dirfd:fd from_path:path to_dirfd:fd to_path:path "
       "flags:flags",
       reason=_MOUNT)
mounts("fsopen", ENOSYS, "fsname:str flags:flags",
       reason=_MOUNT)
mounts("fsconfig", ENOSYS, "fd:fd cmd:cmd key:str value:ptr aux:int",
       reason=_MOUNT)
mounts("fsmount", ENOSYS, "fs_fd:fd flags:flags attr_flags:flags",
       reason=_MOUNT)
mounts("fspick", ENOSYS, "dirfd:fd path:path flags:flags",
       reason=_MOUNT)
mounts("mount_setattr", ENOSYS, "dirfd:fd path:path flags:flags attr:struct_in usize:size",
       reason=_MOUNT)
mounts("quotactl", ENOSYS, "cmd:uint special:path id:int addr:ptr",
       reason=privileged("disk quotas belong to the host's block devices"))
mounts("quotactl_fd", ENOSYS, "fd:fd cmd:uint id:int addr:ptr",
       reason=privileged("disk quotas belong to the host's filesystems"))
mounts("swapon", ENOSYS, "path:path flags:flags",
       reason=privileged("swap devices are the host's"))
mounts("swapoff", ENOSYS, "path:path",
       reason=privileged("swap devices are the host's"))

# --- processes: creation, exec, wait, signals to others (issue 4) ------------------------

procs("process_vm_readv", ENOSYS, "pid:pid local_iov:struct_in liovcnt:ulong "
      "remote_iov:struct_in riovcnt:ulong flags:ulong",
      reason=later(4, "reaching into another process's memory needs the model's "
                      "permission checks"))
procs("process_vm_writev", ENOSYS, "pid:pid local_iov:struct_in liovcnt:ulong "
      "remote_iov:struct_in riovcnt:ulong flags:ulong",
      reason=later(4, "reaching into another process's memory needs the model's "
                      "permission checks"))
procs("process_madvise", ENOSYS, "pidfd:fd iov:struct_in vlen:size advice:int/madvise "
      "flags:flags",
      reason=later(4, "advice on another process's memory, through a pidfd"))
procs("process_mrelease", ENOSYS, "pidfd:fd flags:flags",
      reason=later(4, "reaping a dying process's memory, through a pidfd"))
procs("kcmp", ENOSYS, "pid1:pid pid2:pid type:int idx1:ulong idx2:ulong",
      reason=later(4, "comparing files and fds must use the model's virtual tables, not the "
                      "host's"))
procs("unshare", ENOSYS, "flags:flags/clone",
      reason=later(4, "unsharing fd tables and fs context; namespaces are not modelled"))
procs("setns", ENOSYS, "fd:fd nstype:flags/clone",
      reason="namespaces are not modelled: the sandbox is one set of namespaces")
procs("seccomp", ENOSYS, "operation:uint flags:flags args:ptr",
      reason=later(4, "a program's own filter must be stacked on compatd's and its "
                      "RET_TRACE answered by us"))
procs("ptrace", ENOSYS, "request:long pid:pid addr:ptr data:ulong",
      reason="the supervisor is the tracer; nested tracing (gdb, strace inside) is not "
             "planned")
procs("set_thread_area", ENOSYS, "u_info:struct_inout",
      reason="32-bit TLS descriptors; x86-64 programs set their TLS with arch_prctl")
procs("get_thread_area", ENOSYS, "u_info:struct_inout",
      reason="32-bit TLS descriptors; x86-64 programs set their TLS with arch_prctl")
procs("modify_ldt", ENOSYS, "func:int ptr:ptr bytecount:ulong",
      reason="LDT entries are for 16- and 32-bit code (Wine, dosemu); not planned")

# --- scheduling (issue 4) -----------------------------------------------------------------

sched("ioprio_set", ENOSYS, "which:int who:int ioprio:int",
      reason=later(4, "I/O priorities, alongside the sched_* calls"))
sched("ioprio_get", ENOSYS, "which:int who:int",
      reason=later(4, "I/O priorities, alongside the sched_* calls"))

# --- sockets (issue 5) --------------------------------------------------------------------

# socket, bind, connect, the send and recv families… are in sockets.py.

# --- event fds (issue 5) ------------------------------------------------------------------
# poll, select, epoll, eventfd, timerfd and signalfd are in polling.py and eventfds.py.

# --- SysV and POSIX IPC (issue 5) ---------------------------------------------------------

# System V IPC is in ipc.py, POSIX message queues in mqueue.py.

# --- asynchronous I/O ---------------------------------------------------------------------

_AIO = ("Linux AIO: no emulated async I/O contexts; glibc's POSIX AIO uses threads with "
        "read/write instead")
aio("io_setup", ENOSYS, "nr_events:uint ctx:struct_out", reason=_AIO)
aio("io_destroy", ENOSYS, "ctx:ulong", reason=_AIO)
aio("io_submit", ENOSYS, "ctx:ulong nr:long iocbpp:struct_in", reason=_AIO)
aio("io_cancel", ENOSYS, "ctx:ulong iocb:struct_in result:struct_out", reason=_AIO)
aio("io_getevents", ENOSYS, "ctx:ulong min_nr:long nr:long events:struct_out "
    "timeout:struct_in",
    reason=_AIO)
aio("io_pgetevents", ENOSYS, "ctx:ulong min_nr:long nr:long events:struct_out "
    "timeout:struct_in usig:struct_in",
    reason=_AIO)
_URING = ("io_uring: no emulated async I/O ring yet; programs fall back to read/write when "
          "it fails")
aio("io_uring_setup", ENOSYS, "entries:uint params:struct_inout", reason=_URING)
aio("io_uring_enter", ENOSYS, "fd:fd to_submit:uint min_complete:uint flags:flags arg:ptr "
    "argsz:size",
    reason=_URING)
aio("io_uring_register", ENOSYS, "fd:fd opcode:uint arg:ptr nr_args:uint", reason=_URING)

# --- NUMA memory policy -------------------------------------------------------------------

_NUMA = ("NUMA memory policy: the sandbox presents a single node; libnuma treats ENOSYS as "
         "no NUMA support")
numa("mbind", ENOSYS, "addr:ptr len:size mode:ulong nodemask:struct_in maxnode:ulong "
     "flags:flags",
     reason=_NUMA)
numa("set_mempolicy", ENOSYS, "mode:int nodemask:struct_in maxnode:ulong", reason=_NUMA)
numa("get_mempolicy", ENOSYS, "mode:struct_out nodemask:struct_out maxnode:ulong addr:ptr "
     "flags:ulong",
     reason=_NUMA)
numa("set_mempolicy_home_node", ENOSYS, "addr:ptr len:size home_node:ulong flags:ulong",
     reason=_NUMA)
numa("migrate_pages", ENOSYS, "pid:pid maxnode:ulong old_nodes:struct_in "
     "new_nodes:struct_in",
     reason=_NUMA)
numa("move_pages", ENOSYS, "pid:pid count:ulong pages:struct_in nodes:struct_in "
     "status:struct_out flags:int",
     reason=_NUMA)

# --- security interfaces ------------------------------------------------------------------

security("landlock_create_ruleset", ENOSYS, "attr:struct_in size:size flags:flags",
         reason="Landlock rules would have to be enforced by compatd's VFS; programs treat "
                "ENOSYS as no Landlock and carry on")
security("landlock_add_rule", ENOSYS, "ruleset_fd:fd rule_type:int rule_attr:struct_in "
         "flags:flags",
         reason="no Landlock ruleset can exist (landlock_create_ruleset is ENOSYS)")
security("landlock_restrict_self", ENOSYS, "ruleset_fd:fd flags:flags",
         reason="no Landlock ruleset can exist (landlock_create_ruleset is ENOSYS)")
_LSM = "no Linux security module is modelled; callers treat ENOSYS as a kernel without LSM calls"
security("lsm_get_self_attr", ENOSYS, "attr:uint ctx:struct_out size:struct_inout "
         "flags:flags",
         reason=_LSM)
security("lsm_set_self_attr", ENOSYS, "attr:uint ctx:struct_in size:uint flags:flags",
         reason=_LSM)
security("lsm_list_modules", ENOSYS, "ids:struct_out size:struct_inout flags:flags",
         reason=_LSM)
_KEYS = ("kernel keyrings are not modelled, and the host's keyrings must not leak into the "
         "sandbox")
security("add_key", ENOSYS, "type:str description:str payload:buf_in plen:size "
         "keyring:int",
         reason=_KEYS)
security("request_key", ENOSYS, "type:str description:str callout_info:str "
         "dest_keyring:int",
         reason=_KEYS)
security("keyctl", ENOSYS, "operation:int arg2:ulong arg3:ulong arg4:ulong arg5:ulong",
         reason=_KEYS)
security("memfd_secret", ENOSYS, "flags:flags",
         reason="secret memory is off by default on distribution kernels, so callers already "
                "handle ENOSYS")
security("userfaultfd", ENOSYS, "flags:flags/open",
         reason=privileged("user-space page-fault handling (vm.unprivileged_userfaultfd is 0 "
                           "on most hosts)"))
security("listns", ENOSYS, "req:struct_in ns_ids:struct_out nr_ns_ids:size flags:flags",
         reason="namespaces are not modelled: the sandbox is one set of namespaces")

# --- system administration: permanently unavailable ---------------------------------------

admin("reboot", ENOSYS, "magic:int magic2:int cmd:uint arg:ptr",
      reason=privileged("rebooting the host"))
admin("kexec_load", ENOSYS, "entry:ulong nr_segments:ulong segments:struct_in flags:ulong",
      reason=privileged("loading a new host kernel"))
admin("kexec_file_load", ENOSYS, "kernel_fd:fd initrd_fd:fd cmdline_len:ulong cmdline:str "
      "flags:ulong",
      reason=privileged("loading a new host kernel"))
admin("init_module", ENOSYS, "image:buf_in len:ulong params:str",
      reason=privileged("loading host kernel modules"))
admin("finit_module", ENOSYS, "fd:fd params:str flags:int",
      reason=privileged("loading host kernel modules"))
admin("delete_module", ENOSYS, "name:str flags:flags",
      reason=privileged("unloading host kernel modules"))
admin("bpf", ENOSYS, "cmd:int attr:struct_inout size:uint",
      reason=privileged("eBPF programs run in the host kernel"))
admin("perf_event_open", ENOSYS, "attr:struct_in pid:pid cpu:int group_fd:fd flags:ulong",
      reason=privileged("performance counters observe the host (perf_event_paranoid)"))
admin("acct", ENOSYS, "path:path",
      reason=privileged("process accounting is host-wide"))
admin("settimeofday", ENOSYS, "tv:struct_in tz:struct_in",
      reason=privileged("setting the host clock (CAP_SYS_TIME)"))
admin("clock_settime", ENOSYS, "clockid:int/clock tp:struct_in",
      reason=privileged("setting the host clock (CAP_SYS_TIME)"))
admin("adjtimex", ENOSYS, "buf:struct_inout",
      reason=privileged("tuning the host clock (CAP_SYS_TIME); the read-only query is not "
                        "modelled yet"))
admin("clock_adjtime", ENOSYS, "clockid:int/clock buf:struct_inout",
      reason=privileged("tuning the host clock (CAP_SYS_TIME); the read-only query is not "
                        "modelled yet"))
admin("sethostname", ENOSYS, "name:buf_in len:int",
      reason=privileged("the model's UTS name is fixed until namespaces are modelled "
                        "(CAP_SYS_ADMIN)"))
admin("setdomainname", ENOSYS, "name:buf_in len:int",
      reason=privileged("the model's UTS name is fixed until namespaces are modelled "
                        "(CAP_SYS_ADMIN)"))
admin("syslog", ENOSYS, "type:int buf:buf_out len:int",
      reason=privileged("the kernel log is the host's (CAP_SYSLOG)"))
admin("vhangup", ENOSYS, "",
      reason=privileged("hanging up the controlling terminal (CAP_SYS_TTY_CONFIG)"))
admin("iopl", ENOSYS, "level:uint",
      reason=privileged("raw I/O port access (CAP_SYS_RAWIO)"))
admin("ioperm", ENOSYS, "from:ulong num:ulong turn_on:int",
      reason=privileged("raw I/O port access (CAP_SYS_RAWIO)"))

# --- obsolete and never-implemented numbers ----------------------------------------------

obsolete("_sysctl", ENOSYS, "args:struct_inout",
         reason=removed("binary sysctl was removed in Linux 5.5; programs read /proc/sys"))
obsolete("uselib", ENOSYS, "library:path",
         reason=removed("the a.out shared-library loader is gone from modern kernels"))
obsolete("lookup_dcookie", ENOSYS, "cookie:ulong buf:buf_out len:size",
         reason=removed("oprofile's dcookie interface was removed in Linux 6.8"))
obsolete("create_module", ENOSYS, "name:str size:size",
         reason=removed("Linux 2.4 module loading, gone since 2.6"))
obsolete("get_kernel_syms", ENOSYS, "table:struct_out",
         reason=removed("Linux 2.4 module symbols, gone since 2.6"))
obsolete("query_module", ENOSYS, "name:str which:int buf:buf_out bufsize:size ret:struct_out",
         reason=removed("Linux 2.4 module queries, gone since 2.6"))
obsolete("nfsservctl", ENOSYS, "cmd:int argp:struct_in resp:struct_out",
         reason=removed("the NFS server control call was removed in Linux 3.1"))
obsolete("getpmsg", ENOSYS, "",
         reason=removed("STREAMS was never implemented in Linux"))
obsolete("putpmsg", ENOSYS, "",
         reason=removed("STREAMS was never implemented in Linux"))
obsolete("afs_syscall", ENOSYS, "",
         reason=removed("reserved for AFS and never implemented in Linux"))
obsolete("tuxcall", ENOSYS, "",
         reason=removed("reserved for the TUX web server and never implemented in Linux"))
obsolete("security", ENOSYS, "",
         reason=removed("reserved for security modules and never implemented in Linux"))
obsolete("vserver", ENOSYS, "",
         reason=removed("reserved for Linux-VServer and never implemented in Linux"))
obsolete("epoll_ctl_old", ENOSYS, "",
         reason=removed("an early epoll number never wired up on x86-64"))
obsolete("epoll_wait_old", ENOSYS, "",
         reason=removed("an early epoll number never wired up on x86-64"))
