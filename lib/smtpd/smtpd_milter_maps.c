/*
 * smtpd_milter_maps.c - the milters of one client, by its IP address (Postfix 3.2's
 * smtpd_milter_maps): a list written as smtpd_milters (inline settings too) replaces
 * smtpd_milters for the session, DISABLE turns the milters off for it, no match keeps
 * smtpd_milters. A table that cannot be read, or a list that does not parse, defers the
 * session rather than let its mail in unfiltered: every command but QUIT gets 451 4.3.0.
 *
 * Without smtpd_milter_maps nothing here runs but one test: the session uses smtpd_milters
 * as parsed at start. A list from the table is parsed once per process and kept (a host
 * name in it is resolved then, not per session); past SMTPD_MILTER_LISTS distinct lists a
 * new one is parsed for its session and freed with it.
 *
 * Trusts: main.cf and its tables as far as milter_specs_parse checks the lists; the client
 * address is the kernel's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "smtpd/smtpd_milter.h"

#define SMTPD_MILTER_LISTS 32

struct smtpd_milter_lists {
    size_t n;
    struct {
        char *value;
        struct milter_spec *specs;
        size_t n;
    } l[SMTPD_MILTER_LISTS];
};

/* smtpd_milter_list_parse - the milters a table's value names; false if it does not parse */
static bool
smtpd_milter_list_parse(const struct params *p, const char *value, struct smtpd_milter_pick *pick,
                        struct err *err)
{
    struct strvec list;

    strvec_init(&list);
    if (map_split(value, &list, err))
        pick->own = milter_specs_parse(p, &list, &pick->n, err);
    strvec_free(&list);
    pick->specs = pick->own;
    return pick->own != NULL;
}

/* smtpd_milter_list - the parsed list of value, from the cache or parsed (and kept) now */
static bool
smtpd_milter_list(struct smtpd *smtpd, const char *value, struct smtpd_milter_pick *pick,
                  struct err *err)
{
    struct smtpd_milter_lists *c = smtpd->milter_lists;

    if (c == NULL)
        c = smtpd->milter_lists = xcalloc(1, sizeof(*c));
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->l[i].value, value) == 0) {
            *pick = (struct smtpd_milter_pick){.specs = c->l[i].specs, .n = c->l[i].n};
            return true;
        }
    if (!smtpd_milter_list_parse(smtpd->p, value, pick, err))
        return false;
    if (c->n == SMTPD_MILTER_LISTS)
        return true; /* the session's own */
    c->l[c->n].value = xstrdup(value);
    c->l[c->n].specs = pick->own;
    c->l[c->n].n = pick->n;
    c->n++;
    pick->own = NULL;
    return true;
}

void
smtpd_milter_pick(struct smtpd_session *sess, struct smtpd_milter_pick *pick)
{
    struct smtpd *smtpd = sess->smtpd;
    struct map_retry *t = &smtpd->milter_maps;
    const char *value;
    struct err err;

    *pick = (struct smtpd_milter_pick){.specs = smtpd->milters, .n = smtpd->nmilters};
    if (t->maps == NULL && t->error == NULL)
        return;
    switch (map_retry_lookup(t, sess->addr, &value, &err)) {
    case MAP_NOTFOUND:
        return;
    case MAP_ERROR:
        log_warn("smtpd_milter_maps: lookup of %s: %s: every command is deferred", sess->addr,
                 err.text);
        *pick = (struct smtpd_milter_pick){.failed = true};
        return;
    case MAP_FOUND:
        break;
    }
    if (strcasecmp(value, "DISABLE") == 0) {
        *pick = (struct smtpd_milter_pick){0};
        return;
    }
    if (!smtpd_milter_list(smtpd, value, pick, &err)) {
        log_warn("smtpd_milter_maps: %s: \"%s\": %s: every command is deferred", sess->addr, value,
                 err.text);
        *pick = (struct smtpd_milter_pick){.failed = true};
    }
}

void
smtpd_milter_maps_free(struct smtpd *smtpd)
{
    struct smtpd_milter_lists *c = smtpd->milter_lists;

    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->l[i].value);
        milter_specs_free(c->l[i].specs, c->l[i].n);
    }
    free(c);
    smtpd->milter_lists = NULL;
}
