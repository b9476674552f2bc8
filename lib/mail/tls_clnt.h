/* tls_clnt.h - the stub for tlsproxy: hand a peer's socket over, get plaintext back */
#ifndef MAIL_TLS_CLNT_H
#define MAIL_TLS_CLNT_H

#include <stdbool.h>

#include "core/loop.h"
#include "mail/tls_proto.h"

/*
 * tls_clnt_server() connects to tlsproxy's socket at path, gives it req->peer (the caller
 * closes its own copy once it is done with it) and waits on the loop. tlsproxy is the TLS
 * server on that socket (smtpd, submission), or with req->client the TLS client (smtp-out):
 *   ready(arg)  tlsproxy can do the handshake and waits for the client: now the caller may
 *               tell the client to start (the 220 to STARTTLS). False from ready means the
 *               caller gave up: nothing more is called, and the tls_clnt is gone.
 *   done(arg, plain, res, began)  once, at the end. With plain >= 0 (non-blocking; the
 *               caller owns it) the connection carries the session's plaintext. With
 *               plain = -1 res->reason says why not; began says whether ready came first:
 *               if not, the client's socket was never touched and plaintext may go on.
 * Neither is called from inside tls_clnt_server(); tls_clnt_cancel() stops both.
 */
struct tls_clnt;
typedef bool (*tls_clnt_ready)(void *arg);
typedef void (*tls_clnt_done)(void *arg, int plain, const struct tls_result *res, bool began);

struct tls_clnt *tls_clnt_server(struct loop *loop, const char *path, const struct tls_request *req,
                                 tls_clnt_ready ready, tls_clnt_done done, void *arg);
void tls_clnt_cancel(struct tls_clnt *c);

#endif
