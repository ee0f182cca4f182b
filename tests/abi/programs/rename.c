/* rename/renameat/renameat2 (RENAME_NOREPLACE, RENAME_EXCHANGE) and their errors.
 * argv[1]: the base directory. */
#include "abi.h"
#include <linux/fs.h>

static void cat(const char *label, const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        SAY("%s = -1 %s", label, abi_errname(errno));
        return;
    }
    long n = read(fd, buf, sizeof buf);
    close(fd);
    SAY("%s = [%.*s]", label, (int)(n > 0 ? n : 0), buf);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("a", "AAA");
    abi_put("b", "BBB");
    mkdir("d1", 0755);
    mkdir("d2", 0755);
    mkdir("full", 0755);
    abi_put("full/x", "x");

    CHECK("rename a -> c", rename("a", "c"));
    cat("c", "c");
    cat("a", "a");
    CHECK("SYS_rename c -> a", syscall(SYS_rename, "c", "a"));
    CHECK("rename a -> b (replaces)", rename("a", "b"));
    cat("b", "b");
    cat("a", "a");
    abi_put("a", "AAA");
    CHECK("rename missing ENOENT", rename("missing", "z"));
    CHECK("rename a -> missing/z ENOENT", rename("a", "missing/z"));
    CHECK("rename a -> a", rename("a", "a"));
    CHECK("rename file -> dir EISDIR", rename("a", "d1"));
    CHECK("rename dir -> file ENOTDIR", rename("d1", "a"));
    CHECK("rename dir -> empty dir", rename("d1", "d2"));
    CHECK("stat d1 gone", access("d1", F_OK));
    mkdir("d1", 0755);
    CHECK("rename dir -> non-empty dir ENOTEMPTY", rename("d1", "full"));
    CHECK("rename dir into itself EINVAL", rename("d1", "d1/sub"));
    CHECK("rename . EBUSY/EINVAL", rename(".", "dot"));
    CHECK("rename a -> a/ ENOTDIR", rename("a", "a/"));
    CHECK("rename a/ -> z ENOTDIR", rename("a/", "z"));
    CHECK("rename EFAULT", rename(BADPTR, "z"));
    CHECK("rename d1 -> d3/ (trailing slash ok for dirs)", rename("d1", "d3/"));
    CHECK("rename d3/ -> d1", rename("d3/", "d1"));

    int dfd = open("full", O_RDONLY | O_DIRECTORY);
    CHECK("renameat(dfd, x, AT_FDCWD, y)", renameat(dfd, "x", AT_FDCWD, "y"));
    cat("y", "y");
    CHECK("SYS_renameat(AT_FDCWD, y, dfd, x)", syscall(SYS_renameat, AT_FDCWD, "y", dfd, "x"));
    cat("full/x", "full/x");
    CHECK("renameat(bad fd) EBADF", renameat(99, "x", AT_FDCWD, "y"));

    CHECK("renameat2 NOREPLACE onto existing EEXIST",
          syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
    CHECK("renameat2 NOREPLACE to new name",
          syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "n", RENAME_NOREPLACE));
    cat("n", "n");
    CHECK("renameat2 EXCHANGE n <-> b",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "b", RENAME_EXCHANGE));
    cat("n", "n");
    cat("b", "b");
    CHECK("renameat2 EXCHANGE file <-> dir",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "d1", RENAME_EXCHANGE));
    struct stat st;
    stat("n", &st);
    SAY("n is now %s", abi_ftype(st.st_mode));
    stat("d1", &st);
    SAY("d1 is now %s", abi_ftype(st.st_mode));
    CHECK("renameat2 EXCHANGE back",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "d1", RENAME_EXCHANGE));
    CHECK("renameat2 EXCHANGE with missing ENOENT",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "missing", RENAME_EXCHANGE));
    CHECK("renameat2 NOREPLACE|EXCHANGE EINVAL",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "b", RENAME_NOREPLACE | RENAME_EXCHANGE));
    CHECK("renameat2 unknown flag EINVAL",
          syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "b", 0x100));
    CHECK("renameat2 flags 0", syscall(SYS_renameat2, AT_FDCWD, "n", AT_FDCWD, "m", 0));
    CHECK("renameat2 via dirfd", syscall(SYS_renameat2, AT_FDCWD, "m", dfd, "m", 0));
    cat("full/m", "full/m");

    /* an open fd follows the file across renames */
    int fd = open("b", O_RDONLY);
    CHECK("rename b -> b2 while open", rename("b", "b2"));
    char buf[8];
    long n = read(fd, buf, sizeof buf);
    SAY("read via old fd = [%.*s]", (int)n, buf);
    close(fd);

    /* leave a little tree behind in the cwd (compared by the harness); clean /tmp */
    close(dfd);
    if (argc > 1 && strcmp(argv[1], ".") != 0) {
        unlink("b2");
        unlink("full/x");
        unlink("full/m");
        rmdir("full");
        rmdir("d1");
        rmdir("d2");
    }
    abi_leave(argc, argv);
    return 0;
}
