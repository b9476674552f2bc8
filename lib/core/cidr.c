/*
 * cidr.c - numeric addresses and networks, as cidr tables and mynetworks write them.
 *
 * Trusts: nothing in the text. Only numeric forms are accepted (inet_pton), so nothing here
 * ever asks DNS. A network with bits set beyond its prefix (192.0.2.1/24) is refused rather
 * than silently truncated: the administrator may have meant another prefix.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/cidr.h"
#include "core/str.h"

/* cidr_parse_addr - one bare IPv4 or IPv6 address, as a network of one address */
bool
cidr_parse_addr(const char *text, struct cidr *out)
{
    out->family = strchr(text, ':') ? AF_INET6 : AF_INET;
    out->prefix = out->family == AF_INET ? 32 : 128;
    memset(out->addr, 0, sizeof(out->addr));
    return inet_pton(out->family, text, out->addr) == 1;
}

/* cidr_host_bits - whether net has a bit set beyond its prefix */
static bool
cidr_host_bits(const struct cidr *net)
{
    struct cidr masked = *net;
    int bytes = net->prefix / 8, bits = net->prefix % 8;

    if (bits)
        masked.addr[bytes++] &= (unsigned char)(0xff << (8 - bits));
    memset(masked.addr + bytes, 0, sizeof(masked.addr) - (size_t)bytes);
    return memcmp(masked.addr, net->addr, sizeof(net->addr)) != 0;
}

/* cidr_parse - "addr", "addr/len", "[addr]" or "[addr]/len"; err says what is wrong */
bool
cidr_parse(const char *text, struct cidr *out, struct err *err)
{
    char addr[64];
    const char *slash = NULL, *start = text;
    size_t len;
    long prefix;

    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != 0 && close[1] != '/')) {
            return err_set(err, "bad address pattern \"%.80s\"", text);
        }
        start = text + 1;
        len = (size_t)(close - start);
        slash = close[1] ? close + 1 : NULL;
    } else {
        slash = strchr(text, '/');
        len = slash ? (size_t)(slash - text) : strlen(text);
    }
    if (len >= sizeof(addr)) {
        return err_set(err, "bad address \"%.60s\"", start);
    }
    memcpy(addr, start, len);
    addr[len] = 0;
    if (!cidr_parse_addr(addr, out)) {
        return err_set(err, "bad address \"%s\"", addr);
    }
    if (slash == NULL)
        return true;
    if (!str_to_long(slash + 1, 0, out->prefix, &prefix)) {
        return err_set(err, "bad prefix length \"/%.20s\" for %s", slash + 1, addr);
    }
    out->prefix = (int)prefix;
    if (cidr_host_bits(out)) {
        return err_set(err, "%s/%ld has host bits set beyond the prefix", addr, prefix);
    }
    return true;
}

/* cidr_contains - whether addr (of the same family) lies in net */
bool
cidr_contains(const struct cidr *net, const struct cidr *addr)
{
    int bytes = net->prefix / 8, bits = net->prefix % 8;

    if (net->family != addr->family || memcmp(net->addr, addr->addr, (size_t)bytes) != 0)
        return false;
    return bits == 0 || ((net->addr[bytes] ^ addr->addr[bytes]) & (0xff << (8 - bits))) == 0;
}
