/*
 * dns_fwd.c - the name servers smtpd and smtp-out ask: the administrator's forwarders from a
 * resolv.conf file, never the Internet's root servers, and never a guess.
 *
 * Without a usable name server, libunbound would recurse from the root hints, and a
 * forwarder of 0.0.0.0 would reach whatever listens on port 53 of this machine. Neither is
 * what the file says, so the whole tree is made a local zone of type "refuse": local data
 * (the /etc/hosts entries a caller loads) is still answered, everything else gets REFUSED
 * without a packet sent, and the callers treat that as a temporary failure.
 *
 * Trusts: the file (the administrator's); each address is checked by the resolver.
 */
#include "core/log.h"
#include "core/resolv_conf.h"
#include "mail/dns_fwd.h"

int
dns_fwd_set(struct ub_ctx *dns, const char *path, struct err *err)
{
    struct strvec servers;
    int found = 0;

    err->text[0] = 0;
    strvec_init(&servers);
    if (resolv_conf_servers(path, &servers, err))
        for (size_t i = 0; i < servers.n; i++) {
            if (ub_ctx_set_fwd(dns, servers.v[i]) == 0)
                found++;
            else
                log_warn("DNS: %s: bad nameserver \"%s\"", path, servers.v[i]);
        }
    strvec_free(&servers);
    if (found == 0)
        dns_fwd_none(dns);
    return found;
}

void
dns_fwd_none(struct ub_ctx *dns)
{
    if (ub_ctx_set_option(dns, "local-zone:", ". refuse") != 0)
        log_warn("DNS: cannot stop queries to no name server");
}

void
dns_fwd_warn(const char *path, const struct err *err, const char *consequence)
{
    if (err->text[0])
        log_warn("DNS: %s; %s", err->text, consequence);
    else
        log_warn("DNS: %s: no usable nameserver line; %s", path, consequence);
}
