/* tls_policy.h - Postfix's TLS parameters as policy: levels, versions, ciphers */
#ifndef MAIL_TLS_POLICY_H
#define MAIL_TLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "mail/params.h"

enum tls_level {
    TLS_LEVEL_NONE,    /* no STARTTLS */
    TLS_LEVEL_MAY,     /* STARTTLS offered */
    TLS_LEVEL_ENCRYPT, /* STARTTLS required before MAIL (and AUTH) */
    /* Client side only (smtp-out): */
    TLS_LEVEL_VERIFY, /* encrypt, and the certificate is trusted and matches the host name */
    TLS_LEVEL_SECURE, /* encrypt, and it is trusted and matches the next-hop domain */
};

/* Protocol versions as TLS numbers them (and OpenSSL's *_VERSION constants). */
#define TLS_V_SSL3  0x0300
#define TLS_V_TLS1  0x0301
#define TLS_V_TLS11 0x0302
#define TLS_V_TLS12 0x0303
#define TLS_V_TLS13 0x0304

bool tls_level_parse(const char *text, enum tls_level *level, struct err *err);

/* tls_client_level_parse - smtp_tls_security_level and policy-map levels: none, may, encrypt,
 * verify, secure; dane and fingerprint are refused until they exist */
bool tls_client_level_parse(const char *text, enum tls_level *level, struct err *err);

/* tls_level_name - a level as main.cf names it ("none", "may", ..., "secure") */
const char *tls_level_name(enum tls_level level);

/*
 * tls_protocols_parse - a protocols value into the range of versions it allows: ">=TLSv1.2",
 * "<=TLSv1.2", "!SSLv3, !TLSv1" (exclusions), or a list of the versions wanted. Versions
 * outside SSLv3..TLSv1.3 are ignored as Postfix ignores SSLv2. An empty value allows all;
 * a value that allows none, or a hole in the middle, is an error.
 */
bool tls_protocols_parse(const char *text, int *min, int *max, struct err *err);

/* tls_cipherlist - the OpenSSL cipher list of a grade (high, medium, null) less exclusions */
bool tls_cipherlist(const struct params *p, bool mandatory, char *out, size_t size,
                    struct err *err);

/* tls_client_cipherlist - the same for smtp-out: smtp_tls_(mandatory_)ciphers, or grade when
 * a policy-map entry names one */
bool tls_client_cipherlist(const struct params *p, bool mandatory, const char *grade, char *out,
                           size_t size, struct err *err);

#endif
