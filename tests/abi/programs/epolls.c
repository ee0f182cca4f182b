/* epoll on pipes and eventfds: level- and edge-triggered, EPOLLONESHOT, EPOLLEXCLUSIVE,
 * epoll_ctl's errors (EEXIST, ENOENT, EPERM for a regular file, EINVAL, ELOOP), nested
 * instances, interests removed with the description's last fd, waits woken by another
 * process and timeouts; eventfd (EFD_SEMAPHORE, EFD_NONBLOCK, short buffers, blocking);
 * timerfd (one-shot, periodic, absolute, gettime). Prints only what every run shares. */
#include "abi.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_show(const char *label, int ep, int timeout)
{
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, timeout);
    printf("%s = %d", label, n);
    if (n < 0)
        printf(" %s", abi_errname(errno));
    for (int i = 0; i < n; i++)
        printf(" [%lu %#x]", (unsigned long)ev[i].data.u64, ev[i].events);
    putchar('\n');
    fflush(stdout);
}

static int add(int ep, int fd, unsigned events, uint64_t data)
{
    struct epoll_event e = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int mod(int ep, int fd, unsigned events, uint64_t data)
{
    struct epoll_event e = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    char buf[4096];
    int p[2];
    pipe(p);
    CHECK("epoll_create(0) EINVAL", epoll_create(0));
    CHECK("epoll_create1(bad) EINVAL", epoll_create1(1));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    FACT("epoll_create1 ok", ep >= 0);
    SAY("F_GETFD %d F_GETFL %#x", fcntl(ep, F_GETFD), fcntl(ep, F_GETFL));

    /* level-triggered */
    CHECK("add read end LT", add(ep, p[0], EPOLLIN, 1));
    CHECK("add again EEXIST", add(ep, p[0], EPOLLIN, 1));
    wait_show("LT empty", ep, 0);
    write(p[1], "ab", 2);
    wait_show("LT data", ep, 0);
    wait_show("LT data again", ep, 0);
    read(p[0], buf, 2);
    wait_show("LT drained", ep, 0);

    /* edge-triggered: once per wakeup */
    CHECK("mod to ET", mod(ep, p[0], EPOLLIN | EPOLLET, 2));
    write(p[1], "abc", 3);
    wait_show("ET data", ep, 0);
    wait_show("ET again", ep, 0);
    read(p[0], buf, 1);
    wait_show("ET after partial read", ep, 0);
    write(p[1], "d", 1);
    wait_show("ET after another write", ep, 0);
    read(p[0], buf, sizeof buf);
    wait_show("ET drained", ep, 0);

    /* one-shot */
    CHECK("mod to ONESHOT", mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 3));
    write(p[1], "e", 1);
    wait_show("ONESHOT first", ep, 0);
    write(p[1], "f", 1);
    wait_show("ONESHOT disabled", ep, 0);
    CHECK("mod rearms", mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 4));
    wait_show("ONESHOT rearmed", ep, 0);
    read(p[0], buf, sizeof buf);

    /* write end, hang-ups */
    CHECK("add write end", add(ep, p[1], EPOLLOUT, 5));
    CHECK("mod read end LT", mod(ep, p[0], EPOLLIN | EPOLLRDHUP, 6));
    wait_show("write end writable", ep, 0);
    CHECK("del write end", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    CHECK("del again ENOENT", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    CHECK("mod unknown ENOENT", mod(ep, p[1], EPOLLIN, 0));
    close(p[1]);
    wait_show("reader after writer closed", ep, 0);
    close(p[0]);
    wait_show("interest gone with the fd", ep, 0);

    /* dup: the interest belongs to (description, fd) */
    pipe(p);
    int d = dup(p[0]);
    CHECK("add dup", add(ep, d, EPOLLIN, 7));
    CHECK("add original", add(ep, p[0], EPOLLIN, 8));
    close(d);
    write(p[1], "g", 1);
    wait_show("after closing the dup (description alive)", ep, 0);
    close(p[0]);
    wait_show("after the last fd", ep, 0);
    close(p[1]);

    /* errors */
    char path[] = "/tmp/compatd-epoll-XXXXXX";
    int reg = mkstemp(path);
    unlink(path);
    CHECK("regular file EPERM", add(ep, reg, EPOLLIN, 0));
    CHECK("epoll in itself EINVAL", add(ep, ep, EPOLLIN, 0));
    CHECK("not an epoll EINVAL", add(reg, ep, EPOLLIN, 0));
    CHECK("bad epfd EBADF", add(99, 0, EPOLLIN, 0));
    pipe(p);
    CHECK("bad fd EBADF", add(ep, 99, EPOLLIN, 0));
    CHECK("bad op EINVAL", epoll_ctl(ep, 99, p[0], &(struct epoll_event){0}));
    CHECK("event EFAULT", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], BADPTR));
    CHECK("EXCLUSIVE ok", add(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 9));
    CHECK("MOD of EXCLUSIVE EINVAL", mod(ep, p[0], EPOLLIN, 9));
    CHECK("EXCLUSIVE with ONESHOT EINVAL", add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
    CHECK("MOD with EXCLUSIVE EINVAL", mod(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 9));
    struct epoll_event evs[2];
    CHECK("maxevents 0 EINVAL", epoll_wait(ep, evs, 0, 0));
    CHECK("wait on a pipe EINVAL", epoll_wait(p[0], evs, 2, 0));
    CHECK("wait bad fd EBADF", epoll_wait(99, evs, 2, 0));
    write(p[1], "h", 1);
    CHECK("wait events EFAULT", epoll_wait(ep, BADPTR, 2, 0));
    read(p[0], buf, 1);
    CHECK("pwait bad sigsetsize EINVAL", syscall(SYS_epoll_pwait, ep, evs, 2, 0, evs, 4));
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK("pwait current mask", epoll_pwait(ep, evs, 2, 0, &cur));
    struct timespec ts = {0, 20000000};
    long t0 = now_ms();
    CHECK("pwait2 20ms", syscall(SYS_epoll_pwait2, ep, evs, 2, &ts, NULL, 8));
    FACT("waited >= 15ms", now_ms() - t0 >= 15);
    ts.tv_nsec = -1;
    CHECK("pwait2 bad timespec EINVAL", syscall(SYS_epoll_pwait2, ep, evs, 2, &ts, NULL, 8));

    /* nesting */
    int outer = epoll_create1(0), inner = epoll_create1(0);
    CHECK("add inner to outer", add(outer, inner, EPOLLIN, 10));
    CHECK("add outer to inner ELOOP", add(inner, outer, EPOLLIN, 0));
    int e1 = epoll_create1(0), e2 = epoll_create1(0), e3 = epoll_create1(0), e4 = epoll_create1(0);
    CHECK("chain e1<-e2", add(e1, e2, EPOLLIN, 0));
    CHECK("chain e2<-e3", add(e2, e3, EPOLLIN, 0));
    CHECK("chain e3<-e4", add(e3, e4, EPOLLIN, 0));
    int e5 = epoll_create1(0);
    CHECK("chain e4<-e5 (depth 4)", add(e4, e5, EPOLLIN, 0));
    CHECK("chain e5<-e6 too deep ELOOP", add(e5, epoll_create1(0), EPOLLIN, 0));
    int q[2];
    pipe(q);
    CHECK("add pipe to inner", add(inner, q[0], EPOLLIN, 11));
    wait_show("outer, inner empty", outer, 0);
    write(q[1], "i", 1);
    wait_show("outer sees inner", outer, 0);
    wait_show("inner", inner, 0);
    struct pollfd pf = {inner, POLLIN, 0};
    CHECK("poll on an epoll", poll(&pf, 1, 0));
    SAY("  revents %#x", pf.revents);
    read(q[0], buf, 1);
    CHECK("poll on an empty epoll", poll(&pf, 1, 0));

    /* a child wakes a waiting epoll_wait; a timeout expires */
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        write(q[1], "j", 1);
        _exit(0);
    }
    wait_show("epoll_wait woken by a child", inner, 5000);
    waitpid(c, NULL, 0);
    read(q[0], buf, 1);
    t0 = now_ms();
    wait_show("epoll_wait 50ms", inner, 50);
    FACT("waited >= 40ms", now_ms() - t0 >= 40);

    /* eventfd */
    int efd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    SAY("eventfd F_GETFL %#x F_GETFD %d", fcntl(efd, F_GETFL), fcntl(efd, F_GETFD));
    CHECK("eventfd2 bad flags EINVAL", eventfd(0, 0x10));
    uint64_t v = 0;
    CHECK("read 4 bytes EINVAL", read(efd, &v, 4));
    CHECK("read", read(efd, &v, 8));
    SAY("  value %lu", (unsigned long)v);
    CHECK("read at 0 EAGAIN", read(efd, &v, 8));
    v = 5;
    CHECK("write 4 bytes EINVAL", write(efd, &v, 4));
    CHECK("write", write(efd, &v, 8));
    v = UINT64_MAX;
    CHECK("write ULLONG_MAX EINVAL", write(efd, &v, 8));
    v = UINT64_MAX - 1;
    CHECK("write to overflow EAGAIN", write(efd, &v, 8));
    v = UINT64_MAX - 6;
    CHECK("write up to the max", write(efd, &v, 8));
    pf.fd = efd;
    pf.events = POLLIN | POLLOUT;
    poll(&pf, 1, 0);
    SAY("poll at the max %#x", pf.revents);
    read(efd, &v, 8);
    poll(&pf, 1, 0);
    SAY("poll at 0 %#x", pf.revents);
    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (int i = 0; i < 3; i++) {
        long r = read(sem, &v, 8);
        SAY("semaphore read %ld value %lu %s", r, r > 0 ? (unsigned long)v : 0UL,
            r < 0 ? abi_errname(errno) : "");
    }
    /* eventfds in epoll: ET reports each write */
    int ep2 = epoll_create1(0);
    CHECK("add eventfd ET", add(ep2, sem, EPOLLIN | EPOLLET, 20));
    CHECK("add eventfd LT", add(ep2, efd, EPOLLIN, 21));
    wait_show("eventfds empty", ep2, 0);
    v = 1;
    write(sem, &v, 8);
    write(efd, &v, 8);
    wait_show("both written", ep2, 0);
    wait_show("again: LT only", ep2, 0);
    write(sem, &v, 8);
    wait_show("ET after a second write", ep2, 0);
    /* a blocking eventfd read woken by a child */
    int bfd = eventfd(0, 0);
    c = fork();
    if (c == 0) {
        usleep(50000);
        v = 7;
        write(bfd, &v, 8);
        _exit(0);
    }
    CHECK("blocking read", read(bfd, &v, 8));
    SAY("  value %lu", (unsigned long)v);
    waitpid(c, NULL, 0);

    /* timerfd */
    CHECK("timerfd bad clock EINVAL", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
    CHECK("timerfd bad flags EINVAL", timerfd_create(CLOCK_MONOTONIC, 1));
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    SAY("timerfd F_GETFL %#x", fcntl(tfd, F_GETFL));
    CHECK("read unarmed EAGAIN", read(tfd, &v, 8));
    struct itimerspec its = {{0, 0}, {0, 30000000}}, old;
    CHECK("settime 30ms", timerfd_settime(tfd, 0, &its, &old));
    SAY("  old %ld.%09ld", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
    timerfd_gettime(tfd, &old);
    FACT("gettime: 0 < left <= 30ms", old.it_value.tv_nsec > 0 && old.it_value.tv_nsec <= 30000000);
    CHECK("read before expiry EAGAIN", read(tfd, &v, 8));
    pf.fd = tfd;
    pf.events = POLLIN;
    CHECK("poll until it expires", poll(&pf, 1, 2000));
    CHECK("read", read(tfd, &v, 8));
    SAY("  expirations %lu", (unsigned long)v);
    timerfd_gettime(tfd, &old);
    SAY("gettime after expiry %ld.%09ld", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
    int btfd = timerfd_create(CLOCK_BOOTTIME, 0);
    struct itimerspec per = {{0, 10000000}, {0, 10000000}};
    timerfd_settime(btfd, 0, &per, NULL);
    usleep(45000);
    CHECK("blocking read of a periodic timer", read(btfd, &v, 8));
    FACT("several expirations", v >= 2);
    CHECK("read blocks for the next period", read(btfd, &v, 8));
    FACT("at least one", v >= 1);
    timerfd_gettime(btfd, &old);
    SAY("interval %ld.%09ld", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(btfd, 0, &off, &old);
    FACT("disarm returns the old interval", old.it_interval.tv_nsec == 10000000);
    int rtfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct timespec nowrt;
    clock_gettime(CLOCK_REALTIME, &nowrt);
    struct itimerspec abs = {{0, 0}, {nowrt.tv_sec - 1, 0}};
    CHECK("absolute time in the past", timerfd_settime(rtfd, TFD_TIMER_ABSTIME, &abs, NULL));
    CHECK("expired at once", read(rtfd, &v, 8));
    SAY("  expirations %lu", (unsigned long)v);
    abs.it_value.tv_sec = nowrt.tv_sec + 3600;
    timerfd_settime(rtfd, TFD_TIMER_ABSTIME, &abs, NULL);
    timerfd_gettime(rtfd, &old);
    FACT("an hour ahead", old.it_value.tv_sec >= 3598 && old.it_value.tv_sec <= 3600);
    its.it_value.tv_nsec = 1000000000;
    CHECK("settime bad nsec EINVAL", timerfd_settime(tfd, 0, &its, NULL));
    its.it_value.tv_nsec = 0;
    CHECK("settime bad flags EINVAL", timerfd_settime(tfd, 4, &its, NULL));
    CHECK("settime not a timerfd EINVAL", timerfd_settime(efd, 0, &its, NULL));
    CHECK("gettime bad fd EBADF", timerfd_gettime(99, &old));
    CHECK("write to a timerfd EINVAL", write(tfd, &v, 8));
    int ep3 = epoll_create1(0);
    timerfd_settime(tfd, 0, &(struct itimerspec){{0, 0}, {0, 20000000}}, NULL);
    add(ep3, tfd, EPOLLIN | EPOLLET, 30);
    wait_show("epoll_wait for a timerfd", ep3, 2000);
    wait_show("ET: once", ep3, 0);
    return 0;
}
