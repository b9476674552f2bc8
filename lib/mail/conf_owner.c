/*
 * conf_owner.c - the configuration a root master obeys must be root's alone.
 *
 * master.cf names programs the master runs as root, and main.cf names mail_owner and
 * directories: whoever can change them can become root. So, when we run as root, the
 * configuration directory and both files must belong to root and be writable by nobody
 * else. Checked by the master at start (fatal) and by `postern check` (reported).
 *
 * Trusts: lstat's answers about the files; nothing in their content (it reads none).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/conf_owner.h"

/*
 * conf_owner_one - path must be owned by root and writable by nobody else (the master runs
 * what master.cf says)
 */
static void
conf_owner_one(const char *path, bool must_exist, struct strvec *problems)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (must_exist)
            strvec_add_owned(problems, xasprintf("%s: cannot be read", path));
        return;
    }
    if (S_ISLNK(st.st_mode) && stat(path, &st) < 0)
        return;
    if (st.st_uid != 0)
        strvec_add_owned(problems, xasprintf("%s is owned by uid %ld, not root: anyone who can "
                                             "change it can become root",
                                             path, (long)st.st_uid));
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        strvec_add_owned(
            problems,
            xasprintf("%s is writable by group or others: only root may change it", path));
}

void
conf_owner_check(const char *config_dir, struct strvec *problems)
{
    char *main_cf = xasprintf("%s/main.cf", config_dir);
    char *master_cf = xasprintf("%s/master.cf", config_dir);

    if (geteuid() == 0) {
        conf_owner_one(config_dir, true, problems);
        conf_owner_one(main_cf, true, problems);
        conf_owner_one(master_cf, false, problems);
    }
    free(main_cf);
    free(master_cf);
}
