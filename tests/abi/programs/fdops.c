/* dup/dup2/dup3, fcntl, ioctl (FIONREAD, FIOCLEX, FIONCLEX, TCGETS), shared offsets.
 * argv[1]: the base directory. */
#include "abi.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("data", "0123456789");
    int fd = open("data", O_RDWR);
    CHECK("open", fd);
    char buf[32];

    /* dup family */
    int d = dup(fd);
    CHECK("dup", d);
    CHECK("dup(bad) EBADF", dup(99));
    CHECK("read 3 via fd", read(fd, buf, 3));
    CHECK("offset via dup (shared)", lseek(d, 0, SEEK_CUR));
    CHECK("SYS_dup2(fd, 10)", syscall(SYS_dup2, fd, 10));
    CHECK("dup2(fd, fd)", dup2(fd, fd));
    CHECK("dup2(bad, 11) EBADF", dup2(99, 11));
    CHECK("dup2(fd, -1) EBADF", dup2(fd, -1));
    CHECK("dup2 over open fd 10", dup2(d, 10));
    CHECK("dup3(fd, 12, O_CLOEXEC)", dup3(fd, 12, O_CLOEXEC));
    CHECK("fcntl(12, F_GETFD)", fcntl(12, F_GETFD));
    CHECK("fcntl(10, F_GETFD)", fcntl(10, F_GETFD));
    CHECK("dup3(fd, fd) EINVAL", dup3(fd, fd, 0));
    CHECK("dup3 bad flags EINVAL", dup3(fd, 13, O_NONBLOCK));
    CHECK("dup3(bad) EBADF", dup3(99, 13, 0));
    CHECK("close 10", close(10));
    CHECK("close 12", close(12));

    /* fcntl */
    CHECK("F_DUPFD(0)", fcntl(fd, F_DUPFD, 0));
    CHECK("F_DUPFD(20)", fcntl(fd, F_DUPFD, 20));
    CHECK("F_DUPFD(20) again", fcntl(fd, F_DUPFD, 20));
    CHECK("F_DUPFD_CLOEXEC(30)", fcntl(fd, F_DUPFD_CLOEXEC, 30));
    CHECK("F_GETFD(30)", fcntl(30, F_GETFD));
    CHECK("F_GETFD(20)", fcntl(20, F_GETFD));
    CHECK("F_SETFD(20, FD_CLOEXEC)", fcntl(20, F_SETFD, FD_CLOEXEC));
    CHECK("F_GETFD(20)", fcntl(20, F_GETFD));
    CHECK("F_GETFD(dup of 20 shares?) 21", fcntl(21, F_GETFD));
    CHECK("F_SETFD(20, 0)", fcntl(20, F_SETFD, 0));
    CHECK("F_GETFD(20)", fcntl(20, F_GETFD));
    CHECK("F_DUPFD(-1) EINVAL", fcntl(fd, F_DUPFD, -1));
    CHECK("F_DUPFD(bad fd) EBADF", fcntl(99, F_DUPFD, 0));
    CHECK("F_GETFD(bad) EBADF", fcntl(99, F_GETFD));
    CHECK("fcntl(unknown cmd) EINVAL", fcntl(fd, 9999));
    SAY("F_GETFL(O_RDWR) = %#o", fcntl(fd, F_GETFL));
    int ro = open("data", O_RDONLY);
    SAY("F_GETFL(O_RDONLY) = %#o", fcntl(ro, F_GETFL));
    int wo = open("data", O_WRONLY | O_APPEND);
    SAY("F_GETFL(O_WRONLY|O_APPEND) = %#o", fcntl(wo, F_GETFL));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    SAY("F_GETFL(O_DIRECTORY) = %#o", fcntl(dir, F_GETFL));
    int cl = open("data", O_RDONLY | O_CLOEXEC);
    SAY("F_GETFL(O_CLOEXEC) = %#o", fcntl(cl, F_GETFL));
    CHECK("F_GETFD(O_CLOEXEC)", fcntl(cl, F_GETFD));
    CHECK("F_SETFL(O_APPEND|O_NONBLOCK)", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
    SAY("F_GETFL after = %#o", fcntl(fd, F_GETFL));
    SAY("F_GETFL of dup (shared file) = %#o", fcntl(d, F_GETFL));
    CHECK("lseek 0", lseek(fd, 0, SEEK_SET));
    CHECK("write appends", write(fd, "AB", 2));
    CHECK("offset after append", lseek(fd, 0, SEEK_CUR));
    CHECK("F_SETFL(O_WRONLY) ignores access mode", fcntl(ro, F_SETFL, O_WRONLY));
    SAY("F_GETFL(ro) = %#o", fcntl(ro, F_GETFL));
    CHECK("write on ro still EBADF", write(ro, "x", 1));
    CHECK("F_SETFL(0)", fcntl(fd, F_SETFL, 0));
    SAY("F_GETFL = %#o", fcntl(fd, F_GETFL));
    CHECK("F_GETFL(bad) EBADF", fcntl(99, F_GETFL));

    /* ioctl */
    int avail = -1;
    CHECK("lseek 4", lseek(fd, 4, SEEK_SET));
    CHECK("ioctl(FIONREAD)", ioctl(fd, FIONREAD, &avail));
    SAY("FIONREAD = %d", avail);
    CHECK("ioctl(FIONREAD, EFAULT)", ioctl(fd, FIONREAD, BADPTR));
    CHECK("ioctl(FIOCLEX)", ioctl(fd, FIOCLEX));
    CHECK("F_GETFD after FIOCLEX", fcntl(fd, F_GETFD));
    CHECK("ioctl(FIONCLEX)", ioctl(fd, FIONCLEX));
    CHECK("F_GETFD after FIONCLEX", fcntl(fd, F_GETFD));
    struct termios t;
    CHECK("ioctl(TCGETS) file ENOTTY", ioctl(fd, TCGETS, &t));
    CHECK("ioctl(TCGETS) dir ENOTTY", ioctl(dir, TCGETS, &t));
    CHECK("ioctl(TIOCGWINSZ) file ENOTTY", ioctl(fd, TIOCGWINSZ, buf));
    CHECK("isatty(file)", isatty(fd));
    CHECK("ioctl(bad fd) EBADF", ioctl(99, FIONREAD, &avail));
    CHECK("ioctl(FIOCLEX bad fd) EBADF", ioctl(99, FIOCLEX));
    CHECK("ioctl(unknown) ENOTTY", ioctl(fd, 0x5401ff, buf));
    int nullfd = open("/dev/null", O_RDONLY);
    CHECK("ioctl(TCGETS) /dev/null ENOTTY", ioctl(nullfd, TCGETS, &t));
    /* stdout/stderr are pipes in the test harness */
    CHECK("ioctl(TCGETS) stdout ENOTTY", ioctl(1, TCGETS, &t));
    CHECK("ioctl(TIOCGWINSZ) stderr ENOTTY", ioctl(2, TIOCGWINSZ, buf));

    close(nullfd);
    close(cl);
    close(dir);
    close(wo);
    close(ro);
    close(20);
    close(21);
    close(30);
    close(6);
    for (int i = 0; i < 40; i++)
        if (i > 3 && i != fd && i != d && fcntl(i, F_GETFD) >= 0)
            SAY("unexpected open fd %d", i);
    close(d);
    int rfd = open("data", O_RDONLY);
    long n = read(rfd, buf, sizeof buf);
    SAY("final data = [%.*s]", (int)n, buf);
    close(rfd);
    close(fd);
    CHECK("unlink", unlink("data"));
    abi_leave(argc, argv);
    return 0;
}
