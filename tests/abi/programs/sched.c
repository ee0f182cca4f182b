/* Scheduling: affinity, policies, priorities, nice values, sched_attr, personality, getcpu. */
#include "abi.h"
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

struct attr {
    unsigned size, policy;
    unsigned long long flags;
    int nice;
    unsigned prio;
    unsigned long long runtime, deadline, period;
    unsigned util_min, util_max;
};

int main(void)
{
    cpu_set_t set, one;
    CPU_ZERO(&set);
    CHECK("sched_getaffinity(128)", syscall(SYS_sched_getaffinity, 0, 128, &set));
    SAY("cpus = %d", CPU_COUNT(&set));
    CHECK("sched_getaffinity(1)", syscall(SYS_sched_getaffinity, 0, 1, &set));
    CHECK("sched_getaffinity(12)", syscall(SYS_sched_getaffinity, 0, 12, &set));
    CHECK("sched_getaffinity(EFAULT)", syscall(SYS_sched_getaffinity, 0, 128, BADPTR));
    CHECK("sched_getaffinity(no such pid)", syscall(SYS_sched_getaffinity, 999999999, 128, &set));
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    CHECK("sched_setaffinity(cpu 0)", syscall(SYS_sched_setaffinity, 0, sizeof one, &one));
    CHECK("sched_getaffinity", syscall(SYS_sched_getaffinity, 0, sizeof set, &set));
    SAY("cpus = %d, cpu 0: %d", CPU_COUNT(&one), CPU_ISSET(0, &one));
    CPU_ZERO(&one);
    CHECK("sched_setaffinity(empty)", syscall(SYS_sched_setaffinity, 0, sizeof one, &one));
    CHECK("sched_setaffinity(restore)", sched_setaffinity(0, sizeof set, &set));

    CHECK("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    CHECK("sched_getscheduler(-1)", syscall(SYS_sched_getscheduler, -1));
    struct sched_param sp = {.sched_priority = 77};
    CHECK("sched_getparam", syscall(SYS_sched_getparam, 0, &sp));
    SAY("priority = %d", sp.sched_priority);
    CHECK("sched_getparam(NULL)", syscall(SYS_sched_getparam, 0, NULL));
    int pols[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, 6, 4, 42};
    for (unsigned i = 0; i < sizeof pols / sizeof *pols; i++) {
        char l[64];
        snprintf(l, sizeof l, "priority_max(%d)", pols[i]);
        CHECK(l, syscall(SYS_sched_get_priority_max, pols[i]));
        snprintf(l, sizeof l, "priority_min(%d)", pols[i]);
        CHECK(l, syscall(SYS_sched_get_priority_min, pols[i]));
    }
    sp.sched_priority = 0;
    CHECK("setscheduler(BATCH)", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp));
    CHECK("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    CHECK("setscheduler(BATCH|RESET_ON_FORK)",
          syscall(SYS_sched_setscheduler, 0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp));
    CHECK("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    CHECK("setscheduler(FIFO, 0)", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp));
    CHECK("setscheduler(42)", syscall(SYS_sched_setscheduler, 0, 42, &sp));
    CHECK("setscheduler(NULL)", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
    CHECK("setscheduler(pid -1)", syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &sp));
    sp.sched_priority = 3;
    CHECK("setscheduler(OTHER, 3)", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    CHECK("setparam(3) under BATCH", syscall(SYS_sched_setparam, 0, &sp));
    sp.sched_priority = 0;
    CHECK("setscheduler(OTHER)", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    CHECK("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    struct timespec ts;
    CHECK_OK("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0, &ts));
    CHECK("sched_rr_get_interval(-1)", syscall(SYS_sched_rr_get_interval, -1, &ts));

    struct attr a;
    memset(&a, 0xff, sizeof a);
    CHECK("sched_getattr", syscall(SYS_sched_getattr, 0, &a, sizeof a, 0));
    SAY("attr size %u policy %u flags %llx nice %d prio %u", a.size, a.policy, a.flags, a.nice,
        a.prio);
    CHECK("sched_getattr(flags)", syscall(SYS_sched_getattr, 0, &a, sizeof a, 1));
    CHECK("sched_getattr(size 8)", syscall(SYS_sched_getattr, 0, &a, 8, 0));
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.policy = SCHED_OTHER;
    a.nice = 3;
    CHECK("sched_setattr(nice 3)", syscall(SYS_sched_setattr, 0, &a, 0));
    CHECK("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));

    CHECK("setpriority(5)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 5));
    CHECK("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    CHECK("getpriority(42)", syscall(SYS_getpriority, 42, 0));
    CHECK("getpriority(no such pid)", syscall(SYS_getpriority, PRIO_PROCESS, 999999999));
    CHECK("setpriority(0)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 0));
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        CHECK("child getpriority(parent)", syscall(SYS_getpriority, PRIO_PROCESS, parent));
        CHECK_OK("child setsid", setsid());
        CHECK("child getpriority(PGRP)", syscall(SYS_getpriority, PRIO_PGRP, 0));
        CHECK("child setpriority(PGRP, 50)", syscall(SYS_setpriority, PRIO_PGRP, 0, 50));
        CHECK("child getpriority(PGRP)", syscall(SYS_getpriority, PRIO_PGRP, 0));
        CHECK("child setpriority(0)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 0));
        CHECK("child setuid(1000)", setuid(1000));
        CHECK("child setpriority(parent)", syscall(SYS_setpriority, PRIO_PROCESS, parent, 1));
        CHECK("child setpriority(-1)", syscall(SYS_setpriority, PRIO_PROCESS, 0, -1));
        CHECK("child setpriority(4)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 4));
        CHECK("child getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
        CHECK("child setaffinity(parent)",
              syscall(SYS_sched_setaffinity, parent, sizeof set, &set));
        CHECK("child getaffinity(parent)", syscall(SYS_sched_getaffinity, parent, 128, &one));
        struct sched_param p = {.sched_priority = 1};
        CHECK("child setscheduler(FIFO)", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &p));
        CHECK("child setscheduler(parent)", syscall(SYS_sched_setscheduler, parent, SCHED_OTHER,
                                                    &(struct sched_param){0}));
        p.sched_priority = 0;
        CHECK("child setscheduler(IDLE)", syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &p));
        CHECK("child setscheduler(OTHER) from IDLE",
              syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &p));
        CHECK("child setscheduler(BATCH) from IDLE",
              syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &p));
        _exit(0);
    }
    waitpid(c, NULL, 0);

    CHECK("personality(query)", syscall(SYS_personality, 0xffffffff));
    CHECK("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
    CHECK("personality(query)", syscall(SYS_personality, 0xffffffff));
    CHECK("personality(0)", syscall(SYS_personality, 0));
    CHECK("personality(query)", syscall(SYS_personality, 0xffffffff));
    unsigned cpu = 99, node = 99;
    CHECK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
    FACT("cpu < 1024", cpu < 1024);
    return 0;
}
