/* symlink/symlinkat, readlink/readlinkat, ELOOP (loops, O_NOFOLLOW, 40-link limit).
 * argv[1]: the base directory. */
#include "abi.h"

static void rl(const char *label, int dirfd, const char *path, size_t size)
{
    char buf[512];
    memset(buf, '#', sizeof buf);
    errno = 0;
    long n = dirfd == -999 ? syscall(SYS_readlink, path, buf, size)
                           : syscall(SYS_readlinkat, dirfd, path, buf, size);
    if (n < 0)
        SAY("%s = -1 %s", label, abi_errname(errno));
    else
        SAY("%s = %ld [%.*s] next=%c", label, n, (int)n, buf, buf[n]);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("target", "target data\n");
    CHECK("mkdir dir", mkdir("dir", 0755));
    CHECK("symlink", symlink("target", "ln"));
    CHECK("SYS_symlink abs", syscall(SYS_symlink, "/dev/null", "ln-abs"));
    CHECK("symlink to dir", symlink("dir", "ln-dir"));
    CHECK("symlink exists EEXIST", symlink("x", "ln"));
    CHECK("symlink over dir EEXIST", symlink("x", "dir"));
    CHECK("symlink in missing dir ENOENT", symlink("x", "missing/ln"));
    CHECK("symlink empty target ENOENT", symlink("", "ln-empty"));
    CHECK("symlink EFAULT target", symlink(BADPTR, "ln-bad"));
    CHECK("symlink EFAULT linkpath", symlink("x", BADPTR));
    int dfd = open("dir", O_RDONLY | O_DIRECTORY);
    CHECK("symlinkat(dfd)", symlinkat("../target", dfd, "up"));
    CHECK("SYS_symlinkat(AT_FDCWD)", syscall(SYS_symlinkat, "dir/up", AT_FDCWD, "chain"));
    CHECK("symlinkat(bad fd)", symlinkat("x", 99, "y"));

    rl("readlink ln", -999, "ln", 512);
    rl("readlink ln-abs", -999, "ln-abs", 512);
    rl("readlink ln size 3 (truncates)", -999, "ln", 3);
    rl("readlink size 0 EINVAL", -999, "ln", 0);
    rl("readlink target (not a link) EINVAL", -999, "target", 512);
    rl("readlink dir EINVAL", -999, "dir", 512);
    rl("readlink missing ENOENT", -999, "missing", 512);
    rl("readlink ln/ ENOTDIR", -999, "ln/", 512);
    rl("readlink ln-dir/ EINVAL", -999, "ln-dir/", 512);
    rl("readlinkat(dfd, up)", dfd, "up", 512);
    rl("readlinkat(AT_FDCWD, chain)", AT_FDCWD, "chain", 512);
    rl("readlinkat(bad fd)", 99, "up", 512);
    int lfd = open("ln", O_PATH | O_NOFOLLOW);
    CHECK("open(ln, O_PATH|O_NOFOLLOW)", lfd);
    rl("readlinkat(O_PATH link fd, \"\")", lfd, "", 512);
    close(lfd);
    CHECK("readlink EFAULT buf", syscall(SYS_readlink, "ln", BADPTR, 100));

    /* following */
    char buf[64];
    int fd = open("chain", O_RDONLY);
    CHECK("open via 2-link chain", fd);
    long n = read(fd, buf, sizeof buf);
    SAY("read via chain = %ld [%.*s]", n, (int)(n > 0 ? n - 1 : 0), buf);
    close(fd);
    CHECK("open(ln, O_NOFOLLOW) ELOOP", open("ln", O_RDONLY | O_NOFOLLOW));
    CHECK("open(ln-dir/., O_NOFOLLOW)", open("ln-dir/.", O_RDONLY | O_NOFOLLOW));
    close(5);
    CHECK("open(ln-dir, O_DIRECTORY|O_NOFOLLOW)",
          open("ln-dir", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    CHECK("mkdir via dangling link EEXIST", mkdir("ln-abs", 0755));
    CHECK("symlink dangling", symlink("created-through-link", "dangling"));
    CHECK("open(dangling, O_CREAT|O_EXCL) EEXIST", open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
    fd = open("dangling", O_CREAT | O_WRONLY, 0644);
    CHECK("open(dangling, O_CREAT) creates target", fd);
    write(fd, "via link\n", 9);
    close(fd);
    struct stat st;
    CHECK("stat created-through-link", stat("created-through-link", &st));
    CHECK("unlink ln-dir/ EISDIR/ENOTDIR", unlink("ln-dir/"));
    CHECK("rmdir ln-dir ENOTDIR", rmdir("ln-dir"));
    CHECK("stat ln-dir/ follows", stat("ln-dir/", &st));
    CHECK("lstat ln-dir/ follows", lstat("ln-dir/", &st));
    SAY("lstat ln-dir/ type = %s", abi_ftype(st.st_mode));
    CHECK("lstat ln-dir", lstat("ln-dir", &st));
    SAY("lstat ln-dir type = %s", abi_ftype(st.st_mode));

    /* loops */
    CHECK("symlink loop a->b", symlink("loop-b", "loop-a"));
    CHECK("symlink loop b->a", symlink("loop-a", "loop-b"));
    CHECK("open(loop) ELOOP", open("loop-a", O_RDONLY));
    CHECK("stat(loop) ELOOP", stat("loop-a", &st));
    CHECK("lstat(loop)", lstat("loop-a", &st));
    CHECK("open(loop/x) ELOOP", open("loop-a/x", O_RDONLY));
    CHECK("open(loop, O_CREAT) ELOOP", open("loop-a", O_CREAT | O_WRONLY, 0644));
    CHECK("symlink self", symlink("self", "self"));
    CHECK("stat(self) ELOOP", stat("self", &st));
    CHECK("chdir(loop) ELOOP", chdir("loop-a"));

    /* the 40-link limit: c00 -> c01 -> ... -> c40 -> target */
    char name[16], to[16];
    for (int i = 0; i <= 40; i++) {
        snprintf(name, sizeof name, "c%02d", i);
        if (i == 40)
            snprintf(to, sizeof to, "target");
        else
            snprintf(to, sizeof to, "c%02d", i + 1);
        symlink(to, name);
    }
    CHECK("open(c01: 40 links)", open("c01", O_RDONLY));
    close(5);
    CHECK("open(c00: 41 links) ELOOP", open("c00", O_RDONLY));
    CHECK("stat(c00) ELOOP", stat("c00", &st));

    /* symlinks inside a path: dir/up -> ../target */
    CHECK("open(ln-dir/up)", open("ln-dir/up", O_RDONLY));
    close(5);
    CHECK("open(ln-dir/../target)", open("ln-dir/../target", O_RDONLY));
    close(5);

    /* cleanup */
    for (int i = 0; i <= 40; i++) {
        snprintf(name, sizeof name, "c%02d", i);
        unlink(name);
    }
    const char *rm[] = {"ln", "ln-abs", "ln-dir", "chain", "dangling", "created-through-link",
                        "loop-a", "loop-b", "self", "dir/up", "target", NULL};
    for (int i = 0; rm[i]; i++)
        if (unlink(rm[i]) != 0)
            SAY("cleanup unlink %s: %s", rm[i], abi_errname(errno));
    close(dfd);
    CHECK("rmdir dir", rmdir("dir"));
    abi_leave(argc, argv);
    return 0;
}
