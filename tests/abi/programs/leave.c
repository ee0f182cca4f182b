/* leave: create a directory and a file in it, read the file back, and leave both behind.
 * argv[1]: the directory to create (in the cwd, or under /tmp). The harness then checks the
 * host: a cwd file must be there after a compatd run, a /tmp file must not. */
#include "abi.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    umask(022);
    CHECK("mkdir", mkdir(argv[1], 0755));
    CHECK("chdir", chdir(argv[1]));
    int fd = open("kept.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK("open", fd);
    CHECK("write", write(fd, "left behind\n", 12));
    CHECK("lseek", lseek(fd, 0, SEEK_SET));
    char buf[32];
    long n = read(fd, buf, sizeof buf);
    SAY("read back = %ld [%.*s]", n, (int)(n > 1 ? n - 1 : 0), buf);
    CHECK("close", close(fd));
    CHECK("mkdir sub", mkdir("sub", 0700));
    CHECK("symlink", symlink("../kept.txt", "sub/link"));
    struct stat st;
    CHECK("stat via link", stat("sub/link", &st));
    SAY("size = %ld", (long)st.st_size);
    return 0;
}
