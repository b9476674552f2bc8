/* addr_class.h - which address class a recipient domain belongs to */
#ifndef MAIL_ADDR_CLASS_H
#define MAIL_ADDR_CLASS_H

#include <stdbool.h>

#include "core/map.h"
#include "mail/match_list.h"
#include "mail/params.h"

/*
 * Postfix's address classes (ADDRESS_CLASS_README), decided by the domain alone and in this
 * order: mydestination (or no domain) is local; virtual_alias_domains is virtual alias (every
 * address must be rewritten by virtual_alias_maps); virtual_mailbox_domains is virtual
 * mailbox; relay_domains is relay; anything else is the default class (the Internet).
 * smtpd uses the class to decide which table must know a recipient, qmgr to pick the
 * transport. A table error is MAP_ERROR: the caller answers 4xx or defers.
 */
enum addr_class {
    ADDR_CLASS_LOCAL,
    ADDR_CLASS_VIRTUAL_ALIAS,
    ADDR_CLASS_VIRTUAL_MAILBOX,
    ADDR_CLASS_RELAY,
    ADDR_CLASS_DEFAULT,
};

/* The four domain lists. Lists that could not be opened (a table not built yet) are opened
 * again at the next addr_class_find, which answers MAP_ERROR until they open. */
struct addr_domains {
    const struct params *p;
    bool open;
    struct match_list *mydestination;
    struct match_list *virtual_alias_domains;
    struct match_list *virtual_mailbox_domains;
    struct match_list *relay_domains;
};

bool addr_domains_open(struct addr_domains *d, const struct params *p, struct err *err);
void addr_domains_close(struct addr_domains *d);
enum map_status addr_class_find(struct addr_domains *d, const char *domain, enum addr_class *cls,
                                struct err *err);
const char *addr_class_name(enum addr_class cls);

#endif
