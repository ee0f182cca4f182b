/* Advisory locks: flock (descriptions, conversion, LOCK_NB, blocking, release on close),
 * fcntl record locks (ranges, whence, splitting and merging, F_GETLK, release on closing any
 * descriptor, blocking, EDEADLK) and OFD locks. argv[1]: the base directory. */
#include "abi.h"
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

static void nap(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int lk(int fd, int cmd, int type, int whence, long start, long len)
{
    struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

/* F_GETLK (or F_OFD_GETLK) and print what it found; the pid as a fact. */
static void getlk(const char *label, int fd, int cmd, int type, long start, long len,
                  pid_t expect)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) < 0) {
        SAY("%s = -1 %s", label, abi_errname(errno));
        return;
    }
    if (fl.l_type == F_UNLCK)
        SAY("%s: unlocked", label);
    else
        SAY("%s: %s start %ld len %ld whence %d pid %s", label,
            fl.l_type == F_WRLCK ? "wr" : "rd", (long)fl.l_start, (long)fl.l_len,
            fl.l_whence, fl.l_pid == expect ? "expected" : "other");
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("f", "0123456789abcdefghij");
    int sync[2];
    char c;

    /* flock */
    int a = open("f", O_RDWR), b = open("f", O_RDWR);
    CHECK("flock a SH", flock(a, LOCK_SH));
    CHECK("flock b SH|NB", flock(b, LOCK_SH | LOCK_NB));
    CHECK("flock b EX|NB EWOULDBLOCK", flock(b, LOCK_EX | LOCK_NB));
    CHECK("flock a EX|NB (b lost its lock converting)", flock(a, LOCK_EX | LOCK_NB));
    int a2 = dup(a);
    CHECK("flock dup EX|NB (same description)", flock(a2, LOCK_EX | LOCK_NB));
    CHECK("flock b SH|NB EWOULDBLOCK", flock(b, LOCK_SH | LOCK_NB));
    close(a);
    CHECK("flock b still EWOULDBLOCK (dup holds it)", flock(b, LOCK_SH | LOCK_NB));
    close(a2);
    CHECK("flock b after last close", flock(b, LOCK_EX | LOCK_NB));
    CHECK("flock b UN", flock(b, LOCK_UN));
    CHECK("flock bad op EINVAL", flock(b, 3));
    CHECK("flock LOCK_MAND ignored", flock(b, 32 | LOCK_SH));
    CHECK("flock EBADF", flock(99, LOCK_SH));
    int pf = open("f", O_PATH);
    CHECK("flock O_PATH EBADF", flock(pf, LOCK_SH));
    close(pf);

    /* flock blocking: a child holds it, the parent waits */
    pipe(sync);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("f", O_RDONLY);
        flock(fd, LOCK_EX);
        write(sync[1], "l", 1);
        nap(150);
        write(sync[1], "u", 1);
        flock(fd, LOCK_UN);
        _exit(0);
    }
    read(sync[0], &c, 1);
    CHECK("flock EX|NB while child holds", flock(b, LOCK_EX | LOCK_NB));
    CHECK("flock EX waits", flock(b, LOCK_EX));
    c = 0;
    read(sync[0], &c, 1);
    FACT("child had unlocked first", c == 'u');
    waitpid(pid, NULL, 0);
    flock(b, LOCK_UN);
    close(sync[0]);
    close(sync[1]);

    /* record locks */
    CHECK("F_SETLK wr [0,10)", lk(b, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
    CHECK("F_SETLK rd [20,30)", lk(b, F_SETLK, F_RDLCK, SEEK_SET, 20, 10));
    CHECK("F_SETLK rd [30,40) merges", lk(b, F_SETLK, F_RDLCK, SEEK_SET, 30, 10));
    CHECK("F_SETLK unlock [3,5) splits", lk(b, F_SETLK, F_UNLCK, SEEK_SET, 3, 2));
    CHECK("own lock never conflicts", lk(b, F_SETLK, F_WRLCK, SEEK_SET, 50, 0));
    CHECK("F_SETLK unlock [50,EOF)", lk(b, F_SETLK, F_UNLCK, SEEK_SET, 50, 0));
    getlk("own F_GETLK", b, F_GETLK, F_WRLCK, 0, 0, 0);
    pid_t parent = getpid();
    int back[2];
    pipe(sync);
    pipe(back);
    pid = fork();
    if (pid == 0) {
        int fd = open("f", O_RDWR);
        getlk("child getlk [5,6)", fd, F_GETLK, F_RDLCK, 5, 1, parent);
        getlk("child getlk [3,5)", fd, F_GETLK, F_WRLCK, 3, 2, parent);
        getlk("child getlk [0,1)", fd, F_GETLK, F_RDLCK, 0, 1, parent);
        getlk("child getlk rd [25,35)", fd, F_GETLK, F_RDLCK, 25, 10, parent);
        getlk("child getlk wr [25,35)", fd, F_GETLK, F_WRLCK, 25, 10, parent);
        CHECK("child F_SETLK EAGAIN", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 9, 5));
        CHECK("child F_SETLK [10,20)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
        CHECK("child rd lock over parent's rd", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 20, 5));
        write(sync[1], "1", 1);
        read(back[0], &c, 1);  /* the parent closed another descriptor */
        nap(50);
        getlk("child getlk after parent's close", fd, F_GETLK, F_WRLCK, 0, 0, parent);
        _exit(0);
    }
    read(sync[0], &c, 1);
    getlk("parent getlk [10,20)", b, F_GETLK, F_WRLCK, 10, 10, pid);
    CHECK("parent F_SETLK EAGAIN on child's", lk(b, F_SETLK, F_RDLCK, SEEK_SET, 15, 1));
    int other = open("f", O_RDONLY);
    close(other);
    write(back[1], "2", 1);
    waitpid(pid, NULL, 0);
    close(sync[0]);
    close(sync[1]);
    close(back[0]);
    close(back[1]);

    /* whence and argument errors */
    lseek(b, 4, SEEK_SET);
    CHECK("SEEK_CUR lock", lk(b, F_SETLK, F_WRLCK, SEEK_CUR, 1, 2));
    CHECK("SEEK_END lock", lk(b, F_SETLK, F_WRLCK, SEEK_END, -3, 2));
    CHECK("negative len lock", lk(b, F_SETLK, F_RDLCK, SEEK_SET, 12, -2));
    CHECK("negative len before 0 EINVAL", lk(b, F_SETLK, F_RDLCK, SEEK_SET, 1, -2));
    CHECK("negative start EINVAL", lk(b, F_SETLK, F_RDLCK, SEEK_SET, -1, 2));
    CHECK("bad whence EINVAL", lk(b, F_SETLK, F_RDLCK, 7, 0, 1));
    CHECK("bad type EINVAL", lk(b, F_SETLK, 5, SEEK_SET, 0, 1));
    CHECK("F_GETLK F_UNLCK EINVAL", lk(b, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
    CHECK("F_SETLK EFAULT", fcntl(b, F_SETLK, BADPTR));
    int ro = open("f", O_RDONLY), wo = open("f", O_WRONLY);
    CHECK("wr lock on O_RDONLY EBADF", lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
    CHECK("rd lock on O_WRONLY EBADF", lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    CHECK("unlock on O_RDONLY", lk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
    close(ro);
    close(wo);
    pf = open("f", O_PATH);
    CHECK("F_SETLK O_PATH EBADF", lk(pf, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    close(pf);

    /* F_SETLKW waits, and EDEADLK */
    CHECK("unlock all", lk(b, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
    CHECK("parent holds [0,1)", lk(b, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
    pipe(sync);
    pid = fork();
    if (pid == 0) {
        int fd = open("f", O_RDWR);
        lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1);
        write(sync[1], "b", 1);
        int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1); /* waits for the parent */
        /* reported through the exit status: the child's own line would race the parent's */
        _exit(r == 0 ? 0 : 1);
    }
    read(sync[0], &c, 1);
    nap(150);
    CHECK("parent F_SETLKW EDEADLK", lk(b, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1));
    CHECK("parent unlocks [0,1)", lk(b, F_SETLK, F_UNLCK, SEEK_SET, 0, 1));
    int cst = -1;
    waitpid(pid, &cst, 0);
    SAY("child F_SETLKW succeeded: %s", WIFEXITED(cst) && WEXITSTATUS(cst) == 0 ? "yes" : "no");
    CHECK("parent F_SETLKW after child exit", lk(b, F_SETLKW, F_WRLCK, SEEK_SET, 0, 2));
    close(sync[0]);
    close(sync[1]);
    close(b);

    /* OFD locks */
    int o1 = open("f", O_RDWR), o2 = open("f", O_RDWR);
    CHECK("OFD set o1 [0,10)", lk(o1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
    CHECK("OFD set o2 EAGAIN", lk(o2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 5, 1));
    getlk("OFD getlk o2", o2, F_OFD_GETLK, F_RDLCK, 5, 1, -1);
    CHECK("POSIX lock vs own OFD lock EAGAIN", lk(o2, F_SETLK, F_RDLCK, SEEK_SET, 5, 1));
    getlk("POSIX getlk sees OFD", o2, F_GETLK, F_RDLCK, 0, 0, -1);
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 1};
    CHECK("OFD l_pid EINVAL", fcntl(o2, F_OFD_SETLK, &fl));
    CHECK("OFD getlk l_pid EINVAL", fcntl(o2, F_OFD_GETLK, &fl));
    int o3 = dup(o1);
    close(o1);
    CHECK("OFD still held through dup", lk(o2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 5, 1));
    close(o3);
    CHECK("OFD released with description", lk(o2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 5, 1));
    CHECK("OFD SETLKW own", lk(o2, F_OFD_SETLKW, F_WRLCK, SEEK_SET, 0, 0));
    close(o2);

    CHECK("unlink f", unlink("f"));
    abi_leave(argc, argv);
    return 0;
}
