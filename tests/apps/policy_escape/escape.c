/* Escape attempts against a policy that denies one file (the "secret").
 *
 * Usage: escape MODE SECRET [ARG...]   (run in a scratch directory it may write into)
 *
 * Each mode tries to read SECRET (an absolute path) by a way around a path check. On
 * success it prints "GOT: " and what it read, and exits 0; on failure it prints
 * "FAILED <step>: errno=N (text)" and exits 1. Modes that exec something cannot read the
 * file themselves: they print the exec's result ("EXEC FAILED ...") so the test can tell
 * "the kernel opened the file and found it was no program" (ENOEXEC, ELIBBAD) from
 * "the open was refused".
 *
 * The same binary runs natively (where every attempt must work: the test is real) and
 * under compatd with the policy (where every attempt must be refused and audited).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *secret;

static int failed(const char *step)
{
    int e = errno;
    printf("FAILED %s: errno=%d (%s)\n", step, e, strerror(e));
    return 1;
}

/* Read what fd holds and show it: the escape worked. */
static int got(int fd)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0)
        return failed("read");
    buf[n] = 0;
    printf("GOT: %s", buf);
    return 0;
}

static int open_and_show(const char *step, int dirfd, const char *path)
{
    int fd = openat(dirfd, path, O_RDONLY);
    if (fd < 0)
        return failed(step);
    return got(fd);
}

static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    return strdup(dirname(copy));
}

static char *base_of(const char *path)
{
    char *copy = strdup(path);
    return strdup(basename(copy));
}

/* A file in the cwd with these contents and mode. */
static void put_file(const char *name, const char *text, mode_t mode)
{
    unlink(name);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        failed("writing a helper file");
        exit(2);
    }
    close(fd);
    chmod(name, mode);
}

/* a symlink in the cwd pointing at the secret */
static int mode_symlink(void)
{
    unlink("link");
    if (symlink(secret, "link") < 0)
        return failed("symlink");
    return open_and_show("open link", AT_FDCWD, "link");
}

/* ../ up to the root and down again, with ./ on the way: DIR/../DIR/./NAME relative */
static int mode_dotdot(void)
{
    char cwd[4096], path[8192 + 64] = "";
    if (!getcwd(cwd, sizeof cwd))
        return failed("getcwd");
    for (char *p = cwd; *p; p++)
        if (*p == '/' && p[1])
            strcat(path, "../");
    strcat(path, "..");
    char *d = dir_of(secret);
    strcat(path, d);
    strcat(path, "/./../");
    strcat(path, strrchr(d, '/') + 1);
    strcat(path, "/");
    strcat(path, base_of(secret));
    return open_and_show("open ../", AT_FDCWD, path);
}

/* a descriptor of the secret's directory, then the name relative to it */
static int mode_dirfd(void)
{
    int dfd = open(dir_of(secret), O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        return failed("open dir");
    return open_and_show("openat dirfd", dfd, base_of(secret));
}

/* the same absolute path through the /proc/self/root magic link */
static int mode_proc_root(void)
{
    char path[8192];
    snprintf(path, sizeof path, "/proc/self/root%s", secret);
    return open_and_show("open /proc/self/root", AT_FDCWD, path);
}

/* O_PATH names the file without opening it; /proc/self/fd/N reopens it for reading */
static int mode_opath(void)
{
    int pfd = open(secret, O_PATH);
    if (pfd < 0)
        return failed("open O_PATH");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", pfd);
    return open_and_show("reopen /proc/self/fd/N", AT_FDCWD, path);
}

/* a new hard link made now, in the cwd */
static int mode_hardlink(void)
{
    unlink("hardlink");
    if (link(secret, "hardlink") < 0)
        return failed("link");
    return open_and_show("open hardlink", AT_FDCWD, "hardlink");
}

/* a new hard link to an O_PATH descriptor of the secret (linkat with AT_EMPTY_PATH) */
static int mode_linkat_fd(void)
{
    int pfd = open(secret, O_PATH);
    if (pfd < 0)
        return failed("open O_PATH");
    unlink("fdlink");
    if (linkat(pfd, "", AT_FDCWD, "fdlink", AT_EMPTY_PATH) < 0)
        return failed("linkat AT_EMPTY_PATH");
    return open_and_show("open fdlink", AT_FDCWD, "fdlink");
}

/* a hard link someone made before the program started (ARG: its name) */
static int mode_prelinked(const char *name)
{
    return open_and_show("open prelinked", AT_FDCWD, name);
}

/* chroot into the secret's directory: the file is now "/NAME" */
static int mode_chroot(void)
{
    char path[4096];
    if (chroot(dir_of(secret)) < 0)
        return failed("chroot");
    snprintf(path, sizeof path, "/%s", base_of(secret));
    return open_and_show("open in chroot", AT_FDCWD, path);
}

/* rename the secret itself (in its directory) and read it under its new name */
static int mode_renamefile(void)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/renamed", dir_of(secret));
    if (rename(secret, path) < 0)
        return failed("rename");
    return open_and_show("open renamed", AT_FDCWD, path);
}

/* rename the secret's directory and read the file under its new path */
static int mode_renamedir(void)
{
    char *d = dir_of(secret), moved[4096], path[8192];
    snprintf(moved, sizeof moved, "%s-moved", d);
    if (rename(d, moved) < 0)
        return failed("rename dir");
    snprintf(path, sizeof path, "%s/%s", moved, base_of(secret));
    return open_and_show("open renamed", AT_FDCWD, path);
}

/* The race: "name" is a decoy file or a symlink to the secret, swapped atomically by one
 * thread while another opens and reads "name" ITERATIONS times. A checker that looks at
 * the path and then lets the open happen separately loses this race. */
#define ITERATIONS 10000
static volatile int stop;

static void *swapper(void *arg)
{
    (void)arg;
    while (!stop)
        syscall(SYS_renameat2, AT_FDCWD, "name", AT_FDCWD, "other", RENAME_EXCHANGE);
    return NULL;
}

static int mode_race(void)
{
    unlink("name");
    unlink("other");
    put_file("name", "decoy\n", 0644);
    if (symlink(secret, "other") < 0)
        return failed("symlink");
    pthread_t th;
    pthread_create(&th, NULL, swapper, NULL);
    long secrets = 0, decoys = 0, errors = 0, last_errno = 0;
    char first[4096] = "", buf[4096];
    for (int i = 0; i < ITERATIONS; i++) {
        int fd = open("name", O_RDONLY);
        if (fd < 0) {
            errors++;
            last_errno = errno;
            continue;
        }
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
            continue;
        buf[n] = 0;
        if (strcmp(buf, "decoy\n") == 0) {
            decoys++;
        } else {
            if (!secrets++)
                strcpy(first, buf);
        }
    }
    stop = 1;
    pthread_join(th, NULL);
    printf("race: %d opens: %ld secret, %ld decoy, %ld refused\n", ITERATIONS, secrets,
           decoys, errors);
    if (secrets) {
        printf("GOT: %s", first);
        return 0;
    }
    errno = last_errno;
    return failed("open in the race");
}

/* execve, and report how it failed */
static int exec_failed(void)
{
    int e = errno;
    printf("EXEC FAILED: errno=%d (%s)\n", e, strerror(e));
    return 1;
}

/* a #! script whose interpreter is the secret: exec must open and read it */
static int mode_shebang_interp(void)
{
    char text[8192];
    snprintf(text, sizeof text, "#!%s\n", secret);
    put_file("via-interp.sh", text, 0755);
    char *argv[] = {"via-interp.sh", NULL};
    execve("./via-interp.sh", argv, (char *[]){NULL});
    return exec_failed();
}

/* a #! script that has cat read the secret */
static int mode_shebang_cat(void)
{
    char text[8192];
    snprintf(text, sizeof text, "#!/bin/cat %s\n", secret);
    put_file("via-cat.sh", text, 0755);
    char *argv[] = {"via-cat.sh", NULL};
    execve("./via-cat.sh", argv, (char *[]){NULL});
    return exec_failed();
}

/* an ELF program whose PT_INTERP (the ELF interpreter) is the secret (ARG: its path) */
static int mode_interp(const char *program)
{
    char *argv[] = {(char *)program, NULL};
    execve(program, argv, (char *[]){NULL});
    return exec_failed();
}

/* execveat(fd, "", AT_EMPTY_PATH) of an O_PATH descriptor of the secret */
static int mode_execveat(void)
{
    int pfd = open(secret, O_PATH);
    if (pfd < 0)
        return failed("open O_PATH");
    char *argv[] = {"secret", NULL};
    syscall(SYS_execveat, pfd, "", argv, (char *[]){NULL}, AT_EMPTY_PATH);
    return exec_failed();
}

/* A descriptor opened by a process outside (ARG: the AF_UNIX socket it listens on),
 * passed with SCM_RIGHTS and shown: a file (the secret) mapped, a socket (a connection to a
 * denied address) read. */
static int mode_fdpass(const char *sockpath)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, sockpath, sizeof a.sun_path - 1);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        return failed("connect to the fd passer");
    char byte, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    if (recvmsg(s, &m, 0) < 0)
        return failed("recvmsg");
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (fd < 0) {
        /* Linux's security_file_receive refusal: no descriptor, MSG_CTRUNC, no errno. */
        printf("FAILED recvmsg: no descriptor received (MSG_CTRUNC %s)\n",
               m.msg_flags & MSG_CTRUNC ? "set" : "clear");
        return 1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return failed("fstat");
    if (S_ISSOCK(sb.st_mode))
        return got(fd);
    char *p = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return failed("mmap");
    printf("GOT: %.*s", (int)sb.st_size, p);
    return 0;
}

/* connect to ADDR PORT (ARG, ARG) and show what the listener says */
static int mode_connect(const char *addr, const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    inet_pton(AF_INET, addr, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        return failed("connect");
    return got(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: escape MODE SECRET [ARG...]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argv[1], *arg = argc > 3 ? argv[3] : "";
    secret = argv[2];
    if (!strcmp(mode, "direct"))
        return open_and_show("open", AT_FDCWD, secret);
    if (!strcmp(mode, "symlink"))
        return mode_symlink();
    if (!strcmp(mode, "dotdot"))
        return mode_dotdot();
    if (!strcmp(mode, "dirfd"))
        return mode_dirfd();
    if (!strcmp(mode, "proc-root"))
        return mode_proc_root();
    if (!strcmp(mode, "opath"))
        return mode_opath();
    if (!strcmp(mode, "hardlink"))
        return mode_hardlink();
    if (!strcmp(mode, "linkat-fd"))
        return mode_linkat_fd();
    if (!strcmp(mode, "renamefile"))
        return mode_renamefile();
    if (!strcmp(mode, "prelinked"))
        return mode_prelinked(arg);
    if (!strcmp(mode, "chroot"))
        return mode_chroot();
    if (!strcmp(mode, "renamedir"))
        return mode_renamedir();
    if (!strcmp(mode, "race"))
        return mode_race();
    if (!strcmp(mode, "shebang-interp"))
        return mode_shebang_interp();
    if (!strcmp(mode, "shebang-cat"))
        return mode_shebang_cat();
    if (!strcmp(mode, "interp"))
        return mode_interp(arg);
    if (!strcmp(mode, "execveat"))
        return mode_execveat();
    if (!strcmp(mode, "fdpass"))
        return mode_fdpass(arg);
    if (!strcmp(mode, "connect"))
        return mode_connect(arg, argc > 4 ? argv[4] : "0");
    fprintf(stderr, "escape: unknown mode %s\n", mode);
    return 2;
}
