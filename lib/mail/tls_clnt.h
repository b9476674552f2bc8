/* tls_clnt.h - a receiver's stub for tlsproxy: hand a client socket over, get plaintext back */
#ifndef MAIL_TLS_CLNT_H
#define MAIL_TLS_CLNT_H

#include "core/loop.h"
#include "mail/tls_proto.h"

/*
 * tls_clnt_server() connects to tlsproxy's socket at path, gives it req->peer (the caller
 * closes its own copy whenever it likes) and waits on the loop for the handshake's result.
 * done is called once, from the loop, never from inside tls_clnt_server(): with plain >= 0
 * (non-blocking; the caller owns it) the connection now carries the session's plaintext;
 * with plain = -1 the handshake failed or tlsproxy could not be reached, res->reason says
 * why. tls_clnt_cancel() before done means done is never called.
 */
struct tls_clnt;
typedef void (*tls_clnt_done)(void *arg, int plain, const struct tls_result *res);

struct tls_clnt *tls_clnt_server(struct loop *loop, const char *path, const struct tls_request *req,
                                 tls_clnt_done done, void *arg);
void tls_clnt_cancel(struct tls_clnt *c);

#endif
