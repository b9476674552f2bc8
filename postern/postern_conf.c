/*
 * postern_conf.c - `postern conf`: print and edit main.cf and master.cf, as postconf(1).
 *
 * Runs as the administrator. Trusts the command line; reads main.cf and master.cf as
 * untrusted text (every error names its file and line). Output is shaped like postconf's
 * so that scripts written for Postfix keep working:
 *   postern conf [-c dir] [-n|-d] [-h] [-x] [name ...]     parameters
 *   postern conf [-c dir] name=value ...                    edit main.cf in place
 *   postern conf [-c dir] -X name ...                       remove from main.cf
 *   postern conf [-c dir] -M [service[/type] ...]           master.cf entries
 *   postern conf [-c dir] -P [service/type/name ...]        master.cf -o overrides
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/mastercf.h"
#include "core/mem.h"
#include "mail/params.h"
#include "postern/postern.h"
#include "postern/postern_edit.h"

enum conf_mode {
    MODE_ALL,
    MODE_NONDEFAULT,
    MODE_DEFAULTS,
};

struct conf_opts {
    char *config_dir;
    enum conf_mode mode;
    bool values_only; /* -h */
    bool expand;      /* -x */
    bool master;      /* -M */
    bool master_opts; /* -P */
    bool remove;      /* -X */
};

/* Per-transport parameter names that Postfix derives from master.cf service names. */
static const char *const transport_suffixes[] = {
    "*_destination_concurrency_limit",
    "*_destination_recipient_limit",
    "*_initial_destination_concurrency",
    "*_destination_rate_delay",
    "*_destination_concurrency_failed_cohort_limit",
    "*_recipient_limit",
    "*_time_limit",
    "*_delivery_slot_cost",
    "*_extra_recipient_limit",
};

static int
conf_usage(void)
{
    fprintf(stderr, "usage: postern conf [-c dir] [-n|-d] [-h] [-x] [name ...]\n"
                    "       postern conf [-c dir] name=value ...\n"
                    "       postern conf [-c dir] -X name ...\n"
                    "       postern conf [-c dir] -M [service[/type] ...]\n"
                    "       postern conf [-c dir] -P [service/type/name ...]\n");
    return 2;
}

static int
conf_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conf_print_one - "name = value" (or just the value), expanded when asked */
static bool
conf_print_one(const struct conf *conf, const struct conf_opts *o, const char *name,
               const char *raw)
{
    struct err err;
    char *value = o->expand ? conf_expand(conf, raw, &err) : xstrdup(raw);

    if (value == NULL) {
        log_warn("%s: %s", name, err.text);
        return false;
    }
    if (o->values_only)
        printf("%s\n", value);
    else
        printf("%s =%s%s\n", name, *value ? " " : "", value);
    free(value);
    return true;
}

/* conf_names - which parameters a listing shows, sorted */
static void
conf_names(const struct conf *conf, const struct conf_opts *o, struct strvec *names)
{
    strvec_init(names);
    for (size_t i = 0; o->mode != MODE_NONDEFAULT && i < params_ndecls; i++)
        strvec_add(names, params_decls[i].name);
    for (size_t i = 0; o->mode != MODE_DEFAULTS && i < conf_entry_count(conf); i++)
        if (!strvec_contains(names, conf_entry_at(conf, i)->name))
            strvec_add(names, conf_entry_at(conf, i)->name);
    qsort(names->v, names->n, sizeof(char *), conf_cmp);
}

static const char *
conf_default_of(const struct conf *defaults, const char *name)
{
    return conf_raw(defaults, name);
}

/*
 * conf_print - print names (all when none) as main.cf lines: set values, defaults (-d) or
 * only what differs (-n)
 */
static int
conf_print(const struct conf *conf, const struct conf_opts *o, char **names, int n)
{
    struct conf *defaults = params_conf_new();
    const struct conf *source = o->mode == MODE_DEFAULTS ? defaults : conf;
    struct strvec all;
    int status = 0;

    strvec_init(&all);
    if (n == 0) {
        conf_names(conf, o, &all);
        names = all.v;
        n = (int)all.n;
    }
    for (int i = 0; i < n; i++) {
        const char *raw = o->mode == MODE_DEFAULTS ? conf_default_of(defaults, names[i])
                                                   : conf_raw(conf, names[i]);
        if (raw == NULL) {
            log_warn("%s: unknown parameter", names[i]);
            status = 1;
        } else if (!conf_print_one(source, o, names[i], raw)) {
            status = 1;
        }
    }
    strvec_free(&all);
    conf_free(defaults);
    return status;
}

/* conf_warn_unused - postconf's "unused parameter" warnings, with file and line */
static void
conf_warn_unused(const struct conf *conf, const struct mastercf *mcf)
{
    struct strvec values, patterns, unused;

    strvec_init(&values);
    strvec_init(&patterns);
    strvec_init(&unused);
    for (size_t i = 0; i < mcf->n; i++)
        for (size_t j = 0; j < mcf->entries[i].opt_values.n; j++)
            strvec_add(&values, mcf->entries[i].opt_values.v[j]);
    for (size_t i = 0; i < sizeof(transport_suffixes) / sizeof(transport_suffixes[0]); i++)
        strvec_add(&patterns, transport_suffixes[i]);
    conf_unused(conf, &values, &patterns, &unused);
    for (size_t i = 0; i < unused.n; i++) {
        for (size_t j = 0; j < conf_entry_count(conf); j++) {
            const struct conf_entry *e = conf_entry_at(conf, j);
            if (strcmp(e->name, unused.v[i]) == 0)
                log_warn("%s, line %d: unused parameter: %s=%s", e->file, e->line, e->name,
                         e->value);
        }
    }
    strvec_free(&values);
    strvec_free(&patterns);
    strvec_free(&unused);
}

/* conf_print_word - a master.cf word, in braces when it holds white space */
static void
conf_print_word(const char *word)
{
    if (strpbrk(word, " \t"))
        printf(" { %s }", word);
    else
        printf(" %s", word);
}

static const char *
conf_flag(int value)
{
    return value == MASTERCF_DEFAULT ? "-" : value ? "y" : "n";
}

static void
conf_print_entry(const struct mastercf_entry *e)
{
    char wakeup[32], maxproc[32];

    if (e->wakeup == MASTERCF_DEFAULT)
        snprintf(wakeup, sizeof(wakeup), "-");
    else
        snprintf(wakeup, sizeof(wakeup), "%d%s", e->wakeup, e->wakeup_if_running ? "?" : "");
    if (e->maxproc == MASTERCF_DEFAULT)
        snprintf(maxproc, sizeof(maxproc), "-");
    else
        snprintf(maxproc, sizeof(maxproc), "%d", e->maxproc);
    printf("%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s", e->service, mastercf_type_name(e->type),
           conf_flag(e->private_sock), conf_flag(e->unpriv), conf_flag(e->chroot), wakeup, maxproc,
           e->command);
    for (size_t i = 0; i < e->args.n; i++)
        conf_print_word(e->args.v[i]);
    printf("\n");
}

/* conf_selects - does "service", "service/type" or "service/type/name" pick e? */
static bool
conf_selects(const struct mastercf_entry *e, char **sel, int n, const char *name)
{
    if (n == 0)
        return true;
    for (int i = 0; i < n; i++) {
        char *copy = xstrdup(sel[i]), *svc = copy, *type = strchr(copy, '/'), *param = NULL;
        bool match;

        if (type) {
            *type++ = 0;
            if ((param = strchr(type, '/')) != NULL)
                *param++ = 0;
        }
        match = strcmp(svc, e->service) == 0 &&
                (type == NULL || strcmp(type, mastercf_type_name(e->type)) == 0) &&
                (param == NULL || name == NULL || strcmp(param, name) == 0);
        free(copy);
        if (match)
            return true;
    }
    return false;
}

static int
conf_print_master(const struct mastercf *mcf, const struct conf_opts *o, char **sel, int n)
{
    for (size_t i = 0; i < mcf->n; i++) {
        const struct mastercf_entry *e = &mcf->entries[i];

        if (o->master && conf_selects(e, sel, n, NULL))
            conf_print_entry(e);
        for (size_t j = 0; o->master_opts && j < e->opt_names.n; j++)
            if (conf_selects(e, sel, n, e->opt_names.v[j]))
                printf("%s/%s/%s = %s\n", e->service, mastercf_type_name(e->type),
                       e->opt_names.v[j], e->opt_values.v[j]);
    }
    return 0;
}

/* conf_parse_opts - postconf's options, as far as postern knows them */
static bool
conf_parse_opts(int argc, char **argv, struct conf_opts *o)
{
    int ch;

    optind = 1;
    while ((ch = getopt(argc, argv, "c:dhnxMPX")) != -1) {
        switch (ch) {
        case 'c':
            free(o->config_dir);
            o->config_dir = xstrdup(optarg);
            break;
        case 'd':
            o->mode = MODE_DEFAULTS;
            break;
        case 'n':
            o->mode = MODE_NONDEFAULT;
            break;
        case 'h':
            o->values_only = true;
            break;
        case 'x':
            o->expand = true;
            break;
        case 'M':
            o->master = true;
            break;
        case 'P':
            o->master_opts = true;
            break;
        case 'X':
            o->remove = true;
            break;
        default:
            return false;
        }
    }
    return true;
}

static bool
conf_is_edit(char **args, int n)
{
    for (int i = 0; i < n; i++)
        if (strchr(args[i], '='))
            return true;
    return false;
}

/* postern_conf_main - `postern conf`: show or edit main.cf, or show master.cf (-M) */
int
postern_conf_main(int argc, char **argv)
{
    struct conf_opts o = {0};
    struct conf *conf;
    struct mastercf mcf;
    struct err err;
    char *main_cf, *master_cf;
    int status;

    o.config_dir = postern_config_dir();
    if (!conf_parse_opts(argc, argv, &o)) {
        free(o.config_dir);
        return conf_usage();
    }
    main_cf = xasprintf("%s/main.cf", o.config_dir);
    master_cf = xasprintf("%s/master.cf", o.config_dir);
    free(o.config_dir);
    o.config_dir = NULL;
    if (o.remove || conf_is_edit(argv + optind, argc - optind)) {
        status = postern_edit_main_cf(main_cf, argv + optind, argc - optind, o.remove);
        free(main_cf);
        free(master_cf);
        return status;
    }
    conf = params_conf_new();
    mastercf_init(&mcf);
    if (o.mode != MODE_DEFAULTS && !conf_read_file(conf, main_cf, &err))
        log_fatal("%s", err.text);
    if ((o.master || o.master_opts || o.mode != MODE_DEFAULTS) && access(master_cf, F_OK) == 0 &&
        !mastercf_read_file(&mcf, master_cf, &err))
        log_fatal("%s", err.text);
    if (o.master || o.master_opts) {
        status = conf_print_master(&mcf, &o, argv + optind, argc - optind);
    } else {
        if (o.mode != MODE_DEFAULTS)
            conf_warn_unused(conf, &mcf);
        status = conf_print(conf, &o, argv + optind, argc - optind);
    }
    mastercf_free(&mcf);
    conf_free(conf);
    free(main_cf);
    free(master_cf);
    return status;
}
