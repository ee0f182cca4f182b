/* uname, sysinfo, getrandom. */
#include "abi.h"
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

int main(void)
{
    struct utsname u;
    CHECK("uname", uname(&u));
    SAY("sysname = %s", u.sysname);
    SAY("machine = %s", u.machine);
    FACT("release non-empty", u.release[0] != 0);
    FACT("nodename non-empty", u.nodename[0] != 0);
    CHECK("uname(EFAULT)", syscall(SYS_uname, BADPTR));

    struct sysinfo si;
    memset(&si, 0, sizeof si);
    CHECK("sysinfo", sysinfo(&si));
    FACT("uptime > 0", si.uptime > 0);
    FACT("totalram > 0", si.totalram > 0);
    FACT("freeram <= totalram", si.freeram <= si.totalram);
    FACT("procs > 0", si.procs > 0);
    FACT("mem_unit >= 1", si.mem_unit >= 1);
    CHECK("sysinfo(EFAULT)", syscall(SYS_sysinfo, BADPTR));

    unsigned char buf[8192];
    memset(buf, 0, sizeof buf);
    CHECK("getrandom(16, 0)", getrandom(buf, 16, 0));
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= buf[i];
    FACT("random bytes not all zero", nonzero);
    CHECK("getrandom(0, 0)", getrandom(buf, 0, 0));
    CHECK("getrandom(32, NONBLOCK)", getrandom(buf, 32, GRND_NONBLOCK));
    CHECK("getrandom(64, RANDOM)", getrandom(buf, 64, GRND_RANDOM));
    CHECK("getrandom(64, RANDOM|NONBLOCK)", getrandom(buf, 64, GRND_RANDOM | GRND_NONBLOCK));
    CHECK("getrandom(8192, 0)", getrandom(buf, 8192, 0));
    CHECK("getrandom(bad flags 0x40)", getrandom(buf, 16, 0x40));
    CHECK("getrandom(INSECURE|RANDOM)", getrandom(buf, 16, GRND_INSECURE | GRND_RANDOM));
    CHECK("getrandom(16, INSECURE)", getrandom(buf, 16, GRND_INSECURE));
    CHECK("getrandom(EFAULT)", syscall(SYS_getrandom, BADPTR, 16, 0));
    /* Two draws differ. */
    unsigned char a[32], b[32];
    getrandom(a, 32, 0);
    getrandom(b, 32, 0);
    FACT("two draws differ", memcmp(a, b, 32) != 0);
    return 0;
}
