/* qmgr_clnt.h - client stub of the queue manager's receiving side */
#ifndef MAIL_QMGR_CLNT_H
#define MAIL_QMGR_CLNT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "mail/queue_id.h"

/*
 * A receiver connects once (qmgr_clnt_connect) and then, per message: qmgr_clnt_open()
 * gives a queue ID and a descriptor of a new file; the receiver writes it with
 * queue_writer_*() (which fsyncs); qmgr_clnt_commit() returns true only once the file is
 * in its queue state and that directory is on disk: then, and only then, answer 250.
 * qmgr_clnt_abort() drops a message that will not be accepted. qmgr_clnt_status() asks,
 * after a broken connection lost the answer to a commit, whether the commit happened: true
 * only on evidence (the file is in a committed state, or was in active/ when qmgr started).
 * Messages a receiver opened and neither committed nor aborted are removed when it disconnects.
 *
 * Every call fails with err set on a refusal, a timeout or a broken connection; after a
 * failure other than a refusal (err->text starts with "refused: ") the connection is not
 * usable.
 */
#define QMGR_CLNT_RECORD_LIMIT 4096

int qmgr_clnt_connect(const char *path, struct attr_error *err);
bool qmgr_clnt_open(int sock, char id[QUEUE_ID_SIZE], int *fd, int timeout_ms,
                    struct attr_error *err);
bool qmgr_clnt_commit(int sock, const char *id, int timeout_ms, struct attr_error *err);
bool qmgr_clnt_abort(int sock, const char *id, int timeout_ms, struct attr_error *err);
bool qmgr_clnt_status(int sock, const char *id, int timeout_ms, struct attr_error *err);

#endif
