/* System V message queues and semaphores: get/create/excl errors, send and receive by
 * type (first, exact, MSG_EXCEPT, lowest), E2BIG/MSG_NOERROR, ENOMSG, a receiver blocked
 * until a child sends; semaphores: SETVAL/GETVAL/SETALL/GETALL, semop with IPC_NOWAIT,
 * a child woken by an increment, SEM_UNDO at exit, semtimedop timeout, IPC_STAT, IPC_RMID. */
#include "abi.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>

struct msg { long type; char text[64]; };
union semun { int val; struct semid_ds *buf; unsigned short *array; };

static void nap(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    key_t key = 0x5f000000 | (getpid() & 0xffffff);
    struct msg m;
    CHECK("msgget(missing)", msgget(key, 0600));
    int q = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    FACT("msgget(create)", q >= 0);
    CHECK("msgget(excl)", msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    FACT("msgget(key) same", msgget(key, 0) == q);
    m.type = 0;
    CHECK("msgsnd(type 0)", msgsnd(q, &m, 4, 0));
    for (int i = 1; i <= 3; i++) {
        m.type = 4 - i;
        snprintf(m.text, sizeof m.text, "message %d", i);
        CHECK_OK("msgsnd", msgsnd(q, &m, strlen(m.text) + 1, 0));
    }
    struct msqid_ds ds;
    CHECK_OK("msgctl(IPC_STAT)", msgctl(q, IPC_STAT, &ds));
    SAY("stat: qnum %lu cbytes %lu qbytes %lu mode %o", (unsigned long)ds.msg_qnum,
        (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777);
    CHECK("msgrcv(small)", msgrcv(q, &m, 3, 0, 0));
    CHECK("msgrcv(type 2)", msgrcv(q, &m, 64, 2, 0));
    SAY("got type %ld %s", m.type, m.text);
    CHECK("msgrcv(lowest <= 3)", msgrcv(q, &m, 64, -3, 0));
    SAY("got type %ld %s", m.type, m.text);
    CHECK("msgrcv(noerror)", msgrcv(q, &m, 3, 0, MSG_NOERROR));
    CHECK("msgrcv(empty nowait)", msgrcv(q, &m, 64, 0, IPC_NOWAIT));
    pid_t pid = fork();
    if (pid == 0) {
        nap(50);
        struct msg c = {7, "from the child"};
        msgsnd(q, &c, sizeof c.text, 0);
        _exit(0);
    }
    CHECK("msgrcv(blocking)", msgrcv(q, &m, 64, 7, 0));
    SAY("got type %ld %s", m.type, m.text);
    waitpid(pid, NULL, 0);
    CHECK_OK("msgctl(IPC_RMID)", msgctl(q, IPC_RMID, NULL));
    CHECK("msgsnd(removed)", msgsnd(q, &m, 4, 0));

    int s = semget(IPC_PRIVATE, 3, 0600);
    FACT("semget", s >= 0);
    CHECK("semget(0 new)", semget(IPC_PRIVATE, 0, 0600));
    union semun a;
    a.val = 2;
    CHECK_OK("semctl(SETVAL)", semctl(s, 0, SETVAL, a));
    CHECK("semctl(GETVAL)", semctl(s, 0, GETVAL));
    unsigned short all[3] = {1, 0, 5};
    a.array = all;
    CHECK_OK("semctl(SETALL)", semctl(s, 0, SETALL, a));
    struct sembuf op = {2, -3, 0};
    CHECK_OK("semop(-3)", semop(s, &op, 1));
    op = (struct sembuf){2, -3, IPC_NOWAIT};
    CHECK("semop(-3 nowait)", semop(s, &op, 1));
    op = (struct sembuf){0, 0, IPC_NOWAIT};
    CHECK("semop(wait zero nowait)", semop(s, &op, 1));
    op = (struct sembuf){5, 1, 0};
    CHECK("semop(bad num)", semop(s, &op, 1));
    pid = fork();
    if (pid == 0) {
        struct sembuf w = {1, -1, 0};
        int r = semop(s, &w, 1);
        struct sembuf u = {0, 4, SEM_UNDO};
        semop(s, &u, 1);
        _exit(r == 0 ? 0 : 1);
    }
    nap(50);
    CHECK("semctl(GETNCNT)", semctl(s, 1, GETNCNT));
    op = (struct sembuf){1, 1, 0};
    CHECK_OK("semop(+1)", semop(s, &op, 1));
    int st;
    waitpid(pid, &st, 0);
    SAY("child: exit %d", WEXITSTATUS(st));
    CHECK("semctl(GETVAL) after undo", semctl(s, 0, GETVAL));
    a.array = all;
    CHECK_OK("semctl(GETALL)", semctl(s, 0, GETALL, a));
    SAY("all: %u %u %u", all[0], all[1], all[2]);
    struct timespec ts = {0, 30000000};
    op = (struct sembuf){1, -1, 0};
    CHECK("semtimedop(timeout)", semtimedop(s, &op, 1, &ts));
    struct semid_ds sds;
    a.buf = &sds;
    CHECK_OK("semctl(IPC_STAT)", semctl(s, 0, IPC_STAT, a));
    SAY("stat: nsems %lu mode %o", (unsigned long)sds.sem_nsems, sds.sem_perm.mode & 0777);
    CHECK_OK("semctl(IPC_RMID)", semctl(s, 0, IPC_RMID));
    CHECK("semctl(GETVAL) removed", semctl(s, 0, GETVAL));
    return 0;
}
