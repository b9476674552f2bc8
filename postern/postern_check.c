/*
 * postern_check.c - `postern check`: is this installation fit to start?
 *
 * Runs as the administrator (root for a real installation). It reads main.cf and
 * master.cf, checks that every program in master.cf can run, that mail_owner is a real
 * unprivileged user, and creates the queue directories with their owners and modes. It
 * reports every problem it finds, not just the first; the exit status is 1 if any. A lookup
 * table that cannot be opened is a warning that names the command that builds it: the mail
 * system runs without it (lookups in it are deferred) and uses it once it is built.
 *
 * Trusts: main.cf and master.cf as far as their parsers check them.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/map.h"
#include "core/mastercf.h"
#include "core/mem.h"
#include "mail/conf_owner.h"
#include "mail/params.h"
#include "mail/queue_dirs.h"
#include "postern/postern.h"

struct check {
    struct params params;
    uid_t owner_uid;
    gid_t owner_gid;
    int problems;
};

static void
check_problem(struct check *ck, const char *what)
{
    log_error("%s", what);
    ck->problems++;
}

/* check_owner - mail_owner exists and is not root (as root); ourselves otherwise */
static void
check_owner(struct check *ck)
{
    struct passwd *pw;
    char *text;

    ck->owner_uid = geteuid();
    ck->owner_gid = getegid();
    if (geteuid() != 0)
        return;
    if ((pw = getpwnam(ck->params.mail_owner)) == NULL) {
        text = xasprintf("mail_owner \"%s\" is not a user on this system", ck->params.mail_owner);
        check_problem(ck, text);
        free(text);
        return;
    }
    if (pw->pw_uid == 0) {
        text = xasprintf("mail_owner \"%s\" has uid 0: it must be unprivileged",
                         ck->params.mail_owner);
        check_problem(ck, text);
        free(text);
        return;
    }
    ck->owner_uid = pw->pw_uid;
    ck->owner_gid = pw->pw_gid;
}

/* check_uses - does master.cf run program? */
static bool
check_uses(const struct mastercf *mcf, const char *program)
{
    for (size_t i = 0; i < mcf->n; i++) {
        const char *base = strrchr(mcf->entries[i].command, '/');
        if (strcmp(base ? base + 1 : mcf->entries[i].command, program) == 0)
            return true;
    }
    return false;
}

/* check_key - a private key must not be readable by mail_owner, whose daemons face clients */
static void
check_key(struct check *ck, const char *path)
{
    struct stat st;
    char *text = NULL;

    if (path == NULL || *path == 0)
        return;
    if (stat(path, &st) < 0)
        text = xasprintf("TLS key %s: %s", path, strerror(errno));
    else if (st.st_uid == ck->owner_uid || (st.st_mode & S_IROTH) ||
             (st.st_gid == ck->owner_gid && (st.st_mode & S_IRGRP)))
        text = xasprintf("TLS key %s can be read by mail_owner (or anyone): make it tls_owner's "
                         "alone (chown %s; chmod 600)",
                         path, ck->params.tls_owner);
    if (text != NULL)
        check_problem(ck, text);
    free(text);
}

/*
 * check_tls - where tlsproxy runs (as root): tls_owner is a user of its own, and the keys
 * are out of mail_owner's reach
 */
static void
check_tls(struct check *ck, const struct mastercf *mcf)
{
    const struct params *p = &ck->params;
    struct passwd *pw;
    char *text = NULL;

    if (geteuid() != 0 || !check_uses(mcf, "tlsproxy"))
        return;
    if ((pw = getpwnam(p->tls_owner)) == NULL)
        text = xasprintf("tls_owner \"%s\" is not a user on this system", p->tls_owner);
    else if (pw->pw_uid == 0 || pw->pw_uid == ck->owner_uid)
        text = xasprintf("tls_owner \"%s\" must be a user of its own, neither root nor mail_owner",
                         p->tls_owner);
    if (text != NULL) {
        check_problem(ck, text);
        free(text);
        return;
    }
    for (size_t i = 0; i < p->smtpd_tls_chain_files.n; i++)
        check_key(ck, p->smtpd_tls_chain_files.v[i]);
    if (p->smtpd_tls_chain_files.n == 0)
        check_key(ck, *p->smtpd_tls_key_file ? p->smtpd_tls_key_file : p->smtpd_tls_cert_file);
}

static void
check_programs(struct check *ck, const struct mastercf *mcf)
{
    for (size_t i = 0; i < mcf->n; i++) {
        const struct mastercf_entry *e = &mcf->entries[i];
        char *path = e->command[0] == '/'
                         ? xstrdup(e->command)
                         : xasprintf("%s/%s", ck->params.daemon_directory, e->command);

        if (access(path, X_OK) < 0) {
            char *text = xasprintf("%s, line %d: %s: %s", e->file, e->line, path, strerror(errno));
            check_problem(ck, text);
            free(text);
        }
        free(path);
    }
}

/* check_table - one table list parameter: can it be opened? If not, how to build it */
static void
check_table(const char *name, const struct strvec *specs, const char *config_dir)
{
    struct map_list *list;
    struct err err;

    if (specs->n == 0)
        return;
    if ((list = map_list_open_param(specs, MAP_FOLD_FIXED, &err)) != NULL) {
        map_list_close(list);
        return;
    }
    if (strcmp(name, "alias_maps") == 0)
        log_warn("%s: %s: build it with \"postern newaliases -c %s\"; until then deliveries "
                 "that need it are deferred",
                 name, err.text, config_dir);
    else
        log_warn("%s: %s: until it is built, lookups in it are deferred", name, err.text);
}

/* check_tables - every table list the daemons open */
static void
check_tables(const struct params *p, const char *config_dir)
{
    const struct {
        const char *name;
        const struct strvec *specs;
    } tables[] = {
        {"alias_maps", &p->alias_maps},
        {"virtual_alias_maps", &p->virtual_alias_maps},
        {"virtual_mailbox_maps", &p->virtual_mailbox_maps},
        {"transport_maps", &p->transport_maps},
        {"virtual_uid_maps", &p->virtual_uid_maps},
        {"virtual_gid_maps", &p->virtual_gid_maps},
        {"local_recipient_maps", &p->local_recipient_maps},
        {"smtpd_milter_maps", &p->smtpd_milter_maps},
    };

    for (size_t i = 0; i < nitems(tables); i++)
        check_table(tables[i].name, tables[i].specs, config_dir);
}

/*
 * postern_check_main - `postern check`: read both files, check programs, owner, ownership,
 * tables, and create the queue
 */
int
postern_check_main(int argc, char **argv)
{
    struct check ck = {0};
    char *config_dir = postern_config_dir(), *main_cf, *master_cf;
    struct conf *conf;
    struct mastercf mcf;
    struct err err;
    struct strvec problems;
    gid_t drop_gid;
    int ch;

    while ((ch = getopt(argc, argv, "c:")) != -1) {
        if (ch != 'c') {
            fprintf(stderr, "usage: postern check [-c config_dir]\n");
            free(config_dir);
            return 2;
        }
        free(config_dir);
        config_dir = xstrdup(optarg);
    }
    main_cf = xasprintf("%s/main.cf", config_dir);
    master_cf = xasprintf("%s/master.cf", config_dir);
    conf = params_conf_new();
    if (!conf_read_file(conf, main_cf, &err) || !params_load(&ck.params, conf, &err)) {
        log_error("%s", err.text);
        free(config_dir);
        conf_free(conf);
        free(main_cf);
        free(master_cf);
        return 1;
    }
    mastercf_init(&mcf);
    if (!mastercf_read_file(&mcf, master_cf, &err))
        check_problem(&ck, err.text);
    check_owner(&ck);
    check_programs(&ck, &mcf);
    check_tls(&ck, &mcf);
    check_tables(&ck.params, config_dir);
    strvec_init(&problems);
    conf_owner_check(config_dir, &problems);
    if (!queue_drop_group(ck.params.setgid_group, &drop_gid, &err)) {
        log_warn("%s", err.text);
        drop_gid = ck.owner_gid;
    }
    queue_dirs_make(ck.params.queue_directory, ck.owner_uid, ck.owner_gid, drop_gid, &problems);
    for (size_t i = 0; i < problems.n; i++)
        check_problem(&ck, problems.v[i]);
    strvec_free(&problems);
    mastercf_free(&mcf);
    conf_free(conf);
    params_free(&ck.params);
    free(config_dir);
    free(main_cf);
    free(master_cf);
    if (ck.problems)
        log_error("%d problem%s found", ck.problems, ck.problems == 1 ? "" : "s");
    return ck.problems ? 1 : 0;
}
