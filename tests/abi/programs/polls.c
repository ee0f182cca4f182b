/* poll, ppoll, select, pselect6 on pipes: readiness masks (POLLIN, POLLOUT, POLLHUP,
 * POLLERR, POLLNVAL), timeouts (0, positive, expiring), the remaining time written back,
 * waits woken by another process, argument errors, and a signal interrupting each wait
 * (never restarted: EINTR even with SA_RESTART). */
#include "abi.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static volatile int got;
static void on_alarm(int s) { (void)s; got++; }

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void show_poll(const char *label, struct pollfd *p, int n, int r)
{
    printf("%s = %d:", label, r);
    for (int i = 0; i < n; i++)
        printf(" %#x", p[i].revents);
    putchar('\n');
    fflush(stdout);
}

static void interrupt_in(int ms)
{
    struct itimerval it = {{0, 0}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    int p[2], q[2];
    char buf[65536];
    pipe(p);
    pipe2(q, O_NONBLOCK);

    struct pollfd fds[4] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}, {99, POLLIN, 0}};
    show_poll("empty pipe", fds, 4, poll(fds, 4, 0));
    write(p[1], "x", 1);
    show_poll("one byte", fds, 4, poll(fds, 4, 0));
    fds[1].events = POLLIN;
    show_poll("write end asked POLLIN", fds, 2, poll(fds, 2, 0));
    /* fill q: no POLLOUT once every slot is used, POLLOUT again once a page is read */
    while (write(q[1], buf, 4096) > 0)
        ;
    struct pollfd w = {q[1], POLLOUT, 0};
    show_poll("full pipe POLLOUT", &w, 1, poll(&w, 1, 0));
    read(q[0], buf, 100);
    show_poll("full pipe after 100 read", &w, 1, poll(&w, 1, 0));
    read(q[0], buf, 4096);
    show_poll("after a page read", &w, 1, poll(&w, 1, 0));
    /* hang-ups */
    int h[2];
    pipe(h);
    close(h[1]);
    struct pollfd hr = {h[0], POLLIN, 0};
    show_poll("reader without writers", &hr, 1, poll(&hr, 1, 0));
    hr.events = 0;
    show_poll("reader without writers, events 0", &hr, 1, poll(&hr, 1, 0));
    pipe(h);
    close(h[0]);
    struct pollfd hw = {h[1], POLLOUT, 0};
    show_poll("writer without readers", &hw, 1, poll(&hw, 1, 0));
    close(h[1]);

    /* timeouts */
    read(p[0], buf, sizeof buf);
    long t0 = now_ms();
    CHECK("poll empty 50ms", poll(fds, 1, 50));
    FACT("waited >= 40ms", now_ms() - t0 >= 40);
    struct timespec ts = {0, 30000000};
    CHECK("ppoll 30ms", ppoll(fds, 1, &ts, NULL));
    struct timespec big = {5, 0};
    write(p[1], "y", 1);
    CHECK("raw ppoll ready", syscall(SYS_ppoll, fds, 1, &big, NULL, 8));
    FACT("ppoll wrote back the time left", big.tv_sec < 5 && big.tv_sec >= 4);
    struct timespec zero = {0, 0};
    CHECK("raw ppoll expired", syscall(SYS_ppoll, fds + 3, 1, &zero, NULL, 8));
    struct timespec bad = {0, 1000000000};
    CHECK("ppoll bad timespec EINVAL", syscall(SYS_ppoll, fds, 1, &bad, NULL, 8));
    CHECK("ppoll bad sigsetsize EINVAL", syscall(SYS_ppoll, fds, 1, NULL, &big, 4));
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK("ppoll with the current mask", ppoll(fds, 1, NULL, &cur));
    CHECK("poll EFAULT", poll(BADPTR, 1, 0));
    CHECK("poll nfds beyond RLIMIT_NOFILE EINVAL", syscall(SYS_poll, fds, 1 << 30, 0));
    CHECK("poll nothing 0", poll(NULL, 0, 0));
    read(p[0], buf, sizeof buf);

    /* select */
    fd_set r, wr;
    FD_ZERO(&r);
    FD_ZERO(&wr);
    FD_SET(p[0], &r);
    FD_SET(p[1], &wr);
    struct timeval tv = {0, 0};
    CHECK("select empty, write end writable", select(p[1] + 1, &r, &wr, NULL, &tv));
    SAY("  read set has p0: %d, write set has p1: %d", FD_ISSET(p[0], &r), FD_ISSET(p[1], &wr));
    FD_SET(p[0], &r);
    tv.tv_sec = 0;
    tv.tv_usec = 40000;
    t0 = now_ms();
    CHECK("select 40ms timeout", select(p[0] + 1, &r, NULL, NULL, &tv));
    FACT("waited >= 30ms", now_ms() - t0 >= 30);
    SAY("  timeval after timeout %ld.%06ld, set %d", (long)tv.tv_sec, (long)tv.tv_usec,
        FD_ISSET(p[0], &r));
    write(p[1], "z", 1);
    FD_SET(p[0], &r);
    tv.tv_sec = 3;
    tv.tv_usec = 0;
    CHECK("select ready", select(p[0] + 1, &r, NULL, NULL, &tv));
    FACT("timeval shows time left", tv.tv_sec == 2 && tv.tv_usec > 0);
    FD_ZERO(&r);
    FD_SET(50, &r);
    CHECK("select closed fd EBADF", select(51, &r, NULL, NULL, NULL));
    CHECK("select negative nfds EINVAL", select(-1, NULL, NULL, NULL, NULL));
    tv.tv_sec = -1;
    CHECK("select negative timeval EINVAL", select(1, NULL, NULL, NULL, &tv));
    tv.tv_sec = 0;
    tv.tv_usec = 2500000;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    CHECK("select usec past a second", select(p[0] + 1, &r, NULL, NULL, &tv));
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec pts = {1, 0};
    CHECK("pselect ready", pselect(p[0] + 1, &r, NULL, NULL, &pts, NULL));
    read(p[0], buf, sizeof buf);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    pts.tv_sec = 0;
    pts.tv_nsec = 20000000;
    CHECK("pselect 20ms timeout", pselect(p[0] + 1, &r, NULL, NULL, &pts, &cur));

    /* a child wakes the parent */
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        write(p[1], "c", 1);
        _exit(0);
    }
    struct pollfd pf = {p[0], POLLIN, 0};
    show_poll("poll woken by a child", &pf, 1, poll(&pf, 1, 5000));
    read(p[0], buf, 1);
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) {
        usleep(50000);
        _exit(0); /* closes its copy of the write end */
    }
    close(p[1]);
    show_poll("poll woken by the last writer's exit", &pf, 1, poll(&pf, 1, 5000));
    waitpid(c, NULL, 0);
    pipe(p);
    pf.fd = p[0];
    c = fork();
    if (c == 0) {
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        int n = select(p[0] + 1, &r, NULL, NULL, NULL);
        printf("child: select = %d, set %d\n", n, FD_ISSET(p[0], &r));
        fflush(stdout);
        _exit(0);
    }
    usleep(50000);
    write(p[1], "p", 1);
    waitpid(c, NULL, 0);
    read(p[0], buf, 1);

    /* signals: a handler, with and without SA_RESTART, interrupts the wait: EINTR */
    for (int restart = 0; restart < 2; restart++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGALRM, &sa, NULL);
        const char *how = restart ? "SA_RESTART" : "no SA_RESTART";
        got = 0;
        interrupt_in(30);
        int n = poll(&pf, 1, 2000);
        printf("%s: poll = %d %s, handler ran %d\n", how, n, n < 0 ? abi_errname(errno) : "", got);
        got = 0;
        interrupt_in(30);
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        tv.tv_sec = 2;
        tv.tv_usec = 0;
        n = select(p[0] + 1, &r, NULL, NULL, &tv);
        printf("%s: select = %d %s, handler ran %d, time left < 2s %d\n", how, n,
               n < 0 ? abi_errname(errno) : "", got, tv.tv_sec < 2);
        if (!restart) { /* with SA_RESTART the read would wait again, forever */
            got = 0;
            interrupt_in(30);
            n = read(p[0], buf, 1);
            printf("%s: read = %d %s, handler ran %d\n", how, n, n < 0 ? abi_errname(errno) : "",
                   got);
        }
        got = 0;
        interrupt_in(30);
        struct timespec pt = {2, 0};
        n = syscall(SYS_ppoll, &pf, 1, &pt, NULL, 8);
        printf("%s: ppoll = %d %s, handler ran %d, time left < 2s %d\n", how, n,
               n < 0 ? abi_errname(errno) : "", got, pt.tv_sec < 2);
        fflush(stdout);
    }
    /* a signal without a handler (ignored by default) restarts the wait: the time still
     * counts from the start */
    signal(SIGCHLD, SIG_DFL);
    c = fork();
    if (c == 0)
        _exit(0);
    t0 = now_ms();
    CHECK("poll across a SIGCHLD", poll(&pf, 1, 200));
    long took = now_ms() - t0;
    FACT("took 150..1000ms", took >= 150 && took < 1000);
    waitpid(c, NULL, 0);
    return 0;
}
