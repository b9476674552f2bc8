/* cidr.h - IPv4 and IPv6 addresses and networks: parse, and test membership */
#ifndef CORE_CIDR_H
#define CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix; /* bits; 32 or 128 for a single address */
};

bool cidr_parse_addr(const char *text, struct cidr *out);
bool cidr_parse(const char *text, struct cidr *out, struct err *err);
bool cidr_contains(const struct cidr *net, const struct cidr *addr);

#endif
