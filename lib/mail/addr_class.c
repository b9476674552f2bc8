/*
 * addr_class.c - the address class of a recipient domain (addr_class.h says the order).
 *
 * Trusts: the domain is already parsed (mailaddr.c) and is the part after the last '@';
 * the parameters are typed. A domain is compared as the lists compare it (case-folded).
 */
#include <stddef.h>
#include <stdio.h>

#include "core/mem.h"
#include "mail/addr_class.h"

/* addr_parent_matches - whether parent_domain_matches_subdomains names this parameter */
static bool
addr_parent_matches(const struct params *p, const char *name)
{
    return strvec_contains(&p->parent_domain_matches_subdomains, name);
}

static bool
addr_open_one(struct match_list **list, const struct params *p, const char *name,
              const struct strvec *value, struct err *err)
{
    *list = match_list_open_words(value, MATCH_DOMAIN, addr_parent_matches(p, name), err);
    return *list != NULL;
}

/* addr_domains_try - open the four lists; on failure none is left open */
static bool
addr_domains_try(struct addr_domains *d, struct err *err)
{
    const struct params *p = d->p;

    d->open = addr_open_one(&d->mydestination, p, "mydestination", &p->mydestination, err) &&
              addr_open_one(&d->virtual_alias_domains, p, "virtual_alias_domains",
                            &p->virtual_alias_domains, err) &&
              addr_open_one(&d->virtual_mailbox_domains, p, "virtual_mailbox_domains",
                            &p->virtual_mailbox_domains, err) &&
              addr_open_one(&d->relay_domains, p, "relay_domains", &p->relay_domains, err);
    if (!d->open)
        addr_domains_close(d);
    return d->open;
}

/*
 * addr_domains_open - the four domain lists of the address classes. false (with err) when
 * one cannot be opened: d is still usable, and the lists are tried again at each lookup.
 */
bool
addr_domains_open(struct addr_domains *d, const struct params *p, struct err *err)
{
    *d = (struct addr_domains){.p = p};
    return addr_domains_try(d, err);
}

void
addr_domains_close(struct addr_domains *d)
{
    match_list_close(d->mydestination);
    match_list_close(d->virtual_alias_domains);
    match_list_close(d->virtual_mailbox_domains);
    match_list_close(d->relay_domains);
    *d = (struct addr_domains){.p = d->p};
}

/* addr_class_lookup - the class of domain in the open lists */
static enum map_status
addr_class_lookup(const struct addr_domains *d, const char *domain, enum addr_class *cls,
                  struct err *err)
{
    const struct {
        const struct match_list *list;
        enum addr_class cls;
    } order[] = {
        {d->mydestination, ADDR_CLASS_LOCAL},
        {d->virtual_alias_domains, ADDR_CLASS_VIRTUAL_ALIAS},
        {d->virtual_mailbox_domains, ADDR_CLASS_VIRTUAL_MAILBOX},
        {d->relay_domains, ADDR_CLASS_RELAY},
    };

    for (size_t i = 0; i < nitems(order); i++) {
        switch (match_list_find(order[i].list, domain, err)) {
        case MAP_FOUND:
            *cls = order[i].cls;
            return MAP_FOUND;
        case MAP_ERROR:
            return MAP_ERROR;
        case MAP_NOTFOUND:
            break;
        }
    }
    return MAP_FOUND;
}

/*
 * addr_class_find - the class of domain ("" or NULL: no domain, so local); MAP_ERROR on a
 * table error, and while a list that could not be opened still cannot
 */
enum map_status
addr_class_find(struct addr_domains *d, const char *domain, enum addr_class *cls, struct err *err)
{
    *cls = ADDR_CLASS_DEFAULT;
    if (domain == NULL || *domain == '\0') {
        *cls = ADDR_CLASS_LOCAL;
        return MAP_FOUND;
    }
    if (!d->open && (d->p == NULL || !addr_domains_try(d, err)))
        return MAP_ERROR;
    return addr_class_lookup(d, domain, cls, err);
}

const char *
addr_class_name(enum addr_class cls)
{
    switch (cls) {
    case ADDR_CLASS_LOCAL:
        return "local";
    case ADDR_CLASS_VIRTUAL_ALIAS:
        return "virtual alias";
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        return "virtual mailbox";
    case ADDR_CLASS_RELAY:
        return "relay";
    case ADDR_CLASS_DEFAULT:
        return "default";
    }
    return "default";
}
