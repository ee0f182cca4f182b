/* System V shared memory: shmget (private and keyed, IPC_CREAT/IPC_EXCL, sizes, errors),
 * shmat/shmdt (data shared with a forked child that re-attaches, SHM_RDONLY, SHM_RND),
 * shmctl (IPC_STAT sizes and counts, IPC_SET mode, IPC_RMID while attached and not). */
#include "abi.h"
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    key_t key = 0x5e000000 | (getpid() & 0xffffff);
    struct shmid_ds ds;

    CHECK("shmget(size 0)", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    CHECK("shmget(missing key)", shmget(key, 4096, 0600));
    int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0640);
    FACT("shmget(key, create)", id >= 0);
    CHECK("shmget(key, excl again)", shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
    FACT("shmget(key) same id", shmget(key, 0, 0) == id);
    FACT("shmget(key, smaller) same id", shmget(key, 4096, IPC_CREAT) == id);
    CHECK("shmget(key, larger)", shmget(key, 20000, 0));
    CHECK("shmget(bad id) via shmat", (long)shmat(0x7ffffff0, NULL, 0));

    CHECK_OK("shmctl(IPC_STAT)", shmctl(id, IPC_STAT, &ds));
    SAY("stat: size %zu nattch %lu mode %o key ok %d cpid ok %d", ds.shm_segsz,
        (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777, ds.shm_perm.__key == key,
        ds.shm_cpid == getpid());

    char *p = shmat(id, NULL, 0);
    FACT("shmat", p != (void *)-1);
    strcpy(p, "hello from the parent");
    p[9999] = 'z';
    CHECK_OK("shmctl(IPC_STAT) attached", shmctl(id, IPC_STAT, &ds));
    SAY("stat: nattch %lu lpid ok %d", (unsigned long)ds.shm_nattch, ds.shm_lpid == getpid());

    char *q = shmat(id, NULL, SHM_RDONLY);
    FACT("shmat(SHM_RDONLY) sees the data", q != (void *)-1 && strcmp(q, p) == 0);
    CHECK_OK("shmdt(rdonly)", shmdt(q));
    CHECK("shmat(unaligned)", (long)shmat(id, p + 1, 0));
    CHECK("shmdt(not attached)", shmdt(p + 4096 * 16));

    pid_t pid = fork();
    if (pid == 0) {
        /* The inherited attachment and a fresh one see the same pages. */
        char *c = shmat(id, NULL, 0);
        int ok = c != (void *)-1 && strcmp(c, "hello from the parent") == 0 && c[9999] == 'z';
        strcpy(p, "hello from the child");
        shmdt(c);
        shmdt(p);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    SAY("child: exit %d", WEXITSTATUS(st));
    SAY("parent reads: %s", p);

    /* IPC_SET: mode bits. */
    CHECK_OK("shmctl(IPC_STAT)", shmctl(id, IPC_STAT, &ds));
    ds.shm_perm.mode = 0600;
    CHECK_OK("shmctl(IPC_SET)", shmctl(id, IPC_SET, &ds));
    CHECK_OK("shmctl(IPC_STAT)", shmctl(id, IPC_STAT, &ds));
    SAY("stat: mode %o nattch %lu", ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch);

    /* Removed while attached: the key goes, the id stays until the last detach. */
    CHECK_OK("shmctl(IPC_RMID) attached", shmctl(id, IPC_RMID, NULL));
    CHECK("shmget(key) after rmid", shmget(key, 0, 0));
    CHECK_OK("shmctl(IPC_STAT) removed", shmctl(id, IPC_STAT, &ds));
    SAY("stat: key %d dest %d", ds.shm_perm.__key, !!(ds.shm_perm.mode & SHM_DEST));
    SAY("still readable: %s", p);
    CHECK_OK("shmdt", shmdt(p));
    CHECK("shmctl(IPC_STAT) gone", shmctl(id, IPC_STAT, &ds));
    CHECK("shmat(gone)", (long)shmat(id, NULL, 0));

    /* A private segment, SHM_RND, removal without attachments. */
    int pv = shmget(IPC_PRIVATE, 3 * 4096, 0600);
    FACT("shmget(IPC_PRIVATE)", pv >= 0);
    int pv2 = shmget(IPC_PRIVATE, 4096, 0600);
    FACT("shmget(IPC_PRIVATE) new id", pv2 >= 0 && pv2 != pv);
    CHECK_OK("shmctl(IPC_RMID) unattached", shmctl(pv2, IPC_RMID, NULL));
    char *r = shmat(pv, NULL, 0);
    char *r2 = shmat(pv, r + 3 * 4096 + 123, SHM_RND);
    FACT("shmat(SHM_RND) rounds down", r2 == r + 3 * 4096 || r2 == (void *)-1);
    if (r2 != (void *)-1)
        shmdt(r2);
    CHECK_OK("shmdt(private)", shmdt(r));
    CHECK_OK("shmctl(IPC_RMID)", shmctl(pv, IPC_RMID, NULL));
    CHECK("shmctl(IPC_STAT) removed private", shmctl(pv, IPC_STAT, &ds));
    CHECK("shmctl(bad cmd)", shmctl(pv, 9999, &ds));
    struct shminfo info;
    FACT("shmctl(IPC_INFO)", shmctl(0, IPC_INFO, (struct shmid_ds *)&info) >= 0 &&
                                 info.shmmni > 0);
    return 0;
}
