/*
 * mx_list.c - a domain's MX hosts in the order an SMTP client tries them (RFC 5321 5.1):
 * by preference, equal preferences in random order; a null MX (RFC 7505, "MX 0 .") means
 * the domain takes no mail; when this host (myhostname) is among them, only the more
 * preferred hosts are kept, as Postfix does. The addresses of the hosts keep this order,
 * with smtp_address_preference's family first among equal preferences.
 *
 * No DNS here: the caller looks the records up and hands over their data, so the order is
 * testable with an injected random source.
 *
 * Trusts: nothing in the record data: a name must be uncompressed wire format of at most
 * 255 octets whose labels hold only letters, digits, '-' and '_'; anything else is refused.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mail/mx_list.h"

/* mx_label_ok - a label that can go into a log line and a host name as it is */
static bool
mx_label_ok(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum(p[i]) && p[i] != '-' && p[i] != '_')
            return false;
    return true;
}

/* mx_rdata_parse - an MX record's data: 16-bit preference, then the exchange's name */
bool
mx_rdata_parse(const unsigned char *rdata, size_t len, struct mx_host *out)
{
    size_t at = 2, n = 0;

    if (len < 3)
        return false;
    out->pref = (unsigned)rdata[0] << 8 | rdata[1];
    while (at < len && rdata[at] != 0) {
        size_t label = rdata[at];
        if (label > 63 || at + 1 + label >= len || n + label + 2 > sizeof(out->name) ||
            !mx_label_ok(rdata + at + 1, label))
            return false;
        if (n > 0)
            out->name[n++] = '.';
        memcpy(out->name + n, rdata + at + 1, label);
        n += label;
        at += 1 + label;
    }
    if (at + 1 != len)
        return false; /* no root label at the end, or bytes after it */
    if (n == 0)
        out->name[n++] = '.';
    out->name[n] = 0;
    return true;
}

/* mx_list_null - the domain publishes a null MX and nothing else */
bool
mx_list_null(const struct mx_host *v, size_t n)
{
    return n == 1 && strcmp(v[0].name, ".") == 0;
}

/* mx_list_drop_null - a null MX beside real MX hosts is ignored (RFC 7505 section 3) */
void
mx_list_drop_null(struct mx_host *v, size_t *n)
{
    size_t kept = 0;

    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i].name, ".") != 0)
            v[kept++] = v[i];
    *n = kept;
}

/* mx_list_sort - shuffle, then a stable sort by preference: equal ones stay shuffled */
void
mx_list_sort(struct mx_host *v, size_t n, mx_random_fn rnd, void *arg)
{
    struct mx_host t;

    for (size_t i = n; i > 1; i--) {
        size_t j = rnd(arg, (unsigned)i);
        t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        t = v[i];
        for (; j > 0 && v[j - 1].pref > t.pref; j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}

/* mx_same_host - names equal without regard to case or a final dot */
static bool
mx_same_host(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    return la > 0 && la == lb && strncasecmp(a, b, la) == 0;
}

/*
 * mx_list_cut_self - in a sorted list, keep only the hosts more preferred than this one
 * (myhostname); mail to this host's own preference or worse would loop
 */
enum mx_self
mx_list_cut_self(struct mx_host *v, size_t *n, const char *myhostname)
{
    size_t i, keep;

    for (i = 0; i < *n && !mx_same_host(v[i].name, myhostname); i++)
        ;
    if (i == *n)
        return MX_SELF_NONE;
    for (keep = 0; keep < *n && v[keep].pref < v[i].pref; keep++)
        ;
    *n = keep;
    return keep == 0 ? MX_SELF_LOOP : MX_SELF_CUT;
}

/* mx_addr_prefer - among equal preferences, family's addresses first (AF_UNSPEC: as found) */
void
mx_addr_prefer(struct mx_addr *v, size_t n, int family)
{
    struct mx_addr t;

    if (family == 0)
        return;
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        t = v[i];
        for (; j > 0 && v[j - 1].pref == t.pref && v[j - 1].family != family && t.family == family;
             j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}
