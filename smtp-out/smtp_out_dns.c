/*
 * smtp_out_dns.c - the next hop's address, looked up without blocking the loop: an A
 * query, then AAAA when there is no A record. /etc/hosts is read first (ub_ctx_hosts), then
 * the name servers of smtp_dns_resolv_conf are asked (forwarders, as smtpd's lookups).
 *
 * libunbound works in the background; its descriptor is watched on the loop and
 * ub_process() hands the answers to the callback. A session that ends while its query runs
 * cancels it first, so no callback sees a freed session. The connect time limit
 * (smtp_connect_timeout) covers the lookup too.
 *
 * Trusts: answers only as addresses of the right length.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "core/log.h"
#include "core/resolv_conf.h"
#include "smtp-out/smtp_out.h"

#define SMTP_OUT_DNS_A    1
#define SMTP_OUT_DNS_AAAA 28
#define SMTP_OUT_DNS_IN   1

static void smtp_out_dns_done(void *arg, int err, struct ub_result *result);

static void
smtp_out_dns_readable(int fd, unsigned events, void *arg)
{
    struct smtp_out *so = arg;

    if (ub_process(so->dns) != 0)
        log_warn("DNS: ub_process failed");
}

/* smtp_out_dns_servers - the resolv.conf name servers as forwarders */
static void
smtp_out_dns_servers(struct smtp_out *so)
{
    const char *path = so->p->smtp_dns_resolv_conf;
    struct strvec servers;
    struct err err;

    strvec_init(&servers);
    if (!resolv_conf_servers(path, &servers, &err))
        log_warn("DNS: %s; only /etc/hosts names resolve", err.text);
    for (size_t i = 0; i < servers.n; i++)
        if (ub_ctx_set_fwd(so->dns, servers.v[i]) != 0)
            log_warn("DNS: %s: bad nameserver \"%s\"", path, servers.v[i]);
    if (servers.n == 0)
        ub_ctx_set_fwd(so->dns, "0.0.0.0");
    strvec_free(&servers);
}

/* smtp_out_dns_init - the process's resolver context */
void
smtp_out_dns_init(struct smtp_out *so)
{
    int rc;

    so->dns = ub_ctx_create();
    if (so->dns == NULL)
        log_fatal("DNS: cannot create a resolver context");
    if ((rc = ub_ctx_async(so->dns, 1)) != 0 ||
        (rc = ub_ctx_set_option(so->dns, "do-not-query-localhost:", "no")) != 0)
        log_warn("DNS: resolver setup: %s", ub_strerror(rc));
    if ((rc = ub_ctx_hosts(so->dns, "/etc/hosts")) != 0)
        log_warn("DNS: /etc/hosts: %s", ub_strerror(rc));
    smtp_out_dns_servers(so);
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

/* smtp_out_dns_query - ask for the host's records of type; false if the query failed */
static bool
smtp_out_dns_query(struct smtp_out_sess *s, int type)
{
    if (ub_resolve_async(s->so->dns, s->nh.host, type, SMTP_OUT_DNS_IN, s, smtp_out_dns_done,
                         &s->dns_id) == 0)
        return true;
    s->dns_id = -1;
    return false;
}

void
smtp_out_dns_start(struct smtp_out_sess *s)
{
    if (smtp_out_dns_query(s, SMTP_OUT_DNS_A))
        return;
    smtp_out_fail_all(s, DELIVER_DEFER, "4.4.3", "Name service error for name=%s: query failed",
                      s->nh.host);
    smtp_out_sess_end(s);
}

void
smtp_out_dns_cancel(struct smtp_out_sess *s)
{
    if (s->dns_id < 0)
        return;
    ub_cancel(s->so->dns, s->dns_id);
    s->dns_id = -1;
}

/* smtp_out_dns_addr - the first address of the answer as text; false if none */
static bool
smtp_out_dns_addr(const struct ub_result *r, char *out, size_t len)
{
    int family = r->qtype == SMTP_OUT_DNS_A ? AF_INET : AF_INET6;
    int size = family == AF_INET ? 4 : 16;

    for (int i = 0; r->havedata && r->data[i] != NULL; i++)
        if (r->len[i] == size && inet_ntop(family, r->data[i], out, (socklen_t)len) != NULL)
            return true;
    return false;
}

/* smtp_out_dns_done - an answer: connect, try AAAA after an empty A answer, or defer */
static void
smtp_out_dns_done(void *arg, int err, struct ub_result *result)
{
    struct smtp_out_sess *s = arg;
    char addr[64];
    int qtype = result ? result->qtype : SMTP_OUT_DNS_A;
    bool found = err == 0 && result != NULL && smtp_out_dns_addr(result, addr, sizeof(addr));
    bool nxdomain = err == 0 && result != NULL && result->nxdomain;
    bool temporary = err != 0 || result == NULL || result->rcode == 2; /* SERVFAIL */

    s->dns_id = -1;
    ub_resolve_free(result);
    if (found) {
        smtp_out_connect(s, addr);
        return;
    }
    if (!temporary && !nxdomain && qtype == SMTP_OUT_DNS_A &&
        smtp_out_dns_query(s, SMTP_OUT_DNS_AAAA))
        return;
    /* With a next hop in brackets, a name that does not exist is still the
     * administrator's to fix: defer, as Postfix does for its relayhost. */
    smtp_out_fail_all(s, DELIVER_DEFER, "4.4.3",
                      "Host or domain name not found. Name service "
                      "error for name=%s type=%s: %s",
                      s->nh.host, qtype == SMTP_OUT_DNS_A ? "A" : "AAAA",
                      temporary ? "Host not found, try again" : "Host not found");
    smtp_out_sess_end(s);
}
