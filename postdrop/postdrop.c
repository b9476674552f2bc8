/*
 * postdrop.c - put one message into $queue_directory/maildrop, for the sendmail command.
 *
 * Installed set-gid setgid_group, the only group that may add files to maildrop/; it runs
 * with the caller's uid, which becomes the file's owner and is all pickup believes about
 * who sent it. Everything else comes from an unprivileged user and is checked here:
 *   - the environment is ignored but for MAIL_CONFIG (and TZ for log times);
 *   - a configuration directory other than the default (-c, MAIL_CONFIG) is taken from a
 *     caller other than root, while set-gid, only when the default main.cf lists it in
 *     alternate_config_directories: another main.cf could name another queue or lift
 *     authorized_submit_users;
 *   - the caller must be in authorized_submit_users;
 *   - the maildrop stream on stdin is read as hostile (maildrop_read) and written again,
 *     never copied (postdrop_file.c).
 * Exit status from sysexits.h; a message on stderr for each failure.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/match_list.h"
#include "mail/params.h"
#include "postdrop/postdrop.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
/*
 * In the sanitizer build only (make check-sanitize): LeakSanitizer cannot inspect a
 * set-gid process, which is not dumpable, and the sanitizers ignore the environment's
 * options there, so every set-gid run would end in its "fatal error". Leaks are still
 * looked for when postdrop runs without set-gid.
 */
int __lsan_is_turned_off(void);
int
__lsan_is_turned_off(void)
{
    return getegid() != getgid();
}
#endif
#endif

/* postdrop_load - main.cf of dir into p; false with err */
static bool
postdrop_load(const char *dir, struct params *p, struct err *err)
{
    struct conf *conf = params_conf_new();
    char *path = xasprintf("%s/main.cf", dir);
    bool good = conf_read_file(conf, path, err) && params_load(p, conf, err);

    free(path);
    conf_free(conf);
    return good;
}

/*
 * postdrop_config_ok - may this caller use dir? The default, always; another one when the
 * caller is root, when postdrop runs without a group of its own (not installed set-gid:
 * a development instance's owner, who has no more rights here than elsewhere), or when the
 * default main.cf names it in alternate_config_directories
 */
static bool
postdrop_config_ok(const char *dir, struct err *err)
{
    struct params def;
    bool listed;

    if (strcmp(dir, POSTERN_CONFIG_DIR) == 0 || getuid() == 0 || getegid() == getgid())
        return true;
    if (!postdrop_load(POSTERN_CONFIG_DIR, &def, err))
        return false;
    listed = strvec_contains(&def.alternate_config_directories, dir);
    params_free(&def);
    return listed ? true
                  : err_set(err, "%s is not listed in alternate_config_directories of %s/main.cf",
                            dir, POSTERN_CONFIG_DIR);
}

/* postdrop_authorized - is the caller in authorized_submit_users? EX_OK or a status */
static int
postdrop_authorized(const struct params *p, const char *user)
{
    struct err err;
    struct match_list *list =
        match_list_open_words(&p->authorized_submit_users, MATCH_DOMAIN, false, &err);
    enum map_status found;

    if (list == NULL) {
        fprintf(stderr, "postdrop: authorized_submit_users: %s\n", err.text);
        return EX_TEMPFAIL;
    }
    found = match_list_find(list, user, &err);
    match_list_close(list);
    if (found == MAP_FOUND)
        return EX_OK;
    if (found == MAP_ERROR) {
        fprintf(stderr, "postdrop: authorized_submit_users: %s\n", err.text);
        return EX_TEMPFAIL;
    }
    fprintf(stderr, "postdrop: user %s is not allowed to submit mail (authorized_submit_users)\n",
            user);
    return EX_NOPERM;
}

static int
postdrop_usage(void)
{
    fprintf(stderr, "usage: postdrop [-c config_dir] < maildrop-stream\n");
    return EX_USAGE;
}

int
main(int argc, char **argv)
{
    const char *env = getenv("MAIL_CONFIG");
    const char *dir = env && *env ? env : POSTERN_CONFIG_DIR;
    const struct passwd *pw;
    struct params p;
    struct err err;
    char *user;
    int ch, status;

    log_init("postern", "postdrop");
    log_to_stderr();
    while ((ch = getopt(argc, argv, "c:")) != -1) {
        if (ch != 'c')
            return postdrop_usage();
        dir = optarg;
    }
    if (optind != argc)
        return postdrop_usage();
    if (!postdrop_config_ok(dir, &err)) {
        fprintf(stderr, "postdrop: refused configuration directory: %s\n", err.text);
        return EX_NOPERM;
    }
    if (!postdrop_load(dir, &p, &err)) {
        fprintf(stderr, "postdrop: %s\n", err.text);
        return EX_CONFIG;
    }
    if ((pw = getpwuid(getuid())) == NULL) {
        fprintf(stderr, "postdrop: uid %ld has no user name\n", (long)getuid());
        params_free(&p);
        return EX_NOUSER;
    }
    user = xstrdup(pw->pw_name);
    if ((status = postdrop_authorized(&p, user)) == EX_OK)
        status = postdrop_file(&p);
    free(user);
    params_free(&p);
    return status;
}
