/* sasl_impl.h - what sasl_server.c shares with its backends (sasl_cyrus.c, sasl_dovecot.c) */
#ifndef MAIL_SASL_IMPL_H
#define MAIL_SASL_IMPL_H

#include <stddef.h>

#include "core/loop.h"
#include "mail/params.h"
#include "mail/sasl_opts.h"
#include "mail/sasl_server.h"

#define SASL_MECH_NAME_MAX 20 /* RFC 4422, section 3.1 */
#define SASL_USER_MAX      255

/*
 * A backend. The shared code checks the mechanism name (offered for this session) and the
 * client's base64 before start or step runs; data is the decoded response (NUL after it),
 * b64 the response as it came (strict base64, "" for an empty one). A backend answers each
 * start and step with exactly one sasl_auth_report(), from the loop, at any later time;
 * after cancel it never reports again.
 */
struct sasl_backend {
    const char *name;
    bool (*open)(struct sasl_server *s, struct err *err);
    void (*close)(struct sasl_server *s);
    const char *(*mechs)(struct sasl_server *s, bool tls);
    void (*start)(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64);
    void (*step)(struct sasl_auth *a, const unsigned char *data, size_t len, const char *b64);
    void (*cancel)(struct sasl_auth *a);
    /* optional: was mech offered before the backend went away? (start then says TEMP) */
    bool (*known)(struct sasl_server *s, bool tls, const char *mech);
};

extern const struct sasl_backend sasl_cyrus_backend;
extern const struct sasl_backend sasl_dovecot_backend;

struct sasl_server {
    struct loop *loop;
    const struct params *p;
    const struct sasl_backend *be;
    unsigned opts[2]; /* security options: [0] without TLS, [1] with TLS */
    void *data;       /* the backend's */
};

struct sasl_auth {
    struct sasl_server *s;
    sasl_auth_done done;
    void *arg;
    char *client_addr; /* the session's end points: copies, "" when unknown */
    char *client_port;
    char *local_addr;
    char *local_port;
    bool tls;
    char mech[SASL_MECH_NAME_MAX + 1];
    bool initial;               /* start had an initial response (data may still be empty: "=") */
    int steps;                  /* responses the client sent so far, the initial one included */
    bool busy;                  /* the backend has not reported on the last start or step yet */
    bool over;                  /* a final result was reported */
    struct loop_timer *deliver; /* hands the pending report to done, from the loop */
    enum sasl_result result;
    char *text;
    char *user;
    char *tried_user;
    void *data; /* the backend's */
};

/* sasl_auth_report - the backend's answer to the last start or step */
void sasl_auth_report(struct sasl_auth *a, enum sasl_result result, const char *text);
/* sasl_auth_report_data - a challenge of len bytes, encoded here */
void sasl_auth_report_data(struct sasl_auth *a, const unsigned char *data, size_t len);
/* sasl_auth_set_user - the login after OK; sasl_auth_set_tried_user - the name tried */
void sasl_auth_set_user(struct sasl_auth *a, const char *user);
void sasl_auth_set_tried_user(struct sasl_auth *a, const char *user);

/* sasl_mech_in_list - is the mechanism (upper case) a word of list? */
bool sasl_mech_in_list(const char *list, const char *mech);

#endif
