/* fdio.c - whole reads and writes on blocking descriptors. Trusts nothing but the kernel. */
#include <errno.h>
#include <unistd.h>

#include "core/fdio.h"

bool
fd_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

size_t
fd_read_full(int fd, void *data, size_t len)
{
    char *p = data;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}
