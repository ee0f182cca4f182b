/* TCP and UDP on the loopback (127.0.0.1 and ::1): a listener on an ephemeral port and a
 * client in the same process, blocking and non-blocking connect, accept4, send/recv,
 * shutdown, socket options, getsockname/getpeername (ports are never printed), UDP
 * sendto/recvfrom/connect, and the errors of each step. */
#include "abi.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

static int getint(int s, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, name, &v, &l) < 0)
        return -errno;
    return v;
}

static void tcp4(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_OK("socket", l);
    int one = 1;
    CHECK("SO_REUSEADDR", setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    SAY("SO_REUSEADDR now %d", getint(l, SOL_SOCKET, SO_REUSEADDR));
    SAY("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d", getint(l, SOL_SOCKET, SO_TYPE),
        getint(l, SOL_SOCKET, SO_DOMAIN), getint(l, SOL_SOCKET, SO_PROTOCOL));
    struct sockaddr_in a = {0}, b = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK("bind 127.0.0.1:0", bind(l, (void *)&a, sizeof a));
    CHECK("bind short", bind(l, (void *)&a, 4));
    socklen_t bl = sizeof b;
    CHECK("getsockname", getsockname(l, (void *)&b, &bl));
    SAY("bound len %d family %d addr %s port nonzero %d", (int)bl, b.sin_family,
        inet_ntoa(b.sin_addr), b.sin_port != 0);
    SAY("SO_ACCEPTCONN before listen %d", getint(l, SOL_SOCKET, SO_ACCEPTCONN));
    CHECK("listen", listen(l, 8));
    SAY("SO_ACCEPTCONN %d", getint(l, SOL_SOCKET, SO_ACCEPTCONN));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    char buf[64];
    CHECK("read unconnected", read(c, buf, 1));
    CHECK("connect", connect(c, (void *)&b, bl));
    CHECK("connect again", connect(c, (void *)&b, bl));
    CHECK("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    SAY("TCP_NODELAY now %d", getint(c, IPPROTO_TCP, TCP_NODELAY));
    CHECK("SO_KEEPALIVE", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    SAY("SO_KEEPALIVE now %d", getint(c, SOL_SOCKET, SO_KEEPALIVE));
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int s = accept4(l, (void *)&peer, &pl, SOCK_NONBLOCK);
    CHECK_OK("accept4", s);
    SAY("peer len %d addr %s", (int)pl, inet_ntoa(peer.sin_addr));
    SAY("accepted O_NONBLOCK %d", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    struct sockaddr_in cn, sp;
    socklen_t cnl = sizeof cn, spl = sizeof sp;
    getsockname(c, (void *)&cn, &cnl);
    getpeername(s, (void *)&sp, &spl);
    FACT("client name = server's peer", cn.sin_port == sp.sin_port);
    CHECK("recv nothing yet", recv(s, buf, sizeof buf, 0));
    CHECK("send", send(c, "hello tcp", 9, 0));
    struct pollfd pfd = {s, POLLIN, 0};
    poll(&pfd, 1, 5000);
    int n = -1;
    ioctl(s, FIONREAD, &n);
    SAY("FIONREAD %d", n);
    CHECK("recv peek", recv(s, buf, 5, MSG_PEEK));
    CHECK("recv", recv(s, buf, sizeof buf, 0));
    struct iovec iov[2] = {{(void *)"wri", 3}, {(void *)"tev", 3}};
    CHECK("writev", writev(s, iov, 2));
    memset(buf, 0, sizeof buf);
    CHECK("recv MSG_WAITALL", recv(c, buf, 6, MSG_WAITALL));
    SAY("got %s", buf);
    CHECK("shutdown SHUT_WR", shutdown(c, SHUT_WR));
    fcntl(s, F_SETFL, 0);
    CHECK("read EOF", read(s, buf, sizeof buf));
    close(s);
    close(c);
    /* non-blocking connect */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK("non-blocking connect", connect(c, (void *)&b, bl));
    pfd.fd = c;
    pfd.events = POLLOUT;
    CHECK("poll POLLOUT", poll(&pfd, 1, 5000));
    SAY("SO_ERROR %d", getint(c, SOL_SOCKET, SO_ERROR));
    s = accept(l, NULL, NULL);
    CHECK_OK("accept", s);
    close(s);
    close(c);
    close(l);
    /* a closed port */
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("connect to a closed port", connect(c, (void *)&b, bl));
    close(c);
    signal(SIGPIPE, SIG_IGN);
}

static void tcp6(void)
{
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    CHECK("IPV6_V6ONLY", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    SAY("IPV6_V6ONLY now %d", getint(l, IPPROTO_IPV6, IPV6_V6ONLY));
    struct sockaddr_in6 a = {0}, b;
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    CHECK("bind [::1]:0", bind(l, (void *)&a, sizeof a));
    socklen_t bl = sizeof b;
    getsockname(l, (void *)&b, &bl);
    char txt[64];
    SAY("bound len %d addr %s", (int)bl, inet_ntop(AF_INET6, &b.sin6_addr, txt, sizeof txt));
    CHECK("listen", listen(l, 1));
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK("connect", connect(c, (void *)&b, bl));
    int s = accept(l, NULL, NULL);
    CHECK("send", send(s, "six", 3, 0));
    char buf[8] = {0};
    CHECK("recv", recv(c, buf, 3, MSG_WAITALL));
    SAY("got %s", buf);
    close(s);
    close(c);
    close(l);
}

static void udp(void)
{
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0}, b, from;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK("bind udp", bind(r, (void *)&a, sizeof a));
    socklen_t bl = sizeof b;
    getsockname(r, (void *)&b, &bl);
    int w = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK("send unconnected", send(w, "x", 1, 0));
    CHECK("sendto", sendto(w, "datagram one", 12, 0, (void *)&b, bl));
    CHECK("sendto", sendto(w, "two", 3, 0, (void *)&b, bl));
    char buf[64];
    socklen_t fl = sizeof from;
    CHECK("recvfrom short (truncates)", recvfrom(r, buf, 4, 0, (void *)&from, &fl));
    SAY("from len %d addr %s", (int)fl, inet_ntoa(from.sin_addr));
    struct iovec iov = {buf, 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    CHECK("recvmsg 1 byte", recvmsg(r, &m, 0));
    SAY("MSG_TRUNC %d", !!(m.msg_flags & MSG_TRUNC));
    CHECK("recv dontwait", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    CHECK("connect udp", connect(w, (void *)&b, bl));
    CHECK("send connected", send(w, "three", 5, 0));
    CHECK("recv", recv(r, buf, sizeof buf, 0));
    struct mmsghdr mm[2];
    struct iovec v[2] = {{(void *)"m1", 2}, {(void *)"m22", 3}};
    memset(mm, 0, sizeof mm);
    mm[0].msg_hdr.msg_iov = &v[0];
    mm[0].msg_hdr.msg_iovlen = 1;
    mm[1].msg_hdr.msg_iov = &v[1];
    mm[1].msg_hdr.msg_iovlen = 1;
    CHECK("sendmmsg", sendmmsg(w, mm, 2, 0));
    SAY("msg_len %u %u", mm[0].msg_len, mm[1].msg_len);
    char r1[8], r2[8];
    struct iovec rv[2] = {{r1, sizeof r1}, {r2, sizeof r2}};
    memset(mm, 0, sizeof mm);
    mm[0].msg_hdr.msg_iov = &rv[0];
    mm[0].msg_hdr.msg_iovlen = 1;
    mm[1].msg_hdr.msg_iov = &rv[1];
    mm[1].msg_hdr.msg_iovlen = 1;
    struct pollfd pfd = {r, POLLIN, 0};
    poll(&pfd, 1, 5000);
    usleep(10000);
    CHECK("recvmmsg", recvmmsg(r, mm, 2, MSG_WAITFORONE, NULL));
    SAY("msg_len %u %u", mm[0].msg_len, mm[1].msg_len);
    close(r);
    close(w);
}

int main(void)
{
    tcp4();
    tcp6();
    udp();
    int n = socket(AF_INET, SOCK_STREAM, 0);
    char b[4];
    errno = 0;
    CHECK("getsockopt bad level", getsockopt(n, SOL_SOCKET, 9999, b, &(socklen_t){4}));
    CHECK("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    CHECK("ENOTSOCK", listen(1, 1));
    return 0;
}
