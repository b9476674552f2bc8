/*
 * smtpd_milter_route.c - the milter macros {mail_mailer} {mail_host} {rcpt_mailer}
 * {rcpt_host}: the transport and next hop of the sender and of the recipient, as Postfix's
 * smtpd gets them from trivial-rewrite (resolve_route: transport_maps, relayhost,
 * sender_dependent_relayhost_maps, the local, virtual and relay domains). A milter that
 * treats outbound and local mail apart sees "local", "virtual", "relay", "smtp", "error" or
 * what transport_maps says, as it does with Postfix.
 *
 * As Postfix: the null sender resolves as MAILER-DAEMON@$myhostname (local); the sender is
 * resolved with the null sender as its own sender (for sender_dependent_relayhost_maps), a
 * recipient with the transaction's sender. Each answer is kept for its address, so the
 * macros of a stage cost one resolution. A table that fails leaves the macro out.
 *
 * Trusts: main.cf and its tables; the addresses (from SMTP) are lookup keys only. The tables
 * are opened once per process, and only when milters may run (smtpd_milters or
 * smtpd_milter_maps): no DNS, no cost without milters.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/resolve.h"
#include "smtpd/smtpd_milter.h"

/* smtpd_milter_route_init - the resolver, when milters may run in this process */
void
smtpd_milter_route_init(struct smtpd *smtpd)
{
    struct err err;

    if (smtpd->nmilters == 0 && smtpd->p->smtpd_milter_maps.n == 0)
        return;
    smtpd->route = xcalloc(1, sizeof(*smtpd->route));
    if (!resolve_open(smtpd->route, smtpd->p, &err))
        log_warn("milter macros: %s", err.text);
}

void
smtpd_milter_route_free(struct smtpd *smtpd)
{
    if (smtpd->route == NULL)
        return;
    resolve_close(smtpd->route);
    free(smtpd->route);
    smtpd->route = NULL;
}

/* smtpd_milter_route_of - the answer for addr, resolved now or kept from before; NULL if
 * the tables failed */
static const struct resolve_result *
smtpd_milter_route_of(struct smtpd_milters *ms, struct smtpd_milter_route *rt, const char *sender,
                      const char *addr)
{
    struct resolve *r = ms->sess->smtpd->route;

    if (r == NULL)
        return NULL;
    if (rt->addr == NULL || strcmp(rt->addr, addr) != 0) {
        free(rt->addr);
        rt->addr = xstrdup(addr);
        rt->ok = resolve_route(r, sender, addr, &rt->res) == RESOLVE_OK;
    }
    return rt->ok ? &rt->res : NULL;
}

/* The four macros: which address, and which half of its answer. */
static const struct {
    const char *name;
    bool rcpt, host;
} smtpd_milter_routes[] = {
    {"mail_mailer", false, false},
    {"mail_host", false, true},
    {"rcpt_mailer", true, false},
    {"rcpt_host", true, true},
};

/*
 * smtpd_milter_route - the value of name if it is one of the four macros (NULL: no value,
 * the macro is left out); false: name is another macro
 */
bool
smtpd_milter_route(struct smtpd_milters *ms, const char *name, const char **value)
{
    const char *sender = ms->sess->txn.sender;
    const struct resolve_result *res = NULL;

    for (size_t i = 0; i < sizeof(smtpd_milter_routes) / sizeof(smtpd_milter_routes[0]); i++) {
        if (strcmp(name, smtpd_milter_routes[i].name) != 0)
            continue;
        if (!smtpd_milter_routes[i].rcpt && sender != NULL)
            res = smtpd_milter_route_of(ms, &ms->mail_route, "", sender);
        else if (smtpd_milter_routes[i].rcpt && ms->rcpt != NULL)
            res = smtpd_milter_route_of(ms, &ms->rcpt_route, sender ? sender : "", ms->rcpt);
        *value = res == NULL ? NULL : smtpd_milter_routes[i].host ? res->nexthop : res->transport;
        return true;
    }
    return false;
}

/* smtpd_milter_route_end - the session's answers forgotten */
void
smtpd_milter_route_end(struct smtpd_milters *ms)
{
    free(ms->mail_route.addr);
    free(ms->rcpt_route.addr);
    ms->mail_route.addr = ms->rcpt_route.addr = NULL;
}
