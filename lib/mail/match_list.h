/* match_list.h - Postfix's match lists: mydestination, relay_domains, mynetworks, ... */
#ifndef MAIL_MATCH_LIST_H
#define MAIL_MATCH_LIST_H

#include <stdbool.h>

#include "core/map.h"
#include "core/str.h"

/*
 * A list as a parameter writes it: entries separated by commas or white space, each one of
 *   a domain ("example.com", ".example.com") or, for address lists, an address or network
 *   ("192.0.2.0/24", "[2001:db8::]/32", "::1");
 *   type:table — a lookup; any value found is a match;
 *   /file/name — more entries, read from that file;
 *   !entry — a match on it makes the whole list answer "no".
 * The first entry that matches decides. A table error is MAP_ERROR, never "no match".
 * Domain entries match subdomains too when parent_matches is set (the parameter is named in
 * parent_domain_matches_subdomains); ".example.com" always matches subdomains.
 */
enum match_kind {
    MATCH_DOMAIN,
    MATCH_ADDRESS,
};

struct match_list;

struct match_list *match_list_open(const char *text, enum match_kind kind, bool parent_matches,
                                   struct err *err);
struct match_list *match_list_open_words(const struct strvec *entries, enum match_kind kind,
                                         bool parent_matches, struct err *err);
void match_list_close(struct match_list *list);
enum map_status match_list_find(const struct match_list *list, const char *item, struct err *err);

#endif
