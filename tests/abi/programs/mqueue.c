/* POSIX message queues: names and open errors, attributes and limits, the descriptor as a
 * file (fstat, read, FD_CLOEXEC, poll/select/epoll), send and receive by priority,
 * EAGAIN/EMSGSIZE/EBADF/ETIMEDOUT, blocking across fork in both directions, signals
 * interrupting (EINTR) or restarting (SA_RESTART) a blocked receive, mq_notify
 * (SIGEV_SIGNAL with SI_MESGQ, SIGEV_NONE, EBUSY, no notification while a receiver waits,
 * a registration ended by close and by exit), permissions and RLIMIT_MSGQUEUE.
 *
 * Queue names carry the pid (native runs share the host's queues) but are never printed. */
#include "abi.h"
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static char qname[64], qname2[64];

static volatile sig_atomic_t got_signo, got_code, got_value, got_count;
static volatile pid_t got_pid;

static void on_notify(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    got_signo = sig;
    got_code = si->si_code;
    got_value = si->si_value.sival_int;
    got_pid = si->si_pid;
    got_count++;
}

static void on_usr2(int sig)
{
    (void)sig;
    got_count++;
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct timespec in_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void show_attr(const char *label, mqd_t q)
{
    struct mq_attr a;
    if (mq_getattr(q, &a) != 0) {
        SAY("%s: mq_getattr failed %s", label, abi_errname(errno));
        return;
    }
    SAY("%s: flags %#lx maxmsg %ld msgsize %ld curmsgs %ld", label, a.mq_flags, a.mq_maxmsg,
        a.mq_msgsize, a.mq_curmsgs);
}

static void show_poll(const char *label, mqd_t q)
{
    struct pollfd p = {q, POLLIN | POLLOUT, 0};
    int n = poll(&p, 1, 0);
    SAY("%s: poll %d revents%s%s", label, n, p.revents & POLLIN ? " IN" : "",
        p.revents & POLLOUT ? " OUT" : "");
}

/* Whether the queue's status line (what read gives) contains text. */
static int status_has(mqd_t q, const char *text)
{
    char buf[128] = {0};
    return pread(q, buf, sizeof buf - 1, 0) > 0 && strstr(buf, text) != NULL;
}

/* Wait (up to 2 s) until the notification handler has run n times in all. */
static void await_signals(int n)
{
    for (int i = 0; i < 200 && got_count < n; i++)
        nap(10);
}

static long raw_open(const char *name, int oflag, mode_t mode, struct mq_attr *attr)
{
    return syscall(SYS_mq_open, name, oflag, mode, attr);
}

static void names(void)
{
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[256] = 0;
    CHECK("mq_open(missing)", mq_open(qname, O_RDWR));
    CHECK("mq_open(no slash, glibc)", mq_open("abc", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(\"\")", raw_open("", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(\"a/b\")", raw_open("a/b", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(\"/x\")", raw_open("/x", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(\".\")", raw_open(".", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(\"..\")", raw_open("..", O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(256 bytes)", raw_open(longname, O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(bad name)", raw_open(BADPTR, O_RDWR | O_CREAT, 0600, NULL));
    CHECK("raw mq_open(bad attr)", raw_open("zz", O_RDWR, 0600, BADPTR));
    CHECK("raw mq_unlink(\"\")", syscall(SYS_mq_unlink, ""));
    CHECK("raw mq_unlink(\"a/b\")", syscall(SYS_mq_unlink, "a/b"));
    CHECK("raw mq_unlink(\"..\")", syscall(SYS_mq_unlink, ".."));
    CHECK("raw mq_unlink(256 bytes)", syscall(SYS_mq_unlink, longname));
    CHECK("mq_unlink(missing)", mq_unlink(qname));
}

static void attributes(void)
{
    struct mq_attr bad[] = {{0, 0, 16, 0}, {0, -1, 16, 0}, {0, 4, 0, 0}, {0, 11, 16, 0},
                            {0, 4, 8193, 0}};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[80];
        snprintf(label, sizeof label, "mq_open(maxmsg %ld msgsize %ld)", bad[i].mq_maxmsg,
                 bad[i].mq_msgsize);
        CHECK(label, mq_open(qname, O_RDWR | O_CREAT, 0600, &bad[i]));
    }
    /* Defaults (/proc/sys/fs/mqueue), junk in mq_flags and mq_curmsgs ignored. */
    mqd_t d = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
    FACT("mq_open(defaults)", d >= 0);
    show_attr("defaults", d);
    mq_close(d);
    mq_unlink(qname);
    struct mq_attr junk = {12345, 3, 64, 77};
    d = mq_open(qname, O_RDWR | O_CREAT | O_NONBLOCK, 0600, &junk);
    show_attr("junk flags", d);
    struct mq_attr set = {0, 0, 0, 0}, old;
    CHECK("mq_setattr(clear O_NONBLOCK)", mq_setattr(d, &set, &old));
    SAY("old flags %#lx", old.mq_flags);
    show_attr("after setattr", d);
    set.mq_flags = O_NONBLOCK | O_APPEND;
    CHECK("mq_setattr(O_APPEND)", mq_setattr(d, &set, NULL));
    CHECK("mq_getsetattr(bad new)", syscall(SYS_mq_getsetattr, d, BADPTR, NULL));
    CHECK("mq_getsetattr(bad old)", syscall(SYS_mq_getsetattr, d, NULL, BADPTR));
    CHECK("mq_getattr(stdin)", mq_getattr(0, &old));
    CHECK("mq_getattr(closed)", mq_getattr(99, &old));
    /* O_NONBLOCK is the description's: fcntl and a dup see the same. */
    int dup_fd = dup(d);
    CHECK("fcntl(F_SETFL O_NONBLOCK)", fcntl(d, F_SETFL, O_NONBLOCK));
    show_attr("dup after F_SETFL", dup_fd);
    close(dup_fd);
    mq_close(d);
    mq_unlink(qname);
    /* Access mode 3: a new queue opens (neither readable nor writable), an existing does not. */
    long q3 = raw_open(qname + 1, O_RDWR | O_WRONLY | O_CREAT, 0600, NULL);
    FACT("raw mq_open(access 3, new)", q3 >= 0);
    CHECK("mq_send(access 3)", mq_send(q3, "x", 1, 0));
    CHECK("raw mq_open(access 3, existing)", raw_open(qname + 1, O_RDWR | O_WRONLY, 0, NULL));
    CHECK("mq_open(O_CREAT|O_EXCL existing)",
          mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, NULL));
    close(q3);
    CHECK("mq_unlink", mq_unlink(qname));
    CHECK("mq_unlink(again)", mq_unlink(qname));
}

static void as_a_file(mqd_t q)
{
    struct stat st;
    CHECK("fstat", fstat(q, &st));
    SAY("fstat: %s mode %o nlink %lu size %ld", abi_ftype(st.st_mode), st.st_mode & 07777,
        (unsigned long)st.st_nlink, (long)st.st_size);
    CHECK("fcntl(F_GETFD)", fcntl(q, F_GETFD));
    CHECK("fcntl(F_GETFL)", fcntl(q, F_GETFL));
    char buf[128] = {0};
    CHECK("pread", pread(q, buf, sizeof buf - 1, 0));
    SAY("status: %s", buf);
    CHECK("pread(offset 6, 4)", pread(q, buf, 4, 6));
    CHECK("lseek(SEEK_END)", lseek(q, 0, SEEK_END));
    CHECK("read(at end)", read(q, buf, sizeof buf));
    CHECK("write", write(q, "x", 1));
    CHECK("fchmod(0640)", fchmod(q, 0640));
    CHECK("fstat", fstat(q, &st));
    SAY("fstat: mode %o", st.st_mode & 07777);
    char link[128], want[80];
    ssize_t n = readlink("/proc/self/fd/3", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "%s", qname);
    FACT("/proc/self/fd link names the queue", q == 3 && strcmp(link, want) == 0);
}

static void send_receive(mqd_t q, mqd_t wr, mqd_t rd)
{
    const char *texts[] = {"one/1", "two/5", "three/1", "four/9", "five/5"};
    unsigned prios[] = {1, 5, 1, 9, 5};
    char buf[64];
    unsigned prio;
    show_poll("empty", q);
    for (int i = 0; i < 4; i++)
        CHECK(texts[i], mq_send(q, texts[i], strlen(texts[i]), prios[i]));
    show_attr("full", q);
    show_poll("full", q);
    struct timespec now = in_ms(0);
    CHECK("mq_send(full, O_NONBLOCK)", mq_send(q, texts[4], strlen(texts[4]), prios[4]));
    CHECK("mq_timedsend(full, O_NONBLOCK, past)",
          mq_timedsend(q, texts[4], strlen(texts[4]), prios[4], &now));
    memset(buf, 0, sizeof buf);
    CHECK("pread", pread(q, buf, sizeof buf - 1, 0));
    SAY("status: %s", buf);
    CHECK("mq_send(too long)", mq_send(q, "0123456789abcdefghijklmnopqrstuvwxyz", 33, 0));
    CHECK("mq_send(prio 32768)", mq_send(q, "x", 1, 32768));
    CHECK("mq_send(read-only)", mq_send(rd, "x", 1, 0));
    CHECK("mq_receive(write-only)", mq_receive(wr, buf, sizeof buf, &prio));
    CHECK("mq_receive(small buffer)", mq_receive(q, buf, 31, &prio));
    CHECK("mq_send(bad buffer)", mq_send(q, BADPTR, 4, 0));
    struct timespec bad = {0, 1000000000L};
    CHECK("mq_timedreceive(bad timespec, not empty)", mq_timedreceive(q, buf, 64, NULL, &bad));
    CHECK("mq_timedsend(bad timespec pointer)", mq_timedsend(q, "x", 1, 0, BADPTR));
    for (int i = 0; i < 2; i++) {
        memset(buf, 0, sizeof buf);
        CHECK("mq_receive", mq_receive(q, buf, sizeof buf, &prio));
        SAY("  got %s prio %u", buf, prio);
    }
    CHECK(texts[4], mq_send(wr, texts[4], strlen(texts[4]), prios[4]));
    for (int i = 0; i < 3; i++) {
        memset(buf, 0, sizeof buf);
        CHECK("mq_receive(read-only)", mq_receive(rd, buf, sizeof buf, NULL));
        SAY("  got %s", buf);
    }
    CHECK("mq_send(empty message)", mq_send(q, "", 0, 3));
    CHECK("mq_receive(empty message)", mq_receive(q, buf, sizeof buf, &prio));
    SAY("  prio %u", prio);
    CHECK("mq_receive(empty, O_NONBLOCK)", mq_receive(q, buf, sizeof buf, &prio));
    show_poll("drained", q);
    struct mq_attr blocking = {0, 0, 0, 0};
    mq_setattr(q, &blocking, NULL);
    struct timespec soon = in_ms(50);
    CHECK("mq_timedreceive(empty, 50 ms)", mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    CHECK("mq_timedreceive(empty, past)", mq_timedreceive(q, buf, sizeof buf, &prio, &now));
    CHECK("mq_timedreceive(empty, bad timespec)", mq_timedreceive(q, buf, 64, NULL, &bad));
    CHECK("mq_send", mq_send(q, "lost", 4, 0));
    CHECK("mq_receive(bad buffer)", mq_receive(q, BADPTR, sizeof buf, &prio));
    show_attr("after EFAULT", q);
}

static void readiness(mqd_t q)
{
    fd_set r, w;
    struct timeval tv = {0, 0};
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(q, &r);
    FD_SET(q, &w);
    CHECK("select(empty)", select(q + 1, &r, &w, NULL, &tv));
    FACT("  readable", FD_ISSET(q, &r));
    FACT("  writable", FD_ISSET(q, &w));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLIN | EPOLLET, {.u32 = 7}}, out[2];
    CHECK("epoll_ctl(ADD EPOLLIN|EPOLLET)", epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev));
    CHECK("epoll_wait(empty)", epoll_wait(ep, out, 2, 0));
    pid_t pid = fork();
    if (pid == 0) {
        nap(50);
        mq_send(q, "wake", 4, 2);
        _exit(0);
    }
    CHECK("epoll_wait(child sends)", epoll_wait(ep, out, 2, 5000));
    SAY("  data %u IN %d", out[0].data.u32, !!(out[0].events & EPOLLIN));
    CHECK("epoll_wait(edge, again)", epoll_wait(ep, out, 2, 0));
    waitpid(pid, NULL, 0);
    char buf[64];
    CHECK("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
    close(ep);
}

static void across_fork(mqd_t q)
{
    char buf[64] = {0};
    unsigned prio = 0;
    pid_t pid = fork();
    if (pid == 0) {
        nap(50);
        mq_send(q, "from the child", 14, 7);
        _exit(0);
    }
    CHECK("mq_receive(blocks until the child sends)", mq_receive(q, buf, sizeof buf, &prio));
    SAY("  got %s prio %u", buf, prio);
    waitpid(pid, NULL, 0);
    /* A sender blocked on a full queue until the child takes one. */
    for (int i = 0; i < 4; i++)
        mq_send(q, "fill", 4, i);
    pid = fork();
    if (pid == 0) {
        nap(50);
        char cbuf[64];
        unsigned p;
        ssize_t n = mq_receive(q, cbuf, sizeof cbuf, &p);
        _exit(n == 4 && p == 3 ? 0 : 1);
    }
    struct timespec later = in_ms(5000);
    CHECK("mq_timedsend(blocks until the child receives)",
          mq_timedsend(q, "last", 4, 9, &later));
    int status;
    waitpid(pid, &status, 0);
    SAY("  child took the highest: %s", WIFEXITED(status) && !WEXITSTATUS(status) ? "yes" : "no");
    show_attr("refilled", q);
    for (int i = 0; i < 4; i++) {
        memset(buf, 0, sizeof buf);
        mq_receive(q, buf, sizeof buf, &prio);
        SAY("  drain %s prio %u", buf, prio);
    }
}

static void interrupted(mqd_t q, int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR2, &sa, NULL);
    got_count = 0;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        nap(100); /* the parent waits in mq_receive by then */
        kill(parent, SIGUSR2);
        nap(200);
        mq_send(q, "after the signal", 16, 1);
        _exit(0);
    }
    char buf[64] = {0};
    CHECK(restart ? "mq_receive(SA_RESTART)" : "mq_receive(signal)",
          mq_receive(q, buf, sizeof buf, NULL));
    SAY("  handler ran %d, got '%s'", got_count, buf);
    waitpid(pid, NULL, 0);
    if (!restart)
        CHECK("mq_receive(the late message)", mq_receive(q, buf, sizeof buf, NULL));
    signal(SIGUSR2, SIG_DFL);
}

static void notification(mqd_t q)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_notify;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = SIGUSR1;
    se.sigev_value.sival_int = 42;
    char buf[64];
    got_count = 0;

    CHECK("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &se));
    CHECK("mq_notify(again)", mq_notify(q, &se));
    FACT("status shows SIGNO:10", status_has(q, "SIGNO:10 "));
    CHECK("mq_send(empty queue)", mq_send(q, "ping", 4, 0));
    await_signals(1);
    SAY("  signal %d code %d value %d from self %d count %d", got_signo, got_code, got_value,
        got_pid == getpid(), got_count);
    CHECK("mq_notify(after it fired)", mq_notify(q, &se));
    CHECK("mq_send(non-empty queue)", mq_send(q, "pong", 4, 0));
    nap(50);
    SAY("  count %d", got_count);
    mq_receive(q, buf, sizeof buf, NULL);
    mq_receive(q, buf, sizeof buf, NULL);

    /* A child sends: si_pid is the sender's. */
    pid_t pid = fork();
    if (pid == 0) {
        mq_send(q, "child", 5, 0);
        _exit(0);
    }
    await_signals(2);
    waitpid(pid, NULL, 0);
    SAY("  from the child: signal %d code %d from child %d count %d", got_signo, got_code,
        got_pid == pid, got_count);
    mq_receive(q, buf, sizeof buf, NULL);

    /* No notification while a receiver waits: the child takes the message. */
    CHECK("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &se));
    pid = fork();
    if (pid == 0) {
        char cbuf[64];
        _exit(mq_receive(q, cbuf, sizeof cbuf, NULL) == 6 ? 0 : 1);
    }
    nap(200); /* the child waits in mq_receive by then */
    CHECK("mq_send(a receiver waits)", mq_send(q, "direct", 6, 0));
    int status;
    waitpid(pid, &status, 0);
    nap(50);
    SAY("  child received: %s, count %d", WIFEXITED(status) && !WEXITSTATUS(status) ? "yes" : "no",
        got_count);
    CHECK("mq_notify(still registered)", mq_notify(q, &se));
    CHECK("mq_notify(NULL)", mq_notify(q, NULL));
    CHECK("mq_notify(NULL, none)", mq_notify(q, NULL));

    /* SIGEV_NONE: nothing is sent, the registration ends. */
    se.sigev_notify = SIGEV_NONE;
    CHECK("mq_notify(SIGEV_NONE)", mq_notify(q, &se));
    FACT("status shows NOTIFY:1", status_has(q, "NOTIFY:1 "));
    CHECK("mq_send", mq_send(q, "none", 4, 0));
    nap(50);
    SAY("  count %d", got_count);
    se.sigev_notify = SIGEV_SIGNAL;
    CHECK("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &se));
    mq_receive(q, buf, sizeof buf, NULL);

    /* A child's registration blocks the parent's until the child exits, or closes. */
    CHECK("mq_notify(NULL)", mq_notify(q, NULL));
    int ready[2];
    pipe(ready);
    pid = fork();
    if (pid == 0) {
        mq_notify(q, &se);
        write(ready[1], "r", 1);
        nap(100);
        _exit(0);
    }
    read(ready[0], buf, 1);
    CHECK("mq_notify(the child's registration)", mq_notify(q, &se));
    CHECK("mq_notify(NULL, not ours)", mq_notify(q, NULL));
    waitpid(pid, NULL, 0);
    CHECK("mq_notify(the child exited)", mq_notify(q, &se));
    CHECK("mq_notify(NULL)", mq_notify(q, NULL));
    pid = fork();
    if (pid == 0) {
        mq_notify(q, &se);
        int other = dup(q);
        close(other); /* any descriptor of the queue, closed by its process */
        write(ready[1], "r", 1);
        nap(100);
        _exit(0);
    }
    read(ready[0], buf, 1);
    CHECK("mq_notify(the child closed a descriptor)", mq_notify(q, &se));
    waitpid(pid, NULL, 0);
    CHECK("mq_notify(NULL)", mq_notify(q, NULL));
    close(ready[0]);
    close(ready[1]);

    /* Errors, and SIGEV_THREAD's netlink socket as the raw call sees it. */
    se.sigev_signo = 65;
    CHECK("mq_notify(signal 65)", mq_notify(q, &se));
    se.sigev_notify = 7;
    CHECK("mq_notify(sigev_notify 7, bad fd)", mq_notify(99, &se));
    CHECK("raw mq_notify(bad pointer)", syscall(SYS_mq_notify, q, BADPTR));
    CHECK("mq_notify(not a queue)", mq_notify(0, NULL));
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
    char cookie[32] = {0};
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_value.sival_ptr = cookie;
    se.sigev_signo = sv[0];
    CHECK("raw mq_notify(SIGEV_THREAD, unix socket)", syscall(SYS_mq_notify, q, &se));
    se.sigev_signo = q;
    CHECK("raw mq_notify(SIGEV_THREAD, not a socket)", syscall(SYS_mq_notify, q, &se));
    se.sigev_signo = 99;
    CHECK("raw mq_notify(SIGEV_THREAD, bad fd)", syscall(SYS_mq_notify, q, &se));
    se.sigev_value.sival_ptr = BADPTR;
    CHECK("raw mq_notify(SIGEV_THREAD, bad cookie)", syscall(SYS_mq_notify, q, &se));
    close(sv[0]);
    close(sv[1]);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = 0;
    CHECK("mq_notify(signal 0)", mq_notify(q, &se));
    CHECK("mq_send", mq_send(q, "quiet", 5, 0));
    nap(50);
    SAY("  count %d", got_count);
    CHECK("mq_notify(signal 0 ended)", mq_notify(q, &se));
    CHECK("mq_notify(NULL)", mq_notify(q, NULL));
    mq_receive(q, buf, sizeof buf, NULL);
    signal(SIGUSR1, SIG_DFL);
}

static void lifetime(mqd_t q)
{
    CHECK("mq_unlink(open queue)", mq_unlink(qname));
    struct stat st;
    fstat(q, &st);
    SAY("after unlink: nlink %lu", (unsigned long)st.st_nlink);
    CHECK("mq_open(unlinked)", mq_open(qname, O_RDWR));
    CHECK("mq_send(unlinked)", mq_send(q, "still", 5, 0));
    char buf[64] = {0};
    CHECK("mq_receive(unlinked)", mq_receive(q, buf, sizeof buf, NULL));
    /* A new queue of the same name is another queue. */
    mqd_t n = mq_open(qname, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, NULL);
    FACT("mq_open(same name, new)", n >= 0);
    CHECK("mq_send(old)", mq_send(q, "old", 3, 0));
    CHECK("mq_receive(new, empty)", mq_receive(n, buf, 8192, NULL));
    mq_close(n);
    CHECK("mq_unlink", mq_unlink(qname));
    CHECK("mq_close", mq_close(q));
    CHECK("mq_close(again)", mq_close(q));
}

static void permissions(void)
{
    struct mq_attr a = {0, 2, 16, 0};
    mqd_t q = mq_open(qname2, O_RDWR | O_CREAT, 0640, &a);
    FACT("mq_open(0640)", q >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        CHECK("  nobody: mq_open(O_RDONLY)", mq_open(qname2, O_RDONLY));
        /* The sticky directory's EPERM, which glibc's mq_unlink turns into EACCES. */
        CHECK("  nobody: raw mq_unlink", syscall(SYS_mq_unlink, qname2 + 1));
        CHECK("  nobody: mq_unlink", mq_unlink(qname2));
        struct mq_attr b = {0, 2, 16, 0};
        mqd_t mine = mq_open(qname, O_WRONLY | O_CREAT, 0604, &b);
        FACT("  nobody: mq_open(own, 0604)", mine >= 0);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    CHECK_OK("root: mq_open(nobody's, O_RDWR)", mq_open(qname, O_RDWR));
    CHECK("root: mq_unlink(nobody's)", mq_unlink(qname));
    mq_close(q);
    mq_unlink(qname2);
}

static void limits(void)
{
    /* In a child, so the limits stay its own. A queue charges its user (the real uid)
     * maxmsg * msgsize, plus 48 bytes per message and 48 per priority level:
     * 10 * (104 + 48) + 10 * 48 is 2000. Natively the charge counts every queue of the
     * user on the host: a uid of its own keeps other queues out of it. */
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {2000, 2000};
        setrlimit(RLIMIT_MSGQUEUE, &rl);
        if (setgid(65533) != 0 || setuid(65533) != 0)
            _exit(99);
        struct mq_attr a = {0, 10, 105, 0};
        CHECK("  mq_open(over RLIMIT_MSGQUEUE)", mq_open(qname, O_RDWR | O_CREAT, 0600, &a));
        a.mq_msgsize = 104;
        mqd_t q = mq_open(qname, O_RDWR | O_CREAT, 0600, &a);
        FACT("  mq_open(at RLIMIT_MSGQUEUE)", q >= 0);
        struct mq_attr one = {0, 1, 1, 0};
        CHECK("  mq_open(one more byte)", mq_open(qname2, O_RDWR | O_CREAT, 0600, &one));
        mq_unlink(qname);
        CHECK("  mq_open(still charged while open)",
              mq_open(qname2, O_RDWR | O_CREAT, 0600, &one));
        mq_close(q);
        q = mq_open(qname2, O_RDWR | O_CREAT, 0600, &one);
        FACT("  mq_open(after the last close)", q >= 0);
        mq_unlink(qname2);
        rl.rlim_cur = rl.rlim_max = 3;
        setrlimit(RLIMIT_NOFILE, &rl);
        CHECK("  mq_open(RLIMIT_NOFILE)", mq_open(qname2, O_RDWR | O_CREAT, 0600, &one));
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    umask(022);
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(qname, sizeof qname, "/compatd-abi-mq-%d", (int)getpid());
    snprintf(qname2, sizeof qname2, "/compatd-abi-mq2-%d", (int)getpid());
    limits();
    names();
    attributes();

    struct mq_attr a = {0, 4, 32, 0};
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0666, &a);
    FACT("mq_open(create)", q == 3);
    mqd_t wr = mq_open(qname, O_WRONLY);
    mqd_t rd = mq_open(qname, O_RDONLY);
    FACT("mq_open(write-only, read-only)", wr >= 0 && rd >= 0);
    as_a_file(q);
    send_receive(q, wr, rd);
    readiness(q);
    across_fork(q);
    interrupted(q, 0);
    interrupted(q, 1);
    notification(q);
    mq_close(wr);
    mq_close(rd);
    lifetime(q);
    permissions();
    return 0;
}
