/* pidfds: open, poll before and after the process ends, pidfd_send_signal, waitid(P_PIDFD). */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
int main(){ pid_t p=fork(); if(!p){ pause(); _exit(0);} int fd=syscall(SYS_pidfd_open,p,0); printf("pidfd ok %d\n", fd>=0);
struct pollfd pf={fd,POLLIN,0}; printf("poll before %d\n", poll(&pf,1,0));
printf("send %ld\n", syscall(SYS_pidfd_send_signal, fd, SIGTERM, 0, 0));
printf("poll after %d rev %d\n", poll(&pf,1,5000), pf.revents);
siginfo_t si; printf("waitid %d\n", waitid(P_PIDFD, fd, &si, WEXITED)); printf("sig %d\n", si.si_status); return 0;}
