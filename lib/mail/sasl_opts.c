/*
 * sasl_opts.c - the SASL security options of main.cf as bits, and those bits as Cyrus SASL's
 * security properties: the server (sasl_server.c, sasl_cyrus.c) and the client in smtp-out
 * read the same words and mean the same by them.
 *
 * Trusts: main.cf.
 */
#include <string.h>

#include <sasl/sasl.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/sasl_opts.h"

static const struct {
    const char *word;
    unsigned bit;
    unsigned flag; /* Cyrus's SASL_SEC_* */
} sasl_opt_words[] = {
    {"noplaintext", SASL_OPT_NOPLAINTEXT, SASL_SEC_NOPLAINTEXT},
    {"noactive", SASL_OPT_NOACTIVE, SASL_SEC_NOACTIVE},
    {"nodictionary", SASL_OPT_NODICTIONARY, SASL_SEC_NODICTIONARY},
    {"noanonymous", SASL_OPT_NOANONYMOUS, SASL_SEC_NOANONYMOUS},
    {"mutual_auth", SASL_OPT_MUTUAL_AUTH, SASL_SEC_MUTUAL_AUTH},
};

unsigned
sasl_opts_parse(const struct strvec *list, const char *param)
{
    unsigned bits = 0;

    for (size_t i = 0; i < list->n; i++) {
        size_t k;

        for (k = 0; k < nitems(sasl_opt_words); k++)
            if (str_eq_nocase(list->v[i], sasl_opt_words[k].word))
                break;
        if (k < nitems(sasl_opt_words))
            bits |= sasl_opt_words[k].bit;
        else
            log_warn("%s: unknown security option \"%s\" ignored", param, list->v[i]);
    }
    return bits;
}

void
sasl_opts_props(unsigned opts, void *out)
{
    sasl_security_properties_t *props = out;

    memset(props, 0, sizeof(*props));
    for (size_t k = 0; k < nitems(sasl_opt_words); k++)
        if (opts & sasl_opt_words[k].bit)
            props->security_flags |= sasl_opt_words[k].flag;
}
