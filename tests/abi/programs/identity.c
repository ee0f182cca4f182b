/* identity: getpid/gettid/getppid, uid/gid family, getgroups, umask. */
#include "abi.h"
#include <grp.h>
#include <sys/stat.h>

int main(void)
{
    long pid = syscall(SYS_getpid), tid = syscall(SYS_gettid);
    FACT("getpid > 0", pid > 0);
    FACT("getpid == gettid", pid == tid);
    FACT("getppid > 0", syscall(SYS_getppid) > 0);
    FACT("getppid != getpid", syscall(SYS_getppid) != pid);

    CHECK("getuid", syscall(SYS_getuid));
    CHECK("geteuid", syscall(SYS_geteuid));
    CHECK("getgid", syscall(SYS_getgid));
    CHECK("getegid", syscall(SYS_getegid));

    uid_t r = 99, e = 99, s = 99;
    CHECK("getresuid", syscall(SYS_getresuid, &r, &e, &s));
    SAY("resuid = %u %u %u", r, e, s);
    gid_t gr = 99, ge = 99, gs = 99;
    CHECK("getresgid", syscall(SYS_getresgid, &gr, &ge, &gs));
    SAY("resgid = %u %u %u", gr, ge, gs);
    CHECK("getresuid(EFAULT)", syscall(SYS_getresuid, BADPTR, &e, &s));
    CHECK("getresgid(EFAULT)", syscall(SYS_getresgid, &gr, &ge, BADPTR));

    long n = syscall(SYS_getgroups, 0, NULL);
    CHECK("getgroups(0)", n);
    if (n >= 0) {
        gid_t groups[256];
        long m = syscall(SYS_getgroups, 256, groups);
        CHECK("getgroups(256)", m);
        for (long i = 0; i < m; i++)
            SAY("group[%ld] = %u", i, groups[i]);
        if (n > 0)
            CHECK("getgroups(too small)", syscall(SYS_getgroups, n - 1 > 0 ? n - 1 : 0, groups) < 0
                                              ? -1 : 0);
        CHECK("getgroups(-1)", syscall(SYS_getgroups, -1, groups));
        if (n > 0)
            CHECK("getgroups(EFAULT)", syscall(SYS_getgroups, 256, BADPTR));
    }

    /* umask: the old value is inherited from the harness (the same for both runs). */
    mode_t old = umask(027);
    SAY("umask(027) old = %03o", old);
    SAY("umask(old) = %03o", umask(old));
    SAY("umask(0777777) = %03o", umask(0777777));
    SAY("umask(022) = %03o", umask(022));
    int fd = open("identity-umask.txt", O_CREAT | O_WRONLY | O_TRUNC, 0666);
    CHECK("open(0666 under 022)", fd);
    struct stat st;
    CHECK("fstat", fstat(fd, &st));
    SAY("mode = %04o", st.st_mode & 07777);
    close(fd);
    umask(077);
    CHECK("mkdir(0777 under 077)", mkdir("identity-umask.d", 0777));
    CHECK("stat", stat("identity-umask.d", &st));
    SAY("mode = %04o", st.st_mode & 07777);
    CHECK("rmdir", rmdir("identity-umask.d"));
    CHECK("unlink", unlink("identity-umask.txt"));
    return 0;
}
