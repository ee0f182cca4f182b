/* In-kernel copies: sendfile (offset or file position), copy_file_range (offsets, the end of
 * the source, overlapping ranges, flags), splice (file to pipe, pipe to file, pipe to pipe),
 * tee and vmsplice, with their argument errors. argv[1]: the base directory. */
#include "abi.h"
#include <sys/sendfile.h>
#include <sys/uio.h>

static void show(const char *label, const char *path)
{
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    SAY("%s: %ld \"%s\"", label, n, buf);
}

int main(int argc, char **argv)
{
    abi_enter(argc, argv);
    abi_put("src", "0123456789abcdefghijklmnopqrstuvwxyz");
    int in = open("src", O_RDONLY);
    int out = open("dst", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t off = 10;

    /* sendfile */
    CHECK("sendfile 5 at pos", sendfile(out, in, NULL, 5));
    SAY("in pos %ld", (long)lseek(in, 0, SEEK_CUR));
    CHECK("sendfile offset 10, 4", sendfile(out, in, &off, 4));
    SAY("off %ld, in pos %ld", (long)off, (long)lseek(in, 0, SEEK_CUR));
    CHECK("sendfile to the end", sendfile(out, in, NULL, 1000));
    CHECK("sendfile at EOF", sendfile(out, in, NULL, 10));
    show("dst", "dst");
    CHECK("sendfile out not writable EBADF", sendfile(in, in, NULL, 1));
    CHECK("sendfile EBADF", sendfile(out, 99, NULL, 1));
    off = -1;
    CHECK("sendfile negative offset EINVAL", sendfile(out, in, &off, 1));
    CHECK("sendfile offset EFAULT", sendfile(out, in, BADPTR, 1));
    int app = open("dst", O_WRONLY | O_APPEND);
    CHECK("sendfile to O_APPEND EINVAL", sendfile(app, in, NULL, 1));
    close(app);
    int p[2];
    pipe(p);
    lseek(in, 0, SEEK_SET);
    CHECK("sendfile to a pipe", sendfile(p[1], in, NULL, 6));
    char buf[128] = {0};
    CHECK("read pipe", read(p[0], buf, sizeof buf));
    SAY("got %s", buf);
    off = 0;
    CHECK("sendfile offset from a pipe ESPIPE", sendfile(out, p[0], &off, 1));
    close(out);

    /* copy_file_range */
    int cin = open("src", O_RDONLY), cout = open("cfr", O_RDWR | O_CREAT | O_TRUNC, 0644);
    loff_t oi = 26, oo = 0;
    CHECK("cfr 10 at pos", copy_file_range(cin, NULL, cout, NULL, 10, 0));
    SAY("positions %ld %ld", (long)lseek(cin, 0, SEEK_CUR), (long)lseek(cout, 0, SEEK_CUR));
    CHECK("cfr from offset 26", copy_file_range(cin, &oi, cout, NULL, 100, 0));
    SAY("oi %ld, in pos %ld", (long)oi, (long)lseek(cin, 0, SEEK_CUR));
    CHECK("cfr at EOF", copy_file_range(cin, &oi, cout, NULL, 100, 0));
    show("cfr", "cfr");
    CHECK("cfr flags EINVAL", copy_file_range(cin, NULL, cout, NULL, 1, 1));
    oi = 0; oo = 5;
    CHECK("cfr same file overlap EINVAL", copy_file_range(cout, &oi, cout, &oo, 10, 0));
    int crw = open("cfr", O_RDWR);
    oi = 0; oo = 30;
    CHECK("cfr same file apart", copy_file_range(crw, &oi, crw, &oo, 10, 0));
    show("cfr", "cfr");
    oi = -1;
    CHECK("cfr negative EOVERFLOW", copy_file_range(cin, &oi, cout, NULL, 1, 0));
    CHECK("cfr out read-only EBADF", copy_file_range(cin, NULL, cin, NULL, 1, 0));
    int d = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("cfr dir EISDIR", copy_file_range(d, NULL, cout, NULL, 1, 0));
    CHECK("cfr pipe EINVAL", copy_file_range(p[0], NULL, cout, NULL, 1, 0));
    CHECK("cfr len 0", copy_file_range(cin, NULL, cout, NULL, 0, 0));
    close(d);
    close(crw);

    /* splice */
    loff_t so = 2;
    CHECK("splice file->pipe", splice(cin, &so, p[1], NULL, 5, 0));
    SAY("so %ld", (long)so);
    CHECK("splice pipe->file", splice(p[0], NULL, cout, NULL, 3, SPLICE_F_MOVE));
    int q[2];
    pipe(q);
    CHECK("splice pipe->pipe", splice(p[0], NULL, q[1], NULL, 10, 0));
    CHECK("splice empty NONBLOCK EAGAIN", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
    CHECK("splice no pipe EINVAL", splice(cin, NULL, cout, NULL, 1, 0));
    CHECK("splice pipe offset ESPIPE", splice(p[0], &so, cout, NULL, 1, 0));
    CHECK("splice same pipe EINVAL", splice(p[0], NULL, p[1], NULL, 1, 0));
    CHECK("splice bad flags EINVAL", splice(p[0], NULL, q[1], NULL, 1, 0x100));
    CHECK("splice EBADF", splice(p[1], NULL, q[1], NULL, 1, 0));

    /* tee */
    CHECK("tee", tee(q[0], p[1], 100, 0));
    memset(buf, 0, sizeof buf);
    CHECK("read tee copy", read(p[0], buf, sizeof buf));
    SAY("tee copy %s", buf);
    memset(buf, 0, sizeof buf);
    CHECK("read original", read(q[0], buf, sizeof buf));
    SAY("original %s", buf);
    CHECK("tee empty NONBLOCK EAGAIN", tee(q[0], p[1], 10, SPLICE_F_NONBLOCK));
    CHECK("tee file EINVAL", tee(cin, p[1], 10, 0));

    /* vmsplice */
    struct iovec v[2] = {{"ab", 2}, {"cde", 3}};
    CHECK("vmsplice in", vmsplice(p[1], v, 2, 0));
    char x[3] = {0}, y[4] = {0};
    struct iovec r[2] = {{x, 2}, {y, 3}};
    CHECK("vmsplice out", vmsplice(p[0], r, 2, 0));
    SAY("out %s %s", x, y);
    CHECK("vmsplice file EBADF", vmsplice(cin, v, 1, 0));
    close(p[1]);
    CHECK("splice EOF", splice(p[0], NULL, q[1], NULL, 10, 0));
    close(cin);
    close(cout);
    close(in);
    show("final cfr", "cfr");

    CHECK("unlink", unlink("src") + unlink("dst") + unlink("cfr"));
    abi_leave(argc, argv);
    return 0;
}
