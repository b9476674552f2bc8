/*
 * smtpd_dns.c - the client's host name, looked up without blocking the loop: a PTR query
 * for its address, then an A or AAAA query for the name found; the name counts only when
 * that forward lookup gives the client's address back (as Postfix's "verified" name).
 * Anything else, including errors and lookups that take too long, leaves "unknown".
 *
 * libunbound does the work in a background thread; its descriptor is watched on the loop
 * and ub_process() delivers the answers to the callbacks below. A session that ends while
 * a query runs cancels it, so no callback ever sees a freed session.
 *
 * Trusts: the answers only as DNS names, decoded label by label and checked with
 * mailaddr_is_domain() before they are used or logged.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/dns_fwd.h"
#include "mail/mailaddr.h"
#include "smtpd/smtpd.h"

#define SMTPD_DNS_TYPE_A    1
#define SMTPD_DNS_TYPE_PTR  12
#define SMTPD_DNS_TYPE_AAAA 28
#define SMTPD_DNS_CLASS_IN  1

static void smtpd_dns_ptr_done(void *arg, int err, struct ub_result *result);
static void smtpd_dns_addr_done(void *arg, int err, struct ub_result *result);

/* smtpd_dns_readable - answers are ready: hand them to their callbacks */
static void
smtpd_dns_readable(int fd, unsigned events, void *arg)
{
    struct smtpd *smtpd = arg;

    if (ub_process(smtpd->dns) != 0)
        log_warn("DNS: ub_process failed");
}

/* smtpd_dns_init - the resolver context, when smtpd_peername_lookup is on */
void
smtpd_dns_init(struct smtpd *smtpd)
{
    const struct params *p = smtpd->p;
    struct ub_ctx *dns;
    struct err err;
    int rc;

    if (!p->smtpd_peername_lookup)
        return;
    dns = ub_ctx_create();
    if (dns == NULL)
        log_fatal("DNS: cannot create a resolver context");
    /* Without a name server the lookups could only fail: clients stay "unknown" at once. */
    if (dns_fwd_set(dns, p->smtpd_dns_resolv_conf, &err) == 0) {
        dns_fwd_warn(p->smtpd_dns_resolv_conf, &err, "client names stay unknown");
        ub_ctx_delete(dns);
        return;
    }
    /*
     * Ask the configured name servers about every address, as the system resolver would:
     * unbound's built-in answers for loopback and private (RFC 1918) reverse zones would
     * hide what the site's own DNS says about its clients.
     */
    if ((rc = ub_ctx_async(dns, 1)) != 0 ||
        (rc = ub_ctx_set_option(dns, "do-not-query-localhost:", "no")) != 0 ||
        (rc = ub_ctx_set_option(dns, "insecure-lan-zones:", "yes")) != 0 ||
        (rc = ub_ctx_set_option(dns, "local-zone:", "127.in-addr.arpa. transparent")) != 0)
        log_warn("DNS: resolver setup: %s", ub_strerror(rc));
    smtpd->dns = dns;
    smtpd->dns_watch =
        loop_fd_add(smtpd->ctx->loop, ub_fd(smtpd->dns), LOOP_READ, smtpd_dns_readable, smtpd);
}

void
smtpd_dns_free(struct smtpd *smtpd)
{
    if (smtpd->dns == NULL)
        return;
    loop_fd_free(smtpd->dns_watch);
    ub_ctx_delete(smtpd->dns);
    smtpd->dns = NULL;
}

/* smtpd_dns_reverse - the PTR query name of a numeric address; false if none */
static bool
smtpd_dns_reverse(const char *addr, char *out, size_t len)
{
    unsigned char a[16];
    size_t n = 0;

    if (inet_pton(AF_INET, addr, a) == 1) {
        snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return true;
    }
    if (inet_pton(AF_INET6, addr, a) != 1 || len < 73)
        return false;
    for (int i = 15; i >= 0; i--)
        n += (size_t)snprintf(out + n, len - n, "%x.%x.", a[i] & 0xf, a[i] >> 4);
    snprintf(out + n, len - n, "ip6.arpa");
    return true;
}

/* smtpd_dns_name - a PTR record's wire-format name as text; false if it is no host name */
static bool
smtpd_dns_name(const unsigned char *data, int len, char *out, size_t outlen)
{
    size_t n = 0;
    int i = 0;

    while (i < len && data[i] != 0) {
        int label = data[i++];
        if (label > 63 || i + label > len || n + (size_t)label + 2 > outlen)
            return false;
        if (n > 0)
            out[n++] = '.';
        memcpy(out + n, data + i, (size_t)label);
        n += (size_t)label;
        i += label;
    }
    out[n] = 0;
    return n > 0 && mailaddr_is_domain(out, n, false);
}

/* smtpd_dns_finish - the lookup is over: the name (or "unknown"), then the greeting */
static void
smtpd_dns_finish(struct smtpd_session *sess, const char *name)
{
    sess->dns_id = -1;
    if (name != NULL) {
        sess->verified_name = xstrdup(name);
        sess->name = sess->verified_name;
    }
    smtpd_session_greet(sess);
    smtpd_session_resume(sess);
}

/* smtpd_dns_start - ask for the client's PTR record; false if no lookup is made */
bool
smtpd_dns_start(struct smtpd_session *sess)
{
    struct ub_ctx *dns = sess->smtpd->dns;
    char qname[80];

    if (dns == NULL || !smtpd_dns_reverse(sess->addr, qname, sizeof(qname)))
        return false;
    if (ub_resolve_async(dns, qname, SMTPD_DNS_TYPE_PTR, SMTPD_DNS_CLASS_IN, sess,
                         smtpd_dns_ptr_done, &sess->dns_id) != 0) {
        sess->dns_id = -1;
        return false;
    }
    return true;
}

/* smtpd_dns_cancel - the session ends or gave up waiting: drop its query */
void
smtpd_dns_cancel(struct smtpd_session *sess)
{
    if (sess->dns_id < 0)
        return;
    ub_cancel(sess->smtpd->dns, sess->dns_id);
    sess->dns_id = -1;
    free(sess->dns_candidate);
    sess->dns_candidate = NULL;
}

/*
 * smtpd_dns_ptr_done - the PTR answer: ask for the name's address to see if it points
 * back, else greet as unknown
 */
static void
smtpd_dns_ptr_done(void *arg, int err, struct ub_result *result)
{
    struct smtpd_session *sess = arg;
    char name[MAILADDR_DOMAIN_MAX + 2];
    bool v6 = strchr(sess->addr, ':') != NULL;

    sess->dns_id = -1;
    if (err != 0 || result == NULL || !result->havedata ||
        !smtpd_dns_name((const unsigned char *)result->data[0], result->len[0], name,
                        sizeof(name))) {
        ub_resolve_free(result);
        smtpd_dns_finish(sess, NULL);
        return;
    }
    ub_resolve_free(result);
    sess->dns_candidate = xstrdup(name);
    if (ub_resolve_async(sess->smtpd->dns, name, v6 ? SMTPD_DNS_TYPE_AAAA : SMTPD_DNS_TYPE_A,
                         SMTPD_DNS_CLASS_IN, sess, smtpd_dns_addr_done, &sess->dns_id) != 0) {
        free(sess->dns_candidate);
        sess->dns_candidate = NULL;
        smtpd_dns_finish(sess, NULL);
    }
}

static void
smtpd_dns_addr_done(void *arg, int err, struct ub_result *result)
{
    struct smtpd_session *sess = arg;
    unsigned char want[16];
    int family = strchr(sess->addr, ':') ? AF_INET6 : AF_INET;
    int size = family == AF_INET6 ? 16 : 4;
    bool match = false;
    char *candidate = sess->dns_candidate;

    sess->dns_candidate = NULL;
    if (err == 0 && result != NULL && result->havedata && inet_pton(family, sess->addr, want) == 1)
        for (int i = 0; result->data[i] != NULL && !match; i++)
            match = result->len[i] == size && memcmp(result->data[i], want, (size_t)size) == 0;
    ub_resolve_free(result);
    if (!match)
        log_warn("hostname %s does not resolve to address %s", candidate, sess->addr);
    smtpd_dns_finish(sess, match ? candidate : NULL);
    free(candidate);
}
