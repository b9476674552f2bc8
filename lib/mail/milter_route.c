/*
 * milter_route.c - the milter macros {mail_mailer} {mail_host} {rcpt_mailer} {rcpt_host}:
 * the transport and next hop of the sender and of the recipient, as Postfix's smtpd and
 * cleanup get them from trivial-rewrite (resolve_route: transport_maps, relayhost,
 * sender_dependent_relayhost_maps, the local, virtual and relay domains). A milter that
 * treats outbound and local mail apart sees "local", "virtual", "relay", "smtp", "error" or
 * what transport_maps says, as it does with Postfix; smtpd and pickup ask the same way.
 *
 * As Postfix: the null sender resolves as MAILER-DAEMON@$myhostname (local); the sender is
 * resolved with the null sender as its own sender (for sender_dependent_relayhost_maps), a
 * recipient with the transaction's sender. Each answer is kept for its address, so the
 * macros of a stage cost one resolution. A table that fails leaves the macro out.
 *
 * Trusts: main.cf and its tables; the addresses are lookup keys only. No DNS.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mail/milter_route.h"

/* milter_route_of - the answer for addr, resolved now or kept from before; NULL if the
 * tables failed */
static const struct resolve_result *
milter_route_of(struct resolve *r, struct milter_route_memo *memo, const char *sender,
                const char *addr)
{
    if (r == NULL)
        return NULL;
    if (memo->addr == NULL || strcmp(memo->addr, addr) != 0) {
        free(memo->addr);
        memo->addr = xstrdup(addr);
        memo->ok = resolve_route(r, sender, addr, &memo->res) == RESOLVE_OK;
    }
    return memo->ok ? &memo->res : NULL;
}

/* The four macros: which address, and which half of its answer. */
static const struct {
    const char *name;
    bool rcpt, host;
} milter_routes[] = {
    {"mail_mailer", false, false},
    {"mail_host", false, true},
    {"rcpt_mailer", true, false},
    {"rcpt_host", true, true},
};

/*
 * milter_route_macro - the value of the macro of bare name if it is one of the four (NULL:
 * no value, the macro is left out); false: name is another macro. sender and rcpt are the
 * transaction's, NULL before MAIL and outside RCPT.
 */
bool
milter_route_macro(struct milter_route *rt, const char *sender, const char *rcpt, const char *name,
                   const char **value)
{
    const struct resolve_result *res = NULL;

    for (size_t i = 0; i < sizeof(milter_routes) / sizeof(milter_routes[0]); i++) {
        if (strcmp(name, milter_routes[i].name) != 0)
            continue;
        if (!milter_routes[i].rcpt && sender != NULL)
            res = milter_route_of(rt->resolve, &rt->mail, "", sender);
        else if (milter_routes[i].rcpt && rcpt != NULL)
            res = milter_route_of(rt->resolve, &rt->rcpt, sender ? sender : "", rcpt);
        *value = res == NULL ? NULL : milter_routes[i].host ? res->nexthop : res->transport;
        return true;
    }
    return false;
}

/* milter_route_forget - the answers kept, forgotten (the resolver stays) */
void
milter_route_forget(struct milter_route *rt)
{
    free(rt->mail.addr);
    free(rt->rcpt.addr);
    rt->mail.addr = rt->rcpt.addr = NULL;
}
