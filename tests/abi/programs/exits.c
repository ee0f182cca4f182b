/* exits: end in the way argv[1] says, to check the exit status compatd reports.
 *   exit N | exit_group N | thread-exit N | segv | write-then-exit N */
#include "abi.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 100;
    int code = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(argv[1], "exit"))
        exit(code); /* libc: flushes stdio, then exit_group */
    if (!strcmp(argv[1], "exit_group"))
        syscall(SYS_exit_group, code);
    if (!strcmp(argv[1], "exit-syscall"))
        syscall(SYS_exit, code); /* the only thread: ends the process */
    if (!strcmp(argv[1], "return"))
        return code;
    if (!strcmp(argv[1], "segv")) {
        printf("before the crash\n");
        fflush(stdout);
        *(volatile int *)abi_badptr() = 1;
    }
    if (!strcmp(argv[1], "buffered")) {
        printf("buffered, flushed by exit\n");
        exit(code);
    }
    return 101;
}
