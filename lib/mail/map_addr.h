/* map_addr.h - Postfix's address lookup orders: which keys an address is looked up under */
#ifndef MAIL_MAP_ADDR_H
#define MAIL_MAP_ADDR_H

#include <stdbool.h>

#include "core/map.h"

/*
 * The orders, for address user+ext@sub.example.com with recipient_delimiter "+" (keys without
 * the extension are only tried when the address has one):
 *
 * MAP_ADDR_ACCESS, for check_sender_access, check_recipient_access and every other
 *   check_*_access restriction given a mail address (access(5)):
 *     user+ext@sub.example.com, user@sub.example.com, then the domain: sub.example.com and
 *     its parents, .example.com, .com (or example.com, com when
 *     parent_domain_matches_subdomains is set), then user+ext@, user@.
 * MAP_ADDR_VIRTUAL, for virtual_alias_maps, virtual_mailbox_maps, canonical, generic and
 *   relocated tables (virtual(5)):
 *     user+ext@sub.example.com, user@sub.example.com, then, only when the caller says the
 *     domain is local (or the address has none), user+ext and user, then @sub.example.com.
 * MAP_ADDR_LOCAL, for alias_maps in local delivery (aliases(5)): the local part only,
 *     user+ext, user.
 *
 * map_addr_domain() is the domain part of MAP_ADDR_ACCESS on its own, for
 * check_helo_access, check_client_access by host name and transport-style lookups.
 *
 * The first key is the whole address; every later key is a part of it and is looked up with
 * MAP_LOOKUP_PARTIAL, so pcre and cidr tables only ever see the whole address (as Postfix
 * documents: regular expressions are not applied to parts). Fixed-string tables fold the
 * keys to lower case themselves (map_open with MAP_FOLD_FIXED); pcre tables see the case the
 * client sent. The local part is split at the first character that is any of the
 * recipient_delimiter characters, except in postmaster, mailer-daemon, double-bounce and,
 * when '-' is a delimiter, owner-* and *-request, and never at the first character.
 *
 * A table error stops the search at once with MAP_ERROR: a later key never hides it.
 */
enum map_addr_order {
    MAP_ADDR_ACCESS,
    MAP_ADDR_VIRTUAL,
    MAP_ADDR_LOCAL,
};

struct map_addr_opts {
    const char *recipient_delimiter;       /* NULL or "": addresses have no extensions */
    bool parent_domain_matches_subdomains; /* ACCESS: parents as "example.com" */
    bool domain_is_local;                  /* VIRTUAL: also try the bare local part */
};

struct map_addr_match {
    const char *value; /* owned by the table until its next lookup */
    char *key;         /* the key that matched */
    char *extension;   /* the address's extension when the key did not include it */
};

enum map_status map_addr_find(struct map_list *maps, enum map_addr_order order, const char *address,
                              const struct map_addr_opts *opts, struct map_addr_match *match,
                              struct err *err);
enum map_status map_addr_domain(struct map_list *maps, const char *domain,
                                bool parent_domain_matches_subdomains, struct map_addr_match *match,
                                struct err *err);
void map_addr_match_free(struct map_addr_match *match);
void map_addr_local_keys(const char *address, const char *delims, char **local, char **bare);

#endif
