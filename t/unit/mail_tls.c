/*
 * mail_tls.c - the TLS policy syntax (levels, Postfix's protocol lists, cipher grades) and
 * the tlsproxy protocol's records: round trips, and what a decoder must refuse.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "mail/params.h"
#include "mail/tls_policy.h"
#include "mail/tls_proto.h"
#include "t/tap.h"

static void
protocols(const char *text, int want_min, int want_max, const char *name)
{
    int min = 0, max = 0;
    struct err err;
    bool good = tls_protocols_parse(text, &min, &max, &err);

    if (want_min == 0) {
        ok(!good, "%s: refused (%s)", name, good ? "accepted" : err.text);
        return;
    }
    ok(good && min == want_min && max == want_max, "%s", name);
    if (!good)
        diag("%s", err.text);
}

static void
check_policy(void)
{
    enum tls_level level;
    struct err err;

    ok(tls_level_parse("", &level, &err) && level == TLS_LEVEL_NONE, "empty level is none");
    ok(tls_level_parse("may", &level, &err) && level == TLS_LEVEL_MAY, "may");
    ok(tls_level_parse("ENCRYPT", &level, &err) && level == TLS_LEVEL_ENCRYPT, "encrypt, any case");
    ok(!tls_level_parse("dane", &level, &err), "a level the server has not is refused");
    ok(!tls_level_parse("verify", &level, &err), "nor verify, a client level");
    ok(tls_client_level_parse("Secure", &level, &err) && level == TLS_LEVEL_SECURE,
       "client: secure, any case");
    ok(tls_client_level_parse("verify", &level, &err) && level == TLS_LEVEL_VERIFY,
       "client: verify");
    ok(tls_client_level_parse("", &level, &err) && level == TLS_LEVEL_NONE,
       "client: empty is none");
    ok(!tls_client_level_parse("dane", &level, &err) && strstr(err.text, "not implemented"),
       "client: dane is refused until it exists");
    ok(!tls_client_level_parse("maybe", &level, &err), "client: an unknown level is refused");
    protocols(">=TLSv1.2", TLS_V_TLS12, TLS_V_TLS13, ">=TLSv1.2");
    protocols("<=TLSv1.2", TLS_V_SSL3, TLS_V_TLS12, "<=TLSv1.2");
    protocols("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", TLS_V_TLS12, TLS_V_TLS13, "exclusions");
    protocols("TLSv1.2 TLSv1.3", TLS_V_TLS12, TLS_V_TLS13, "a list of the versions wanted");
    protocols("", TLS_V_SSL3, TLS_V_TLS13, "empty: all");
    protocols("!TLSv1.2", 0, 0, "a gap in the middle");
    protocols(">=TLSv1.3, <=TLSv1.2", 0, 0, "nothing left");
    protocols("TLSv9", 0, 0, "an unknown version");
}

static void
check_ciphers(void)
{
    struct params p;
    char out[TLS_POLICY_MAX];
    struct err err;

    memset(&p, 0, sizeof(p));
    p.smtpd_tls_ciphers = "medium";
    p.smtpd_tls_mandatory_ciphers = "high";
    p.tls_medium_cipherlist = "MEDIUMLIST";
    p.tls_high_cipherlist = "HIGHLIST";
    p.tls_null_cipherlist = "NULLLIST";
    strvec_init(&p.smtpd_tls_exclude_ciphers);
    strvec_init(&p.smtpd_tls_mandatory_exclude_ciphers);
    strvec_add(&p.smtpd_tls_exclude_ciphers, "RC4");
    strvec_add(&p.smtpd_tls_mandatory_exclude_ciphers, "aNULL");
    ok(tls_cipherlist(&p, false, out, sizeof(out), &err) && strcmp(out, "MEDIUMLIST:!RC4") == 0,
       "opportunistic: the grade's list less smtpd_tls_exclude_ciphers");
    ok(tls_cipherlist(&p, true, out, sizeof(out), &err) && strcmp(out, "HIGHLIST:!RC4:!aNULL") == 0,
       "mandatory: less both exclusion lists");
    p.smtpd_tls_ciphers = "export";
    ok(!tls_cipherlist(&p, false, out, sizeof(out), &err), "an unknown grade is an error");
    p.smtp_tls_ciphers = "medium";
    p.smtp_tls_mandatory_ciphers = "high";
    strvec_init(&p.smtp_tls_exclude_ciphers);
    strvec_init(&p.smtp_tls_mandatory_exclude_ciphers);
    strvec_add(&p.smtp_tls_mandatory_exclude_ciphers, "kRSA");
    ok(tls_client_cipherlist(&p, false, "", out, sizeof(out), &err) &&
           strcmp(out, "MEDIUMLIST") == 0,
       "client, opportunistic: smtp_tls_ciphers");
    ok(tls_client_cipherlist(&p, true, "", out, sizeof(out), &err) &&
           strcmp(out, "HIGHLIST:!kRSA") == 0,
       "client, mandatory: smtp_tls_mandatory_ciphers less its exclusions");
    ok(tls_client_cipherlist(&p, false, "null", out, sizeof(out), &err) &&
           strcmp(out, "NULLLIST") == 0,
       "client: a policy entry's grade wins");
    ok(!tls_client_cipherlist(&p, false, "weak", out, sizeof(out), &err) &&
           strstr(err.text, "smtp_tls_policy_maps") != NULL,
       "client: an unknown grade in a policy entry is an error that says where");
    strvec_free(&p.smtp_tls_exclude_ciphers);
    strvec_free(&p.smtp_tls_mandatory_exclude_ciphers);
    strvec_free(&p.smtpd_tls_exclude_ciphers);
    strvec_free(&p.smtpd_tls_mandatory_exclude_ciphers);
}

static void
check_request(void)
{
    struct tls_request req = {.timeout = 300}, got;
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    int fd = open("/dev/null", O_RDONLY);

    strcpy(req.protocols, ">=TLSv1.2");
    strcpy(req.ciphers, "HIGH");
    req.peer = fd;
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    ok(tls_request_encode(&rec, &fds, &req, &err), "a request encodes");
    ok(fds.n == 1, "with its descriptor beside it");
    fds.fd[0] = dup(fd); /* as the kernel would hand over a new one */
    ok(tls_request_decode(&rec, &fds, &got, &err) && got.peer >= 0 &&
           strcmp(got.protocols, ">=TLSv1.2") == 0 && strcmp(got.ciphers, "HIGH") == 0 &&
           got.timeout == 300 && !got.ask_ccert,
       "and decodes whole");
    close(got.peer);
    attr_fds_init(&fds);
    ok(!tls_request_decode(&rec, &fds, &got, &err) && got.peer == -1,
       "without the descriptor it is refused");
    buf_free(&rec);
    req.timeout = TLS_TIMEOUT_MAX + 1;
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    ok(tls_request_encode(&rec, &fds, &req, &err), "a request with a time limit too long");
    fds.fd[0] = dup(fd);
    ok(!tls_request_decode(&rec, &fds, &got, &err) && got.peer == -1 && fds.n == 0,
       "is refused, its descriptor closed");
    buf_free(&rec);
    req.timeout = 300;
    req.ask_ccert = true;
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    ok(tls_request_encode(&rec, &fds, &req, &err), "a request that asks for a client certificate");
    fds.fd[0] = dup(fd);
    ok(tls_request_decode(&rec, &fds, &got, &err) && got.ask_ccert, "decodes with ask_ccert");
    close(got.peer);
    buf_free(&rec);
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    proto_begin(&rec, PROTO_TLS_SERVER);
    attr_put_fd(&rec, &fds, PROTO_ATTR_PEER, fd);
    attr_put_text(&rec, PROTO_ATTR_PROTOCOLS, ">=TLSv1.2");
    attr_put_text(&rec, PROTO_ATTR_CIPHERS, "HIGH");
    attr_put_int(&rec, PROTO_ATTR_TIMEOUT, 300);
    attr_put_int(&rec, PROTO_ATTR_ASK_CCERT, 2);
    ok(attr_end(&rec, &err), "a request whose ask_ccert is neither 0 nor 1");
    fds.fd[0] = dup(fd);
    ok(!tls_request_decode(&rec, &fds, &got, &err) && got.peer == -1 && fds.n == 0,
       "is refused, its descriptor closed");
    buf_free(&rec);
    req.ask_ccert = false;
    req.client = true;
    strcpy(req.servername, "mx.example.net");
    strcpy(req.match, "mx.example.net .example.net");
    strcpy(req.level, "verify");
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    ok(tls_request_encode(&rec, &fds, &req, &err) && proto_msg_of(&rec) == PROTO_TLS_CLIENT,
       "a client-side request encodes as tls_client");
    fds.fd[0] = dup(fd);
    ok(tls_request_decode(&rec, &fds, &got, &err) && got.client &&
           strcmp(got.servername, "mx.example.net") == 0 &&
           strcmp(got.match, "mx.example.net .example.net") == 0 &&
           strcmp(got.level, "verify") == 0,
       "and decodes with its SNI, names and level");
    close(got.peer);
    buf_free(&rec);
    close(fd);
}

/* check_session_key - no two requests share a session key (review-3 L1: fields joined with
 * '|' made SNI "a|b" with no match the same as SNI "a" matching "b|", and left the level out) */
static void
check_session_key(void)
{
    struct tls_request a = {.client = true}, b = {.client = true};
    char ka[2048], kb[2048], small[8];

    strcpy(a.level, "may");
    strcpy(b.level, "may");
    strcpy(a.servername, "a|b");
    strcpy(b.servername, "a");
    strcpy(b.match, "b|");
    ok(tls_session_key("[192.0.2.1]:25", &a, ka, sizeof(ka)) &&
           tls_session_key("[192.0.2.1]:25", &b, kb, sizeof(kb)) && strcmp(ka, kb) != 0,
       "session keys: SNI \"a|b\" and SNI \"a\" with match \"b|\" differ");
    strcpy(b.servername, "a|b");
    b.match[0] = 0;
    ok(tls_session_key("[192.0.2.1]:25", &b, kb, sizeof(kb)) && strcmp(ka, kb) == 0,
       "the same request and peer: the same key");
    strcpy(b.level, "encrypt");
    ok(tls_session_key("[192.0.2.1]:25", &b, kb, sizeof(kb)) && strcmp(ka, kb) != 0,
       "another level: another key");
    ok(!tls_session_key("[192.0.2.1]:25", &a, small, sizeof(small)),
       "a key that does not fit is refused, not cut");
}

static void
check_result(void)
{
    struct tls_result res = {.ok = true}, got;
    struct buf rec;
    struct attr_fds fds;
    struct err err;
    char summary[600];

    strcpy(res.facts.protocol, "TLSv1.3");
    strcpy(res.facts.cipher, "TLS_AES_256_GCM_SHA384");
    res.facts.bits = res.facts.alg_bits = 256;
    strcpy(res.facts.detail, "key-exchange X25519");
    res.facts.trust = TLS_TRUST_UNTRUSTED;
    buf_init(&rec, BUF_UNLIMITED);
    attr_fds_init(&fds);
    ok(tls_result_encode(&rec, &res, &err) && tls_result_decode(&rec, &fds, &got, &err) && got.ok &&
           got.facts.trust == TLS_TRUST_UNTRUSTED,
       "a result round-trips");
    tls_facts_summary(&got.facts, summary, sizeof(summary));
    is_str(summary, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519",
           "the summary reads as Postfix's log line");
    strcpy(res.facts.subject, "evil\r\nX-Injected: yes");
    buf_free(&rec);
    buf_init(&rec, BUF_UNLIMITED);
    ok(tls_result_encode(&rec, &res, &err) && !tls_result_decode(&rec, &fds, &got, &err) && !got.ok,
       "a fact with a line break is refused, so it never reaches a header or a log line");
    buf_free(&rec);
}

int
main(void)
{
    check_session_key();
    check_policy();
    check_ciphers();
    check_request();
    check_result();
    return done_testing();
}
