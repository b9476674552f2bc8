/* ipc.h - attribute records over UNIX stream sockets, with descriptors and timeouts */
#ifndef CORE_IPC_H
#define CORE_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/attr.h"
#include "core/buf.h"

/*
 * A record travels as its bytes (attr.c's format) with its descriptors attached to the
 * first byte. Receivers read exactly one record's bytes, never into the next one, so the
 * descriptors that arrive belong to the record being read. Descriptors beyond those a
 * record may carry are closed on arrival.
 *
 * Client stubs use the blocking calls with a timeout in milliseconds (negative: none).
 * Event-driven servers read with struct ipc_reader when the loop says the socket is
 * readable; the socket should be non-blocking, but the reader never blocks either way.
 */

enum ipc_status {
    IPC_OK,      /* one whole record sent or received */
    IPC_AGAIN,   /* ipc_reader only: no complete record yet, wait for readability */
    IPC_EOF,     /* the peer closed the connection between records */
    IPC_TIMEOUT, /* the time limit passed */
    IPC_ERROR,   /* system error, oversized or truncated record: err says which */
};

struct ipc_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

enum ipc_status ipc_send(int sock, const struct buf *rec, const struct attr_fds *fds,
                         int timeout_ms, struct err *err);
enum ipc_status ipc_recv(int sock, struct buf *rec, struct attr_fds *fds, size_t limit,
                         int timeout_ms, struct err *err);

/* Incremental reading. After IPC_OK, rec and fds hold one record; decode it with
 * ipc_reader_decode() (which makes the reader ready for the next) or drop it with
 * ipc_reader_reset(). */
struct ipc_reader {
    int sock;
    size_t limit;
    struct buf rec;
    struct attr_fds fds;
};

void ipc_reader_init(struct ipc_reader *r, int sock, size_t limit);
enum ipc_status ipc_reader_read(struct ipc_reader *r, struct err *err);
bool ipc_reader_decode(struct ipc_reader *r, const struct attr_spec *spec, size_t nspec,
                       struct err *err);
void ipc_reader_reset(struct ipc_reader *r);
void ipc_reader_free(struct ipc_reader *r);

/* Connecting and checking who is on the other end. */
/* ipc_now_ms - a monotonic clock in milliseconds, for deadlines */
long long ipc_now_ms(void);
/* ipc_wait - poll sock for events until deadline (< 0: forever); IPC_OK when ready */
enum ipc_status ipc_wait(int sock, short events, long long deadline, struct err *err);

int ipc_connect(const char *path, struct err *err);
int ipc_connect_nonblock(const char *path, struct err *err);
bool ipc_peer_cred(int sock, struct ipc_cred *cred, struct err *err);

#endif
