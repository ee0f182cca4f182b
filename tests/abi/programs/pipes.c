/* pipe/pipe2, capacity and atomicity, F_GETPIPE_SZ/F_SETPIPE_SZ, FIONREAD, fstat of a pipe,
 * EPIPE (SIGPIPE ignored), EOF, O_NONBLOCK, FIFOs by path; pipes with the calls of the file
 * family (sync_file_range, fadvise64, pwritev, preadv2). argv[1]: the base directory. */
#include "abi.h"
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

static int nread(int fd)
{
    int n = -1;
    ioctl(fd, FIONREAD, &n);
    return n;
}

static long fill(int fd, size_t chunk)
{
    static char buf[70000];
    long total = 0, n;
    while ((n = write(fd, buf, chunk)) > 0)
        total += n;
    return total;
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    int p[2], q[2];
    char buf[70000];
    CHECK("pipe", pipe(p));
    CHECK("write", write(p[1], "hello", 5));
    SAY("FIONREAD %d", nread(p[0]));
    CHECK("read", read(p[0], buf, sizeof buf));
    CHECK("read end write EBADF", write(p[0], "x", 1));
    CHECK("write end read EBADF", read(p[1], buf, 1));
    CHECK("lseek ESPIPE", lseek(p[0], 0, SEEK_SET));
    CHECK("pread ESPIPE", pread(p[0], buf, 1, 0));
    struct stat s, s2;
    CHECK("fstat", fstat(p[0], &s));
    SAY("type %s mode %o size %ld nlink %ld blksize %ld", abi_ftype(s.st_mode), s.st_mode & 07777,
        (long)s.st_size, (long)s.st_nlink, (long)s.st_blksize);
    fstat(p[1], &s2);
    FACT("both ends one inode", s.st_ino == s2.st_ino && s.st_dev == s2.st_dev);
    CHECK("pipe2 O_CLOEXEC|O_NONBLOCK", pipe2(q, O_CLOEXEC | O_NONBLOCK));
    fstat(q[0], &s2);
    FACT("another pipe, another inode", s.st_ino != s2.st_ino);
    SAY("F_GETFL r %#x w %#x", fcntl(q[0], F_GETFL), fcntl(q[1], F_GETFL));
    SAY("F_GETFD %d", fcntl(q[0], F_GETFD));
    CHECK("pipe2 bad flags EINVAL", pipe2(q + 0, 0x1));
    CHECK("pipe EFAULT", pipe(BADPTR));
    CHECK("empty nonblocking read EAGAIN", read(q[0], buf, 10));

    /* capacity */
    CHECK("F_GETPIPE_SZ", fcntl(q[1], F_GETPIPE_SZ));
    SAY("fill by 4096: %ld", fill(q[1], 4096));
    CHECK("full: write 1 EAGAIN", write(q[1], "x", 1));
    SAY("FIONREAD %d", nread(q[0]));
    CHECK("read 4096", read(q[0], buf, 4096));
    CHECK("write 100 after a page freed", write(q[1], buf, 100));
    CHECK("write 5000 (partial)", write(q[1], buf, 5000));
    CHECK("drain", read(q[0], buf, sizeof buf));
    CHECK("drain", read(q[0], buf, sizeof buf));
    SAY("fill by 100: %ld", fill(q[1], 100));
    CHECK("drain", read(q[0], buf, sizeof buf));
    SAY("FIONREAD %d", nread(q[0]));
    CHECK("drain rest", read(q[0], buf, sizeof buf));
    SAY("fill by 3000: %ld", fill(q[1], 3000));
    while (read(q[0], buf, sizeof buf) > 0)
        ;
    SAY("fill by 5000: %ld", fill(q[1], 5000));
    while (read(q[0], buf, sizeof buf) > 0)
        ;
    CHECK("F_SETPIPE_SZ 5000", fcntl(q[1], F_SETPIPE_SZ, 5000));
    CHECK("F_SETPIPE_SZ 0", fcntl(q[1], F_SETPIPE_SZ, 0));
    CHECK("F_GETPIPE_SZ", fcntl(q[0], F_GETPIPE_SZ));
    SAY("fill small: %ld", fill(q[1], 1000));
    CHECK("F_SETPIPE_SZ 8192 with data", fcntl(q[1], F_SETPIPE_SZ, 8192));
    while (read(q[0], buf, sizeof buf) > 0)
        ;
    CHECK("F_SETPIPE_SZ 100000", fcntl(q[1], F_SETPIPE_SZ, 100000));
    CHECK("F_SETPIPE_SZ 2MiB (root)", fcntl(q[1], F_SETPIPE_SZ, 2 << 20));
    CHECK("F_SETPIPE_SZ huge EINVAL", fcntl(q[1], F_SETPIPE_SZ, 0x80000001));
    SAY("fill 2MiB pipe by 65536: %ld", fill(q[1], 65536));
    int fd = open("plain", O_RDWR | O_CREAT, 0644);
    CHECK("F_GETPIPE_SZ on a file EBADF", fcntl(fd, F_GETPIPE_SZ));
    close(fd);
    unlink("plain");

    /* ends closing */
    close(q[1]);
    while (read(q[0], buf, sizeof buf) > 0)
        ;
    CHECK("EOF without writers", read(q[0], buf, 10));
    close(q[0]);
    CHECK("pipe", pipe(q));
    close(q[0]);
    CHECK("write without readers EPIPE", write(q[1], "x", 1));
    CHECK("write 0 without readers", write(q[1], "x", 0));
    close(q[1]);

    /* the file family on pipes */
    struct iovec v = {buf, 3};
    CHECK("sync_file_range ESPIPE", sync_file_range(p[0], 0, 0, 0));
    CHECK("fadvise ESPIPE", syscall(SYS_fadvise64, p[0], 0, 0, 0));
    CHECK("pwritev ESPIPE", pwritev(p[1], &v, 1, 0));
    CHECK("pwritev2 -1", pwritev2(p[1], &v, 1, -1, 0));
    CHECK("preadv2 -1", preadv2(p[0], &v, 1, -1, 0));
    CHECK("preadv2 RWF_NOWAIT empty EAGAIN", preadv2(p[0], &v, 1, -1, RWF_NOWAIT));
    CHECK("fallocate ESPIPE", fallocate(p[1], 0, 0, 1));
    CHECK("ftruncate EINVAL", ftruncate(p[1], 0));
    close(p[0]);
    close(p[1]);

    /* FIFOs */
    CHECK("mkfifo", mkfifo("fifo", 0644));
    CHECK("open write O_NONBLOCK no reader ENXIO", open("fifo", O_WRONLY | O_NONBLOCK));
    int r = open("fifo", O_RDONLY | O_NONBLOCK);
    CHECK_OK("open read O_NONBLOCK", r);
    CHECK("read no writer (EOF)", read(r, buf, 10));
    int w = open("fifo", O_WRONLY);
    CHECK_OK("open write with a reader", w);
    CHECK("write", write(w, "via fifo", 8));
    int rw = open("fifo", O_RDWR);
    CHECK_OK("open O_RDWR", rw);
    SAY("FIONREAD via another open %d", nread(rw));
    CHECK("read", read(rw, buf, 100));
    CHECK("empty with writers EAGAIN", read(r, buf, 10));
    fstat(r, &s);
    SAY("fifo fstat: %s %o", abi_ftype(s.st_mode), s.st_mode & 07777);
    CHECK("F_GETPIPE_SZ fifo", fcntl(r, F_GETPIPE_SZ));
    close(w);
    close(rw);
    close(r);
    unlink("fifo");
    abi_leave(argc, argv);
    return 0;
}
