/*
 * smtp_out_dns.c - the next hop's addresses, looked up without blocking the loop.
 *
 * A next hop without brackets is a domain: its MX records first (RFC 5321 5.1), ordered by
 * mx_list.c; a null MX fails the delivery at once; when the domain has no MX record
 * (NXDOMAIN or no data, never on a failure) its own address records stand in, as one MX
 * host of preference 0. A next hop in brackets is that host, without MX. Then the address
 * records of every host, as inet_protocols asks (A, AAAA or both), all queries at once;
 * when every answer is in, the addresses in host order, smtp_address_preference's family
 * first among equal preferences, cut at smtp_mx_address_limit, go to smtp_out_hop.c.
 * CNAMEs are followed by the resolver.
 *
 * /etc/hosts is read first (ub_ctx_hosts), then the name servers of smtp_dns_resolv_conf
 * are asked (forwarders, as smtpd's lookups). libunbound works in the background; its
 * descriptor is watched on the loop and ub_process() hands the answers to the callbacks.
 * A session that ends while its queries run cancels them first, so no callback sees a
 * freed session. The connect time limit (smtp_connect_timeout) covers the lookups too.
 *
 * Failures, in Postfix's words: a temporary one (SERVFAIL, no answer) defers with 4.4.3
 * "... Host not found, try again"; a domain that does not exist, or MX hosts without any
 * address, bounce with 5.4.4; a next hop in brackets that does not resolve is deferred
 * (the administrator's to fix, as Postfix does for its relayhost).
 *
 * Trusts: answers only as addresses of the right length and MX data as mx_rdata_parse
 * checks it.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unbound.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/dns_fwd.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_DNS_A    1
#define SMTP_OUT_DNS_MX   15
#define SMTP_OUT_DNS_AAAA 28
#define SMTP_OUT_DNS_IN   1
#define SMTP_OUT_Q_ADDRS  16 /* addresses kept per answer */
#define SMTP_OUT_MX_MAX   64 /* MX hosts looked up when smtp_mx_address_limit is 0 */

/* What one answer said. */
enum smtp_out_q_status {
    SMTP_OUT_Q_OK,
    SMTP_OUT_Q_NXDOMAIN, /* the name does not exist */
    SMTP_OUT_Q_NODATA,   /* it exists, without records of the type */
    SMTP_OUT_Q_TEMP,     /* SERVFAIL, no answer, or a query that could not start */
};

/* One query of a session, and its answer. */
struct smtp_out_q {
    struct smtp_out_sess *s;
    int id; /* libunbound's, -1 when none runs */
    int type;
    size_t host; /* index into s->hosts */
    enum smtp_out_q_status status;
    size_t naddr;
    char addr[SMTP_OUT_Q_ADDRS][MX_ADDR_MAX];
};

static void
smtp_out_dns_readable(int fd, unsigned events, void *arg)
{
    struct smtp_out *so = arg;

    if (ub_process(so->dns) != 0)
        log_warn("DNS: ub_process failed");
}

/*
 * smtp_out_dns_level - smtp_dns_support_level: the forwarders of smtp_dns_resolv_conf
 * (enabled), the same with every answer validated against the trust anchors (dnssec: a
 * bogus answer is a temporary failure), or nobody asked (disabled: /etc/hosts only)
 */
static void
smtp_out_dns_level(struct smtp_out *so)
{
    const struct params *p = so->p;
    const char *level = p->smtp_dns_support_level;
    struct err err;
    int rc;

    if (strcmp(level, "disabled") == 0) {
        dns_fwd_none(so->dns);
        return;
    }
    if (*level && strcmp(level, "enabled") != 0 && strcmp(level, "dnssec") != 0)
        log_warn("DNS: smtp_dns_support_level = %s: unknown, taken as enabled", level);
    if (dns_fwd_set(so->dns, p->smtp_dns_resolv_conf, &err) == 0)
        dns_fwd_warn(p->smtp_dns_resolv_conf, &err, "only /etc/hosts names resolve");
    if (strcmp(level, "dnssec") == 0 &&
        (rc = ub_ctx_add_ta_file(so->dns, p->smtp_dns_trust_anchor_file)) != 0)
        log_warn("DNS: trust anchors from %s: %s; answers are not validated",
                 p->smtp_dns_trust_anchor_file, ub_strerror(rc));
}

/* smtp_out_dns_init - the process's resolver context */
void
smtp_out_dns_init(struct smtp_out *so)
{
    int rc;

    so->dns = ub_ctx_create();
    if (so->dns == NULL)
        log_fatal("DNS: cannot create a resolver context");
    /* The name servers are the administrator's forwarders, not the Internet's: one that was
     * slow once (a loaded host) is asked again rather than shunned for the infra cache's
     * 15 minutes, and its retry interval never grows past 5 s. */
    if ((rc = ub_ctx_async(so->dns, 1)) != 0 ||
        (rc = ub_ctx_set_option(so->dns, "do-not-query-localhost:", "no")) != 0 ||
        (rc = ub_ctx_set_option(so->dns, "infra-keep-probing:", "yes")) != 0 ||
        (rc = ub_ctx_set_option(so->dns, "infra-cache-max-rtt:", "5000")) != 0)
        log_warn("DNS: resolver setup: %s", ub_strerror(rc));
    if ((rc = ub_ctx_hosts(so->dns, "/etc/hosts")) != 0)
        log_warn("DNS: /etc/hosts: %s", ub_strerror(rc));
    smtp_out_dns_level(so);
    so->dns_watch =
        loop_fd_add(so->ctx->loop, ub_fd(so->dns), LOOP_READ, smtp_out_dns_readable, so);
}

void
smtp_out_dns_free(struct smtp_out *so)
{
    if (so->dns == NULL)
        return;
    loop_fd_free(so->dns_watch);
    ub_ctx_delete(so->dns);
    so->dns = NULL;
}

/* smtp_out_dns_fail - every recipient fails with why, and the session ends */
static void smtp_out_dns_fail(struct smtp_out_sess *s, enum deliver_status status, const char *dsn,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
smtp_out_dns_fail(struct smtp_out_sess *s, enum deliver_status status, const char *dsn,
                  const char *fmt, ...)
{
    char why[sizeof(s->res[0].reason)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    smtp_out_fail_all(s, status, dsn, "%s", why);
    smtp_out_sess_end(s);
}

static const char *
smtp_out_dns_type(int type)
{
    return type == SMTP_OUT_DNS_A ? "A" : type == SMTP_OUT_DNS_AAAA ? "AAAA" : "MX";
}

/* smtp_out_dns_status - what an answer says, whatever its records */
static enum smtp_out_q_status
smtp_out_dns_status(int err, const struct ub_result *r)
{
    if (r != NULL && r->bogus)
        log_warn("DNS: name=%s type=%d: DNSSEC validation failed: %s", r->qname, r->qtype,
                 r->why_bogus ? r->why_bogus : "bogus answer");
    if (err != 0 || r == NULL || r->bogus)
        return SMTP_OUT_Q_TEMP;
    if (r->rcode == 3 || r->nxdomain)
        return SMTP_OUT_Q_NXDOMAIN;
    if (r->rcode != 0)
        return SMTP_OUT_Q_TEMP;
    return r->havedata ? SMTP_OUT_Q_OK : SMTP_OUT_Q_NODATA;
}

/* smtp_out_dns_ask - start query q; false (and q is a temporary failure) if it cannot */
static bool
smtp_out_dns_ask(struct smtp_out_q *q, const char *name, ub_callback_type done)
{
    if (ub_resolve_async(q->s->so->dns, name, q->type, SMTP_OUT_DNS_IN, q, done, &q->id) == 0)
        return true;
    q->id = -1;
    q->status = SMTP_OUT_Q_TEMP;
    return false;
}

void
smtp_out_dns_cancel(struct smtp_out_sess *s)
{
    for (size_t i = 0; i < s->nq; i++)
        if (s->q[i].id >= 0)
            ub_cancel(s->so->dns, s->q[i].id);
    free(s->q);
    s->q = NULL;
    s->nq = s->qpending = 0;
}

/* smtp_out_dns_family - smtp_address_preference as an address family (0: any) */
static int
smtp_out_dns_family(const struct smtp_out_sess *s)
{
    const char *pref = s->so->p->smtp_address_preference;

    return strcasecmp(pref, "ipv4") == 0 ? AF_INET : strcasecmp(pref, "ipv6") == 0 ? AF_INET6 : 0;
}

/* smtp_out_dns_types - the address record types inet_protocols asks for */
static size_t
smtp_out_dns_types(const struct smtp_out_sess *s, int types[2])
{
    const struct strvec *v = &s->so->p->inet_protocols;
    bool v4 = false, v6 = false;
    size_t n = 0;

    for (size_t i = 0; i < v->n; i++) {
        v4 |= strcmp(v->v[i], "all") == 0 || strcmp(v->v[i], "ipv4") == 0;
        v6 |= strcmp(v->v[i], "all") == 0 || strcmp(v->v[i], "ipv6") == 0;
    }
    if (v4 || !v6)
        types[n++] = SMTP_OUT_DNS_A;
    if (v6)
        types[n++] = SMTP_OUT_DNS_AAAA;
    return n;
}

/* smtp_out_dns_keep - the answer's addresses of the right length, as text */
static void
smtp_out_dns_keep(struct smtp_out_q *q, const struct ub_result *r)
{
    int family = q->type == SMTP_OUT_DNS_A ? AF_INET : AF_INET6;
    int size = family == AF_INET ? 4 : 16;

    for (int i = 0; r->data[i] != NULL && q->naddr < SMTP_OUT_Q_ADDRS; i++)
        if (r->len[i] == size &&
            inet_ntop(family, r->data[i], q->addr[q->naddr], sizeof(q->addr[0])) != NULL)
            q->naddr++;
    if (q->naddr == 0)
        q->status = SMTP_OUT_Q_NODATA;
}

/*
 * smtp_out_dns_no_addr - why no address was found: a temporary failure dominates, else the
 * first answer about the last host
 */
static void
smtp_out_dns_no_addr(struct smtp_out_sess *s)
{
    const struct smtp_out_q *q = &s->q[s->nq - 1];
    bool temporary = false;

    while (q > s->q && q[-1].host == q->host)
        q--;
    for (size_t i = 0; i < s->nq && !temporary; i++) {
        temporary = s->q[i].status == SMTP_OUT_Q_TEMP;
        if (temporary)
            q = &s->q[i];
    }
    if (!temporary && s->self == MX_SELF_CUT) {
        smtp_out_dns_fail(s, DELIVER_DEFER, "4.4.4", "unable to find primary relay for %s",
                          s->nh.host);
        return;
    }
    smtp_out_dns_fail(s, temporary || !s->nh.mx ? DELIVER_DEFER : DELIVER_BOUNCE,
                      temporary || !s->nh.mx ? "4.4.3" : "5.4.4",
                      "Host or domain name not found. Name service error for name=%s type=%s: %s",
                      s->hosts[q->host].name, smtp_out_dns_type(q->type),
                      temporary                          ? "Host not found, try again"
                      : q->status == SMTP_OUT_Q_NXDOMAIN ? "Host not found"
                                                         : "Host found but no data record of "
                                                           "requested type");
}

/* smtp_out_dns_addrs - every answer is in: the address list, or why there is none */
static void
smtp_out_dns_addrs(struct smtp_out_sess *s)
{
    size_t n = 0, limit = (size_t)s->so->p->smtp_mx_address_limit;

    for (size_t i = 0; i < s->nq; i++)
        n += s->q[i].naddr;
    if (n == 0) {
        smtp_out_dns_no_addr(s);
        return;
    }
    s->addrs = xcalloc(n, sizeof(*s->addrs));
    for (size_t i = 0; i < s->nq; i++)
        for (size_t j = 0; j < s->q[i].naddr; j++) {
            struct mx_addr *a = &s->addrs[s->naddrs++];
            a->host = s->q[i].host;
            a->pref = s->hosts[a->host].pref;
            a->family = s->q[i].type == SMTP_OUT_DNS_A ? AF_INET : AF_INET6;
            snprintf(a->addr, sizeof(a->addr), "%s", s->q[i].addr[j]);
        }
    mx_addr_prefer(s->addrs, s->naddrs, smtp_out_dns_family(s));
    if (limit > 0 && s->naddrs > limit)
        s->naddrs = limit;
    smtp_out_dns_cancel(s);
    smtp_out_hop_next(s);
}

/* smtp_out_dns_addr_done - one address answer */
static void
smtp_out_dns_addr_done(void *arg, int err, struct ub_result *result)
{
    struct smtp_out_q *q = arg;
    struct smtp_out_sess *s = q->s;

    q->id = -1;
    q->status = smtp_out_dns_status(err, result);
    if (q->status == SMTP_OUT_Q_OK)
        smtp_out_dns_keep(q, result);
    ub_resolve_free(result);
    if (--s->qpending == 0)
        smtp_out_dns_addrs(s);
}

/* smtp_out_dns_hosts - the address queries of every host, all at once */
static void
smtp_out_dns_hosts(struct smtp_out_sess *s)
{
    int types[2];
    size_t ntypes = smtp_out_dns_types(s, types);

    s->q = xcalloc(s->nhosts * ntypes, sizeof(*s->q));
    s->nq = s->nhosts * ntypes;
    for (size_t i = 0; i < s->nq; i++) {
        s->q[i] =
            (struct smtp_out_q){.s = s, .id = -1, .type = types[i % ntypes], .host = i / ntypes};
        if (smtp_out_dns_ask(&s->q[i], s->hosts[s->q[i].host].name, smtp_out_dns_addr_done))
            s->qpending++;
    }
    if (s->qpending == 0)
        smtp_out_dns_addrs(s);
}

/* smtp_out_dns_random - the process's random source for equal MX preferences */
static unsigned
smtp_out_dns_random(void *arg, unsigned bound)
{
    return arc4random_uniform(bound);
}

/* smtp_out_dns_one_host - the next hop itself as its only host (no MX, or brackets) */
static void
smtp_out_dns_one_host(struct smtp_out_sess *s)
{
    s->hosts = xcalloc(1, sizeof(*s->hosts));
    s->nhosts = 1;
    snprintf(s->hosts[0].name, sizeof(s->hosts[0].name), "%s", s->nh.host);
}

/* smtp_out_dns_mx_hosts - the answer's MX hosts, in the order they are tried */
static void
smtp_out_dns_mx_hosts(struct smtp_out_sess *s, const struct ub_result *r)
{
    size_t n = 0, max = (size_t)s->so->p->smtp_mx_address_limit;

    while (r->data[n] != NULL)
        n++;
    s->hosts = xcalloc(n, sizeof(*s->hosts));
    for (size_t i = 0; i < n; i++)
        if (mx_rdata_parse((const unsigned char *)r->data[i], (size_t)r->len[i],
                           &s->hosts[s->nhosts]))
            s->nhosts++;
    if (mx_list_null(s->hosts, s->nhosts))
        return;
    mx_list_drop_null(s->hosts, &s->nhosts);
    mx_list_sort(s->hosts, s->nhosts, smtp_out_dns_random, NULL);
    s->self = mx_list_cut_self(s->hosts, &s->nhosts, s->so->p->myhostname);
    if (max == 0 || max > SMTP_OUT_MX_MAX)
        max = SMTP_OUT_MX_MAX;
    if (s->nhosts > max)
        s->nhosts = max; /* each host has at least one address */
}

/* smtp_out_dns_mx_done - the MX answer: its hosts, the domain itself, or the end */
static void
smtp_out_dns_mx_done(void *arg, int err, struct ub_result *result)
{
    struct smtp_out_q *q = arg;
    struct smtp_out_sess *s = q->s;
    enum smtp_out_q_status status = smtp_out_dns_status(err, result);

    q->id = -1;
    if (status == SMTP_OUT_Q_OK)
        smtp_out_dns_mx_hosts(s, result);
    ub_resolve_free(result);
    smtp_out_dns_cancel(s);
    if (status == SMTP_OUT_Q_TEMP) {
        smtp_out_dns_fail(s, DELIVER_DEFER, "4.4.3",
                          "Host or domain name not found. Name service error for name=%s "
                          "type=MX: Host not found, try again",
                          s->nh.host);
    } else if (mx_list_null(s->hosts, s->nhosts)) {
        smtp_out_dns_fail(s, DELIVER_BOUNCE, "5.1.10", "Domain %s does not accept mail (nullMX)",
                          s->nh.host);
    } else if (s->self == MX_SELF_LOOP) {
        smtp_out_dns_fail(s, DELIVER_BOUNCE, "5.4.6", "mail for %s loops back to myself",
                          s->nh.host);
    } else if (status == SMTP_OUT_Q_OK && s->nhosts == 0 && s->self == MX_SELF_NONE) {
        smtp_out_dns_fail(s, DELIVER_DEFER, "4.4.3", "no valid MX record for %s", s->nh.host);
    } else if (status != SMTP_OUT_Q_OK) {
        free(s->hosts);
        smtp_out_dns_one_host(s);
        if (mx_list_cut_self(s->hosts, &s->nhosts, s->so->p->myhostname) == MX_SELF_LOOP)
            smtp_out_dns_fail(s, DELIVER_BOUNCE, "5.4.6", "mail for %s loops back to myself",
                              s->nh.host);
        else
            smtp_out_dns_hosts(s);
    } else
        smtp_out_dns_hosts(s);
}

/* smtp_out_dns_start - look the next hop up: MX first without brackets, else its addresses */
void
smtp_out_dns_start(struct smtp_out_sess *s)
{
    if (s->nh.literal) {
        smtp_out_dns_one_host(s);
        s->addrs = xcalloc(1, sizeof(*s->addrs));
        s->naddrs = 1;
        s->addrs[0].family = strchr(s->nh.host, ':') ? AF_INET6 : AF_INET;
        snprintf(s->addrs[0].addr, sizeof(s->addrs[0].addr), "%.*s",
                 (int)sizeof(s->addrs[0].addr) - 1, s->nh.host);
        smtp_out_hop_next(s);
        return;
    }
    if (!s->nh.mx) {
        smtp_out_dns_one_host(s);
        smtp_out_dns_hosts(s);
        return;
    }
    s->q = xcalloc(1, sizeof(*s->q));
    s->nq = 1;
    s->q[0] = (struct smtp_out_q){.s = s, .id = -1, .type = SMTP_OUT_DNS_MX};
    if (smtp_out_dns_ask(&s->q[0], s->nh.host, smtp_out_dns_mx_done))
        return;
    smtp_out_dns_cancel(s);
    smtp_out_dns_fail(s, DELIVER_DEFER, "4.4.3",
                      "Host or domain name not found. Name service error for name=%s type=MX: "
                      "Host not found, try again",
                      s->nh.host);
}
