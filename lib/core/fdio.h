/* fdio.h - whole reads and writes on blocking descriptors, EINTR retried */
#ifndef CORE_FDIO_H
#define CORE_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* fd_write_all - all len bytes, or false (errno set, or EIO for a zero-length write) */
bool fd_write_all(int fd, const void *data, size_t len);

/* fd_read_full - up to len bytes, fewer only at end of file or on an error: the count */
size_t fd_read_full(int fd, void *data, size_t len);

#endif
