/* newfstatat/fstat/stat/lstat/statx: size, file type, permission bits, nlink.
 * argv[1]: the base directory. */
#include "abi.h"
#include <sys/stat.h>

static void show(const char *label, long r, const struct stat *st)
{
    if (r < 0) {
        SAY("%s = -1 %s", label, abi_errname(errno));
        return;
    }
    SAY("%s: type=%s perm=%04o size=%ld nlink=%lu", label, abi_ftype(st->st_mode),
        st->st_mode & 07777, S_ISDIR(st->st_mode) ? -1L : (long)st->st_size,
        (unsigned long)st->st_nlink);
}

static void showx(const char *label, long r, const struct statx *sx)
{
    if (r < 0) {
        SAY("%s = -1 %s", label, abi_errname(errno));
        return;
    }
    SAY("%s: basic=%s type=%s perm=%04o size=%lld nlink=%u", label,
        (sx->stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "yes" : "no",
        abi_ftype(sx->stx_mode), sx->stx_mode & 07777,
        S_ISDIR(sx->stx_mode) ? -1LL : (long long)sx->stx_size, sx->stx_nlink);
}

#define ST(label, call)                                                                  \
    do {                                                                                 \
        struct stat _st;                                                                 \
        memset(&_st, 0, sizeof _st);                                                     \
        errno = 0;                                                                       \
        long _r = (long)(call);                                                          \
        show(label, _r, &_st);                                                           \
    } while (0)

#define STX(label, call)                                                                 \
    do {                                                                                 \
        struct statx _sx;                                                                \
        memset(&_sx, 0, sizeof _sx);                                                     \
        errno = 0;                                                                       \
        long _r = (long)(call);                                                          \
        showx(label, _r, &_sx);                                                          \
    } while (0)

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("file", "twelve bytes");
    CHECK("chmod-less: open(0600)", open("private", O_CREAT | O_WRONLY, 0600));
    close(4);
    CHECK("mkdir dir", mkdir("dir", 0750));
    CHECK("mkdir dir/sub1", mkdir("dir/sub1", 0755));
    CHECK("mkdir dir/sub2", mkdir("dir/sub2", 0755));
    abi_put("dir/f", "");
    CHECK("symlink", symlink("file", "link"));
    CHECK("symlink dangling", symlink("nowhere", "dangling"));

    /* raw legacy syscalls */
    ST("SYS_stat file", syscall(SYS_stat, "file", &_st));
    ST("SYS_stat private", syscall(SYS_stat, "private", &_st));
    ST("SYS_stat dir", syscall(SYS_stat, "dir", &_st));
    ST("SYS_stat link", syscall(SYS_stat, "link", &_st));
    ST("SYS_lstat link", syscall(SYS_lstat, "link", &_st));
    ST("SYS_lstat file", syscall(SYS_lstat, "file", &_st));
    ST("SYS_stat dangling", syscall(SYS_stat, "dangling", &_st));
    ST("SYS_lstat dangling", syscall(SYS_lstat, "dangling", &_st));
    ST("SYS_stat missing", syscall(SYS_stat, "missing", &_st));
    ST("SYS_stat file/x", syscall(SYS_stat, "file/x", &_st));
    ST("SYS_stat file/", syscall(SYS_stat, "file/", &_st));
    ST("SYS_stat dir/", syscall(SYS_stat, "dir/", &_st));
    ST("SYS_lstat link/", syscall(SYS_lstat, "link/", &_st));
    ST("SYS_stat \"\"", syscall(SYS_stat, "", &_st));
    ST("SYS_stat EFAULT path", syscall(SYS_stat, BADPTR, &_st));
    CHECK("SYS_stat EFAULT buf", syscall(SYS_stat, "file", BADPTR));
    int fd = open("file", O_RDONLY);
    ST("SYS_fstat file", syscall(SYS_fstat, fd, &_st));
    ST("SYS_fstat bad fd", syscall(SYS_fstat, 99, &_st));
    CHECK("SYS_fstat EFAULT", syscall(SYS_fstat, fd, BADPTR));
    ST("SYS_fstat stdout", syscall(SYS_fstat, 1, &_st) < 0 ? -1 : 0);

    /* newfstatat */
    ST("newfstatat(AT_FDCWD, file)", syscall(SYS_newfstatat, AT_FDCWD, "file", &_st, 0));
    ST("newfstatat(fd, \"\", AT_EMPTY_PATH)",
       syscall(SYS_newfstatat, fd, "", &_st, AT_EMPTY_PATH));
    ST("newfstatat(fd, \"\") no flag", syscall(SYS_newfstatat, fd, "", &_st, 0));
    ST("newfstatat(link, NOFOLLOW)",
       syscall(SYS_newfstatat, AT_FDCWD, "link", &_st, AT_SYMLINK_NOFOLLOW));
    ST("newfstatat(bad flags)", syscall(SYS_newfstatat, AT_FDCWD, "file", &_st, 0x1));
    int dfd = open("dir", O_RDONLY | O_DIRECTORY);
    ST("newfstatat(dirfd, f)", syscall(SYS_newfstatat, dfd, "f", &_st, 0));
    ST("newfstatat(dirfd, ..)", syscall(SYS_newfstatat, dfd, "..", &_st, 0));
    ST("newfstatat(filefd, x)", syscall(SYS_newfstatat, fd, "x", &_st, 0));
    ST("newfstatat(bad dirfd)", syscall(SYS_newfstatat, 99, "x", &_st, 0));
    ST("newfstatat(dir fd, \"\", EMPTY)", syscall(SYS_newfstatat, dfd, "", &_st, AT_EMPTY_PATH));

    /* libc wrappers (glibc 2.36 uses newfstatat/statx underneath) */
    ST("stat()", stat("file", &_st));
    ST("lstat()", lstat("link", &_st));
    ST("fstat()", fstat(fd, &_st));
    ST("fstatat()", fstatat(dfd, "sub1", &_st, 0));

    /* statx */
    STX("statx file", statx(AT_FDCWD, "file", 0, STATX_BASIC_STATS, &_sx));
    STX("statx dir", statx(AT_FDCWD, "dir", 0, STATX_BASIC_STATS, &_sx));
    STX("statx link", statx(AT_FDCWD, "link", 0, STATX_BASIC_STATS, &_sx));
    STX("statx link NOFOLLOW", statx(AT_FDCWD, "link", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &_sx));
    STX("statx fd EMPTY_PATH", statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &_sx));
    STX("statx mask 0", statx(AT_FDCWD, "file", 0, 0, &_sx));
    STX("statx missing", statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &_sx));
    STX("statx bad flags", statx(AT_FDCWD, "file", 0x40000000, STATX_BASIC_STATS, &_sx));
    STX("statx STATX__RESERVED", statx(AT_FDCWD, "file", 0, 0x80000000U, &_sx));
    STX("statx dirfd", statx(dfd, "sub2", 0, STATX_BASIC_STATS, &_sx));
    CHECK("statx EFAULT buf", syscall(SYS_statx, AT_FDCWD, "file", 0, STATX_BASIC_STATS, BADPTR));
    CHECK("statx EFAULT path", syscall(SYS_statx, AT_FDCWD, BADPTR, 0, STATX_BASIC_STATS, &(struct statx){0}));

    /* sizes follow writes and truncation */
    int wfd = open("file", O_WRONLY | O_APPEND);
    write(wfd, "++", 2);
    ST("fstat after append", fstat(fd, &_st));
    ftruncate(wfd, 3);
    ST("stat after truncate", stat("file", &_st));
    close(wfd);

    /* nlink of a directory changes with subdirectories */
    CHECK("rmdir dir/sub2", rmdir("dir/sub2"));
    ST("stat dir", stat("dir", &_st));

    /* stdio and devices */
    ST("stat /dev/null", stat("/dev/null", &_st));
    ST("stat /", stat("/", &_st) < 0 ? -1 : 0);
    ST("stat /etc/passwd", stat("/etc/passwd", &_st) < 0 ? -1 : 0);

    close(fd);
    close(dfd);
    unlink("file");
    unlink("private");
    unlink("link");
    unlink("dangling");
    unlink("dir/f");
    rmdir("dir/sub1");
    rmdir("dir");
    abi_leave(argc, argv);
    return 0;
}
