/*
 * postern.c - the administrator's command: one verb per job, as postfix(1) and its helpers.
 *
 * Runs as the invoking user. Trusts its command line (the administrator) but not the
 * contents of files it reads: every parser reports errors with file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "postern/postern.h"
#include "postern/postern_queue.h"

static const struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} verbs[] = {
    {"conf", postern_conf_main, "conf [-c dir] [-n|-d] [-h] [-x] [-M|-P|-X] [name[=value] ...]"},
    {"map", postern_map_main, "map [-c dir] [-f] [-q key|-q -|-s] [type:]name ..."},
    {"alias", postern_alias_main, "alias [-c dir] [-f] [-q key|-q -|-s] [type:]name ..."},
    {"newaliases", postern_newaliases_main, "newaliases [-c dir]"},
    {"check", postern_check_main, "check [-c dir]"},
    {"start", postern_start_main, "start [-c dir]"},
    {"start-fg", postern_start_fg_main, "start-fg [-c dir]"},
    {"stop", postern_stop_main, "stop [-c dir]"},
    {"reload", postern_reload_main, "reload [-c dir]"},
    {"status", postern_status_main, "status [-c dir]"},
    {"queue", postern_queue_main, "queue list|flush|delete|hold|release|requeue|show [-c dir] ..."},
};

/* postern_config_dir - the configuration directory when -c does not name one */
char *
postern_config_dir(void)
{
    const char *env = getenv("POSTERN_CONFIG_DIRECTORY");

    return xstrdup(env && *env ? env : POSTERN_CONFIG_DIR);
}

static int
usage(void)
{
    fprintf(stderr, "usage: postern VERB [options]\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(stderr, "       postern %s\n", verbs[i].usage);
    return 2;
}

/* Installed under these names (links to postern), it acts as Postfix's command of that name. */
static const struct verb compat_names[] = {
    {"newaliases", postern_newaliases_main, NULL},
    {"postalias", postern_alias_main, NULL},
    {"postmap", postern_map_main, NULL},
};

/*
 * main - `postern COMMAND ...`, or a Postfix command name (newaliases, postmap, postalias;
 * mailq, postqueue, postsuper, postcat) when invoked by one
 */
int
main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int status;

    if (postern_queue_compat(base, argc, argv, &status))
        return status;

    for (size_t i = 0; i < sizeof(compat_names) / sizeof(compat_names[0]); i++) {
        if (strcmp(base, compat_names[i].name) == 0) {
            log_init("postern", compat_names[i].name);
            return compat_names[i].run(argc, argv);
        }
    }
    if (argc < 2)
        return usage();
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            log_init("postern", verbs[i].name);
            return verbs[i].run(argc - 1, argv + 1);
        }
    }
    return usage();
}
