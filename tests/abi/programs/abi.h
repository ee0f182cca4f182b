/* Shared helpers for the ABI test programs.
 *
 * Every program prints one line per operation: a label, the return value and, on failure,
 * the errno NAME (e.g. "open(missing) = -1 ENOENT"). Programs never print anything that
 * legitimately differs between two runs (pointers, pids, inode numbers, times, absolute
 * paths of temporary directories): such values are printed as booleans instead.
 *
 * The same program runs natively and under compatd; the harness compares the outputs.
 */
#ifndef ABI_H
#define ABI_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* A pointer the kernel must reject with EFAULT (opaque to the compiler, so that gcc's
 * buffer-size diagnostics stay quiet). */
static inline void *abi_badptr(void)
{
    volatile unsigned long v = 1;
    return (void *)v;
}
#define BADPTR abi_badptr()

static inline const char *abi_errname(int e)
{
    const char *n = strerrorname_np(e);
    static char buf[32];
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E#%d", e);
    return buf;
}

/* Print "label = ret" or "label = -1 ENAME". Works for int/long/ssize_t results and for raw
 * syscall() results (which glibc turns into -1/errno too). */
#define CHECK(label, expr)                                                               \
    do {                                                                                 \
        errno = 0;                                                                       \
        long _r = (long)(expr);                                                          \
        int _e = errno;                                                                  \
        if (_r < 0)                                                                      \
            printf("%s = %ld %s\n", (label), _r, abi_errname(_e));                       \
        else                                                                             \
            printf("%s = %ld\n", (label), _r);                                           \
        fflush(stdout);                                                                  \
    } while (0)

/* Like CHECK, but a success prints "ok" instead of the value (for values that differ
 * between runs, such as fds of unknown number or lengths of absolute paths). */
#define CHECK_OK(label, expr)                                                            \
    do {                                                                                 \
        errno = 0;                                                                       \
        long _r = (long)(expr);                                                          \
        int _e = errno;                                                                  \
        if (_r < 0)                                                                      \
            printf("%s = %ld %s\n", (label), _r, abi_errname(_e));                       \
        else                                                                             \
            printf("%s = ok\n", (label));                                                \
        fflush(stdout);                                                                  \
    } while (0)

/* Print a boolean fact. */
#define FACT(label, cond)                                                                \
    do {                                                                                 \
        printf("%s: %s\n", (label), (cond) ? "yes" : "no");                              \
        fflush(stdout);                                                                  \
    } while (0)

#define SAY(...)                                                                         \
    do {                                                                                 \
        printf(__VA_ARGS__);                                                             \
        putchar('\n');                                                                   \
        fflush(stdout);                                                                  \
    } while (0)

/* Name of the file type in a st_mode. */
static inline const char *abi_ftype(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    default: return "?";
    }
}

/* Write a whole string to a new file (0644 after the umask), or die. */
static inline void abi_put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        printf("setup: cannot write %s: %s\n", path, abi_errname(errno));
        exit(99);
    }
    close(fd);
}

/* Programs that take a "base" argument work inside it: "." (the current directory, bound
 * read-write under compatd) or a fresh directory under /tmp (a private tmpfs under compatd).
 * abi_enter creates a /tmp base and changes into it; abi_leave changes back to the
 * original directory and removes the base (which the program must have emptied). */
static int abi_origfd = -1;

static inline void abi_enter(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : ".";
    umask(022);
    abi_origfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (strcmp(base, ".") != 0) {
        if (mkdir(base, 0755) != 0 || chdir(base) != 0) {
            printf("setup: cannot enter base: %s\n", abi_errname(errno));
            exit(99);
        }
    }
}

static inline void abi_leave(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : ".";
    if (strcmp(base, ".") != 0) {
        if (fchdir(abi_origfd) != 0)
            SAY("leave: fchdir failed: %s", abi_errname(errno));
        CHECK("rmdir(base)", rmdir(base));
    }
    close(abi_origfd);
}

#endif
