/* ftruncate/truncate, fsync/fdatasync. argv[1]: the base directory. */
#include "abi.h"

static long size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("f", "abcdefghij");
    int fd = open("f", O_RDWR);
    CHECK("ftruncate(4)", ftruncate(fd, 4));
    SAY("size = %ld", size("f"));
    CHECK("ftruncate(100) grows", ftruncate(fd, 100));
    SAY("size = %ld", size("f"));
    char buf[128];
    memset(buf, 'x', sizeof buf);
    long n = pread(fd, buf, sizeof buf, 0);
    int zeros = 0;
    for (long i = 4; i < n; i++)
        zeros += buf[i] == 0;
    SAY("pread = %ld, head = [%.4s], zero tail = %d", n, buf, zeros);
    CHECK("offset unchanged by ftruncate", lseek(fd, 0, SEEK_CUR));
    CHECK("ftruncate(-1) EINVAL", ftruncate(fd, -1));
    CHECK("ftruncate(bad fd) EBADF", ftruncate(99, 0));
    int ro = open("f", O_RDONLY);
    CHECK("ftruncate(O_RDONLY fd) EINVAL", ftruncate(ro, 0));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("ftruncate(dir fd)", ftruncate(dir, 0));
    CHECK("SYS_truncate(2)", syscall(SYS_truncate, "f", 2));
    SAY("size = %ld", size("f"));
    CHECK("truncate(0)", truncate("f", 0));
    SAY("size = %ld", size("f"));
    CHECK("truncate(missing) ENOENT", truncate("missing", 0));
    CHECK("truncate(dir) EISDIR", truncate(".", 0));
    CHECK("truncate(-5) EINVAL", truncate("f", -5));
    CHECK("truncate(f/) ENOTDIR", truncate("f/", 0));
    CHECK("truncate EFAULT", truncate(BADPTR, 0));
    CHECK("symlink", symlink("f", "lnk"));
    CHECK("truncate via symlink", truncate("lnk", 7));
    SAY("size = %ld", size("f"));
    CHECK("write after truncate at old offset", write(fd, "Q", 1));
    SAY("size = %ld", size("f"));

    CHECK("fsync", fsync(fd));
    CHECK("fdatasync", fdatasync(fd));
    CHECK("fsync(O_RDONLY fd)", fsync(ro));
    CHECK("fsync(dir)", fsync(dir));
    CHECK("fsync(bad) EBADF", fsync(99));
    CHECK("fdatasync(bad) EBADF", fdatasync(99));
    CHECK("fsync(/dev/null)", fsync(open("/dev/null", O_WRONLY)));

    close(fd);
    close(ro);
    close(dir);
    unlink("lnk");
    if (argc > 1 && strcmp(argv[1], ".") != 0)
        unlink("f");
    abi_leave(argc, argv);
    return 0;
}
