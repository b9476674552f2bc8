/*
 * smtpd_milter_route.c - the tables behind the milter macros {mail_mailer} {mail_host}
 * {rcpt_mailer} {rcpt_host} (lib/mail/milter_route.c), opened once per process and only
 * when milters may run (smtpd_milters or smtpd_milter_maps): no cost without milters.
 *
 * Trusts: main.cf and its tables.
 */
#include <stdlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/resolve.h"
#include "smtpd/smtpd_milter.h"

/* smtpd_milter_route_init - the resolver, when milters may run in this process */
void
smtpd_milter_route_init(struct smtpd *smtpd)
{
    struct err err;

    if (smtpd->nmilters == 0 && smtpd->p->smtpd_milter_maps.n == 0)
        return;
    smtpd->route = xcalloc(1, sizeof(*smtpd->route));
    if (!resolve_open(smtpd->route, smtpd->p, &err))
        log_warn("milter macros: %s", err.text);
}

void
smtpd_milter_route_free(struct smtpd *smtpd)
{
    if (smtpd->route == NULL)
        return;
    resolve_close(smtpd->route);
    free(smtpd->route);
    smtpd->route = NULL;
}
