/* The setuid family, setgroups, capget/capset, run as root: each change in a child. */
#include "abi.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void ids(const char *when)
{
    uid_t r, e, s;
    gid_t gr, ge, gs;
    syscall(SYS_getresuid, &r, &e, &s);
    syscall(SYS_getresgid, &gr, &ge, &gs);
    long fsu = syscall(SYS_setfsuid, -1), fsg = syscall(SYS_setfsgid, -1);
    SAY("%s: uid %u %u %u fs %ld, gid %u %u %u fs %ld", when, r, e, s, fsu, gr, ge, gs, fsg);
}

static void caps(const char *when)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) {
        SAY("%s: capget failed %s", when, abi_errname(errno));
        return;
    }
    SAY("%s: eff %x%08x prm %x%08x inh %x%08x", when, d[1].effective, d[0].effective,
        d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable);
}

static void in_child(const char *what, void (*fn)(void))
{
    SAY("-- %s", what);
    pid_t c = fork();
    if (c == 0) {
        fn();
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

static void setuid_root(void)
{
    int sig = -1;
    prctl(PR_SET_PDEATHSIG, SIGUSR2);
    CHECK("setuid(-1)", syscall(SYS_setuid, -1));
    CHECK("setuid(1000)", syscall(SYS_setuid, 1000));
    ids("after setuid");
    caps("after setuid");
    prctl(PR_GET_PDEATHSIG, &sig);
    SAY("pdeathsig = %d", sig);
    CHECK("setuid(0)", syscall(SYS_setuid, 0));
    CHECK("setuid(1000) again", syscall(SYS_setuid, 1000));
    CHECK("setgid(5)", syscall(SYS_setgid, 5));
    CHECK("setgroups(0)", syscall(SYS_setgroups, 0, NULL));
    CHECK("open(/etc/shadow)", open("/etc/shadow", O_RDONLY));
    CHECK("setpriority(-1)", syscall(SYS_setpriority, 0, 0, -1));
}

static void saved_root(void)
{
    CHECK("setresuid(1000, 1000, 0)", syscall(SYS_setresuid, 1000, 1000, 0));
    ids("after");
    caps("after");
    CHECK("setresuid(2000, -1, -1)", syscall(SYS_setresuid, 2000, -1, -1));
    CHECK("setfsuid(0)", syscall(SYS_setfsuid, 0));
    CHECK("setfsuid(3000)", syscall(SYS_setfsuid, 3000));
    ids("fsuid");
    CHECK("setresuid(-1, 0, -1)", syscall(SYS_setresuid, -1, 0, -1));
    ids("back");
    caps("back");
    CHECK("setreuid(-1, 1001)", syscall(SYS_setreuid, -1, 1001));
    ids("setreuid(-1, 1001)");
    CHECK("setreuid(1002, 0)", syscall(SYS_setreuid, 1002, 0));
    ids("setreuid(1002, 0)");
    CHECK("setreuid(0, 0)", syscall(SYS_setreuid, 0, 0));
    ids("setreuid(0, 0)");
}

static void gids(void)
{
    CHECK("setresgid(10, 20, 30)", syscall(SYS_setresgid, 10, 20, 30));
    ids("setresgid");
    CHECK("setregid(-1, 30)", syscall(SYS_setregid, -1, 30));
    ids("setregid(-1, 30)");
    CHECK("setgid(7)", syscall(SYS_setgid, 7));
    ids("setgid(7)");
    CHECK("setfsgid(8)", syscall(SYS_setfsgid, 8));
    ids("setfsgid(8)");
    gid_t list[4] = {30, 10, 20, 10};
    CHECK("setgroups(4)", syscall(SYS_setgroups, 4, list));
    gid_t got[8];
    long n = syscall(SYS_getgroups, 8, got);
    CHECK("getgroups", n);
    for (long i = 0; i < n; i++)
        SAY("group %u", got[i]);
    CHECK("setgroups(-1)", syscall(SYS_setgroups, -1, list));
    CHECK("setgroups(70000)", syscall(SYS_setgroups, 70000, list));
    CHECK("setgroups(EFAULT)", syscall(SYS_setgroups, 2, BADPTR));
    gid_t bad[1] = {(gid_t)-1};
    CHECK("setgroups(-1 gid)", syscall(SYS_setgroups, 1, bad));
    CHECK("setuid(1000)", syscall(SYS_setuid, 1000));
    CHECK("setgroups as 1000", syscall(SYS_setgroups, 1, list));
    CHECK("setgid(9)", syscall(SYS_setgid, 9));
    CHECK("setgid(7)", syscall(SYS_setgid, 7));
    CHECK("setresgid(30, -1, -1)", syscall(SYS_setresgid, 30, -1, -1));
    CHECK("setregid(99, -1)", syscall(SYS_setregid, 99, -1));
    ids("unprivileged");
}

static void keepcaps(void)
{
    CHECK("PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 1));
    CHECK("setuid(1000)", syscall(SYS_setuid, 1000));
    caps("keepcaps");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective = 1 << CAP_SETUID;
    d[1].effective = 0;
    CHECK("capset(eff SETUID)", syscall(SYS_capset, &h, d));
    caps("raised");
    CHECK("setuid(0) with CAP_SETUID", syscall(SYS_setuid, 0));
    ids("setuid(0)");
}

static void capsets(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    caps("root");
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_SETUID);
    d[0].permitted &= ~(1u << CAP_SETUID);
    CHECK("capset(drop SETUID)", syscall(SYS_capset, &h, d));
    caps("dropped");
    CHECK("setuid(1000) without CAP_SETUID", syscall(SYS_setuid, 1000));
    CHECK("setresuid(0, 0, 0) no change", syscall(SYS_setresuid, 0, 0, 0));
    d[0].permitted |= 1u << CAP_SETUID;
    CHECK("capset(raise permitted)", syscall(SYS_capset, &h, d));
    d[0].permitted &= ~(1u << CAP_SETUID);
    d[0].effective |= 1u << CAP_SETUID;
    CHECK("capset(effective not permitted)", syscall(SYS_capset, &h, d));
    d[0].effective &= ~(1u << CAP_SETUID);
    d[0].inheritable = 1u << CAP_CHOWN;
    CHECK("capset(inheritable CHOWN)", syscall(SYS_capset, &h, d));
    caps("inheritable");
    h.pid = getppid();
    CHECK("capset(other pid)", syscall(SYS_capset, &h, d));
    CHECK("capget(parent)", syscall(SYS_capget, &h, d));
    h.pid = -5;
    CHECK("capget(pid -5)", syscall(SYS_capget, &h, d));
    h.pid = 0;
    h.version = 0x1234;
    CHECK("capget(bad version)", syscall(SYS_capget, &h, d));
    SAY("version = %x", h.version);
    h.version = 0x1234;
    CHECK("capget(bad version, NULL)", syscall(SYS_capget, &h, NULL));
    SAY("version = %x", h.version);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    memset(d, 0xff, sizeof d);
    CHECK("capget(v1)", syscall(SYS_capget, &h, d));
    SAY("v1 eff %x, second word untouched: %d", d[0].effective, d[1].effective == 0xffffffffu);
    CHECK("capget(EFAULT)", syscall(SYS_capget, BADPTR, d));
    h.version = _LINUX_CAPABILITY_VERSION_3;
    CHECK("capget(data EFAULT)", syscall(SYS_capget, &h, BADPTR));
}

int main(void)
{
    ids("start");
    caps("start");
    in_child("setuid as root", setuid_root);
    in_child("saved uid 0", saved_root);
    in_child("gids and groups", gids);
    in_child("keepcaps", keepcaps);
    in_child("capset", capsets);
    ids("end");
    return 0;
}
