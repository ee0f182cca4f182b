/* AF_UNIX sockets by path, abstract name and autobind; stream, datagram and seqpacket;
 * a server and a client across fork; SCM_RIGHTS passing a pipe between processes;
 * SCM_CREDENTIALS and SO_PEERCRED; the errors of each step. argv[1]: the base directory. */
#include "abi.h"
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        strcpy(a->sun_path + 1, path);
        return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    }
    strcpy(a->sun_path, path);
    return sizeof *a;
}

static int send_fd(int sock, int fd, const char *data)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &m, 0);
}

static int recv_fd(int sock, char *buf, size_t len, int *flags, int ctlspace, int rflags)
{
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {buf, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctlspace ? ctl : NULL;
    m.msg_controllen = ctlspace;
    int fd = -1;
    long n = recvmsg(sock, &m, rflags);
    if (n < 0)
        return -1;
    buf[n] = 0;
    *flags = m.msg_flags;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static void path_server_client(void)
{
    struct sockaddr_un a, b;
    socklen_t len = mkaddr(&a, "srv.sock", 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("listen unbound", listen(s, 5));
    CHECK("bind path", bind(s, (void *)&a, len));
    CHECK("bind again", bind(s, (void *)&a, len));
    struct stat st;
    CHECK("stat socket file", stat("srv.sock", &st));
    SAY("type %s", abi_ftype(st.st_mode));
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("bind in use", bind(s2, (void *)&a, len));
    CHECK("connect not listening", connect(s2, (void *)&a, len));
    CHECK("listen", listen(s, 5));
    socklen_t bl = sizeof b;
    CHECK("getsockname", getsockname(s, (void *)&b, &bl));
    SAY("name len %d path %s", (int)bl, b.sun_path);
    pid_t p = fork();
    if (p == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK("child connect", connect(c, (void *)&a, len));
        socklen_t pl = sizeof b;
        CHECK("child getpeername", getpeername(c, (void *)&b, &pl));
        SAY("child peer %s", b.sun_path);
        CHECK("child write", write(c, "ping", 4));
        char buf[16] = {0};
        CHECK("child read", read(c, buf, sizeof buf - 1));
        SAY("child got %s", buf);
        struct ucred cr;
        socklen_t cl = sizeof cr;
        CHECK("child SO_PEERCRED", getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
        FACT("child: peer pid is the parent", cr.pid == getppid());
        FACT("child: peer uid is mine", cr.uid == geteuid());
        _exit(0);
    }
    /* The parent prints nothing until the child is done (their lines would interleave). */
    socklen_t pl = sizeof b;
    int c = accept4(s, (void *)&b, &pl, SOCK_CLOEXEC);
    int accept_errno = errno;
    char buf[16] = {0};
    long nr = read(c, buf, sizeof buf - 1);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    long pc = getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
    long nw = write(c, "pong", 4);
    int status;
    waitpid(p, &status, 0);
    SAY("accept4 %s", c >= 0 ? "ok" : abi_errname(accept_errno));
    SAY("accepted peer addr len %d", (int)pl);
    SAY("accepted FD_CLOEXEC %d", fcntl(c, F_GETFD));
    SAY("read %ld: server got %s", nr, buf);
    SAY("SO_PEERCRED %ld", pc);
    FACT("peer pid is the child", cr.pid == p);
    SAY("write %ld", nw);
    CHECK("read after the child exit", read(c, buf, sizeof buf));
    int v;
    socklen_t vl = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    SAY("SO_ACCEPTCONN %d", v);
    getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl);
    SAY("SO_TYPE %d", v);
    close(c);
    close(s);
    close(s2);
    int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("connect after the listener closed", connect(s3, (void *)&a, len));
    close(s3);
    CHECK("unlink", unlink("srv.sock"));
    s3 = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("connect to a missing name", connect(s3, (void *)&a, len));
    abi_put("plain", "x");
    len = mkaddr(&a, "plain", 0);
    CHECK("connect to a regular file", connect(s3, (void *)&a, len));
    unlink("plain");
    close(s3);
}

static void abstract_names(void)
{
    struct sockaddr_un a, b;
    socklen_t len = mkaddr(&a, "compatd-abi-abstract", 1);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK("bind abstract", bind(s, (void *)&a, len));
    socklen_t bl = sizeof b;
    getsockname(s, (void *)&b, &bl);
    FACT("abstract name kept", bl == len && memcmp(&a, &b, len) == 0);
    CHECK("listen", listen(s, 1));
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK("connect abstract", connect(c, (void *)&a, len));
    int d = accept(s, NULL, NULL);
    CHECK_OK("accept", d);
    CHECK("send record 1", send(c, "first", 5, 0));
    CHECK("send record 2", send(c, "second", 6, 0));
    char buf[16];
    struct iovec iov = {buf, 3};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    CHECK("recvmsg short", recvmsg(d, &m, 0));
    SAY("msg_flags MSG_TRUNC %d", !!(m.msg_flags & MSG_TRUNC));
    CHECK("recv next record", recv(d, buf, sizeof buf, 0));
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK("autobind", bind(u, (void *)&a, sizeof(sa_family_t)));
    bl = sizeof b;
    getsockname(u, (void *)&b, &bl);
    SAY("autobind len %d first byte %d", (int)bl, b.sun_path[0]);
    int e = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("connect: wrong type", connect(e, (void *)&a, len));
    close(c);
    CHECK("recv after the peer closed", recv(d, buf, sizeof buf, 0));
    close(d);
    close(s);
    close(e);
    close(u);
}

static void datagrams(void)
{
    struct sockaddr_un a, from;
    socklen_t len = mkaddr(&a, "dgram.sock", 0);
    int r = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK("bind dgram", bind(r, (void *)&a, len));
    int w = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK("send unconnected", send(w, "x", 1, 0));
    CHECK("sendto path", sendto(w, "hello", 5, 0, (void *)&a, len));
    char buf[16];
    socklen_t fl = sizeof from;
    CHECK("recvfrom", recvfrom(r, buf, sizeof buf, 0, (void *)&from, &fl));
    SAY("from len %d", (int)fl);
    struct sockaddr_un wa;
    socklen_t wl = mkaddr(&wa, "dgram-w.sock", 0);
    bind(w, (void *)&wa, wl);
    CHECK("connect dgram", connect(w, (void *)&a, len));
    CHECK("send connected", send(w, "again", 5, 0));
    fl = sizeof from;
    CHECK("recvfrom bound sender", recvfrom(r, buf, sizeof buf, 0, (void *)&from, &fl));
    SAY("from %s", from.sun_path);
    int n = 0;
    while (send(w, "q", 1, MSG_DONTWAIT) > 0)
        n++;
    SAY("queued before EAGAIN: %d (errno %s)", n, abi_errname(errno));
    close(r);
    CHECK("send to a closed receiver", send(w, "x", 1, 0));
    close(w);
    unlink("dgram.sock");
    unlink("dgram-w.sock");
}

static void rights(void)
{
    int sv[2], p[2];
    CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK("pipe", pipe(p));
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char buf[32];
        int fl = 0;
        int fd = recv_fd(sv[1], buf, sizeof buf - 1, &fl, CMSG_SPACE(sizeof(int)), MSG_CMSG_CLOEXEC);
        FACT("child got a descriptor", fd >= 0);
        SAY("child data %s", buf);
        SAY("child FD_CLOEXEC %d", fcntl(fd, F_GETFD));
        struct stat st;
        fstat(fd, &st);
        SAY("child descriptor type %s", abi_ftype(st.st_mode));
        CHECK("child writes into the passed pipe", write(fd, "through", 7));
        int fd2 = recv_fd(sv[1], buf, sizeof buf - 1, &fl, 0, 0);
        SAY("no control space: fd %d MSG_CTRUNC %d data %s", fd2, !!(fl & MSG_CTRUNC), buf);
        _exit(0);
    }
    close(sv[1]);
    long s1 = send_fd(sv[0], p[1], "with-fd");
    long s2 = send_fd(sv[0], p[1], "second");
    close(p[1]);
    char buf[16] = {0};
    waitpid(pid, NULL, 0);
    SAY("send_fd %ld, again %ld", s1, s2);
    CHECK("read from the pipe", read(p[0], buf, sizeof buf - 1));
    SAY("parent read %s", buf);
    CHECK("read EOF: every writer gone", read(p[0], buf, sizeof buf));
    CHECK("send_fd bad fd", send_fd(sv[0], 999, "bad"));
    close(p[0]);
    close(sv[0]);
}

static void credentials(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int on = 1;
    CHECK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    send(sv[0], "c", 1, 0);
    char buf[8], ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    CHECK("recvmsg", recvmsg(sv[1], &m, 0));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    FACT("SCM_CREDENTIALS came", c && c->cmsg_type == SCM_CREDENTIALS);
    if (c) {
        struct ucred cr;
        memcpy(&cr, CMSG_DATA(c), sizeof cr);
        FACT("creds are mine", cr.pid == getpid() && cr.uid == getuid() && cr.gid == getgid());
    }
    struct ucred bad = {getpid() + 100000, getuid(), getgid()};
    m.msg_controllen = sizeof ctl;
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof bad);
    memcpy(CMSG_DATA(c), &bad, sizeof bad);
    iov.iov_len = 1;
    CHECK("send someone else's pid", sendmsg(sv[0], &m, 0));
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    path_server_client();
    abstract_names();
    datagrams();
    rights();
    credentials();
    abi_leave(argc, argv);
    return 0;
}
