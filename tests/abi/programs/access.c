/* access/faccessat/faccessat2. argv[1]: the base directory. */
#include "abi.h"

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("rw", "x");
    CHECK("open(0400)", open("ro", O_CREAT | O_WRONLY, 0400));
    close(4);
    CHECK("open(0000)", open("none", O_CREAT | O_WRONLY, 0000));
    close(4);
    CHECK("open(0755)", open("exe", O_CREAT | O_WRONLY, 0755));
    close(4);
    mkdir("dir", 0755);
    symlink("rw", "ln");
    symlink("nowhere", "dangling");

    const char *paths[] = {"rw", "ro", "none", "exe", "dir", "ln", "dangling", "missing",
                           "rw/x", "/dev/null", "/etc/passwd", NULL};
    const int modes[] = {F_OK, R_OK, W_OK, X_OK, R_OK | W_OK};
    const char *mnames[] = {"F_OK", "R_OK", "W_OK", "X_OK", "R_OK|W_OK"};
    char label[128];
    for (int i = 0; paths[i]; i++)
        for (int m = 0; m < 5; m++) {
            /* writing to the host outside the cwd and /tmp is read-only under compatd */
            if (paths[i][0] == '/' && paths[i][1] == 'e' && (modes[m] & W_OK))
                continue;
            snprintf(label, sizeof label, "SYS_access(%s, %s)", paths[i], mnames[m]);
            CHECK(label, syscall(SYS_access, paths[i], modes[m]));
        }
    CHECK("access(bad mode) EINVAL", syscall(SYS_access, "rw", 0x10));
    CHECK("access EFAULT", syscall(SYS_access, BADPTR, F_OK));
    CHECK("access ENAMETOOLONG", access("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", F_OK));

    int dfd = open("dir", O_RDONLY | O_DIRECTORY);
    abi_put("dir/inner", "");
    CHECK("faccessat(dfd, inner, R_OK)", syscall(SYS_faccessat, dfd, "inner", R_OK));
    CHECK("faccessat(dfd, missing) ENOENT", syscall(SYS_faccessat, dfd, "missing", F_OK));
    CHECK("faccessat(bad fd) EBADF", syscall(SYS_faccessat, 99, "inner", F_OK));
    CHECK("faccessat(AT_FDCWD, rw, W_OK)", syscall(SYS_faccessat, AT_FDCWD, "rw", W_OK));
    CHECK("faccessat2(AT_FDCWD, rw, R_OK, 0)", syscall(SYS_faccessat2, AT_FDCWD, "rw", R_OK, 0));
    CHECK("faccessat2(dangling, F_OK, SYMLINK_NOFOLLOW)",
          syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    CHECK("faccessat2(dangling, F_OK, 0) ENOENT",
          syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, 0));
    CHECK("faccessat2(rw, R_OK, AT_EACCESS)",
          syscall(SYS_faccessat2, AT_FDCWD, "rw", R_OK, AT_EACCESS));
    CHECK("faccessat2(exe, X_OK, AT_EACCESS)",
          syscall(SYS_faccessat2, AT_FDCWD, "exe", X_OK, AT_EACCESS));
    CHECK("faccessat2(rw, X_OK, AT_EACCESS)",
          syscall(SYS_faccessat2, AT_FDCWD, "rw", X_OK, AT_EACCESS));
    CHECK("faccessat2(bad flags) EINVAL", syscall(SYS_faccessat2, AT_FDCWD, "rw", F_OK, 0x1));
    CHECK("faccessat2(bad mode) EINVAL", syscall(SYS_faccessat2, AT_FDCWD, "rw", 0x10, 0));
    int fd = open("rw", O_RDONLY);
    CHECK("faccessat2(fd, \"\", AT_EMPTY_PATH)",
          syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
    CHECK("faccessat2(fd, \"\", 0) ENOENT", syscall(SYS_faccessat2, fd, "", R_OK, 0));
    CHECK("faccessat(libc, AT_EACCESS)", faccessat(AT_FDCWD, "rw", R_OK, AT_EACCESS));
    close(fd);
    close(dfd);

    const char *rm[] = {"rw", "ro", "none", "exe", "ln", "dangling", "dir/inner", NULL};
    for (int i = 0; rm[i]; i++)
        unlink(rm[i]);
    rmdir("dir");
    abi_leave(argc, argv);
    return 0;
}
