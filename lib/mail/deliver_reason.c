/*
 * deliver_reason.c - the reason an error, retry or discard transport gives, from its next
 * hop as transport_maps wrote it ("error:5.1.1 no such user here"): an RFC 3463 code of the
 * right class first, if there is one, then the text.
 *
 * Trusts: the next hop only as text; a code of another class than the outcome's is text.
 */
#include <stdio.h>
#include <string.h>

#include "mail/deliver_req.h"
#include "mail/smtp_reply.h"

void
deliver_reason(struct deliver_result *res, enum deliver_status status, const char *nexthop,
               const char *dflt)
{
    char c = "245"[status];
    size_t n = smtp_status_len(nexthop, c);
    const char *text = nexthop + n + (nexthop[n] == ' ');
    char dsn[16];

    if (n > 0 && n < sizeof(dsn))
        snprintf(dsn, sizeof(dsn), "%.*s", (int)n, nexthop);
    else
        snprintf(dsn, sizeof(dsn), "%c.0.0", c);
    deliver_set(res, status, dsn, "%s", *text ? text : dflt);
}
