/* memfd_create (data, mmap, seals) and O_TMPFILE (unnamed, linkat through /proc/self/fd
 * and AT_EMPTY_PATH, O_EXCL), in the directory given (cwd or /tmp). */
#include "abi.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : ".";
    if (chdir(base) != 0 && mkdir(base, 0755) == 0)
        chdir(base);
    int fd = memfd_create("abi", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    FACT("memfd_create", fd >= 0);
    CHECK("write", write(fd, "hello memfd", 11));
    CHECK("ftruncate 4096", ftruncate(fd, 4096));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    FACT("mmap shared", p != MAP_FAILED);
    if (p != MAP_FAILED) {
        SAY("mapped: %.11s", p);
        memcpy(p, "HELLO", 5);
        char b[12] = {0};
        pread(fd, b, 11, 0);
        SAY("read back through the fd: %s", b);
    }
    CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    CHECK("F_ADD_SEALS(GROW)", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    CHECK("F_ADD_SEALS(SEAL)", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    CHECK("F_ADD_SEALS after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    int fd2 = memfd_create("noseal", 0);
    CHECK("F_GET_SEALS without ALLOW_SEALING", fcntl(fd2, F_GET_SEALS));
    CHECK("F_ADD_SEALS without ALLOW_SEALING", fcntl(fd2, F_ADD_SEALS, F_SEAL_GROW));
    CHECK("memfd_create bad flags", memfd_create("x", 0x100));
    struct stat s;
    fstat(fd, &s);
    SAY("memfd mode %o size %ld nlink %ld", s.st_mode & 07777, (long)s.st_size, (long)s.st_nlink);
    CHECK("F_GET_SEALS on a pipe-less regular fd", fcntl(1, F_GET_SEALS) < 0 ? -1 : 0);

    int t = open(".", O_TMPFILE | O_RDWR, 0600);
    FACT("O_TMPFILE", t >= 0);
    CHECK("write tmpfile", write(t, "tmp data\n", 9));
    fstat(t, &s);
    SAY("tmpfile nlink %ld size %ld mode %o", (long)s.st_nlink, (long)s.st_size, s.st_mode & 07777);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", t);
    CHECK("linkat via /proc/self/fd", linkat(AT_FDCWD, path, AT_FDCWD, "named.txt", AT_SYMLINK_FOLLOW));
    fstat(t, &s);
    SAY("after link nlink %ld", (long)s.st_nlink);
    CHECK("O_TMPFILE read-only", open(".", O_TMPFILE | O_RDONLY, 0600));
    CHECK("O_TMPFILE on a file", open("named.txt", O_TMPFILE | O_RDWR, 0600));
    int x = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
    snprintf(path, sizeof path, "/proc/self/fd/%d", x);
    CHECK("linkat of O_EXCL tmpfile", linkat(AT_FDCWD, path, AT_FDCWD, "never.txt", AT_SYMLINK_FOLLOW));
    CHECK("unlink named.txt", unlink("named.txt"));
    return 0;
}
