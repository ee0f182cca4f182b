/* Calls that a test seccomp profile decides by name and by argument; prints each result,
 * never a pid or an fd number that could differ between runs. With "kill": calls acct,
 * which the profile kills. */
#define _GNU_SOURCE  /* strerrorname_np */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static void show(const char *what, long ret) {
    if (ret < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = ok\n", what);
    fflush(stdout);
}

static void value(const char *what, long ret) {
    if (ret < 0)
        show(what, ret);
    else
        printf("%s = %ld\n", what, ret);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        puts("acct");
        fflush(stdout);
        acct(NULL);
        puts("survived acct");
        return 0;
    }
    struct utsname u;
    show("mkdir", mkdir("d1", 0755));
    show("mkdirat", mkdirat(AT_FDCWD, "d2", 0755));
    show("uname", uname(&u));
    show("socket(AF_INET6)", socket(AF_INET6, SOCK_STREAM, 0));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("socket(AF_UNIX)", s);
    close(s);
    show("getpid", getpid());
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
    show("open", fd);
    show("write", write(fd, "0123456789", 10));
    /* dup is denied from fd 5 up. */
    for (int i = 4; i <= 6; i++)
        dup2(fd, i);
    show("dup(4)", syscall(SYS_dup, 4));
    show("dup(5)", syscall(SYS_dup, 5));
    show("dup(6)", syscall(SYS_dup, 6));
    show("fchmod(0644)", fchmod(fd, 0644));
    show("fchmod(04755)", fchmod(fd, 04755));
    value("lseek(50, SEEK_SET)", lseek(fd, 50, SEEK_SET));
    value("lseek(200, SEEK_SET)", lseek(fd, 200, SEEK_SET));
    value("lseek(200, SEEK_CUR)", lseek(fd, 200, SEEK_CUR));
    value("lseek(-1, SEEK_END)", lseek(fd, -1, SEEK_END));
    value("lseek(0, SEEK_SET)", lseek(fd, 0, SEEK_SET));
    return 0;
}
