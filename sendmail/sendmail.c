/*
 * sendmail.c - the sendmail command: Sendmail's interface to postern's local submission.
 *
 * Not set-id: it runs as the invoking user, reads the message and hands it as a maildrop
 * stream to postdrop (set-gid setgid_group), which writes it into maildrop/ for pickup.
 * Also answers to the names mailq (-bp) and newaliases (-bi), and runs -q, by running the
 * postern command (postern queue list, postern queue flush, postern newaliases).
 *
 * Trusts: its caller as far as the caller's own rights go (the configuration named by
 * -C or MAIL_CONFIG included: postdrop decides whether to honour it). Exit status from
 * sysexits.h, a message on stderr for every failure.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "sendmail/sendmail.h"

/* sendmail_config - the configuration directory: -C (a directory or its main.cf),
 * MAIL_CONFIG, or the default */
static char *
sendmail_config(const struct sendmail_opts *o)
{
    const char *env = getenv("MAIL_CONFIG");
    struct stat st;
    char *dir, *slash;

    if (o->config == NULL)
        return xstrdup(env && *env ? env : POSTERN_CONFIG_DIR);
    dir = xstrdup(o->config);
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode) && (slash = strrchr(dir, '/')) != NULL)
        *(slash == dir ? slash + 1 : slash) = 0;
    return dir;
}

static bool
sendmail_load(const char *dir, struct params *p)
{
    struct conf *conf = params_conf_new();
    char *path = xasprintf("%s/main.cf", dir);
    struct err err;
    bool good = conf_read_file(conf, path, &err) && params_load(p, conf, &err);

    if (!good)
        fprintf(stderr, "sendmail: %s\n", err.text);
    free(path);
    conf_free(conf);
    return good;
}

/* sendmail_postern - become `postern VERB WORD -c dir [-s site]` for mailq, -q and
 * newaliases */
static int
sendmail_postern(const struct params *p, const char *dir, const char *verb, const char *word,
                 const char *site)
{
    char *path = xasprintf("%s/postern", p->command_directory);
    struct strvec args;

    strvec_init(&args);
    strvec_add(&args, "postern");
    strvec_add(&args, verb);
    if (word != NULL)
        strvec_add(&args, word);
    strvec_add(&args, "-c");
    strvec_add(&args, dir);
    if (site != NULL) {
        strvec_add(&args, "-s");
        strvec_add(&args, site);
    }
    fflush(NULL);
    execv(path, args.v);
    fprintf(stderr, "sendmail: cannot run %s: %s\n", path, strerror(errno));
    free(path);
    strvec_free(&args);
    return EX_UNAVAILABLE;
}

/*
 * sendmail_sender - the envelope sender and full name: -f (an address list: its first
 * address, none for the null sender) or the login name; -F, $NAME or the password file's
 * full name (the first comma-separated field of the GECOS)
 */
bool
sendmail_sender(const struct sendmail_opts *o, struct maildrop_envelope *env)
{
    const struct passwd *pw = getpwuid(getuid());
    const char *name = getenv("NAME");

    free(env->sender);
    env->sender = NULL;
    if (o->sender != NULL) {
        env->sender = xstrdup(o->sender);
    } else if (pw == NULL) {
        fprintf(stderr, "sendmail: uid %ld has no user name\n", (long)getuid());
        return false;
    } else {
        env->sender = xstrdup(pw->pw_name);
    }
    free(env->fullname);
    if (o->fullname != NULL)
        env->fullname = xstrdup(o->fullname);
    else if (name != NULL && *name)
        env->fullname = xstrdup(name);
    else if (pw != NULL && pw->pw_gecos != NULL)
        env->fullname = xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
    else
        env->fullname = xstrdup("");
    for (char *c = env->fullname; *c; c++)
        if ((unsigned char)*c < 32 || *c == 127)
            *c = ' ';
    if (strlen(env->fullname) > MAILDROP_NAME_MAX)
        env->fullname[MAILDROP_NAME_MAX] = 0;
    return true;
}

/* sendmail_name - what the command was called as decides its default mode */
static void
sendmail_name(const char *argv0, struct sendmail_opts *o)
{
    const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;

    if (strcmp(base, "mailq") == 0)
        o->mode = SENDMAIL_MAILQ;
    else if (strcmp(base, "newaliases") == 0)
        o->mode = SENDMAIL_NEWALIASES;
}

int
main(int argc, char **argv)
{
    struct sendmail_opts o;
    struct params p;
    char *dir;
    int status;

    log_init("postern", "sendmail");
    log_to_stderr();
    signal(SIGPIPE, SIG_IGN);
    if (!sendmail_opts_parse(argc, argv, &o)) {
        sendmail_opts_free(&o);
        return EX_USAGE;
    }
    sendmail_name(argv[0], &o);
    dir = sendmail_config(&o);
    if (!sendmail_load(dir, &p)) {
        free(dir);
        sendmail_opts_free(&o);
        return EX_CONFIG;
    }
    switch (o.mode) {
    case SENDMAIL_MAILQ:
        status = sendmail_postern(&p, dir, "queue", "list", NULL);
        break;
    case SENDMAIL_FLUSH:
        status = sendmail_postern(&p, dir, "queue", "flush", o.flush_site);
        break;
    case SENDMAIL_NEWALIASES:
        status = sendmail_postern(&p, dir, "newaliases", NULL, NULL);
        break;
    case SENDMAIL_SMTP:
        status = sendmail_smtp(&o, &p, o.config || getenv("MAIL_CONFIG") ? dir : NULL);
        break;
    default:
        status = sendmail_deliver(&o, &p, o.config || getenv("MAIL_CONFIG") ? dir : NULL);
        break;
    }
    params_free(&p);
    free(dir);
    sendmail_opts_free(&o);
    return status;
}
