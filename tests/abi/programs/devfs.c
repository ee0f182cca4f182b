/* The devfs nodes of issue 2: null, zero, full, random, urandom (tty needs a terminal). */
#include "abi.h"
#include <sys/sysmacros.h>

int main(void)
{
    char buf[64];
    int fd = open("/dev/null", O_RDWR);
    CHECK("open /dev/null", fd);
    CHECK("write /dev/null", write(fd, "abc", 3));
    CHECK("read /dev/null", read(fd, buf, sizeof buf));
    CHECK("lseek /dev/null", lseek(fd, 100, SEEK_SET));
    close(fd);
    fd = open("/dev/zero", O_RDONLY);
    CHECK("open /dev/zero", fd);
    memset(buf, 'x', sizeof buf);
    CHECK("read /dev/zero", read(fd, buf, sizeof buf));
    int zero = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        zero &= buf[i] == 0;
    FACT("all zero", zero);
    close(fd);
    fd = open("/dev/full", O_WRONLY);
    CHECK("open /dev/full", fd);
    CHECK("write /dev/full ENOSPC", write(fd, "abc", 3));
    close(fd);
    fd = open("/dev/full", O_RDONLY);
    CHECK("read /dev/full", read(fd, buf, 8));
    close(fd);
    const char *rnd[] = {"/dev/random", "/dev/urandom", NULL};
    for (int i = 0; rnd[i]; i++) {
        fd = open(rnd[i], O_RDONLY);
        CHECK(rnd[i], fd);
        memset(buf, 0, sizeof buf);
        CHECK("read 64", read(fd, buf, sizeof buf));
        int nz = 0;
        for (size_t j = 0; j < sizeof buf; j++)
            nz |= buf[j];
        FACT("not all zero", nz);
        close(fd);
    }
    struct stat st;
    const char *nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                           "/dev/tty", NULL};
    for (int i = 0; nodes[i]; i++) {
        errno = 0;
        if (stat(nodes[i], &st) == 0)
            SAY("%s: %s %04o major=%u minor=%u", nodes[i], abi_ftype(st.st_mode),
                st.st_mode & 07777, major(st.st_rdev), minor(st.st_rdev));
        else
            SAY("%s: -1 %s", nodes[i], abi_errname(errno));
    }
    CHECK("open /dev/missing ENOENT", open("/dev/missing", O_RDONLY));
    return 0;
}
