/* seccomp_loader RULES PROG ARGS...: load a seccomp filter with libseccomp, as runc does
 * for an OCI profile, then exec PROG. The native reference for compatd's imported
 * policies. RULES, written by the test from the profile, one per line:
 *   default ACTION
 *   rule ACTION NAME NARGS [INDEX OP VALUE VALUE_TWO]...
 * ACTION is libseccomp's action value (SCMP_ACT_ERRNO(e) and so on), OP its scmp_compare.
 * As runc does, a name libseccomp does not know on this architecture is skipped, and so is
 * a rule with the default action (libseccomp refuses it with EACCES). */
#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: seccomp_loader RULES PROG ARGS...\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    scmp_filter_ctx ctx = NULL;
    char word[64], name[64];
    while (fscanf(f, "%63s", word) == 1) {
        uint32_t action;
        if (strcmp(word, "default") == 0) {
            if (fscanf(f, "%" SCNu32, &action) != 1 || !(ctx = seccomp_init(action))) {
                fprintf(stderr, "bad default\n");
                return 2;
            }
            continue;
        }
        unsigned nargs;
        if (!ctx || strcmp(word, "rule") != 0 ||
            fscanf(f, "%" SCNu32 " %63s %u", &action, name, &nargs) != 3 || nargs > 6) {
            fprintf(stderr, "bad rule\n");
            return 2;
        }
        struct scmp_arg_cmp args[6];
        for (unsigned i = 0; i < nargs; i++) {
            unsigned index, op;
            uint64_t a, b;
            if (fscanf(f, "%u %u %" SCNu64 " %" SCNu64, &index, &op, &a, &b) != 4) {
                fprintf(stderr, "bad argument\n");
                return 2;
            }
            args[i] = (struct scmp_arg_cmp){index, (enum scmp_compare)op, a, b};
        }
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
            continue;
        int rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
        if (rc < 0 && rc != -EACCES) {
            fprintf(stderr, "seccomp_rule_add %s: %s\n", name, strerror(-rc));
            return 2;
        }
    }
    fclose(f);  /* not the program's */
    int rc = seccomp_load(ctx);
    if (rc < 0) {
        fprintf(stderr, "seccomp_load: %s\n", strerror(-rc));
        return 2;
    }
    execv(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
