/* Processes: fork, vfork, exec, wait4/waitid, exit statuses, kill within the sandbox,
 * process groups and sessions. Prints only what is the same in every run. */
#include "abi.h"
#include <signal.h>
#include <sys/wait.h>

static void show_status(const char *label, int st)
{
    if (WIFEXITED(st))
        printf("%s: exited %d\n", label, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by %d\n", label, WTERMSIG(st));
    else
        printf("%s: other %#x\n", label, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) {
        printf("exec'd child argc=%d arg=%s env=%s\n", argc, argv[2], getenv("ABI_VAR"));
        return 7;
    }
    int st;
    pid_t p = fork();
    if (p == 0)
        _exit(42);
    CHECK("wait4(child) is the child", wait4(p, &st, 0, NULL) == p);
    show_status("fork+_exit(42)", st);
    CHECK("wait4 again", wait4(p, &st, 0, NULL));
    CHECK("wait4(-1) without children", wait4(-1, &st, WNOHANG, NULL));

    p = fork();
    if (p == 0) {
        pause();
        _exit(0);
    }
    CHECK("WNOHANG while running", waitpid(p, &st, WNOHANG));
    CHECK("kill(child, SIGTERM)", kill(p, SIGTERM));
    CHECK("waitpid is the child", waitpid(p, &st, 0) == p);
    show_status("killed child", st);

    p = vfork();
    if (p == 0) {
        char *args[] = {argv[0], "child", "x", NULL};
        char *env[] = {"ABI_VAR=42", NULL};
        execve(argv[0], args, env);
        _exit(99);
    }
    CHECK("waitpid(vfork+exec) is the child", waitpid(p, &st, 0) == p);
    show_status("exec'd child", st);

    p = fork();
    if (p == 0) {
        char *args[] = {"/nonexistent/prog", NULL};
        execve(args[0], args, NULL);
        printf("execve(missing) errno %s\n", abi_errname(errno));
        execve("/etc/passwd", args, NULL);
        printf("execve(not executable) errno %s\n", abi_errname(errno));
        execve("/etc", args, NULL);
        printf("execve(directory) errno %s\n", abi_errname(errno));
        fflush(stdout);
        _exit(3);
    }
    waitpid(p, &st, 0);
    show_status("failed execs", st);

    siginfo_t si;
    p = fork();
    if (p == 0)
        _exit(5);
    memset(&si, 0, sizeof si);
    CHECK("waitid(P_PID, WEXITED)", waitid(P_PID, p, &si, WEXITED));
    printf("si_code CLD_EXITED=%d status=%d pid ok=%d\n", si.si_code == CLD_EXITED, si.si_status,
           si.si_pid == p);

    CHECK("getpgrp == getpgid(0)", getpgrp() == getpgid(0));
    CHECK("getsid(0) == getsid(getpid())", getsid(0) == getsid(getpid()));
    CHECK("getpgid(999999)", getpgid(999999));
    p = fork();
    if (p == 0) {
        printf("child setsid ok=%d\n", setsid() == getpid());
        printf("child getsid==pid %d\n", getsid(0) == getpid());
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, &st, 0);
    show_status("setsid child", st);
    return 0;
}
