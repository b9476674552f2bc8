/* resolve.h - qmgr's view of a recipient: virtual alias expansion, then a transport */
#ifndef MAIL_RESOLVE_H
#define MAIL_RESOLVE_H

#include <stdbool.h>

#include "core/map.h"
#include "core/str.h"
#include "mail/addr_class.h"
#include "mail/map_addr.h"
#include "mail/params.h"

/*
 * resolve_expand() applies virtual_alias_maps recursively (Postfix's cleanup does this once
 * per message; postern's qmgr does it at activation, doc/queue.md): an address not in the
 * table, or one that lists itself, is final; an address whose domain is a virtual alias
 * domain and is not in the table is unknown (5.1.1). A loop among other addresses, more
 * than virtual_alias_recursion_limit levels or more than virtual_alias_expansion_limit
 * final addresses, or a table error defers the recipient (4.3.0): the configuration is
 * wrong, and the mail waits for it to be fixed. Results are unique (case-insensitive).
 *
 * resolve_transport() picks the transport and next hop: transport_maps (the whole
 * address, then the domain and, as ".domain", its parents), else the class's own
 * transport (local_transport, virtual_transport, relay_transport, default_transport).
 * Mail that leaves (relay_transport, default_transport) without a next hop of its own goes,
 * as in Postfix, to the sender's entry in sender_dependent_relayhost_maps (the sender's
 * address, then @domain; the null sender as empty_address_relayhost_maps_lookup_key; DUNNO
 * means no entry), else to relayhost, else to the recipient's domain. A transport_maps
 * entry that names a transport and no next hop resets the next hop to the recipient's domain.
 *
 * resolve_route() is resolve_transport() as smtpd's milter macros ({rcpt_mailer},
 * {rcpt_host}, {mail_*}) see it, Postfix's trivial-rewrite answer: the null and unqualified
 * addresses are local, a virtual alias domain gives the error transport.
 */
enum resolve_status {
    RESOLVE_OK,
    RESOLVE_DEFER,
    RESOLVE_BOUNCE,
};

struct resolve {
    const struct params *p;
    struct addr_domains domains;
    struct map_list *valias;       /* NULL without virtual_alias_maps */
    struct map_list *transport;    /* NULL without transport_maps */
    struct map_list *sender_relay; /* NULL without sender_dependent_relayhost_maps */
};

struct resolve_result {
    enum resolve_status status;
    enum addr_class cls;
    char transport[64];
    char nexthop[256];
    char dsn[16];
    char reason[256];
};

bool resolve_open(struct resolve *r, const struct params *p, struct err *err);
void resolve_close(struct resolve *r);
enum resolve_status resolve_expand(struct resolve *r, const char *addr, struct strvec *out,
                                   struct resolve_result *res);
enum resolve_status resolve_transport(struct resolve *r, const char *sender, const char *addr,
                                      struct resolve_result *res);
enum resolve_status resolve_route(struct resolve *r, const char *sender, const char *addr,
                                  struct resolve_result *res);

#endif
