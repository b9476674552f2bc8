/* milter_macro.h - the macros a milter is sent at each stage, with their values */
#ifndef MAIL_MILTER_MACRO_H
#define MAIL_MILTER_MACRO_H

#include <stddef.h>

#include "core/str.h"
#include "mail/milter_codec.h"

/*
 * A lookup gives a macro's value by its bare name ("j", "client_addr": no braces), or NULL
 * if it has none at this point of the session.
 */
typedef const char *(*milter_macro_lookup)(void *ctx, const char *bare);

/* One stage's macros: names as listed (what the wire carries), m[i] pointing into them. */
struct milter_macros {
    struct strvec names;
    struct milter_macro *m;
    size_t n;
};

const char *milter_macro_default(enum milter_stage stage);

/* milter_macro_stage - the stage (SMFIM_*) whose macros go with command cmd, or -1 */
int milter_macro_stage(int cmd);
/*
 * milter_macro_list - the macros of the stage whose command is cmd: asked, the list the
 * milter asked for at that stage in negotiation, or (NULL) that stage's milter_*_macros
 */
struct params;
const char *milter_macro_list(const struct params *p, int cmd, const char *asked);
void milter_macros_build(struct milter_macros *mm, const char *list, milter_macro_lookup fn,
                         void *ctx);

/*
 * What every MTA side knows of a message, for the macros smtpd and pickup both send: j, _,
 * v, {daemon_name}, {client_addr}, {client_name}, i, {mail_addr}, {rcpt_addr} (a NULL
 * field: that macro has no value). The caller's own (TLS, AUTH, ports, and the resolved
 * {mail_host} and the like of milter_route.h) go before it.
 */
struct milter_macro_facts {
    const char *client; /* "_": "name [addr]" */
    const char *client_name, *client_addr;
    const char *qid, *sender, *rcpt;
};
const char *milter_macro_common(const struct params *p, const struct milter_macro_facts *f,
                                const char *bare);
void milter_macros_free(struct milter_macros *mm);

#endif
