/* signalfd and signalfd4: creation flags and errors (EINVAL flags and sizemask, EFAULT,
 * EBADF/EINVAL for an fd that is not a signalfd), reads of blocked signals with their
 * siginfo (raise, kill, sigqueue, a child's exit, a child's kill of its parent), EAGAIN and
 * a blocking read, poll/select/epoll readiness, changing the mask, reads through dup,
 * dup2, F_DUPFD and a forked child, fd numbers reused by other files, close-on-exec across
 * execve. Prints no pids: only whether they are the expected ones. */
#include "abi.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void show(const char *label, const struct signalfd_siginfo *si, pid_t from)
{
    printf("%s: signo=%u code=%d from_expected=%s uid_ok=%s status=%d int=%d\n", label,
           si->ssi_signo, si->ssi_code, (pid_t)si->ssi_pid == from ? "yes" : "no",
           si->ssi_uid == getuid() ? "yes" : "no", si->ssi_status, si->ssi_int);
    fflush(stdout);
}

/* Read one siginfo and show it, or the error. */
static void take(const char *label, int fd, pid_t from)
{
    struct signalfd_siginfo si;
    memset(&si, 0, sizeof si);
    ssize_t n = read(fd, &si, sizeof si);
    if (n < 0) {
        printf("%s: read = -1 %s\n", label, abi_errname(errno));
        fflush(stdout);
        return;
    }
    if (n != sizeof si) {
        printf("%s: read = %zd\n", label, n);
        fflush(stdout);
        return;
    }
    show(label, &si, from);
}

static void fdinfo_mask(const char *label, int fd)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: fdinfo %s\n", label, abi_errname(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "sigmask:", 8) || !strncmp(line, "flags:", 6))
            printf("%s: %s", label, line);
    fclose(f);
    fflush(stdout);
}

static int ready(int fd, int timeout)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout);
    return n < 0 ? -errno : (n ? p.revents : 0);
}

static sigset_t set_of(int a, int b, int c)
{
    sigset_t s;
    sigemptyset(&s);
    if (a) sigaddset(&s, a);
    if (b) sigaddset(&s, b);
    if (c) sigaddset(&s, c);
    return s;
}

struct thread_arg {
    int fd, told[2], go[2];
};

/* A thread raises a signal for itself: it sees it pending and reads it; the process's
 * other threads do not (signalfd_poll and signalfd_read look at the calling thread). */
static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    char c;
    pthread_kill(pthread_self(), SIGUSR2);
    SAY("thread: poll after its own signal: %#x", ready(a->fd, 0));
    write(a->told[1], "x", 1);
    read(a->go[0], &c, 1);
    take("thread: read", a->fd, getpid());
    SAY("thread: poll after the read: %#x", ready(a->fd, 0));
    return NULL;
}

/* After execve: the close-on-exec signalfd is gone, the other one still reads. */
static int exec_child(char **argv)
{
    int gone = atoi(argv[2]), kept = atoi(argv[3]);
    CHECK("exec'd: F_GETFD of the cloexec signalfd", fcntl(gone, F_GETFD));
    CHECK("exec'd: F_GETFD of the kept signalfd", fcntl(kept, F_GETFD));
    raise(SIGUSR1);
    take("exec'd: read the kept signalfd", kept, getpid());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "exec-child"))
        return exec_child(argv);
    sigset_t mask = set_of(SIGUSR1, SIGUSR2, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int p[2];
    pipe(p);

    /* errors: sizemask first, then the mask pointer, then flags, then the fd */
    CHECK("signalfd4(bad flags) EINVAL", syscall(SYS_signalfd4, -1, &mask, 8, 0x1234));
    CHECK("signalfd4(sizemask 4) EINVAL", syscall(SYS_signalfd4, -1, &mask, 4, 0));
    CHECK("signalfd4(sizemask 16) EINVAL", syscall(SYS_signalfd4, -1, &mask, 16, 0));
    CHECK("signalfd4(bad mask) EFAULT", syscall(SYS_signalfd4, -1, BADPTR, 8, 0));
    CHECK("signalfd4(closed fd) EBADF", syscall(SYS_signalfd4, 77, &mask, 8, 0));
    CHECK("signalfd4(fd -2) EBADF", syscall(SYS_signalfd4, -2, &mask, 8, 0));
    CHECK("signalfd4(pipe) EINVAL", syscall(SYS_signalfd4, p[0], &mask, 8, 0));
    CHECK("signalfd(pipe) EINVAL", syscall(SYS_signalfd, p[0], &mask, 8));
    CHECK("signalfd(sizemask 0) EINVAL", syscall(SYS_signalfd, -1, &mask, 0));

    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    FACT("signalfd4(-1, NONBLOCK|CLOEXEC) ok", sfd >= 0);
    SAY("F_GETFD %d F_GETFL %#x", fcntl(sfd, F_GETFD), fcntl(sfd, F_GETFL));
    char path[64], link[128] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", sfd);
    CHECK_OK("readlink /proc/self/fd/N", readlink(path, link, sizeof link - 1));
    SAY("link %s", link);
    struct stat st;
    CHECK("fstat", fstat(sfd, &st));
    SAY("fstat mode %#o size %lld", st.st_mode, (long long)st.st_size);
    fdinfo_mask("created", sfd);

    /* nothing pending */
    struct signalfd_siginfo si[4];
    CHECK("read, nothing pending EAGAIN", read(sfd, si, sizeof si[0]));
    CHECK("read of 127 bytes EINVAL", read(sfd, si, sizeof si[0] - 1));
    CHECK("pread ESPIPE", pread(sfd, si, sizeof si[0], 0));
    CHECK("write EINVAL", write(sfd, si, sizeof si[0]));
    CHECK("lseek", lseek(sfd, 5, SEEK_SET));
    SAY("poll nothing pending: %#x", ready(sfd, 0));

    /* signals the process sends itself */
    raise(SIGUSR1);
    SAY("poll after raise: %#x", ready(sfd, 0));
    take("raise(SIGUSR1)", sfd, getpid());
    SAY("poll after the read: %#x", ready(sfd, 0));
    kill(getpid(), SIGUSR2);
    take("kill(self, SIGUSR2)", sfd, getpid());
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, v);
    take("sigqueue(self, SIGUSR1, 42)", sfd, getpid());
    raise(SIGUSR1);
    raise(SIGUSR2);
    CHECK("read two pending at once", read(sfd, si, sizeof si));
    SAY("their signals: %u %u", si[0].ssi_signo, si[1].ssi_signo);
    raise(SIGUSR2);
    CHECK("readv of one pending", ({
        struct iovec iov[2] = {{si, 64}, {(char *)si + 64, 64}};
        readv(sfd, iov, 2);
    }));
    SAY("readv signal: %u", si[0].ssi_signo);

    /* a child's exit: SIGCHLD, seen by poll, select and epoll, then read */
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        _exit(3);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    CHECK("epoll_ctl ADD signalfd", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
    CHECK("epoll_wait before the exit", epoll_wait(ep, &ev, 1, 0));
    SAY("poll waiting for SIGCHLD: %#x", ready(sfd, -1));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sfd, &rs);
    struct timeval tv = {5, 0};
    CHECK("select", select(sfd + 1, &rs, NULL, NULL, &tv));
    FACT("select: signalfd readable", FD_ISSET(sfd, &rs));
    ev.events = 0;
    CHECK("epoll_wait", epoll_wait(ep, &ev, 1, -1));
    SAY("epoll event %#x data %llu", ev.events, (unsigned long long)ev.data.u64);
    take("SIGCHLD", sfd, c);
    int status = 0;
    CHECK("waitpid is the child", waitpid(c, &status, 0) == c);
    SAY("exit status %d", WEXITSTATUS(status));
    CHECK("epoll_wait after the read", epoll_wait(ep, &ev, 1, 0));

    /* a parked epoll_wait woken by a child's exit */
    c = fork();
    if (c == 0) {
        usleep(50000);
        _exit(4);
    }
    CHECK("epoll_wait waiting for SIGCHLD", epoll_wait(ep, &ev, 1, 5000));
    take("SIGCHLD again", sfd, c);
    waitpid(c, &status, 0);

    /* a signal the host raises on its own (an interval timer): poll and epoll wake */
    sigset_t alrm = set_of(SIGALRM, 0, 0);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    int afd = signalfd(-1, &alrm, SFD_NONBLOCK);
    struct itimerval it = {.it_value = {0, 30000}};
    setitimer(ITIMER_REAL, &it, NULL);
    SAY("poll waiting for SIGALRM: %#x", ready(afd, 5000));
    take("SIGALRM", afd, 0);
    int ep2 = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 9;
    epoll_ctl(ep2, EPOLL_CTL_ADD, afd, &ev);
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK("epoll_wait waiting for SIGALRM", epoll_wait(ep2, &ev, 1, 5000));
    take("SIGALRM again", afd, 0);
    close(ep2);
    close(afd);

    /* a thread's own signal: pending for that thread only */
    struct thread_arg ta = {.fd = sfd};
    pipe(ta.told);
    pipe(ta.go);
    pthread_t th;
    char tc;
    pthread_create(&th, NULL, thread_main, &ta);
    read(ta.told[0], &tc, 1);
    SAY("main: poll while the thread's signal is pending: %#x", ready(sfd, 0));
    take("main: read while the thread's signal is pending", sfd, 0);
    write(ta.go[1], "x", 1);
    pthread_join(th, NULL);
    for (int i = 0; i < 2; i++) {
        close(ta.told[i]);
        close(ta.go[i]);
    }

    /* a new mask through signalfd(fd, ...) */
    sigset_t only2 = set_of(SIGUSR2, 0, 0);
    CHECK("signalfd(sfd, {SIGUSR2}) returns sfd", signalfd(sfd, &only2, 0) == sfd);
    SAY("F_GETFL %#x (flags of an update are ignored)", fcntl(sfd, F_GETFL));
    fdinfo_mask("updated", sfd);
    raise(SIGUSR1);
    SAY("poll with SIGUSR1 pending, outside the mask: %#x", ready(sfd, 0));
    take("read: SIGUSR1 outside the mask", sfd, getpid());
    raise(SIGUSR2);
    take("read: SIGUSR2", sfd, getpid());
    sigset_t all = set_of(SIGUSR1, SIGUSR2, SIGCHLD);
    all.__val[0] |= 1UL << (SIGKILL - 1) | 1UL << (SIGSTOP - 1);
    CHECK("signalfd4(sfd, mask with SIGKILL/SIGSTOP)", signalfd(sfd, &all, 0) == sfd);
    fdinfo_mask("with SIGKILL/SIGSTOP asked", sfd);
    take("read: SIGUSR1 back in the mask", sfd, getpid());

    /* duplicates share the description; fd numbers the model reuses for other files */
    int d = dup(sfd);
    SAY("dup F_GETFD %d", fcntl(d, F_GETFD));
    raise(SIGUSR1);
    take("read through dup", d, getpid());
    CHECK("dup2(sfd, 40)", dup2(sfd, 40));
    raise(SIGUSR2);
    take("read through dup2", 40, getpid());
    int f = fcntl(sfd, F_DUPFD_CLOEXEC, 50);
    SAY("F_DUPFD_CLOEXEC >= 50: %d, F_GETFD %d", f, fcntl(f, F_GETFD));
    raise(SIGUSR1);
    take("read through F_DUPFD_CLOEXEC", f, getpid());
    CHECK("close(sfd)", close(sfd));
    raise(SIGUSR2);
    take("read through dup after closing the original", d, getpid());
    CHECK("read of the closed fd EBADF", read(sfd, si, sizeof si[0]));
    CHECK("dup2(pipe, 40) over the signalfd", dup2(p[0], 40));
    write(p[1], "xy", 2);
    CHECK("read(40) reads the pipe", read(40, si, sizeof si));
    CHECK("close(40)", close(40));
    CHECK("close(40) again EBADF", close(40));
    CHECK("close_range(50, 50)", syscall(SYS_close_range, 50, 50, 0));
    CHECK("read(50) after close_range EBADF", read(50, si, sizeof si[0]));
    CHECK("dup2(dup, 50)", dup2(d, 50));
    raise(SIGUSR1);
    take("read through 50 again", 50, getpid());
    close(50);
    CHECK("F_SETFL 0 (blocking)", fcntl(d, F_SETFL, 0));
    SAY("F_GETFL %#x", fcntl(d, F_GETFL));
    int on = 1;
    CHECK("FIONBIO 1", ioctl(d, FIONBIO, &on));
    CHECK("read, nonblocking again: EAGAIN", read(d, si, sizeof si[0]));

    /* a blocking read, woken by a child's kill of its parent */
    sigset_t only2b = set_of(SIGUSR2, 0, 0);
    int b = signalfd(-1, &only2b, 0);
    SAY("blocking signalfd F_GETFD %d F_GETFL %#x", fcntl(b, F_GETFD), fcntl(b, F_GETFL));
    c = fork();
    if (c == 0) {
        usleep(50000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    take("blocking read, child's kill", b, c);
    waitpid(c, &status, 0);
    take("the child's SIGCHLD through the dup", d, c);

    /* a forked child reads through the parent's signalfd (a fresh one, and a used one) */
    sigset_t only1 = set_of(SIGUSR1, 0, 0);
    int fresh = signalfd(-1, &only1, SFD_NONBLOCK);
    c = fork();
    if (c == 0) {
        raise(SIGUSR1);
        take("child: read the fresh signalfd", fresh, getpid());
        raise(SIGUSR2);
        take("child: read the used signalfd", d, getpid());
        CHECK("child: read, its parent's signals are not its own", read(d, si, sizeof si[0]));
        _exit(0);
    }
    waitpid(c, &status, 0);
    take("parent: the child's SIGCHLD", d, c);
    CHECK("parent: nothing else pending", read(d, si, sizeof si[0]));

    /* execve: the close-on-exec one goes, the other stays and reads */
    int gone = signalfd(-1, &only1, SFD_CLOEXEC | SFD_NONBLOCK);
    int kept = signalfd(-1, &only1, SFD_NONBLOCK);
    raise(SIGUSR1);
    take("before exec: read the cloexec one", gone, getpid());
    c = fork();
    if (c == 0) {
        char a1[16], a2[16];
        snprintf(a1, sizeof a1, "%d", gone);
        snprintf(a2, sizeof a2, "%d", kept);
        char *args[] = {argv[0], "exec-child", a1, a2, NULL};
        execv(argv[0], args);
        _exit(99);
    }
    waitpid(c, &status, 0);
    SAY("exec'd child exit %d", WEXITSTATUS(status));
    take("the exec'd child's SIGCHLD", d, c);
    return 0;
}
