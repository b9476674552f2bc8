/*
 * params.c - postern's parameters: the declaration table and the typed loader, both made
 * from params.def so that a parameter is declared in exactly one line.
 *
 * Trusts: main.cf only as far as conf.c checks it; every value is expanded, typed and
 * bounds-checked here, and the first bad one stops the load with its file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/mem.h"
#include "mail/params.h"

const struct param_decl params_decls[] = {
#define PARAM(type, name, dflt, min, max, unit, doc) \
    {#name, PARAM_##type, dflt, min, max, unit, doc},
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) \
    {name, PARAM_##type, dflt, min, max, unit, doc},
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
};

const size_t params_ndecls = sizeof(params_decls) / sizeof(params_decls[0]);

/* params_hostname - the system's name, made fully qualified if it is not */
static char *
params_hostname(void)
{
    char name[256];

    if (gethostname(name, sizeof(name) - 1) < 0 || name[0] == 0)
        strcpy(name, "localhost");
    name[sizeof(name) - 1] = 0;
    if (strchr(name, '.') == NULL)
        return xasprintf("%s.localdomain", name);
    return xstrdup(name);
}

/* params_mydomain - myhostname less its first label; "localdomain" when nothing is left */
static char *
params_mydomain(const struct conf *conf)
{
    struct err err;
    char *host = conf_expand(conf, conf_raw(conf, "myhostname"), &err);
    const char *dot = host ? strchr(host, '.') : NULL;
    char *domain = xstrdup(dot && dot[1] ? dot + 1 : "localdomain");

    free(host);
    return domain;
}

/*
 * params_conf_new - a configuration with postern's declarations and the defaults that
 * depend on this machine. No DNS: a short host name gets ".localdomain", as Postfix does.
 */
struct conf *
params_conf_new(void)
{
    struct conf *conf = conf_new(params_decls, params_ndecls);
    char *host = params_hostname();

    conf_set_default(conf, "myhostname", host);
    conf_set_default_fn(conf, "mydomain", params_mydomain);
    free(host);
    return conf;
}

static bool
params_load_str(const struct conf *conf, const char *name, char **out, struct err *err)
{
    return conf_get_str(conf, name, out, err);
}

static bool
params_load_long(const struct conf *conf, const char *name, long *out, struct err *err)
{
    return conf_get_long(conf, name, out, err);
}

#define params_load_STR  params_load_str
#define params_load_INT  params_load_long
#define params_load_TIME params_load_long
#define params_load_SIZE params_load_long
#define params_load_BOOL conf_get_bool
#define params_load_LIST conf_get_list

/* params_load - every parameter, typed, up to the first bad one (one statement each, so
 * that the function stays small however many there are); on failure p holds nothing */
bool
params_load(struct params *p, const struct conf *conf, struct err *err)
{
    bool good = true;

    memset(p, 0, sizeof(*p));
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) \
    good = good && params_load_##type(conf, name, &p->field, err);
#define PARAM(type, name, dflt, min, max, unit, doc) \
    PARAM_NAMED(type, name, #name, dflt, min, max, unit, doc)
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
    if (!good)
        params_free(p);
    return good;
}

#define params_free_STR(field)  free(field)
#define params_free_INT(field)  (void)(field)
#define params_free_TIME(field) (void)(field)
#define params_free_SIZE(field) (void)(field)
#define params_free_BOOL(field) (void)(field)
#define params_free_LIST(field) strvec_free(&(field))

void
params_free(struct params *p)
{
#define PARAM(type, name, dflt, min, max, unit, doc)              params_free_##type(p->name);
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) params_free_##type(p->field);
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
    memset(p, 0, sizeof(*p));
}
