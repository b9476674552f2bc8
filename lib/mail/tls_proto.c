/*
 * tls_proto.c - encoding and decoding of the tlsproxy protocol (tls_proto.h).
 *
 * Trusts: neither side. A request must carry exactly one descriptor, policy strings of
 * printable ASCII and a yes or no where a flag is asked for; a result's strings must be printable
 * ASCII within their sizes, since they end up in log lines and the Received header.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/tls_proto.h"

/* tls_printable - text that may go into a header or a log line as it is */
static bool
tls_printable(const struct buf *b, size_t size)
{
    if (b->len >= size)
        return false;
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] < 0x20 || (unsigned char)b->data[i] >= 0x7f)
            return false;
    return true;
}

bool
tls_request_encode(struct buf *rec, struct attr_fds *fds, const struct tls_request *req,
                   struct err *err)
{
    proto_begin(rec, req->client ? PROTO_TLS_CLIENT : PROTO_TLS_SERVER);
    attr_put_fd(rec, fds, PROTO_ATTR_PEER, req->peer);
    attr_put_text(rec, PROTO_ATTR_PROTOCOLS, req->protocols);
    attr_put_text(rec, PROTO_ATTR_CIPHERS, req->ciphers);
    attr_put_int(rec, PROTO_ATTR_TIMEOUT, req->timeout);
    if (req->client) {
        attr_put_text(rec, PROTO_ATTR_SERVERNAME, req->servername);
        attr_put_text(rec, PROTO_ATTR_MATCH, req->match);
        attr_put_text(rec, PROTO_ATTR_LEVEL, req->level);
    } else
        attr_put_int(rec, PROTO_ATTR_ASK_CCERT, req->ask_ccert);
    return attr_end(rec, err);
}

/* tls_request_decode - a tls_server or tls_client request; on success req->peer is the
 * caller's to close */
bool
tls_request_decode(const struct buf *rec, struct attr_fds *fds, struct tls_request *req,
                   struct err *err)
{
    struct buf protocols, ciphers, servername, match, level;
    int64_t ask_ccert = 0;
    /* The four both sides send, then the server's one or the client's three. */
    struct attr_spec spec[] = {
        {PROTO_ATTR_PEER, ATTR_FD, ATTR_REQUIRED, &req->peer},
        {PROTO_ATTR_PROTOCOLS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &protocols},
        {PROTO_ATTR_CIPHERS, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &ciphers},
        {PROTO_ATTR_TIMEOUT, ATTR_INT, ATTR_REQUIRED, &req->timeout},
        {PROTO_ATTR_SERVERNAME, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &servername},
        {PROTO_ATTR_MATCH, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &match},
        {PROTO_ATTR_LEVEL, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &level},
    };
    enum proto_msg msg =
        proto_msg_of(rec) == PROTO_TLS_CLIENT ? PROTO_TLS_CLIENT : PROTO_TLS_SERVER;
    bool good;

    memset(req, 0, sizeof(*req));
    req->peer = -1;
    req->client = msg == PROTO_TLS_CLIENT;
    if (!req->client)
        spec[4] = (struct attr_spec){PROTO_ATTR_ASK_CCERT, ATTR_INT, ATTR_REQUIRED, &ask_ccert};
    buf_init(&protocols, TLS_POLICY_MAX);
    buf_init(&ciphers, TLS_POLICY_MAX);
    buf_init(&servername, TLS_FACT_MAX);
    buf_init(&match, TLS_POLICY_MAX);
    buf_init(&level, TLS_LEVEL_NAME_MAX);
    good = proto_decode(rec, TLS_RECORD_LIMIT, fds, msg, spec, req->client ? 7 : 5, err);
    if (good && (!tls_printable(&protocols, sizeof(req->protocols)) ||
                 !tls_printable(&ciphers, sizeof(req->ciphers)) ||
                 !tls_printable(&servername, sizeof(req->servername)) ||
                 !tls_printable(&match, sizeof(req->match)) ||
                 !tls_printable(&level, sizeof(req->level)) || req->timeout < 1 ||
                 req->timeout > TLS_TIMEOUT_MAX || (ask_ccert != 0 && ask_ccert != 1))) {
        close(req->peer);
        req->peer = -1;
        good = err_set(err, "malformed %s", proto_msg_name(msg));
    }
    if (good) {
        snprintf(req->protocols, sizeof(req->protocols), "%s", buf_str(&protocols));
        snprintf(req->ciphers, sizeof(req->ciphers), "%s", buf_str(&ciphers));
        snprintf(req->servername, sizeof(req->servername), "%s", buf_str(&servername));
        snprintf(req->match, sizeof(req->match), "%s", buf_str(&match));
        snprintf(req->level, sizeof(req->level), "%s", buf_str(&level));
        req->ask_ccert = ask_ccert == 1;
    }
    buf_free(&protocols);
    buf_free(&ciphers);
    buf_free(&servername);
    buf_free(&match);
    buf_free(&level);
    return good;
}

bool
tls_session_key(const char *peer, const struct tls_request *req, char *key, size_t size)
{
    const char *fields[] = {peer,       req->level,     req->servername,
                            req->match, req->protocols, req->ciphers};
    size_t n = 0;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        int w = snprintf(key + n, size - n, "%zu:%s", strlen(fields[i]), fields[i]);
        if (w < 0 || (size_t)w >= size - n)
            return false;
        n += (size_t)w;
    }
    return true;
}

bool
tls_ready_encode(struct buf *rec, struct err *err)
{
    proto_begin(rec, PROTO_TLS_READY);
    return attr_end(rec, err);
}

bool
tls_result_encode(struct buf *rec, const struct tls_result *res, struct err *err)
{
    const struct tls_facts *f = &res->facts;

    proto_begin(rec, PROTO_TLS_RESULT);
    attr_put_int(rec, PROTO_ATTR_OK, res->ok);
    attr_put_text(rec, PROTO_ATTR_REASON, res->reason);
    attr_put_text(rec, PROTO_ATTR_TLS_PROTO, f->protocol);
    attr_put_text(rec, PROTO_ATTR_CIPHER, f->cipher);
    attr_put_int(rec, PROTO_ATTR_BITS, f->bits);
    attr_put_int(rec, PROTO_ATTR_ALG_BITS, f->alg_bits);
    attr_put_text(rec, PROTO_ATTR_DETAIL, f->detail);
    attr_put_int(rec, PROTO_ATTR_TRUST, f->trust);
    attr_put_text(rec, PROTO_ATTR_SUBJECT, f->subject);
    attr_put_text(rec, PROTO_ATTR_ISSUER, f->issuer);
    attr_put_text(rec, PROTO_ATTR_FINGERPRINT, f->fingerprint);
    attr_put_text(rec, PROTO_ATTR_SNI, f->sni);
    return attr_end(rec, err);
}

/* The result's strings: attribute name, destination, its size. */
struct tls_fact_field {
    const char *name;
    char *dst;
    size_t size;
    struct buf val;
};

bool
tls_result_decode(const struct buf *rec, struct attr_fds *fds, struct tls_result *res,
                  struct err *err)
{
    struct tls_facts *f = &res->facts;
    struct tls_fact_field fields[] = {
        {PROTO_ATTR_REASON, res->reason, sizeof(res->reason), {0}},
        {PROTO_ATTR_TLS_PROTO, f->protocol, sizeof(f->protocol), {0}},
        {PROTO_ATTR_CIPHER, f->cipher, sizeof(f->cipher), {0}},
        {PROTO_ATTR_DETAIL, f->detail, sizeof(f->detail), {0}},
        {PROTO_ATTR_SUBJECT, f->subject, sizeof(f->subject), {0}},
        {PROTO_ATTR_ISSUER, f->issuer, sizeof(f->issuer), {0}},
        {PROTO_ATTR_FINGERPRINT, f->fingerprint, sizeof(f->fingerprint), {0}},
        {PROTO_ATTR_SNI, f->sni, sizeof(f->sni), {0}},
    };
    enum {
        NFIELDS = sizeof(fields) / sizeof(fields[0])
    };
    int64_t ok = 0, trust = 0;
    struct attr_spec spec[NFIELDS + 4] = {
        {PROTO_ATTR_OK, ATTR_INT, ATTR_REQUIRED, &ok},
        {PROTO_ATTR_BITS, ATTR_INT, ATTR_REQUIRED, &f->bits},
        {PROTO_ATTR_ALG_BITS, ATTR_INT, ATTR_REQUIRED, &f->alg_bits},
        {PROTO_ATTR_TRUST, ATTR_INT, ATTR_REQUIRED, &trust},
    };
    bool good;

    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < NFIELDS; i++) {
        buf_init(&fields[i].val, fields[i].size);
        spec[4 + i] =
            (struct attr_spec){fields[i].name, ATTR_STR, ATTR_REQUIRED | ATTR_TEXT, &fields[i].val};
    }
    good = proto_decode(rec, TLS_RECORD_LIMIT, fds, PROTO_TLS_RESULT, spec, NFIELDS + 4, err);
    for (size_t i = 0; good && i < NFIELDS; i++)
        if (!tls_printable(&fields[i].val, fields[i].size))
            good =
                err_set(err, "malformed %s: %s", proto_msg_name(PROTO_TLS_RESULT), fields[i].name);
    if (good && ((ok != 0 && ok != 1) || f->bits < 0 || f->alg_bits < 0 ||
                 trust < TLS_TRUST_ANONYMOUS || trust > TLS_TRUST_VERIFIED))
        good = err_set(err, "malformed %s", proto_msg_name(PROTO_TLS_RESULT));
    for (size_t i = 0; i < NFIELDS; i++) {
        if (good)
            snprintf(fields[i].dst, fields[i].size, "%s", buf_str(&fields[i].val));
        buf_free(&fields[i].val);
    }
    f->trust = good ? (enum tls_trust)trust : TLS_TRUST_ANONYMOUS;
    res->ok = good && ok == 1;
    return good;
}

const char *
tls_trust_name(enum tls_trust trust)
{
    switch (trust) {
    case TLS_TRUST_VERIFIED:
        return "Verified";
    case TLS_TRUST_TRUSTED:
        return "Trusted";
    case TLS_TRUST_UNTRUSTED:
        return "Untrusted";
    default:
        return "Anonymous";
    }
}

void
tls_facts_summary(const struct tls_facts *f, char *out, size_t size)
{
    snprintf(out, size, "%s with cipher %s (%lld/%lld bits)%s%s", f->protocol, f->cipher,
             (long long)f->bits, (long long)f->alg_bits, f->detail[0] ? " " : "", f->detail);
}
