/* mkdir/mkdirat, rmdir, unlink/unlinkat, getdents64, getcwd/chdir/fchdir.
 * argv[1]: the base directory. */
#include "abi.h"
#include <dirent.h>
#include <limits.h>

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List a directory with raw getdents64 (small buffer, several calls), sorted. */
static void list(const char *label, const char *path, size_t bufsize)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        SAY("%s: open = -1 %s", label, abi_errname(errno));
        return;
    }
    char *names[256];
    int n = 0, calls = 0;
    static char buf[65536];
    for (;;) {
        long r = syscall(SYS_getdents64, fd, buf, bufsize);
        calls++;
        if (r < 0) {
            SAY("%s: getdents64 = -1 %s", label, abi_errname(errno));
            break;
        }
        if (r == 0)
            break;
        for (long off = 0; off < r;) {
            struct linux_dirent64 *d = (void *)(buf + off);
            char *s = malloc(strlen(d->d_name) + 8);
            sprintf(s, "%s:%s", d->d_name,
                    d->d_type == DT_DIR ? "d" : d->d_type == DT_REG ? "f" :
                    d->d_type == DT_LNK ? "l" : d->d_type == DT_UNKNOWN ? "?" : "o");
            if (n < 256)
                names[n++] = s;
            off += d->d_reclen;
        }
    }
    qsort(names, n, sizeof *names, cmp);
    printf("%s (%d entries):", label, n);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
    fflush(stdout);
    close(fd);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    char start[PATH_MAX], cwd[PATH_MAX];
    if (!getcwd(start, sizeof start)) {
        SAY("getcwd failed: %s", abi_errname(errno));
        return 1;
    }
    size_t startlen = strlen(start);
    FACT("getcwd is absolute", start[0] == '/');

    /* mkdir, mkdirat */
    CHECK("mkdir top", mkdir("top", 0755));
    CHECK("mkdir top again", mkdir("top", 0755));
    CHECK("SYS_mkdir top/a", syscall(SYS_mkdir, "top/a", 0700));
    CHECK("mkdir missing/x", mkdir("missing/x", 0755));
    CHECK("mkdir trailing slash", mkdir("top/b/", 0755));
    abi_put("top/file", "data");
    CHECK("mkdir file/x ENOTDIR", mkdir("top/file/x", 0755));
    CHECK("mkdir over file EEXIST", mkdir("top/file", 0755));
    int top = open("top", O_RDONLY | O_DIRECTORY);
    CHECK("open top", top);
    CHECK("mkdirat(top, c)", mkdirat(top, "c", 0755));
    CHECK("mkdirat(bad fd)", mkdirat(99, "c", 0755));
    CHECK("mkdirat(file fd) ENOTDIR", mkdirat(open("top/file", O_RDONLY), "c", 0755));
    close(5);
    CHECK("mkdir EFAULT", mkdir(BADPTR, 0755));
    CHECK("mkdir \"\" ENOENT", mkdir("", 0755));
    CHECK("mkdir . EEXIST", mkdir(".", 0755));
    for (int i = 0; i < 40; i++) {
        char p[32];
        snprintf(p, sizeof p, "top/c/e%02d", i);
        abi_put(p, "");
    }
    CHECK("symlink in top", symlink("file", "top/lnk"));

    /* getdents64 */
    list("ls top", "top", 65536);
    list("ls top/c (small buffer)", "top/c", 100);
    list("ls top/a (empty)", "top/a", 4096);
    int ffd = open("top/file", O_RDONLY);
    char dbuf[1024];
    CHECK("getdents64(file fd) ENOTDIR", syscall(SYS_getdents64, ffd, dbuf, sizeof dbuf));
    CHECK("getdents64(bad fd) EBADF", syscall(SYS_getdents64, 99, dbuf, sizeof dbuf));
    CHECK("getdents64(buffer too small) EINVAL", syscall(SYS_getdents64, top, dbuf, 8));
    CHECK("getdents64 EFAULT", syscall(SYS_getdents64, top, BADPTR, 1024));
    close(ffd);
    /* readdir (libc) after entries are removed */
    DIR *d = opendir("top");
    int count = 0;
    while (readdir(d))
        count++;
    closedir(d);
    SAY("readdir count = %d", count);

    /* rmdir / unlink / unlinkat */
    CHECK("rmdir top ENOTEMPTY", rmdir("top"));
    CHECK("SYS_rmdir top/file ENOTDIR", syscall(SYS_rmdir, "top/file"));
    CHECK("rmdir missing ENOENT", rmdir("missing"));
    CHECK("rmdir . EINVAL", rmdir("."));
    CHECK("rmdir top/a/.. ENOTEMPTY", rmdir("top/a/.."));
    CHECK("unlink top/a EISDIR", unlink("top/a"));
    CHECK("SYS_unlink top/lnk", syscall(SYS_unlink, "top/lnk"));
    CHECK("unlink top/lnk again", unlink("top/lnk"));
    CHECK("unlink top/file/ ENOTDIR", unlink("top/file/"));
    CHECK("unlinkat(top, file, 0)", unlinkat(top, "file", 0));
    CHECK("unlinkat(top, a, 0) EISDIR", unlinkat(top, "a", 0));
    CHECK("unlinkat(top, a, AT_REMOVEDIR)", unlinkat(top, "a", AT_REMOVEDIR));
    CHECK("unlinkat(top, c, AT_REMOVEDIR) ENOTEMPTY", unlinkat(top, "c", AT_REMOVEDIR));
    CHECK("unlinkat(bad flags) EINVAL", unlinkat(top, "c", 0x1));
    CHECK("unlinkat(AT_REMOVEDIR on file)", unlinkat(top, "c/e00", AT_REMOVEDIR));
    CHECK("unlink EFAULT", unlink(BADPTR));
    char longname[300] = "top/";
    memset(longname + 4, 'n', 290);
    CHECK("unlink ENAMETOOLONG", unlink(longname));
    CHECK("rmdir ENAMETOOLONG", rmdir(longname));
    CHECK("mkdir ENAMETOOLONG", mkdir(longname, 0755));
    for (int i = 0; i < 40; i++) {
        char p[32];
        snprintf(p, sizeof p, "c/e%02d", i);
        unlinkat(top, p, 0);
    }
    list("ls top after removals", "top", 4096);

    /* getcwd / chdir / fchdir */
    CHECK("chdir top/c", chdir("top/c"));
    long n = syscall(SYS_getcwd, cwd, sizeof cwd);
    SAY("SYS_getcwd length - start length = %ld", n - (long)startlen);
    FACT("cwd = start + /top/c", strncmp(cwd, start, startlen) == 0 && !strcmp(cwd + startlen, "/top/c"));
    CHECK("getcwd(size 1) ERANGE", syscall(SYS_getcwd, cwd, 1));
    CHECK("getcwd EFAULT", syscall(SYS_getcwd, BADPTR, sizeof cwd));
    CHECK("chdir ..", chdir(".."));
    getcwd(cwd, sizeof cwd);
    FACT("cwd = start + /top", !strcmp(cwd + startlen, "/top"));
    CHECK("chdir missing ENOENT", chdir("missing"));
    abi_put("plain", "");
    CHECK("chdir plain ENOTDIR", chdir("plain"));
    CHECK("chdir EFAULT", chdir(BADPTR));
    CHECK("chdir \"\" ENOENT", chdir(""));
    int pfd = open("plain", O_RDONLY);
    CHECK("fchdir(file) ENOTDIR", fchdir(pfd));
    CHECK("fchdir(bad) EBADF", fchdir(99));
    close(pfd);
    unlink("plain");
    int up = open("..", O_RDONLY | O_DIRECTORY);
    CHECK("fchdir(..)", fchdir(up));
    close(up);
    getcwd(cwd, sizeof cwd);
    FACT("cwd = start", !strcmp(cwd, start));
    CHECK("chdir /", chdir("/"));
    getcwd(cwd, sizeof cwd);
    SAY("cwd = %s", cwd);
    CHECK("chdir /dev", chdir("/dev"));
    getcwd(cwd, sizeof cwd);
    SAY("cwd = %s", cwd);
    CHECK("chdir /..", chdir("/.."));
    getcwd(cwd, sizeof cwd);
    SAY("cwd = %s", cwd);
    CHECK("chdir back (absolute)", chdir(start));
    /* relative paths now work against the restored cwd */
    struct stat st;
    CHECK("stat top/c", stat("top/c", &st));
    CHECK("rmdir top/c", rmdir("top/c"));
    CHECK("rmdir top/b", rmdir("top/b"));
    CHECK("unlinkat(AT_FDCWD, top, AT_REMOVEDIR)", unlinkat(AT_FDCWD, "top", AT_REMOVEDIR));
    CHECK("fstat on fd of removed dir", fstat(top, &st));
    SAY("removed dir nlink = %lu", (unsigned long)st.st_nlink);
    CHECK("mkdirat on removed dir ENOENT", mkdirat(top, "z", 0755));
    close(top);
    abi_leave(argc, argv);
    return 0;
}
