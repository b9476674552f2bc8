/*
 * nexthop.c - splits a next hop ("[host]:port") into host, port and whether MX records
 * are wanted (nexthop.h has the syntax).
 *
 * Trusts: nothing: the value comes from main.cf or a transport table. A host must be an IP
 * address or a DNS name (mailaddr_is_domain), a port a number from 1 to 65535.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "mail/mailaddr.h"
#include "mail/nexthop.h"

/* nexthop_host - the host part, checked: an IP address or a DNS name */
static bool
nexthop_host(const char *host, size_t len, struct nexthop *nh, struct err *err)
{
    unsigned char addr[16];

    if (len > 5 && strncasecmp(host, "ipv6:", 5) == 0) {
        host += 5;
        len -= 5;
    }
    if (len == 0 || len >= sizeof(nh->host))
        return err_set(err, "bad next-hop host");
    memcpy(nh->host, host, len);
    nh->host[len] = 0;
    nh->literal =
        inet_pton(AF_INET, nh->host, addr) == 1 || inet_pton(AF_INET6, nh->host, addr) == 1;
    if (!nh->literal && !mailaddr_is_domain(nh->host, len, false))
        return err_set(err, "bad next-hop host \"%s\"", nh->host);
    return true;
}

/* nexthop_parse - text into nh */
bool
nexthop_parse(const char *text, struct nexthop *nh, struct err *err)
{
    const char *host = text, *end, *port = NULL;
    long n = 25;

    memset(nh, 0, sizeof(*nh));
    if (*text == '[') {
        host = text + 1;
        if ((end = strchr(host, ']')) == NULL || (end[1] != 0 && end[1] != ':'))
            return err_set(err, "bad next hop \"%s\"", text);
        port = end[1] == ':' ? end + 2 : NULL;
    } else {
        nh->mx = true;
        end = strchr(text, ':');
        port = end ? end + 1 : NULL;
        end = end ? end : text + strlen(text);
    }
    if (port != NULL && !str_to_long(port, 1, 65535, &n))
        return err_set(err, "bad port in next hop \"%s\"", text);
    nh->port = (unsigned)n;
    if (!nexthop_host(host, (size_t)(end - host), nh, err))
        return false;
    if (nh->mx && nh->literal)
        nh->mx = false; /* an address has no MX records: Postfix connects to it */
    return true;
}
