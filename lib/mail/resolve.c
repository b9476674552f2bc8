/*
 * resolve.c - virtual alias expansion and transport selection for qmgr (resolve.h).
 *
 * Trusts: the tables (the administrator's), not the addresses (they come from SMTP): an
 * address is only used as a lookup key and copied; every expansion is bounded in depth
 * and in size, and loops are detected, before anything is allocated without limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "mail/resolve.h"

/* The state of one expansion. */
struct resolve_walk {
    struct resolve *r;
    const char *orig;
    struct strvec *out;
    struct strvec chain; /* addresses being expanded, outermost first */
    struct resolve_result *res;
};

static enum resolve_status resolve_set(struct resolve_result *res, enum resolve_status status,
                                       const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum resolve_status
resolve_set(struct resolve_result *res, enum resolve_status status, const char *dsn,
            const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return status;
}

/*
 * resolve_maps - open a table list (left NULL when the parameter is empty). One that cannot
 * be opened (not built yet, say) is only logged: the addresses that need it are deferred,
 * and resolve_ready opens it again at each use, so qmgr never exits into a restart loop.
 */
static void
resolve_maps(struct map_list **list, const struct strvec *value, const char *name)
{
    struct err err;

    *list = NULL;
    if (value->n > 0 && (*list = map_list_open_param(value, MAP_FOLD_FIXED, &err)) == NULL)
        log_warn("%s: %s: addresses that need it are deferred", name, err.text);
}

/* resolve_ready - the list is open (or empty), or opens now; else the deferral in res */
static bool
resolve_ready(struct map_list **list, const struct strvec *value, const char *name,
              struct resolve_result *res)
{
    struct err err;

    if (value->n == 0 || *list != NULL)
        return true;
    if ((*list = map_list_open_param(value, MAP_FOLD_FIXED, &err)) != NULL)
        return true;
    resolve_set(res, RESOLVE_DEFER, "4.3.0", "%s lookup failure: %s", name, err.text);
    return false;
}

bool
resolve_open(struct resolve *r, const struct params *p, struct err *err)
{
    memset(r, 0, sizeof(*r));
    r->p = p;
    if (!addr_domains_open(&r->domains, p, err))
        log_warn("address classes: %s: addresses that need them are deferred", err->text);
    resolve_maps(&r->valias, &p->virtual_alias_maps, "virtual_alias_maps");
    resolve_maps(&r->transport, &p->transport_maps, "transport_maps");
    resolve_maps(&r->sender_relay, &p->sender_dependent_relayhost_maps,
                 "sender_dependent_relayhost_maps");
    return true;
}

void
resolve_close(struct resolve *r)
{
    addr_domains_close(&r->domains);
    if (r->valias)
        map_list_close(r->valias);
    if (r->transport)
        map_list_close(r->transport);
    if (r->sender_relay)
        map_list_close(r->sender_relay);
    r->valias = r->transport = r->sender_relay = NULL;
}

static const char *
resolve_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at ? at + 1 : "";
}

/* resolve_class - the address class of addr's domain; false on a table error */
static bool
resolve_class(struct resolve *r, const char *addr, struct resolve_result *res)
{
    struct err err;

    if (addr_class_find(&r->domains, resolve_domain(addr), &res->cls, &err) != MAP_ERROR)
        return true;
    resolve_set(res, RESOLVE_DEFER, "4.3.0", "address class lookup failure: %s", err.text);
    return false;
}

/* resolve_leaf - a final address: unknown in a virtual alias domain, else kept once */
static enum resolve_status
resolve_leaf(struct resolve_walk *w, const char *addr)
{
    if (!resolve_class(w->r, addr, w->res))
        return RESOLVE_DEFER;
    if (w->res->cls == ADDR_CLASS_VIRTUAL_ALIAS)
        return resolve_set(w->res, RESOLVE_BOUNCE, "5.1.1",
                           "<%s>: User unknown in virtual alias table", addr);
    for (size_t i = 0; i < w->out->n; i++)
        if (str_eq_nocase(w->out->v[i], addr))
            return RESOLVE_OK;
    if (w->out->n >= (size_t)w->r->p->virtual_alias_expansion_limit)
        return resolve_set(w->res, RESOLVE_DEFER, "4.3.0",
                           "unreasonable virtual_alias_maps map expansion size for %s", w->orig);
    strvec_add(w->out, addr);
    return RESOLVE_OK;
}

/* resolve_item - one address of a table value: qualified, with the extension carried on */
static char *
resolve_item(struct resolve *r, const char *item, const char *from, const char *extension)
{
    const char *at = strrchr(item, '@');
    size_t local_len = at ? (size_t)(at - item) : strlen(item);
    const char *domain = at ? at + 1 : r->p->myorigin;
    const char *delim = r->p->recipient_delimiter;
    char sep[2] = {0, 0};

    if (extension && delim && *delim) {
        size_t cut = strcspn(from, delim);
        sep[0] = from[cut] ? from[cut] : delim[0];
        if (strcspn(item, sep) < local_len)
            extension = NULL; /* the value names its own extension */
    } else
        extension = NULL;
    return xasprintf("%.*s%s%s@%s", (int)local_len, item, extension ? sep : "",
                     extension ? extension : "", domain);
}

static enum resolve_status resolve_walk(struct resolve_walk *w, const char *addr);

/* resolve_value - expand each address a table entry lists */
static enum resolve_status
resolve_value(struct resolve_walk *w, const char *addr, const char *value, const char *extension)
{
    enum resolve_status st = RESOLVE_OK;
    struct strvec items;

    strvec_init(&items);
    strvec_split(&items, value, ", \t\r\n");
    for (size_t i = 0; i < items.n && st == RESOLVE_OK; i++) {
        char *next = resolve_item(w->r, items.v[i], addr, extension);

        if (str_eq_nocase(next, addr))
            st = resolve_leaf(w, next);
        else
            st = resolve_walk(w, next);
        free(next);
    }
    strvec_free(&items);
    return st;
}

/* resolve_walk - expand addr, one level deeper than its caller */
static enum resolve_status
resolve_walk(struct resolve_walk *w, const char *addr)
{
    struct map_addr_opts opts = {.recipient_delimiter = w->r->p->recipient_delimiter};
    struct map_addr_match match = {0};
    struct err err;
    enum resolve_status st;
    enum map_status found;

    for (size_t i = 0; i < w->chain.n; i++)
        if (str_eq_nocase(w->chain.v[i], addr))
            return resolve_set(w->res, RESOLVE_DEFER, "4.3.0",
                               "virtual alias loop: %s expands back to %s",
                               w->chain.v[w->chain.n - 1], addr);
    if (w->chain.n >= (size_t)w->r->p->virtual_alias_recursion_limit)
        return resolve_set(w->res, RESOLVE_DEFER, "4.3.0",
                           "unreasonable virtual_alias_maps map nesting for %s", w->orig);
    if (!resolve_class(w->r, addr, w->res))
        return RESOLVE_DEFER;
    opts.domain_is_local = w->res->cls == ADDR_CLASS_LOCAL;
    found = map_addr_find(w->r->valias, MAP_ADDR_VIRTUAL, addr, &opts, &match, &err);
    if (found == MAP_ERROR)
        return resolve_set(w->res, RESOLVE_DEFER, "4.3.0", "virtual_alias_maps lookup failure: %s",
                           err.text);
    if (found == MAP_NOTFOUND)
        return resolve_leaf(w, addr);
    strvec_add(&w->chain, addr);
    {
        char *value = xstrdup(match.value);
        st = resolve_value(w, addr, value, match.extension);
        free(value);
    }
    free(w->chain.v[--w->chain.n]);
    map_addr_match_free(&match);
    return st;
}

/* resolve_expand - the final addresses addr stands for, appended to out */
enum resolve_status
resolve_expand(struct resolve *r, const char *addr, struct strvec *out, struct resolve_result *res)
{
    struct resolve_walk w = {.r = r, .orig = addr, .out = out, .res = res};
    enum resolve_status st;
    size_t before = out->n;

    memset(res, 0, sizeof(*res));
    if (!resolve_ready(&r->valias, &r->p->virtual_alias_maps, "virtual_alias_maps", res))
        return RESOLVE_DEFER;
    if (r->valias == NULL)
        return resolve_leaf(&w, addr);
    strvec_init(&w.chain);
    st = resolve_walk(&w, addr);
    strvec_free(&w.chain);
    if (st != RESOLVE_OK)
        while (out->n > before)
            free(out->v[--out->n]);
    else
        res->status = RESOLVE_OK;
    return st;
}

/* resolve_split - "transport:nexthop" into its parts; either may be empty */
static void
resolve_split(const char *spec, struct resolve_result *res)
{
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

    snprintf(res->transport, sizeof(res->transport), "%.*s", (int)len, spec);
    snprintf(res->nexthop, sizeof(res->nexthop), "%s", colon ? colon + 1 : "");
}

/* resolve_sender_relay - the sender's entry in sender_dependent_relayhost_maps as the next
 * hop (address, then @domain); false: a table error, the deferral in res */
static bool
resolve_sender_relay(struct resolve *r, const char *sender, struct resolve_result *res)
{
    const struct params *p = r->p;
    struct map_addr_opts opts = {.recipient_delimiter = p->recipient_delimiter};
    struct map_addr_match match = {0};
    const char *key = *sender ? sender : p->empty_address_relayhost_maps_lookup_key;
    struct err err;
    enum map_status st;

    if (!resolve_ready(&r->sender_relay, &p->sender_dependent_relayhost_maps,
                       "sender_dependent_relayhost_maps", res))
        return false;
    if (r->sender_relay == NULL)
        return true;
    st = map_addr_find(r->sender_relay, MAP_ADDR_VIRTUAL, key, &opts, &match, &err);
    if (st == MAP_ERROR) {
        resolve_set(res, RESOLVE_DEFER, "4.3.0",
                    "sender_dependent_relayhost_maps lookup failure: %s", err.text);
        return false;
    }
    if (st == MAP_FOUND && !str_eq_nocase(match.value, "DUNNO"))
        snprintf(res->nexthop, sizeof(res->nexthop), "%s", match.value);
    map_addr_match_free(&match);
    return true;
}

/* resolve_default - the class's transport and next hop; false: a table error (in res) */
static bool
resolve_default(struct resolve *r, const char *sender, const char *addr, struct resolve_result *res)
{
    const struct params *p = r->p;
    const char *domain = resolve_domain(addr);

    switch (res->cls) {
    case ADDR_CLASS_LOCAL: /* "local:$myhostname" by default; without one, the domain */
        resolve_split(p->local_transport, res);
        if (!*res->nexthop && !*domain)
            snprintf(res->nexthop, sizeof(res->nexthop), "%s", p->myhostname);
        break;
    case ADDR_CLASS_VIRTUAL_ALIAS: /* not reached: resolve_expand() bounced it */
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        resolve_split(p->virtual_transport, res);
        break;
    case ADDR_CLASS_RELAY:
    case ADDR_CLASS_DEFAULT:
        resolve_split(res->cls == ADDR_CLASS_RELAY ? p->relay_transport : p->default_transport,
                      res);
        if (!*res->nexthop && !resolve_sender_relay(r, sender, res))
            return false;
        if (!*res->nexthop && *p->relayhost)
            snprintf(res->nexthop, sizeof(res->nexthop), "%s", p->relayhost);
        break;
    }
    if (!*res->nexthop)
        snprintf(res->nexthop, sizeof(res->nexthop), "%s", domain);
    return true;
}

/*
 * resolve_override - a transport_maps entry over the class's answer, as Postfix's
 * trivial-rewrite: ":nexthop" keeps the transport, "transport:nexthop" replaces both, and
 * "transport" alone resets the next hop to the recipient domain (for the error and retry
 * transports, to "Address is undeliverable"), so that relayhost or a main.cf transport's next hop
 * do not stick to an entry that names none
 */
static void
resolve_override(struct resolve_result *res, const struct resolve_result *map, const char *addr)
{
    const char *domain = resolve_domain(addr);

    if (*map->transport == 0) {
        if (*map->nexthop)
            snprintf(res->nexthop, sizeof(res->nexthop), "%s", map->nexthop);
        return;
    }
    snprintf(res->transport, sizeof(res->transport), "%s", map->transport);
    if (*map->nexthop)
        snprintf(res->nexthop, sizeof(res->nexthop), "%s", map->nexthop);
    else if (strcmp(map->transport, "error") == 0 || strcmp(map->transport, "retry") == 0)
        snprintf(res->nexthop, sizeof(res->nexthop), "Address is undeliverable");
    else if (*domain)
        snprintf(res->nexthop, sizeof(res->nexthop), "%s", domain);
}

/* resolve_lookup - transport_maps: whole address, then the domain; NULL if none */
static enum map_status
resolve_lookup(struct resolve *r, const char *addr, char **value, struct err *err)
{
    struct map_addr_match match = {0};
    const char *v;
    enum map_status st = map_list_lookup(r->transport, addr, 0, &v, err);

    if (st == MAP_FOUND)
        *value = xstrdup(v);
    if (st != MAP_NOTFOUND || !*resolve_domain(addr))
        return st;
    st = map_addr_domain(r->transport, resolve_domain(addr), false, &match, err);
    if (st == MAP_FOUND)
        *value = xstrdup(match.value);
    map_addr_match_free(&match);
    return st;
}

/* resolve_transport - the transport and next hop of a final address */
enum resolve_status
resolve_transport(struct resolve *r, const char *sender, const char *addr,
                  struct resolve_result *res)
{
    struct resolve_result map = {0};
    struct err err;
    char *value = NULL;

    memset(res, 0, sizeof(*res));
    if (!resolve_class(r, addr, res))
        return RESOLVE_DEFER;
    if (res->cls == ADDR_CLASS_VIRTUAL_ALIAS)
        return resolve_set(res, RESOLVE_BOUNCE, "5.1.1",
                           "<%s>: User unknown in virtual alias table", addr);
    if (!resolve_default(r, sender, addr, res))
        return RESOLVE_DEFER;
    if (!resolve_ready(&r->transport, &r->p->transport_maps, "transport_maps", res))
        return RESOLVE_DEFER;
    if (r->transport == NULL)
        return RESOLVE_OK;
    switch (resolve_lookup(r, addr, &value, &err)) {
    case MAP_ERROR:
        return resolve_set(res, RESOLVE_DEFER, "4.3.0", "transport_maps lookup failure: %s",
                           err.text);
    case MAP_NOTFOUND:
        return RESOLVE_OK;
    case MAP_FOUND:
        break;
    }
    resolve_split(value, &map);
    free(value);
    resolve_override(res, &map, addr);
    return RESOLVE_OK;
}

/*
 * resolve_route - trivial-rewrite's answer for one address, as smtpd asks it (no virtual alias
 * expansion): the null address stands for MAILER-DAEMON and an unqualified one is at
 * $myhostname, both local as in Postfix; an address of a virtual alias domain resolves to
 * the error transport with "User unknown in virtual alias table" as its next hop.
 */
enum resolve_status
resolve_route(struct resolve *r, const char *sender, const char *addr, struct resolve_result *res)
{
    char *qualified = NULL;
    enum resolve_status st;

    if (strrchr(addr, '@') == NULL)
        addr = qualified = xasprintf("%s@%s", *addr ? addr : "MAILER-DAEMON", r->p->myhostname);
    st = resolve_transport(r, sender, addr, res);
    if (st == RESOLVE_BOUNCE && res->cls == ADDR_CLASS_VIRTUAL_ALIAS) {
        snprintf(res->transport, sizeof(res->transport), "error");
        snprintf(res->nexthop, sizeof(res->nexthop), "User unknown in virtual alias table");
        st = res->status = RESOLVE_OK;
    }
    free(qualified);
    return st;
}
