/*
 * postern_queue.c - the queue commands' command lines: `postern queue list|flush|delete|
 * hold|release|requeue|show`, and the Postfix names that scripts and admins call: mailq,
 * postqueue, postsuper, postcat (argv[0] says which). The requests themselves are in
 * postern_queue_cmd.c.
 *
 * Runs as the invoking user. Trusts its command line as far as getopt parses it; every
 * value is checked again where it is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "postern/postern_queue.h"

/* pq_admin_verb - is verb one of the administrator's actions? */
static bool
pq_admin_verb(const char *verb)
{
    static const char *const verbs[] = {"delete", "hold", "release", "requeue"};

    for (size_t i = 0; i < nitems(verbs); i++)
        if (strcmp(verbs[i], verb) == 0)
            return true;
    return false;
}

/* pq_join - names as one comma-separated string */
static char *
pq_join(const struct strvec *names)
{
    struct buf b;
    char *s;

    buf_init(&b, 4096);
    for (size_t i = 0; i < names->n; i++)
        buf_printf(&b, "%s%s", i ? "," : "", names->v[i]);
    s = xstrdup(buf_str(&b));
    buf_free(&b);
    return s;
}

/* pq_usage - the usage line of one command; its exit status */
static int
pq_usage(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    return QUEUE_EX_USAGE;
}

#define PQ_USAGE_QUEUE                                                                   \
    "postern queue list [-c dir] [-j] | flush [-c dir] [-s site | -i id] |\n"            \
    "       postern queue delete|hold|release|requeue [-c dir] id|ALL|- [queue ...] |\n" \
    "       postern queue show [-c dir] [-e] [-h] [-b] id"

/* pq_opt_config - -c dir, common to every form; false for another option */
static bool
pq_opt_config(struct queue_cmd *pq, int ch)
{
    if (ch != 'c')
        return false;
    free(pq->config_dir);
    pq->config_dir = xstrdup(optarg);
    return true;
}

/* pq_queue_list - postern queue list [-j] */
static int
pq_queue_list(struct queue_cmd *pq, int argc, char **argv)
{
    bool json = false;
    int ch;

    while ((ch = getopt(argc, argv, "c:j")) != -1)
        if (ch == 'j')
            json = true;
        else if (!pq_opt_config(pq, ch))
            return pq_usage(PQ_USAGE_QUEUE);
    if (optind != argc)
        return pq_usage(PQ_USAGE_QUEUE);
    return queue_cmd_list(pq, json);
}

/* pq_queue_flush - postern queue flush [-s site | -i id] */
static int
pq_queue_flush(struct queue_cmd *pq, int argc, char **argv)
{
    const char *site = "", *id = "";
    int ch;

    while ((ch = getopt(argc, argv, "c:s:i:")) != -1)
        if (ch == 's')
            site = optarg;
        else if (ch == 'i')
            id = optarg;
        else if (!pq_opt_config(pq, ch))
            return pq_usage(PQ_USAGE_QUEUE);
    if (optind != argc || (*site && *id))
        return pq_usage(PQ_USAGE_QUEUE);
    return queue_cmd_flush(pq, site, id);
}

/* pq_queue_admin - postern queue delete|hold|release|requeue id|ALL|- [queue ...] */
static int
pq_queue_admin(struct queue_cmd *pq, const char *verb, int argc, char **argv)
{
    struct strvec ids, queues;
    char *names;
    int ch, status;

    while ((ch = getopt(argc, argv, "c:")) != -1)
        if (!pq_opt_config(pq, ch))
            return pq_usage(PQ_USAGE_QUEUE);
    if (optind >= argc)
        return pq_usage(PQ_USAGE_QUEUE);
    strvec_init(&ids);
    strvec_init(&queues);
    strvec_add(&ids, argv[optind]);
    for (int i = optind + 1; i < argc; i++)
        strvec_add(&queues, argv[i]);
    names = pq_join(&queues);
    status = queue_cmd_admin(pq, verb, &ids, names);
    free(names);
    strvec_free(&ids);
    strvec_free(&queues);
    return status;
}

/* pq_queue_show - postern queue show [-e] [-h] [-b] id */
static int
pq_queue_show(struct queue_cmd *pq, int argc, char **argv)
{
    unsigned what = 0;
    int ch;

    while ((ch = getopt(argc, argv, "c:ehb")) != -1)
        if (ch == 'e' || ch == 'h' || ch == 'b')
            what |= ch == 'e'   ? QUEUE_SHOW_ENVELOPE
                    : ch == 'h' ? QUEUE_SHOW_HEADER
                                : QUEUE_SHOW_BODY;
        else if (!pq_opt_config(pq, ch))
            return pq_usage(PQ_USAGE_QUEUE);
    if (optind + 1 != argc)
        return pq_usage(PQ_USAGE_QUEUE);
    return queue_cmd_show(pq, argv[optind], what);
}

/* postern_queue_main - `postern queue VERB ...` */
int
postern_queue_main(int argc, char **argv)
{
    struct queue_cmd pq = {0};
    int status;

    if (argc < 2)
        return pq_usage(PQ_USAGE_QUEUE);
    optind = 2;
    if (strcmp(argv[1], "list") == 0)
        status = pq_queue_list(&pq, argc, argv);
    else if (strcmp(argv[1], "flush") == 0)
        status = pq_queue_flush(&pq, argc, argv);
    else if (strcmp(argv[1], "show") == 0)
        status = pq_queue_show(&pq, argc, argv);
    else if (pq_admin_verb(argv[1]))
        status = pq_queue_admin(&pq, argv[1], argc, argv);
    else
        status = pq_usage(PQ_USAGE_QUEUE);
    queue_cmd_free(&pq);
    return status;
}

/* pq_mailq - mailq: the queue in postqueue -p's layout (-C dir: sendmail's -c) */
static int
pq_mailq(struct queue_cmd *pq, int argc, char **argv)
{
    int ch;

    while ((ch = getopt(argc, argv, "C:c:v")) != -1)
        if (ch == 'C' || ch == 'c') {
            free(pq->config_dir);
            pq->config_dir = xstrdup(optarg);
        } else if (ch != 'v')
            return pq_usage("mailq [-C config_dir]");
    return queue_cmd_list(pq, false);
}

#define PQ_USAGE_POSTQUEUE "postqueue [-c dir] -f | -i queue_id | -j | -p | -s site"

/* pq_postqueue - postqueue: exactly one of -f, -i, -j, -p, -s */
static int
pq_postqueue(struct queue_cmd *pq, int argc, char **argv)
{
    const char *arg = "";
    int ch, mode = 0;

    while ((ch = getopt(argc, argv, "c:fi:jps:v")) != -1) {
        if (pq_opt_config(pq, ch) || ch == 'v')
            continue;
        if (ch == '?' || mode != 0)
            return pq_usage(PQ_USAGE_POSTQUEUE);
        mode = ch;
        arg = optarg ? optarg : "";
    }
    if (optind != argc || mode == 0)
        return pq_usage(PQ_USAGE_POSTQUEUE);
    if (mode == 'p' || mode == 'j')
        return queue_cmd_list(pq, mode == 'j');
    return queue_cmd_flush(pq, mode == 's' ? arg : "", mode == 'i' ? arg : "");
}

#define PQ_USAGE_POSTSUPER "postsuper [-c dir] [-d id] [-h id] [-H id] [-r id] [queue ...]"

/* pq_postsuper - postsuper: -d, -h, -H, -r (each repeatable; ID, ALL or -), then queues */
static int
pq_postsuper(struct queue_cmd *pq, int argc, char **argv)
{
    struct strvec ops, queues;
    char *names;
    int ch, status = 0;

    strvec_init(&ops);
    strvec_init(&queues);
    while ((ch = getopt(argc, argv, "c:d:h:H:r:v")) != -1) {
        if (pq_opt_config(pq, ch) || ch == 'v')
            continue;
        if (ch == '?') {
            strvec_free(&ops);
            return pq_usage(PQ_USAGE_POSTSUPER);
        }
        strvec_add_owned(&ops, xasprintf("%c%s", ch, optarg));
    }
    for (int i = optind; i < argc; i++)
        strvec_add(&queues, argv[i]);
    names = pq_join(&queues);
    for (size_t i = 0; i < ops.n && status == 0; i++) {
        const char *verb = ops.v[i][0] == 'd'   ? "delete"
                           : ops.v[i][0] == 'h' ? "hold"
                           : ops.v[i][0] == 'H' ? "release"
                                                : "requeue";
        struct strvec ids;

        strvec_init(&ids);
        strvec_add(&ids, ops.v[i] + 1);
        status = queue_cmd_admin(pq, verb, &ids, names);
        strvec_free(&ids);
    }
    free(names);
    strvec_free(&ops);
    strvec_free(&queues);
    return status;
}

#define PQ_USAGE_POSTCAT "postcat [-c dir] [-b] [-e] [-h] -q id ... | file ..."

/* pq_postcat - postcat: -q IDs through qmgr, or queue files named by path */
static int
pq_postcat(struct queue_cmd *pq, int argc, char **argv)
{
    unsigned what = 0;
    bool by_id = false;
    int ch, status = 0;

    while ((ch = getopt(argc, argv, "c:behqv")) != -1) {
        if (pq_opt_config(pq, ch) || ch == 'v')
            continue;
        if (ch == 'q')
            by_id = true;
        else if (ch == 'e' || ch == 'h' || ch == 'b')
            what |= ch == 'e'   ? QUEUE_SHOW_ENVELOPE
                    : ch == 'h' ? QUEUE_SHOW_HEADER
                                : QUEUE_SHOW_BODY;
        else
            return pq_usage(PQ_USAGE_POSTCAT);
    }
    if (optind >= argc)
        return pq_usage(PQ_USAGE_POSTCAT);
    for (int i = optind; i < argc && status == 0; i++)
        status = by_id ? queue_cmd_show(pq, argv[i], what) : queue_cmd_show_path(argv[i], what);
    return status;
}

/*
 * postern_queue_compat - run as mailq, postqueue, postsuper or postcat (argv[0] names
 * it); false for another name. Messages carry the command's name, as Postfix's do.
 */
bool
postern_queue_compat(const char *name, int argc, char **argv, int *status)
{
    static const struct {
        const char *name;
        int (*run)(struct queue_cmd *pq, int argc, char **argv);
    } names[] = {{"mailq", pq_mailq},
                 {"postqueue", pq_postqueue},
                 {"postsuper", pq_postsuper},
                 {"postcat", pq_postcat}};
    struct queue_cmd pq = {0};

    for (size_t i = 0; i < nitems(names); i++) {
        if (strcmp(name, names[i].name) != 0)
            continue;
        log_init(names[i].name, NULL);
        queue_cmd_tag(names[i].name);
        optind = 1;
        *status = names[i].run(&pq, argc, argv);
        queue_cmd_free(&pq);
        return true;
    }
    return false;
}
