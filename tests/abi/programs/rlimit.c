/* prlimit64/getrlimit/setrlimit; lower RLIMIT_NOFILE and open until EMFILE. */
#include "abi.h"
#include <sys/resource.h>

int main(void)
{
    struct rlimit rl, saved;
    CHECK("getrlimit(NOFILE)", syscall(SYS_getrlimit, RLIMIT_NOFILE, &saved));
    SAY("nofile = %lu %lu", (unsigned long)saved.rlim_cur, (unsigned long)saved.rlim_max);
    CHECK("prlimit64(0, NOFILE, NULL, old)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl));
    FACT("prlimit64 agrees with getrlimit",
         rl.rlim_cur == saved.rlim_cur && rl.rlim_max == saved.rlim_max);
    CHECK("prlimit64(self pid)", syscall(SYS_prlimit64, syscall(SYS_getpid), RLIMIT_NOFILE, NULL, &rl));
    CHECK("getrlimit(bad resource)", syscall(SYS_getrlimit, 999, &rl));
    CHECK("prlimit64(bad resource)", syscall(SYS_prlimit64, 0, 999, NULL, &rl));
    CHECK("getrlimit(EFAULT)", syscall(SYS_getrlimit, RLIMIT_NOFILE, BADPTR));
    CHECK("getrlimit(STACK)", syscall(SYS_getrlimit, RLIMIT_STACK, &rl));
    SAY("stack = %lu %lu", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);

    struct rlimit bad = {.rlim_cur = 100, .rlim_max = 50};
    CHECK("setrlimit(cur > max)", syscall(SYS_setrlimit, RLIMIT_NOFILE, &bad));

    abi_put("rlimit-file.txt", "x");
    struct rlimit low = {.rlim_cur = 16, .rlim_max = saved.rlim_max};
    CHECK("setrlimit(NOFILE, 16)", syscall(SYS_setrlimit, RLIMIT_NOFILE, &low));
    CHECK("getrlimit(NOFILE)", syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl));
    SAY("nofile = %lu", (unsigned long)rl.rlim_cur);
    int last = -1, fd;
    for (int i = 0; i < 64; i++) {
        errno = 0;
        fd = open("rlimit-file.txt", O_RDONLY);
        if (fd < 0)
            break;
        last = fd;
    }
    SAY("last fd opened = %d", last);
    SAY("then open = %d %s", fd, abi_errname(errno));
    CHECK("dup when full", dup(0));
    CHECK("dup2(0, 20) beyond limit", dup2(0, 20));
    CHECK("fcntl(F_DUPFD, 20) beyond limit", fcntl(0, F_DUPFD, 20));
    CHECK("close(last)", close(last));
    CHECK("dup fills the gap", dup(0));
    for (int i = 3; i <= last; i++)
        close(i);
    /* Raise it back through prlimit64 with an old value. */
    struct rlimit old;
    CHECK("prlimit64(set, old)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &saved, &old));
    SAY("old nofile = %lu", (unsigned long)old.rlim_cur);
    CHECK("getrlimit(NOFILE)", syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl));
    FACT("restored", rl.rlim_cur == saved.rlim_cur);
    CHECK("unlink", unlink("rlimit-file.txt"));
    return 0;
}
