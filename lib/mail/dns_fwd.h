/* dns_fwd.h - a libunbound context's name servers, from a resolv.conf file */
#ifndef MAIL_DNS_FWD_H
#define MAIL_DNS_FWD_H

#include <unbound.h>

#include "core/err.h"

/*
 * dns_fwd_set - make the "nameserver" lines of path the forwarders of dns. Returns how many
 * were taken. With none (path unreadable, no line, or no valid address) the context asks
 * nobody: names in its local data (/etc/hosts, when loaded) still answer, every other
 * query is REFUSED at once. err says why when the file could not be read, and is empty
 * otherwise; each line the resolver refused is logged.
 */
int dns_fwd_set(struct ub_ctx *dns, const char *path, struct err *err);

/* dns_fwd_none - the context asks nobody: local data answers, the rest is REFUSED */
void dns_fwd_none(struct ub_ctx *dns);

/* dns_fwd_warn - log that path gave no name server (err from dns_fwd_set), and so what */
void dns_fwd_warn(const char *path, const struct err *err, const char *consequence);

#endif
