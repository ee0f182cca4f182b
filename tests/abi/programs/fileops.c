/* The rest of the file family: link/linkat, mknod/mknodat, statfs/fstatfs, legacy getdents,
 * sync/syncfs/sync_file_range, fallocate, fadvise64, readahead, preadv/pwritev and their v2
 * forms, openat2 with RESOLVE_*, chroot. argv[1]: the base directory. */
#include "abi.h"
#include <linux/openat2.h>
#include <dirent.h>
#include <sys/statfs.h>
#include <sys/uio.h>

struct linux_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

static void show_file(const char *label, const char *path)
{
    char buf[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        SAY("%s: open -1 %s", label, abi_errname(errno));
        return;
    }
    long n = read(fd, buf, sizeof buf);
    close(fd);
    for (long i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = '0';
    SAY("%s: %ld [%.*s]", label, n, (int)(n > 0 ? n : 0), buf);
}

static long openat2_(int dirfd, const char *path, unsigned long long flags,
                     unsigned long long mode, unsigned long long resolve, size_t size)
{
    char buf[64] = {0};
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    memcpy(buf, &how, sizeof how);
    return syscall(SYS_openat2, dirfd, path, buf, size);
}

static void closeok(const char *label, long fd)
{
    CHECK_OK(label, fd);
    if (fd >= 0)
        close(fd);
}

static void links(void)
{
    struct stat s;
    abi_put("a", "hello\n");
    CHECK("link", link("a", "b"));
    stat("a", &s);
    SAY("nlink after link = %ld", (long)s.st_nlink);
    CHECK("link exists EEXIST", link("a", "b"));
    CHECK("link missing ENOENT", link("missing", "c"));
    CHECK("link dir EPERM", (mkdir("d", 0755), link("d", "d2")));
    CHECK("link into missing ENOENT", link("a", "nodir/x"));
    CHECK("link trailing slash", link("a", "c/"));
    CHECK("symlink", symlink("a", "sl"));
    CHECK("linkat no follow", linkat(AT_FDCWD, "sl", AT_FDCWD, "sl2", 0));
    CHECK("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "sl", AT_FDCWD, "sl3", AT_SYMLINK_FOLLOW));
    lstat("sl2", &s);
    SAY("sl2 is %s", abi_ftype(s.st_mode));
    lstat("sl3", &s);
    SAY("sl3 is %s", abi_ftype(s.st_mode));
    CHECK("linkat bad flags EINVAL", linkat(AT_FDCWD, "a", AT_FDCWD, "x", 0x2));
    int fd = open("a", O_RDONLY);
    CHECK("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "e", AT_EMPTY_PATH));
    CHECK("linkat empty without flag ENOENT", linkat(fd, "", AT_FDCWD, "e2", 0));
    CHECK("unlink a", unlink("a"));
    CHECK("unlink b", unlink("b"));
    CHECK("unlink e", unlink("e"));
    CHECK("linkat AT_EMPTY_PATH of unlinked ENOENT", linkat(fd, "", AT_FDCWD, "e3", AT_EMPTY_PATH));
    close(fd);
    CHECK("linkat bad dirfd EBADF", linkat(99, "x", AT_FDCWD, "y", 0));
    show_file("sl3", "sl3");
    unlink("sl");
    unlink("sl2");
    unlink("sl3");
    unlink("e3");
    rmdir("d");
}

static void nodes(void)
{
    struct stat s;
    CHECK("mknod fifo", mknod("fifo", S_IFIFO | 0640, 0));
    stat("fifo", &s);
    SAY("fifo: %s %o", abi_ftype(s.st_mode), s.st_mode & 07777);
    CHECK("mknod reg", mknod("reg", S_IFREG | 0600, 0));
    CHECK("mknod mode 0 (regular)", mknod("reg0", 0644, 0));
    stat("reg0", &s);
    SAY("reg0: %s %o size %ld", abi_ftype(s.st_mode), s.st_mode & 07777, (long)s.st_size);
    CHECK("mknod exists EEXIST", mknod("reg", S_IFREG | 0600, 0));
    CHECK("mknod dir EPERM", mknod("dir", S_IFDIR | 0755, 0));
    CHECK("mknod bad type EINVAL", mknod("bad", 0170000 | 0644, 0));
    CHECK("mknod dir EPERM before EEXIST", mknod("reg", S_IFDIR | 0755, 0));
    CHECK("mknodat fifo", mknodat(AT_FDCWD, "fifo2", S_IFIFO | 0600, 0));
    CHECK("mknodat missing dir ENOENT", mknodat(AT_FDCWD, "nodir/f", S_IFIFO | 0600, 0));
    CHECK("SYS_mknod", syscall(SYS_mknod, "reg2", S_IFREG | 0644, 0));
    unlink("fifo");
    unlink("fifo2");
    unlink("reg");
    unlink("reg0");
    unlink("reg2");
}

static void statfss(void)
{
    struct statfs a, b;
    CHECK("statfs .", statfs(".", &a));
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("fstatfs", fstatfs(fd, &b));
    FACT("same f_type", a.f_type == b.f_type);
    FACT("same f_bsize", a.f_bsize == b.f_bsize);
    SAY("f_namelen %ld", (long)a.f_namelen);
    FACT("f_flags has ST_VALID", a.f_flags & 0x20);
    close(fd);
    int pfd = open(".", O_PATH);
    CHECK("fstatfs O_PATH", fstatfs(pfd, &b));
    close(pfd);
    CHECK("statfs missing ENOENT", statfs("missing", &a));
    CHECK("statfs EFAULT", statfs(".", BADPTR));
    CHECK("fstatfs EBADF", fstatfs(99, &a));
}

static void dents(void)
{
    mkdir("dd", 0755);
    abi_put("dd/file", "x");
    mkdir("dd/sub", 0755);
    symlink("file", "dd/link");
    int fd = open("dd", O_RDONLY | O_DIRECTORY);
    char buf[1024];
    long n = syscall(SYS_getdents, fd, buf, sizeof buf);
    SAY("getdents > 0: %s", n > 0 ? "yes" : "no");
    int seen = 0;
    for (long off = 0; off < n;) {
        struct linux_dirent *d = (struct linux_dirent *)(buf + off);
        char type = buf[off + d->d_reclen - 1];
        if (strcmp(d->d_name, "file") == 0 && type == DT_REG)
            seen |= 1;
        if (strcmp(d->d_name, "sub") == 0 && type == DT_DIR)
            seen |= 2;
        if (strcmp(d->d_name, "link") == 0 && type == DT_LNK)
            seen |= 4;
        if (strcmp(d->d_name, ".") == 0 && type == DT_DIR)
            seen |= 8;
        FACT("reclen aligned", d->d_reclen % 8 == 0);
        off += d->d_reclen;
    }
    SAY("getdents types seen %d", seen);
    CHECK("getdents at end", syscall(SYS_getdents, fd, buf, sizeof buf));
    lseek(fd, 0, SEEK_SET);
    CHECK("getdents tiny buffer EINVAL", syscall(SYS_getdents, fd, buf, 10));
    close(fd);
    fd = open("dd/file", O_RDONLY);
    CHECK("getdents on file ENOTDIR", syscall(SYS_getdents, fd, buf, sizeof buf));
    close(fd);
    CHECK("getdents EBADF", syscall(SYS_getdents, 99, buf, sizeof buf));
    unlink("dd/file");
    unlink("dd/link");
    rmdir("dd/sub");
    rmdir("dd");
}

static void syncs(void)
{
    abi_put("s", "data");
    int fd = open("s", O_RDWR);
    sync();
    SAY("sync done");
    CHECK("syncfs", syncfs(fd));
    CHECK("syncfs EBADF", syncfs(99));
    CHECK("sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    CHECK("sync_file_range bad flags EINVAL", sync_file_range(fd, 0, 0, 8));
    CHECK("sync_file_range negative EINVAL", sync_file_range(fd, -1, 0, 0));
    CHECK("sync_file_range EINVAL before EBADF", sync_file_range(99, -1, 0, 0));
    CHECK("sync_file_range EBADF", sync_file_range(99, 0, 0, 0));
    CHECK("fadvise NORMAL", syscall(SYS_fadvise64, fd, 0, 0, POSIX_FADV_NORMAL));
    CHECK("fadvise DONTNEED", syscall(SYS_fadvise64, fd, 0, 100, POSIX_FADV_DONTNEED));
    CHECK("fadvise bad advice EINVAL", syscall(SYS_fadvise64, fd, 0, 0, 42));
    CHECK("fadvise EBADF", syscall(SYS_fadvise64, 99, 0, 0, 0));
    CHECK("readahead", readahead(fd, 0, 4096));
    CHECK("readahead EBADF", readahead(99, 0, 10));
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("readahead dir EINVAL", readahead(dfd, 0, 10));
    int wfd = open("s", O_WRONLY);
    CHECK("readahead write-only EBADF", readahead(wfd, 0, 10));

    struct stat st;
    CHECK("fallocate mode 0", fallocate(fd, 0, 0, 10));
    fstat(fd, &st);
    SAY("size %ld", (long)st.st_size);
    CHECK("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100));
    fstat(fd, &st);
    SAY("size %ld", (long)st.st_size);
    CHECK("fallocate punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1, 2));
    show_file("after punch", "s");
    CHECK("fallocate punch without KEEP_SIZE EOPNOTSUPP", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1));
    CHECK("fallocate len 0 EINVAL", fallocate(fd, 0, 0, 0));
    CHECK("fallocate negative EINVAL", fallocate(fd, 0, -1, 1));
    CHECK("fallocate bad mode EOPNOTSUPP", fallocate(fd, 0x1000, 0, 1));
    CHECK("fallocate EFBIG", fallocate(fd, 0, 0x7fffffffffffffffL, 2));
    CHECK("fallocate dir EBADF", fallocate(dfd, 0, 0, 1));
    CHECK("fallocate extend", fallocate(wfd, 0, 20, 5));
    fstat(fd, &st);
    SAY("size %ld", (long)st.st_size);
    int rfd = open("s", O_RDONLY);
    CHECK("fallocate read-only EBADF", fallocate(rfd, 0, 0, 1));
    close(rfd);
    close(wfd);
    close(dfd);
    close(fd);
    unlink("s");
}

static void vectors(void)
{
    int fd = open("v", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char a[] = "abc", b[] = "defg";
    struct iovec w[2] = {{a, 3}, {b, 4}};
    CHECK("pwritev", pwritev(fd, w, 2, 2));
    CHECK("lseek cur", lseek(fd, 0, SEEK_CUR));
    show_file("pwritev", "v");
    char r1[3], r2[10];
    struct iovec r[2] = {{r1, 3}, {r2, 10}};
    memset(r2, 0, sizeof r2);
    CHECK("preadv", preadv(fd, r, 2, 1));
    SAY("preadv got [%.3s][%s]", r1 + 0 /* r1 starts with a NUL */ + 1, r2);
    CHECK("preadv negative EINVAL", preadv(fd, r, 2, -1));
    CHECK("preadv2 -1 (current)", preadv2(fd, r, 2, -1, 0));
    CHECK("lseek after preadv2 -1", lseek(fd, 0, SEEK_CUR));
    CHECK("preadv2 -2 EINVAL", preadv2(fd, r, 2, -2, 0));
    CHECK("preadv2 RWF_HIPRI", preadv2(fd, r, 2, 0, RWF_HIPRI));
    CHECK("preadv2 unknown flag EOPNOTSUPP", preadv2(fd, r, 2, 0, 0x10000));
    CHECK("preadv2 RWF_APPEND on read", preadv2(fd, r, 2, 0, RWF_APPEND));
    CHECK("preadv2 zero length with bad flag", preadv2(fd, r, 0, 0, 0x10000));
    CHECK("pwritev2 RWF_APPEND at 0", pwritev2(fd, w, 1, 0, RWF_APPEND));
    CHECK("lseek after append at 0", lseek(fd, 0, SEEK_CUR));
    CHECK("pwritev2 RWF_DSYNC|RWF_SYNC", pwritev2(fd, w, 1, 0, RWF_DSYNC | RWF_SYNC));
    CHECK("pwritev2 -1 (current)", pwritev2(fd, w + 1, 1, -1, 0));
    CHECK("lseek after pwritev2 -1", lseek(fd, 0, SEEK_CUR));
    show_file("after v2 writes", "v");
    int afd = open("v", O_WRONLY | O_APPEND);
    CHECK("pwritev O_APPEND appends", pwritev(afd, w, 1, 0));
    CHECK("pwritev2 RWF_NOAPPEND", pwritev2(afd, w + 1, 1, 0, 0x20));
    show_file("after append writes", "v");
    close(afd);
    CHECK("preadv EBADF", preadv(99, r, 1, 0));
    CHECK("preadv bad iovcnt EINVAL", syscall(SYS_preadv, fd, r, -1, 0, 0));
    CHECK("preadv EFAULT", preadv(fd, BADPTR, 1, 0));
    int wo = open("v", O_WRONLY);
    CHECK("preadv write-only EBADF", preadv(wo, r, 1, 0));
    close(wo);
    close(fd);
    unlink("v");
}

static void opens2(void)
{
    mkdir("o", 0755);
    mkdir("o/in", 0755);
    abi_put("o/in/f", "f");
    abi_put("outside", "x");
    symlink("f", "o/in/rel");
    symlink("../../outside", "o/in/up");
    symlink("/etc/hostname", "o/in/abs");
    int dfd = open("o", O_RDONLY | O_DIRECTORY);
    closeok("openat2 plain", openat2_(dfd, "in/f", O_RDONLY, 0, 0, sizeof(struct open_how)));
    CHECK("openat2 size 23 EINVAL", openat2_(dfd, "in/f", O_RDONLY, 0, 0, 23));
    CHECK("openat2 size 8192 E2BIG", openat2_(dfd, "in/f", O_RDONLY, 0, 0, 8192));
    closeok("openat2 size 32 zero tail", openat2_(dfd, "in/f", O_RDONLY, 0, 0, 32));
    {
        char buf[40] = {0};
        struct open_how how = {.flags = O_RDONLY};
        memcpy(buf, &how, sizeof how);
        buf[30] = 1;
        CHECK("openat2 non-zero tail E2BIG", syscall(SYS_openat2, dfd, "in/f", buf, 40));
    }
    CHECK("openat2 unknown flag EINVAL", openat2_(dfd, "in/f", 1ULL << 40, 0, 0, 24));
    CHECK("openat2 unknown resolve EINVAL", openat2_(dfd, "in/f", 0, 0, 0x40, 24));
    CHECK("openat2 mode without O_CREAT EINVAL", openat2_(dfd, "in/f", 0, 0644, 0, 24));
    CHECK("openat2 bad mode EINVAL", openat2_(dfd, "in/g", O_CREAT | O_WRONLY, 010000, 0, 24));
    CHECK("openat2 BENEATH|IN_ROOT EINVAL",
          openat2_(dfd, "in/f", 0, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, 24));
    CHECK("openat2 O_PATH|O_RDWR EINVAL", openat2_(dfd, "in/f", O_PATH | O_RDWR, 0, 0, 24));
    closeok("openat2 O_CREAT", openat2_(dfd, "in/g", O_CREAT | O_WRONLY, 0600, 0, 24));
    closeok("openat2 symlink", openat2_(dfd, "in/rel", 0, 0, 0, 24));
    CHECK("openat2 NO_SYMLINKS ELOOP", openat2_(dfd, "in/rel", 0, 0, RESOLVE_NO_SYMLINKS, 24));
    closeok("openat2 NO_SYMLINKS O_PATH|O_NOFOLLOW",
            openat2_(dfd, "in/rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS, 24));
    closeok("openat2 BENEATH inside", openat2_(dfd, "in/../in/f", 0, 0, RESOLVE_BENEATH, 24));
    CHECK("openat2 BENEATH .. EXDEV", openat2_(dfd, "../outside", 0, 0, RESOLVE_BENEATH, 24));
    CHECK("openat2 BENEATH absolute EXDEV", openat2_(dfd, "/etc/hostname", 0, 0, RESOLVE_BENEATH, 24));
    CHECK("openat2 BENEATH symlink up EXDEV", openat2_(dfd, "in/up", 0, 0, RESOLVE_BENEATH, 24));
    CHECK("openat2 BENEATH abs symlink EXDEV", openat2_(dfd, "in/abs", 0, 0, RESOLVE_BENEATH, 24));
    closeok("openat2 IN_ROOT ../in/f", openat2_(dfd, "../in/f", 0, 0, RESOLVE_IN_ROOT, 24));
    closeok("openat2 IN_ROOT /in/f", openat2_(dfd, "/in/f", 0, 0, RESOLVE_IN_ROOT, 24));
    CHECK("openat2 IN_ROOT symlink up ENOENT", openat2_(dfd, "in/up", 0, 0, RESOLVE_IN_ROOT, 24));
    closeok("openat2 NO_XDEV inside", openat2_(dfd, "in/f", 0, 0, RESOLVE_NO_XDEV, 24));
    closeok("openat2 NO_MAGICLINKS plain file", openat2_(dfd, "in/f", 0, 0, RESOLVE_NO_MAGICLINKS, 24));
    closeok("openat2 CACHED", openat2_(dfd, "in/f", 0, 0, RESOLVE_CACHED, 24));
    CHECK("openat2 CACHED O_CREAT EAGAIN", openat2_(dfd, "in/h", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED, 24));
    CHECK("openat2 EFAULT", syscall(SYS_openat2, dfd, "in/f", BADPTR, 24));
    close(dfd);
    unlink("o/in/f");
    unlink("o/in/g");
    unlink("o/in/rel");
    unlink("o/in/up");
    unlink("o/in/abs");
    unlink("outside");
    rmdir("o/in");
    rmdir("o");
}

static void chroots(void)
{
    char buf[256];
    mkdir("jail", 0755);
    mkdir("jail/sub", 0755);
    abi_put("jail/inside", "in jail\n");
    int rootfd = open("/", O_RDONLY | O_DIRECTORY);
    int here = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("chroot missing ENOENT", chroot("missing"));
    CHECK("chroot file ENOTDIR", chroot("jail/inside"));
    CHECK("chroot", chroot("jail"));
    SAY("getcwd outside root: %s", getcwd(buf, sizeof buf) ? (buf[0] == '(' ? "unreachable" : "?") : abi_errname(errno));
    CHECK("chdir /", chdir("/"));
    SAY("getcwd = %s", getcwd(buf, sizeof buf) ? buf : abi_errname(errno));
    show_file("/inside", "/inside");
    CHECK("chdir /sub/..", chdir("/sub/../.."));
    SAY("getcwd = %s", getcwd(buf, sizeof buf) ? buf : abi_errname(errno));
    CHECK("fchdir real root", fchdir(rootfd));
    CHECK("chroot back", chroot("."));
    CHECK("fchdir base", fchdir(here));
    close(rootfd);
    close(here);
    unlink("jail/inside");
    rmdir("jail/sub");
    rmdir("jail");
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    links();
    nodes();
    statfss();
    dents();
    syncs();
    vectors();
    opens2();
    chroots();
    abi_leave(argc, argv);
    return 0;
}
