/* Extended attributes: get/set/list/remove, their l, f and *at forms; XATTR_CREATE and
 * XATTR_REPLACE, ERANGE and size 0, the namespaces (user, trusted, security, unknown), symlinks,
 * O_PATH and pipe descriptors, procfs, and an unprivileged child. argv[1]: the base directory. */
#include "abi.h"
#include <sys/wait.h>
#include <sys/xattr.h>

#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif

struct xargs {
    unsigned long long value;
    unsigned size;
    unsigned flags;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print a listxattr result sorted (filesystems order names differently). */
static void show_list(const char *label, char *buf, long n)
{
    char *names[64];
    int k = 0;
    if (n < 0) {
        SAY("%s = -1 %s", label, abi_errname(errno));
        return;
    }
    for (char *p = buf; p < buf + n && k < 64; p += strlen(p) + 1)
        names[k++] = p;
    qsort(names, k, sizeof names[0], cmp);
    printf("%s = %ld:", label, n);
    for (int i = 0; i < k; i++)
        printf(" %s", names[i]);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    char buf[512], big[300];
    abi_put("f", "data");
    CHECK("mkdir d", mkdir("d", 0755));
    CHECK("symlink", symlink("f", "l"));

    /* set and get */
    CHECK("getxattr missing ENODATA", getxattr("f", "user.a", buf, sizeof buf));
    CHECK("setxattr user.a", setxattr("f", "user.a", "hello", 5, 0));
    CHECK("getxattr size 0", getxattr("f", "user.a", NULL, 0));
    memset(buf, 0, sizeof buf);
    CHECK("getxattr", getxattr("f", "user.a", buf, sizeof buf));
    SAY("value %s", buf);
    CHECK("getxattr small ERANGE", getxattr("f", "user.a", buf, 3));
    CHECK("setxattr empty value", setxattr("f", "user.empty", "", 0, 0));
    CHECK("getxattr empty value", getxattr("f", "user.empty", buf, sizeof buf));
    CHECK("XATTR_CREATE exists EEXIST", setxattr("f", "user.a", "x", 1, XATTR_CREATE));
    CHECK("XATTR_REPLACE missing ENODATA", setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
    CHECK("XATTR_REPLACE", setxattr("f", "user.a", "bye", 3, XATTR_REPLACE));
    CHECK("XATTR_CREATE", setxattr("f", "user.b", "b", 1, XATTR_CREATE));
    CHECK("bad flags EINVAL", setxattr("f", "user.c", "x", 1, 4));
    CHECK("getxattr", getxattr("f", "user.a", buf, sizeof buf));
    CHECK("trusted.t", setxattr("f", "trusted.t", "t", 1, 0));
    CHECK("security.s", setxattr("f", "security.s", "s", 1, 0));
    CHECK("get trusted.t", getxattr("f", "trusted.t", buf, sizeof buf));
    CHECK("unknown namespace EOPNOTSUPP", setxattr("f", "foo.bar", "x", 1, 0));
    CHECK("get unknown namespace EOPNOTSUPP", getxattr("f", "foo.bar", buf, sizeof buf));
    CHECK("bare prefix EINVAL", setxattr("f", "user.", "x", 1, 0));
    CHECK("empty name ERANGE", setxattr("f", "", "x", 1, 0));
    memset(big, 'n', sizeof big);
    memcpy(big, "user.", 5);
    big[sizeof big - 1] = 0;
    CHECK("long name ERANGE", setxattr("f", big, "x", 1, 0));
    CHECK("get long name ERANGE", getxattr("f", big, buf, sizeof buf));
    big[255] = 0;
    CHECK("255-byte name get ENODATA", getxattr("f", big, buf, sizeof buf));
    CHECK("value too big E2BIG", setxattr("f", "user.big", BADPTR, 65537, 0));
    CHECK("name EFAULT", setxattr("f", BADPTR, "x", 1, 0));
    CHECK("value EFAULT", setxattr("f", "user.z", BADPTR, 4, 0));
    CHECK("get missing file ENOENT", getxattr("nofile", "user.a", buf, sizeof buf));

    /* list */
    CHECK("listxattr size 0", listxattr("f", NULL, 0));
    show_list("listxattr", buf, listxattr("f", buf, sizeof buf));
    CHECK("listxattr small ERANGE", listxattr("f", buf, 5));
    show_list("listxattr d", buf, listxattr("d", buf, sizeof buf));

    /* symlinks */
    CHECK("getxattr follows", getxattr("l", "user.a", buf, sizeof buf));
    CHECK("lgetxattr user on symlink ENODATA", lgetxattr("l", "user.a", buf, sizeof buf));
    CHECK("lsetxattr user on symlink EPERM", lsetxattr("l", "user.a", "x", 1, 0));
    CHECK("lsetxattr trusted on symlink", lsetxattr("l", "trusted.l", "x", 1, 0));
    show_list("llistxattr", buf, llistxattr("l", buf, sizeof buf));
    CHECK("lremovexattr trusted", lremovexattr("l", "trusted.l"));

    /* descriptors */
    int fd = open("f", O_RDONLY);
    CHECK("fgetxattr", fgetxattr(fd, "user.b", buf, sizeof buf));
    CHECK("fsetxattr on O_RDONLY fd", fsetxattr(fd, "user.f", "f", 1, 0));
    show_list("flistxattr", buf, flistxattr(fd, buf, sizeof buf));
    CHECK("fremovexattr", fremovexattr(fd, "user.f"));
    CHECK("fremovexattr missing ENODATA", fremovexattr(fd, "user.f"));
    close(fd);
    CHECK("fgetxattr EBADF", fgetxattr(fd, "user.b", buf, sizeof buf));
    int pfd = open("f", O_PATH);
    CHECK("fgetxattr O_PATH EBADF", fgetxattr(pfd, "user.b", buf, sizeof buf));
    close(pfd);
    int p[2];
    pipe(p);
    CHECK("fgetxattr pipe", fgetxattr(p[0], "user.b", buf, sizeof buf));
    CHECK("flistxattr pipe", flistxattr(p[0], buf, sizeof buf));
    close(p[0]);
    close(p[1]);

    /* the *at forms */
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    struct xargs xa = {(unsigned long)"at", 2, 0};
    CHECK("setxattrat", syscall(SYS_setxattrat, dfd, "f", 0, "user.at", &xa, sizeof xa));
    memset(buf, 0, sizeof buf);
    xa.value = (unsigned long)buf;
    xa.size = sizeof buf;
    CHECK("getxattrat", syscall(SYS_getxattrat, dfd, "f", 0, "user.at", &xa, sizeof xa));
    SAY("value %s", buf);
    xa.flags = 1;
    CHECK("getxattrat flags EINVAL", syscall(SYS_getxattrat, dfd, "f", 0, "user.at", &xa,
                                             sizeof xa));
    xa.flags = 0;
    CHECK("getxattrat small usize EINVAL", syscall(SYS_getxattrat, dfd, "f", 0, "user.at", &xa,
                                                   8));
    CHECK("getxattrat bad at_flags EINVAL", syscall(SYS_getxattrat, dfd, "f", 0x4, "user.at",
                                                    &xa, sizeof xa));
    CHECK("getxattrat nofollow symlink", syscall(SYS_getxattrat, dfd, "l",
                                                 AT_SYMLINK_NOFOLLOW, "user.at", &xa,
                                                 sizeof xa));
    int ffd = open("f", O_RDONLY);
    CHECK("getxattrat AT_EMPTY_PATH", syscall(SYS_getxattrat, ffd, "", AT_EMPTY_PATH,
                                              "user.at", &xa, sizeof xa));
    CHECK("getxattrat empty path ENOENT", syscall(SYS_getxattrat, ffd, "", 0, "user.at", &xa,
                                                  sizeof xa));
    close(ffd);
    show_list("listxattrat", buf, syscall(SYS_listxattrat, dfd, "f", 0, buf, sizeof buf));
    CHECK("removexattrat", syscall(SYS_removexattrat, dfd, "f", 0, "user.at"));
    CHECK("removexattrat missing ENODATA", syscall(SYS_removexattrat, dfd, "f", 0, "user.at"));
    close(dfd);

    /* remove */
    CHECK("removexattr", removexattr("f", "user.a"));
    CHECK("removexattr missing ENODATA", removexattr("f", "user.a"));
    CHECK("removexattr unknown EOPNOTSUPP", removexattr("f", "foo.x"));
    show_list("listxattr after", buf, listxattr("f", buf, sizeof buf));

    /* procfs has no xattrs */
    CHECK("procfs getxattr EOPNOTSUPP", getxattr("/proc/self/status", "user.a", buf, 10));
    CHECK("procfs listxattr", listxattr("/proc/self/status", buf, sizeof buf));

    /* an unprivileged process */
    CHECK("chmod f 0600", chmod("f", 0600));
    pid_t pid = fork();
    if (pid == 0) {
        if (setresuid(65534, 65534, 65534) != 0) {
            SAY("setresuid failed");
            _exit(1);
        }
        CHECK("child: get trusted ENODATA", getxattr("f", "trusted.t", buf, sizeof buf));
        CHECK("child: set trusted EPERM", setxattr("f", "trusted.x", "x", 1, 0));
        CHECK("child: set security EPERM", setxattr("f", "security.x", "x", 1, 0));
        CHECK("child: get security", getxattr("f", "security.s", buf, sizeof buf));
        CHECK("child: get user EACCES", getxattr("f", "user.b", buf, sizeof buf));
        CHECK("child: set user EACCES", setxattr("f", "user.x", "x", 1, 0));
        show_list("child: listxattr", buf, listxattr("f", buf, sizeof buf));
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);

    CHECK("unlink l", unlink("l"));
    CHECK("unlink f", unlink("f"));
    CHECK("rmdir d", rmdir("d"));
    abi_leave(argc, argv);
    return 0;
}
