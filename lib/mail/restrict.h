/* restrict.h - Postfix's SMTP access restrictions: compile a list once, evaluate per event */
#ifndef MAIL_RESTRICT_H
#define MAIL_RESTRICT_H

#include <stdbool.h>

#include "core/map.h"
#include "mail/map_addr.h"
#include "mail/match_list.h"

/*
 * A restriction list is a parameter value such as
 *     permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination,
 *     check_recipient_access hash:/etc/postern/recipient_access
 * compiled once (an unknown restriction or a table that cannot be opened is an error at
 * start, never a surprise in a session) and evaluated for each client, HELO, MAIL or RCPT.
 * The first restriction that permits, rejects or defers decides; DUNNO means the list had
 * nothing to say. A table error is a DEFER with 451 4.3.0, never a permit or a reject.
 *
 * Supported: permit, reject, defer, permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination, defer_unauth_destination, reject_non_fqdn_helo_hostname,
 * reject_invalid_helo_hostname, reject_non_fqdn_sender, reject_non_fqdn_recipient,
 * check_client_access, check_helo_access, check_sender_access, check_recipient_access,
 * reject_unauth_pipelining, reject_sender_login_mismatch,
 * reject_authenticated_sender_login_mismatch, reject_known_sender_login_mismatch,
 * reject_unauthenticated_sender_login_mismatch (with smtpd_sender_login_maps),
 * reject_unlisted_sender (with the receiver's own tables, through env->known).
 * Access table values: OK, PERMIT, REJECT [text], DEFER [text], DUNNO, "4NN text",
 * "5NN text", or the name of a restriction above that takes no table.
 */

enum restrict_stage {
    RESTRICT_CLIENT,
    RESTRICT_HELO,
    RESTRICT_SENDER,
    RESTRICT_RECIPIENT,
    RESTRICT_DATA, /* smtpd_data_restrictions, at the DATA command */
};

enum restrict_verdict {
    RESTRICT_DUNNO,
    RESTRICT_PERMIT,
    RESTRICT_REJECT,
    RESTRICT_DEFER,
};

/* What is known about the session at the time of the check. */
struct restrict_facts {
    const char *client_addr; /* numeric */
    const char *client_name; /* verified host name, or "unknown" */
    const char *helo;        /* NULL before HELO or EHLO */
    const char *sender;      /* NULL before MAIL; "" for the null sender */
    const char *recipient;   /* NULL outside RCPT */
    bool sasl_authenticated;
    bool unauth_pipelining;    /* spoke before the greeting, or pipelined without PIPELINING */
    const char *sasl_username; /* the login, when authenticated */
};

/* Does an address of a domain we receive mail for exist? The receiver answers from its
 * recipient tables; table names the table that said no. */
enum restrict_known {
    RESTRICT_KNOWN, /* it exists, or the domain is not ours to judge */
    RESTRICT_UNKNOWN,
    RESTRICT_KNOWN_ERROR, /* a table failed: err says why */
};
typedef enum restrict_known (*restrict_known_fn)(void *ctx, const char *address, const char **table,
                                                 struct err *err);

/* What the restrictions consult, built once per process from the parameters. */
struct restrict_env {
    struct match_list *mynetworks;
    struct match_list *mydestination;
    struct match_list *relay_domains;
    struct match_list *virtual_alias_domains;
    struct match_list *virtual_mailbox_domains;
    struct map_addr_opts addr_opts;
    const char *null_sender_key;        /* smtpd_null_access_lookup_key; NULL means "<>" */
    struct map_list *sender_login_maps; /* sender address -> logins that may use it */
    restrict_known_fn known;            /* NULL: reject_unlisted_sender has no opinion */
    void *known_ctx;
};

struct restrict_reply {
    int code;     /* 4xx or 5xx */
    char dsn[16]; /* "5.7.1" */
    char text[512];
};

struct restrict_list;

struct restrict_list *restrict_compile(const char *text, enum restrict_stage stage,
                                       struct err *err);
struct restrict_list *restrict_compile_words(const struct strvec *words, enum restrict_stage stage,
                                             struct err *err);
void restrict_free(struct restrict_list *list);
enum restrict_verdict restrict_eval(const struct restrict_list *list,
                                    const struct restrict_env *env,
                                    const struct restrict_facts *facts,
                                    struct restrict_reply *reply);

#endif
