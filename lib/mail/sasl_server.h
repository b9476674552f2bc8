/* sasl_server.h - the server side of SASL for SMTP AUTH (RFC 4954): Cyrus SASL or Dovecot */
#ifndef MAIL_SASL_SERVER_H
#define MAIL_SASL_SERVER_H

#include <stdbool.h>

#include "core/err.h"
#include "core/loop.h"
#include "mail/params.h"

/*
 * A receiver (smtpd, submission) builds one sasl_server per process after it dropped its
 * privileges, with smtpd_sasl_type choosing the backend: "cyrus" (libsasl2, whose calls may
 * block and so run on helper threads) or "dovecot" (Dovecot's auth socket at
 * smtpd_sasl_path, one connection per process). Each AUTH command of a session is one
 * sasl_auth: start it, then feed it the client's lines after each 334 until done reports
 * something other than a challenge. done is always called from the event loop, never from
 * inside sasl_auth_start or sasl_auth_step; the caller writes the replies and the log.
 *
 * The client's base64 is checked strictly here (lib/core/base64.c) before any backend sees
 * it. The caller handles the client's "*" (cancel, 501 5.7.0) itself and frees the auth.
 */
struct sasl_server; /* one per process, built after the privilege drop */
struct sasl_auth;   /* one AUTH exchange of one SMTP session */

enum sasl_result {
    SASL_RESULT_CHALLENGE, /* text: base64 challenge for a "334 " line ("" for an empty one) */
    SASL_RESULT_OK,        /* authenticated: sasl_auth_user() names the login */
    SASL_RESULT_FAIL,      /* 535 5.7.8: wrong password, unknown user, refused authzid: text is the
                              reason for the log */
    SASL_RESULT_BAD_DATA,  /* 501 5.5.2: the client's response is not valid base64 */
    SASL_RESULT_TEMP,      /* 454 4.7.0: backend unavailable; text says why */
};

/* The session's end points, as text (NULL or "" when not known), and whether TLS is on. */
struct sasl_peer {
    const char *client_addr;
    const char *client_port;
    const char *local_addr;
    const char *local_port;
    bool tls;
};

typedef void (*sasl_auth_done)(void *arg, enum sasl_result result, const char *text);

/* SASL_RESPONSE_MAX - the longest base64 response (initial or after a 334) passed on:
 * RFC 4954's 12,288 octets for the AUTH line; a longer one fails */
#define SASL_RESPONSE_MAX 12288

/* sasl_server_create - the backend smtpd_sasl_type names; NULL with err for a
 * configuration that cannot work (unknown type, Cyrus refusing to start); a Dovecot that is
 * not there yet is not an error: no mechanisms are offered until it is. (Not
 * "sasl_server_new": libsasl2 exports that name, and ours would interpose on it.) */
struct sasl_server *sasl_server_create(struct loop *loop, const struct params *p, struct err *err);
void sasl_server_free(struct sasl_server *s);

/* sasl_server_mechs - mechanisms to advertise after "250-AUTH ", space separated, upper
 * case, for a session with or without TLS (smtpd_sasl_tls_security_options or
 * smtpd_sasl_security_options); "" when none or the backend is unavailable */
const char *sasl_server_mechs(struct sasl_server *s, bool tls);

/* sasl_auth_start - mech as the client named it; initial = the initial response as sent
 * (base64, "=" for empty) or NULL. A mechanism not offered gives NULL at once with
 * *unsupported set (the caller replies 504 5.5.4); otherwise done comes later. (One that
 * Dovecot offered before it went away is not "unsupported": done then says TEMP.) */
struct sasl_auth *sasl_auth_start(struct sasl_server *s, const struct sasl_peer *peer,
                                  const char *mech, const char *initial, sasl_auth_done done,
                                  void *arg, bool *unsupported);

/* sasl_auth_step - the client's line after a 334 (base64; "" for an empty response) */
void sasl_auth_step(struct sasl_auth *a, const char *response);

/* sasl_auth_user - after OK: the authenticated login (with its realm if any) */
const char *sasl_auth_user(const struct sasl_auth *a);

/* sasl_auth_tried_user - after FAIL: the user name the client tried, if known, else NULL
 * (for the log's sasl_username=) */
const char *sasl_auth_tried_user(const struct sasl_auth *a);

/* sasl_auth_mech - the mechanism, upper case, as started (for the log's sasl_method=) */
const char *sasl_auth_mech(const struct sasl_auth *a);

/* sasl_auth_free - end the exchange; a pending step is cancelled: done is not called
 * afterwards */
void sasl_auth_free(struct sasl_auth *a);

#endif
