/*
 * milter_macro.c - which macros a milter gets at each stage (Postfix's default lists, or
 * the list the milter asked for in negotiation) and their values from the caller.
 *
 * Trusts: the list's text only as far as splitting it (it comes from main.cf or from the
 * milter's SETSYMLIST, at most MILTER_SYMLIST_MAX octets): a name is sent back as listed,
 * and the caller's lookup answers only the names it knows, so an odd name costs nothing
 * but its absence.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mail/milter_macro.h"
#include "mail/params.h"

/* milter_macro_default - Postfix's milter_*_macros defaults, as issue 16 lists them */
const char *
milter_macro_default(enum milter_stage stage)
{
    static const char *const lists[MILTER_STAGES] = {
        [MILTER_STAGE_CONNECT] = "j _ v {daemon_name} {daemon_addr} {client_addr} {client_name}",
        [MILTER_STAGE_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
        [MILTER_STAGE_MAIL] =
            "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
        [MILTER_STAGE_RCPT] = "{rcpt_addr} {rcpt_host} {rcpt_mailer}",
        [MILTER_STAGE_DATA] = "i",
        [MILTER_STAGE_EOM] = "i",
        [MILTER_STAGE_EOH] = "i",
    };

    return lists[stage];
}

int
milter_macro_stage(int cmd)
{
    for (int stage = 0; stage < MILTER_STAGES; stage++)
        if (milter_stage_cmd((enum milter_stage)stage) == cmd)
            return stage;
    return -1;
}

const char *
milter_macro_list(const struct params *p, int cmd, const char *asked)
{
    if (asked != NULL)
        return asked;
    switch (cmd) {
    case MILTER_CMD_CONNECT:
        return p->milter_connect_macros;
    case MILTER_CMD_HELO:
        return p->milter_helo_macros;
    case MILTER_CMD_MAIL:
        return p->milter_mail_macros;
    case MILTER_CMD_RCPT:
        return p->milter_rcpt_macros;
    case MILTER_CMD_DATA:
        return p->milter_data_macros;
    case MILTER_CMD_EOH:
        return p->milter_end_of_header_macros;
    case MILTER_CMD_BODYEOB:
        return p->milter_end_of_data_macros;
    case MILTER_CMD_UNKNOWN:
        return p->milter_unknown_command_macros;
    default:
        return NULL;
    }
}

/* milter_macro_bare - "{name}" without its braces into out; other names as they are */
static const char *
milter_macro_bare(const char *name, char *out, size_t size)
{
    size_t len = strlen(name);

    if (len < 3 || name[0] != '{' || name[len - 1] != '}')
        return name;
    str_copy(out, name + 1, len - 1 < size ? len - 1 : size);
    return out;
}

/* milter_macros_build - the names of list (space or comma separated), each with its value */
void
milter_macros_build(struct milter_macros *mm, const char *list, milter_macro_lookup fn, void *ctx)
{
    char bare[MILTER_SYMLIST_MAX + 1];

    strvec_init(&mm->names);
    strvec_split(&mm->names, list ? list : "", STR_LIST_DELIMS);
    mm->n = mm->names.n;
    mm->m = xcalloc(mm->n ? mm->n : 1, sizeof(*mm->m));
    for (size_t i = 0; i < mm->n; i++) {
        mm->m[i].name = mm->names.v[i];
        mm->m[i].value = fn(ctx, milter_macro_bare(mm->names.v[i], bare, sizeof(bare)));
    }
}

void
milter_macros_free(struct milter_macros *mm)
{
    strvec_free(&mm->names);
    free(mm->m);
}

const char *
milter_macro_common(const struct params *p, const struct milter_macro_facts *f, const char *bare)
{
    if (strcmp(bare, "j") == 0)
        return p->myhostname;
    if (strcmp(bare, "_") == 0)
        return f->client;
    if (strcmp(bare, "v") == 0)
        return p->milter_macro_v;
    if (strcmp(bare, "daemon_name") == 0)
        return p->milter_macro_daemon_name;
    if (strcmp(bare, "client_addr") == 0)
        return f->client_addr;
    if (strcmp(bare, "client_name") == 0)
        return f->client_name;
    if (strcmp(bare, "i") == 0)
        return f->qid;
    if (strcmp(bare, "mail_addr") == 0)
        return f->sender;
    if (strcmp(bare, "rcpt_addr") == 0)
        return f->rcpt;
    return NULL;
}
