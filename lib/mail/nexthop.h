/* nexthop.h - a delivery request's next hop, as an SMTP client reads it */
#ifndef MAIL_NEXTHOP_H
#define MAIL_NEXTHOP_H

#include <stdbool.h>

#include "core/err.h"

/*
 * Postfix's syntax: "[host]:port", "[host]" (port 25) name a host and no MX lookup;
 * "host" and "host:port" name a domain whose MX hosts are wanted. host is a DNS name or an
 * IP address ("[2001:db8::1]" and "[ipv6:2001:db8::1]" both work for IPv6).
 */
struct nexthop {
    char host[256];
    unsigned port;
    bool mx;      /* no brackets: look the MX records of host up */
    bool literal; /* host is an IP address */
};

bool nexthop_parse(const char *text, struct nexthop *nh, struct err *err);

#endif
