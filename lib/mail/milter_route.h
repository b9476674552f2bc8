#ifndef MAIL_MILTER_ROUTE_H
#define MAIL_MILTER_ROUTE_H

#include <stdbool.h>

#include "mail/resolve.h"

/* The transport and next hop of one address, kept for the stages that ask again. */
struct milter_route_memo {
    char *addr; /* the address resolved, or NULL */
    bool ok;    /* false: the tables failed, the macros are left out */
    struct resolve_result res;
};

/* What one transaction's sender and recipient resolved to (milter_route.c). */
struct milter_route {
    struct resolve *resolve; /* NULL: the tables could not be opened, the macros are left out */
    struct milter_route_memo mail, rcpt;
};

bool milter_route_macro(struct milter_route *rt, const char *sender, const char *rcpt,
                        const char *name, const char **value);
void milter_route_forget(struct milter_route *rt);

#endif
