/*
 * smtpd_milter_maps.c - the milters of one client, by its IP address (Postfix 3.2's
 * smtpd_milter_maps): a list written as smtpd_milters (inline settings too) replaces
 * smtpd_milters for the session, DISABLE turns the milters off for it, no match keeps
 * smtpd_milters. A table that cannot be read defers the session rather than let its mail
 * in unfiltered: every command but QUIT gets 451 4.3.0, as Postfix answers.
 *
 * Without smtpd_milter_maps nothing here runs: the session uses smtpd_milters as parsed at
 * start. A list from the table is parsed for its session (milter_specs_load): endpoints
 * are numeric in practice, and a host name costs its lookup per session.
 *
 * Trusts: main.cf and its tables; the client address is the kernel's.
 */
#include <strings.h>

#include "core/log.h"
#include "core/map.h"
#include "core/str.h"
#include "smtpd/smtpd_milter.h"

void
smtpd_milter_pick(struct smtpd_session *sess, struct smtpd_milter_pick *pick)
{
    struct smtpd *smtpd = sess->smtpd;
    struct smtpd_table *t = &smtpd->milter_maps;
    struct strvec list;
    const char *value;
    struct err err;

    *pick = (struct smtpd_milter_pick){.specs = smtpd->milters, .n = smtpd->nmilters};
    if (t->maps == NULL && t->error == NULL)
        return;
    switch (smtpd_table_lookup(t, sess->addr, &value, &err)) {
    case MAP_NOTFOUND:
        return;
    case MAP_ERROR:
        log_warn("smtpd_milter_maps: %s: client %s[%s] deferred", err.text, sess->name, sess->addr);
        *pick = (struct smtpd_milter_pick){.failed = true};
        return;
    case MAP_FOUND:
        break;
    }
    if (strcasecmp(value, "DISABLE") == 0) {
        *pick = (struct smtpd_milter_pick){0};
        return;
    }
    strvec_init(&list);
    if (!map_split(value, &list, &err)) {
        log_warn("smtpd_milter_maps: result for %s: %s: client deferred", sess->addr, err.text);
        *pick = (struct smtpd_milter_pick){.failed = true};
    } else {
        pick->own = milter_specs_load(smtpd->p, "smtpd_milter_maps", &list, &pick->n);
        pick->specs = pick->own;
    }
    strvec_free(&list);
}
