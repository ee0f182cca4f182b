/* getrusage and times (the host's figures for the caller; children counted once reaped),
 * alarm, setitimer/getitimer and POSIX timers (signals to the caller only). */
#include "abi.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t alrm, usr1;
static void on_alrm(int s) { (void)s; alrm++; }
static void on_usr1(int s) { (void)s; usr1++; }

int main(void)
{
    struct rusage ru;
    CHECK("getrusage(SELF)", syscall(SYS_getrusage, RUSAGE_SELF, &ru));
    FACT("maxrss > 0", ru.ru_maxrss > 0);
    CHECK("getrusage(THREAD)", syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
    CHECK("getrusage(CHILDREN)", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    SAY("children maxrss before = %ld", ru.ru_maxrss);
    CHECK("getrusage(5)", syscall(SYS_getrusage, 5, &ru));
    CHECK("getrusage(EFAULT)", syscall(SYS_getrusage, RUSAGE_SELF, BADPTR));
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    CHECK("getrusage(CHILDREN) before the wait", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    SAY("children maxrss = %ld", ru.ru_maxrss);
    waitpid(c, NULL, 0);
    CHECK("getrusage(CHILDREN) after", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    FACT("children maxrss > 0", ru.ru_maxrss > 0);
    struct tms t;
    long ticks = syscall(SYS_times, &t);
    FACT("times() > 0", ticks > 0);
    FACT("times(NULL) > 0", syscall(SYS_times, NULL) > 0);
    CHECK("times(EFAULT)", syscall(SYS_times, BADPTR));

    signal(SIGALRM, on_alrm);
    CHECK("alarm(10)", syscall(SYS_alarm, 10));
    CHECK("alarm(0)", syscall(SYS_alarm, 0));
    struct itimerval it = {{0, 0}, {0, 20000}}, old;
    CHECK("setitimer(REAL, 20ms)", syscall(SYS_setitimer, ITIMER_REAL, &it, NULL));
    while (!alrm)
        pause();
    SAY("SIGALRM caught %d", (int)alrm);
    CHECK("getitimer(REAL)", syscall(SYS_getitimer, ITIMER_REAL, &old));
    SAY("remaining = %ld.%06ld", (long)old.it_value.tv_sec, (long)old.it_value.tv_usec);
    it.it_value.tv_sec = 100;
    CHECK("setitimer(VIRTUAL, 100s)", syscall(SYS_setitimer, ITIMER_VIRTUAL, &it, NULL));
    memset(&it, 0, sizeof it);
    CHECK("setitimer(VIRTUAL, 0) old", syscall(SYS_setitimer, ITIMER_VIRTUAL, &it, &old));
    FACT("old value near 100s", old.it_value.tv_sec >= 99);
    CHECK("setitimer(7)", syscall(SYS_setitimer, 7, &it, NULL));
    CHECK("getitimer(EFAULT)", syscall(SYS_getitimer, ITIMER_REAL, BADPTR));

    signal(SIGUSR1, on_usr1);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    int id = -1;
    CHECK("timer_create", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
    struct itimerspec ts = {{0, 0}, {0, 10000000}}, ots;
    CHECK("timer_settime(10ms)", syscall(SYS_timer_settime, id, 0, &ts, NULL));
    while (!usr1)
        pause();
    SAY("SIGUSR1 caught %d", (int)usr1);
    CHECK("timer_gettime", syscall(SYS_timer_gettime, id, &ots));
    SAY("remaining = %ld.%09ld", (long)ots.it_value.tv_sec, ots.it_value.tv_nsec);
    CHECK("timer_getoverrun", syscall(SYS_timer_getoverrun, id));
    CHECK("timer_delete", syscall(SYS_timer_delete, id));
    CHECK("timer_delete again", syscall(SYS_timer_delete, id));
    sev.sigev_notify = 4; /* SIGEV_THREAD_ID */
    sev._sigev_un._tid = 1;
    CHECK("timer_create(THREAD_ID of another process)",
          syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
    sev._sigev_un._tid = syscall(SYS_gettid);
    CHECK("timer_create(THREAD_ID self)", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
    CHECK("timer_delete", syscall(SYS_timer_delete, id));
    CHECK("timer_create(bad clock)", syscall(SYS_timer_create, 99, &sev, &id));
    return 0;
}
