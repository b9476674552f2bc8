/*
 * deliver_reason.c - the reason an error, retry or discard transport gives, from its next
 * hop as transport_maps wrote it ("error:5.1.1 no such user here"): an RFC 3463 code of the
 * right class first, if there is one, then the text.
 *
 * Trusts: the next hop only as text; a code of another class than the outcome's is text.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mail/deliver_req.h"

/* deliver_reason_digits - one to three digits at s[*n], passed over; false if none */
static bool
deliver_reason_digits(const char *s, size_t *n)
{
    size_t start = *n;

    while (isdigit((unsigned char)s[*n]) && *n - start < 3)
        (*n)++;
    return *n > start;
}

/* deliver_reason_code - the length of a leading "c.x.y" code in s (then a space or the end),
 * or 0 */
static size_t
deliver_reason_code(const char *s, char c)
{
    size_t n = 2;

    if (s[0] != c || s[1] != '.' || !deliver_reason_digits(s, &n) || s[n++] != '.' ||
        !deliver_reason_digits(s, &n))
        return 0;
    return s[n] == 0 || s[n] == ' ' ? n : 0;
}

void
deliver_reason(struct deliver_result *res, enum deliver_status status, const char *nexthop,
               const char *dflt)
{
    char c = "245"[status];
    size_t n = deliver_reason_code(nexthop, c);
    const char *text = nexthop + n + (nexthop[n] == ' ');
    char dsn[16];

    if (n > 0 && n < sizeof(dsn))
        snprintf(dsn, sizeof(dsn), "%.*s", (int)n, nexthop);
    else
        snprintf(dsn, sizeof(dsn), "%c.0.0", c);
    deliver_set(res, status, dsn, "%s", *text ? text : dflt);
}
