/* prctl: names, pdeathsig, dumpable, subreaper, no_new_privs, caps, timer slack. */
#include "abi.h"
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static long pr(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
    return syscall(SYS_prctl, op, a2, a3, a4, a5);
}

int main(void)
{
    char name[32];
    memset(name, 'x', sizeof name);
    CHECK("PR_GET_NAME", pr(PR_GET_NAME, (unsigned long)name, 0, 0, 0));
    SAY("name = %s, byte 15 = %d", name, name[15]);
    CHECK("PR_SET_NAME(long)", pr(PR_SET_NAME, (unsigned long)"a-rather-long-thread-name", 0, 0, 0));
    memset(name, 'x', sizeof name);
    CHECK("PR_GET_NAME", pr(PR_GET_NAME, (unsigned long)name, 0, 0, 0));
    SAY("name = %s, byte 16 = %c", name, name[16]);
    char comm[64] = {0};
    int fd = open("/proc/self/comm", O_RDONLY);
    if (fd >= 0) {
        CHECK("read(/proc/self/comm)", read(fd, comm, sizeof comm - 1));
        SAY("comm = %s", comm);
        close(fd);
    }
    CHECK("PR_SET_NAME(short)", pr(PR_SET_NAME, (unsigned long)"abi", 0, 0, 0));
    CHECK("PR_GET_NAME", pr(PR_GET_NAME, (unsigned long)name, 0, 0, 0));
    SAY("name = %s", name);
    CHECK("PR_SET_NAME(EFAULT)", pr(PR_SET_NAME, (unsigned long)BADPTR, 0, 0, 0));
    CHECK("PR_GET_NAME(EFAULT)", pr(PR_GET_NAME, (unsigned long)BADPTR, 0, 0, 0));

    int sig = -1;
    CHECK("PR_GET_PDEATHSIG", pr(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0));
    SAY("pdeathsig = %d", sig);
    CHECK("PR_SET_PDEATHSIG(SIGUSR1)", pr(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0));
    CHECK("PR_GET_PDEATHSIG", pr(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0));
    SAY("pdeathsig = %d", sig);
    CHECK("PR_SET_PDEATHSIG(65)", pr(PR_SET_PDEATHSIG, 65, 0, 0, 0));
    CHECK("PR_GET_PDEATHSIG(EFAULT)", pr(PR_GET_PDEATHSIG, (unsigned long)BADPTR, 0, 0, 0));
    pid_t c = fork();
    if (c == 0) {
        int s = -1;
        pr(PR_GET_PDEATHSIG, (unsigned long)&s, 0, 0, 0);
        SAY("child pdeathsig = %d", s);
        pr(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
        SAY("child name = %s", name);
        SAY("child dumpable = %ld", pr(PR_GET_DUMPABLE, 0, 0, 0, 0));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    CHECK("PR_SET_PDEATHSIG(0)", pr(PR_SET_PDEATHSIG, 0, 0, 0, 0));

    CHECK("PR_GET_DUMPABLE", pr(PR_GET_DUMPABLE, 0, 0, 0, 0));
    CHECK("PR_SET_DUMPABLE(2)", pr(PR_SET_DUMPABLE, 2, 0, 0, 0));
    CHECK("PR_SET_DUMPABLE(0)", pr(PR_SET_DUMPABLE, 0, 0, 0, 0));
    CHECK("PR_GET_DUMPABLE", pr(PR_GET_DUMPABLE, 0, 0, 0, 0));
    CHECK("PR_SET_DUMPABLE(1)", pr(PR_SET_DUMPABLE, 1, 0, 0, 0));

    CHECK("PR_GET_NO_NEW_PRIVS", pr(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    CHECK("PR_GET_NO_NEW_PRIVS(arg2=1)", pr(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
    CHECK("PR_SET_NO_NEW_PRIVS(0)", pr(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
    CHECK("PR_SET_NO_NEW_PRIVS(1, 1)", pr(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
    CHECK("PR_SET_NO_NEW_PRIVS(1)", pr(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    CHECK("PR_GET_NO_NEW_PRIVS", pr(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    CHECK("PR_GET_SECCOMP", pr(PR_GET_SECCOMP, 0, 0, 0, 0));

    int last = 40;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1)
            last = 40;
        fclose(f);
    }
    CHECK("PR_CAPBSET_READ(CAP_CHOWN)", pr(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0));
    CHECK("PR_CAPBSET_READ(CAP_SYS_ADMIN)", pr(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0));
    CHECK("PR_CAPBSET_READ(last)", pr(PR_CAPBSET_READ, last, 0, 0, 0));
    CHECK("PR_CAPBSET_READ(last + 1)", pr(PR_CAPBSET_READ, last + 1, 0, 0, 0));
    CHECK("PR_CAPBSET_READ(-1)", pr(PR_CAPBSET_READ, -1UL, 0, 0, 0));
    long bset = 0;
    for (int i = 0; i <= last; i++)
        if (pr(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
            bset |= 1L << i;
    SAY("bounding set = %lx", bset);
    c = fork();
    if (c == 0) {
        CHECK("child PR_CAPBSET_DROP(CAP_NET_RAW)", pr(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0));
        CHECK("child PR_CAPBSET_READ(CAP_NET_RAW)", pr(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0));
        CHECK("child PR_CAPBSET_DROP(last + 1)", pr(PR_CAPBSET_DROP, last + 1, 0, 0, 0));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    CHECK("PR_CAPBSET_READ(CAP_NET_RAW)", pr(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0));
    CHECK("PR_GET_KEEPCAPS", pr(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    CHECK("PR_SET_KEEPCAPS(2)", pr(PR_SET_KEEPCAPS, 2, 0, 0, 0));
    CHECK("PR_SET_KEEPCAPS(1)", pr(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    CHECK("PR_GET_KEEPCAPS", pr(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    CHECK("PR_GET_SECUREBITS", pr(PR_GET_SECUREBITS, 0, 0, 0, 0));
    CHECK("PR_SET_KEEPCAPS(0)", pr(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    CHECK("PR_CAP_AMBIENT(IS_SET, CHOWN)", pr(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
    CHECK("PR_CAP_AMBIENT(RAISE, CHOWN)", pr(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
    CHECK("PR_CAP_AMBIENT(CLEAR_ALL)", pr(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    CHECK("PR_CAP_AMBIENT(9)", pr(PR_CAP_AMBIENT, 9, CAP_CHOWN, 0, 0));

    int flag = -1;
    CHECK("PR_GET_CHILD_SUBREAPER", pr(PR_GET_CHILD_SUBREAPER, (unsigned long)&flag, 0, 0, 0));
    SAY("subreaper = %d", flag);
    CHECK("PR_SET_CHILD_SUBREAPER(1)", pr(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    CHECK("PR_GET_CHILD_SUBREAPER", pr(PR_GET_CHILD_SUBREAPER, (unsigned long)&flag, 0, 0, 0));
    SAY("subreaper = %d", flag);
    pid_t me = getpid();
    int p[2];
    if (pipe(p) != 0)
        return 1;
    c = fork();
    if (c == 0) {
        if (fork() == 0) {
            char b;
            close(p[1]);
            if (read(p[0], &b, 1) != 0)  /* until the middle process is gone */
                _exit(2);
            for (int i = 0; i < 200 && getppid() != me; i++)
                usleep(5000);
            FACT("orphan reparented to the subreaper", getppid() == me);
            _exit(7);
        }
        _exit(3);
    }
    close(p[0]);
    close(p[1]);
    /* The grandchild's line and the parent's wait race natively too: the parent reports
     * what it reaped only after both, in a fixed order. */
    int st, n = 0, child_status = -1, grandchild_status = -1;
    pid_t w;
    while ((w = wait(&st)) > 0) {
        if (w == c)
            child_status = WEXITSTATUS(st);
        else
            grandchild_status = WEXITSTATUS(st);
        n++;
    }
    SAY("reaped child, status %d", child_status);
    SAY("reaped grandchild, status %d", grandchild_status);
    SAY("reaped %d", n);

    CHECK("PR_GET_TIMERSLACK", pr(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    CHECK("PR_SET_TIMERSLACK(100000)", pr(PR_SET_TIMERSLACK, 100000, 0, 0, 0));
    CHECK("PR_GET_TIMERSLACK", pr(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    CHECK("PR_SET_TIMERSLACK(0)", pr(PR_SET_TIMERSLACK, 0, 0, 0, 0));
    CHECK("PR_GET_TIMERSLACK", pr(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    int *tidp = NULL;
    CHECK("PR_GET_TID_ADDRESS", pr(PR_GET_TID_ADDRESS, (unsigned long)&tidp, 0, 0, 0));
    FACT("tid address set", tidp != NULL);
    CHECK("PR_GET_TIMING", pr(PR_GET_TIMING, 0, 0, 0, 0));
    CHECK("PR_GET_ENDIAN", pr(PR_GET_ENDIAN, (unsigned long)&flag, 0, 0, 0));
    CHECK("prctl(9999)", pr(9999, 0, 0, 0, 0));
    return 0;
}
