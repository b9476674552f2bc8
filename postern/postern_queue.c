/*
 * postern_queue.c - `postern queue list|flush|delete|hold|release|requeue|show`, and the
 * Postfix names that scripts and admins call: mailq, postqueue, postsuper, postcat.
 *
 * Runs as the invoking user. Listing and flushing go through showq's public socket
 * (public/showq), which decides with authorized_mailq_users / authorized_flush_users who
 * may; everything else goes to qmgr's private socket, which admits only root (and
 * mail_owner). No command reads or changes a queue directory itself: only qmgr renames
 * and removes queue files, and postcat gets a read-only descriptor from qmgr.
 *
 * Trusts: its command line and main.cf; nothing a daemon answers (queue_ctl.c checks it).
 * Exit codes and messages follow Postfix's commands (sysexits.h).
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/params.h"
#include "mail/queue_ctl.h"
#include "mail/queue_id.h"
#include "postern/postern.h"
#include "postern/postern_queue.h"

/* The name messages go out under: the Postfix command's, or postern's own. */
static const char *pq_tag = "postern/queue";

/* pq_fatal - "tag: fatal: text" on stderr, as Postfix's commands say it before they exit
 * with a sysexits.h status (the caller returns that status) */
static void pq_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
pq_fatal(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: fatal: ", pq_tag);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

struct pq {
    char *config_dir;
    struct params params;
    bool loaded;
};

/* pq_load - main.cf of the configuration directory (-c, else the default) */
static bool
pq_load(struct pq *pq)
{
    struct conf *conf = params_conf_new();
    char *path;
    struct err err;
    bool good;

    if (pq->config_dir == NULL)
        pq->config_dir = postern_config_dir();
    path = xasprintf("%s/main.cf", pq->config_dir);
    good = conf_read_file(conf, path, &err) && params_load(&pq->params, conf, &err);
    if (!good)
        pq_fatal("%s", err.text);
    pq->loaded = good;
    free(path);
    conf_free(conf);
    return good;
}

static void
pq_free(struct pq *pq)
{
    if (pq->loaded)
        params_free(&pq->params);
    free(pq->config_dir);
}

/* pq_connect - public/showq or private/qmgr; -1 (and the error logged) if not running */
static int
pq_connect(struct pq *pq, const char *where, const char *service, const char *down)
{
    char *path = xasprintf("%s/%s/%s", pq->params.queue_directory, where, service);
    struct err err;
    int fd = ipc_connect(path, &err);

    if (fd < 0)
        pq_fatal("%s (connect to the %s service: %s)", down, service, err.text);
    free(path);
    return fd;
}

/* pq_superuser - root (or mail_owner) only, as postsuper and postcat are */
static bool
pq_superuser(const struct pq *pq)
{
    const struct passwd *pw = getpwnam(pq->params.mail_owner);

    if (getuid() == 0 || (pw != NULL && pw->pw_uid == getuid()))
        return true;
    pq_fatal("use of this command is reserved for the superuser");
    return false;
}

/* pq_outcome - report a refusal or failure; the exit status */
static int
pq_outcome(enum queue_ctl_outcome out, const char *why, int refused_status)
{
    if (out == QUEUE_CTL_OK)
        return 0;
    pq_fatal("%s", why);
    return out == QUEUE_CTL_REFUSED ? refused_status : QUEUE_EX_UNAVAILABLE;
}

/* pq_list - the queue, as text or JSON lines */
static int
pq_list(struct pq *pq, bool json)
{
    struct queue_print p = {.out = stdout, .json = json};
    char why[QUEUE_CTL_WHY_SIZE];
    enum queue_ctl_outcome out;
    int fd;

    if (!pq_load(pq))
        return QUEUE_EX_UNAVAILABLE;
    if ((fd = pq_connect(pq, "public", "showq", "Queue report unavailable - mail system is down")) <
        0)
        return QUEUE_EX_UNAVAILABLE;
    out = queue_ctl_list(fd, queue_print_entry, &p, why, sizeof(why));
    close(fd);
    if (out == QUEUE_CTL_OK)
        queue_print_end(&p);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        pq_fatal("output write error: %s", strerror(errno));
        return QUEUE_EX_SOFTWARE;
    }
    return pq_outcome(out, why, QUEUE_EX_NOPERM);
}

/* pq_flush - deferred mail tried now: all, one site (-s) or one ID (-i) */
static int
pq_flush(struct pq *pq, const char *site, const char *id)
{
    char why[QUEUE_CTL_WHY_SIZE];
    enum queue_ctl_outcome out;
    long count = 0;
    int fd;

    if (*site && (strlen(site) > 255 || strpbrk(site, " \t\r\n@") != NULL)) {
        pq_fatal("Cannot flush mail queue - invalid destination: \"%.100s%s\"", site,
                 strlen(site) > 100 ? "..." : "");
        return QUEUE_EX_USAGE;
    }
    if (*id && !queue_id_valid(id, strlen(id))) {
        pq_fatal("Cannot flush queue ID - invalid name: \"%.100s%s\"", id,
                 strlen(id) > 100 ? "..." : "");
        return QUEUE_EX_USAGE;
    }
    if (!pq_load(pq))
        return QUEUE_EX_UNAVAILABLE;
    if ((fd = pq_connect(pq, "public", "showq", "Cannot flush mail queue - mail system is down")) <
        0)
        return QUEUE_EX_UNAVAILABLE;
    out = queue_ctl_flush(fd, site, id, &count, why, sizeof(why));
    close(fd);
    return pq_outcome(out, why, QUEUE_EX_NOPERM);
}

/* The administrator's actions, with postsuper's summary line. */
static const struct pq_action {
    const char *verb;
    const char *done; /* postsuper's words for what was done */
} pq_actions[] = {
    {"delete", "Deleted"},
    {"hold", "Placed on hold"},
    {"release", "Released from hold"},
    {"requeue", "Requeued"},
};

static const struct pq_action *
pq_action_find(const char *verb)
{
    for (size_t i = 0; i < nitems(pq_actions); i++)
        if (strcmp(pq_actions[i].verb, verb) == 0)
            return &pq_actions[i];
    return NULL;
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

/* pq_ids - the IDs an operand names: itself, or with "-" one per line of stdin */
static void
pq_ids(const char *operand, struct strvec *ids)
{
    char line[256];

    if (strcmp(operand, "-") != 0) {
        strvec_add(ids, operand);
        return;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *id = str_trim(line);

        if (*id)
            strvec_add(ids, id);
    }
}

/* pq_admin_one - one request to qmgr; false if qmgr could not be asked at all */
static bool
pq_admin_one(int fd, const struct pq_action *a, const char *id, const char *queues, long *total,
             int *status)
{
    char why[QUEUE_CTL_WHY_SIZE];
    long count = 0;
    enum queue_ctl_outcome out;

    if (strcmp(id, "ALL") != 0 && !queue_id_valid(id, strlen(id))) {
        log_warn("invalid mail queue id: %.100s", id);
        *status = 1;
        return true;
    }
    out = queue_ctl_admin(fd, a->verb, id, queues, &count, why, sizeof(why));
    if (out == QUEUE_CTL_BROKEN) {
        pq_fatal("%s", why);
        *status = 1;
        return false;
    }
    if (out == QUEUE_CTL_REFUSED) {
        log_warn("%s", why);
        *status = 1;
    }
    *total += count;
    return true;
}

/*
 * pq_admin - action on each ID (or ALL) in the named queues (none: the action's default
 * queues), through qmgr; postsuper's summary line when something was done
 */
static int
pq_admin(struct pq *pq, const struct pq_action *a, const struct strvec *operands,
         const char *queues)
{
    struct strvec ids;
    long total = 0;
    int status = 0, fd;

    if (!pq_load(pq) || !pq_superuser(pq))
        return 1;
    if ((fd = pq_connect(pq, "private", "qmgr", "Mail system is down")) < 0)
        return QUEUE_EX_UNAVAILABLE;
    strvec_init(&ids);
    for (size_t i = 0; i < operands->n; i++)
        pq_ids(operands->v[i], &ids);
    for (size_t i = 0; i < ids.n; i++)
        if (!pq_admin_one(fd, a, ids.v[i], queues, &total, &status))
            break;
    close(fd);
    strvec_free(&ids);
    if (total > 0)
        log_info("%s: %ld message%s", a->done, total, total == 1 ? "" : "s");
    return status;
}

/* pq_show - one message as postcat -q prints it; the descriptor comes from qmgr */
static int
pq_show(struct pq *pq, const char *id, unsigned what)
{
    char why[QUEUE_CTL_WHY_SIZE], queue[QUEUE_CTL_NAME_SIZE], *name;
    enum queue_ctl_outcome out;
    int fd, file, status;

    if (!queue_id_valid(id, strlen(id))) {
        pq_fatal("invalid mail queue id: %.100s", id);
        return 1;
    }
    if (!pq_load(pq) || !pq_superuser(pq))
        return 1;
    if ((fd = pq_connect(pq, "private", "qmgr", "Mail system is down")) < 0)
        return QUEUE_EX_UNAVAILABLE;
    out = queue_ctl_show(fd, id, &file, queue, why, sizeof(why));
    close(fd);
    if (out != QUEUE_CTL_OK) {
        pq_fatal("open queue file %s: %s", id, why);
        return 1;
    }
    name = xasprintf("%s/%s", queue, id);
    status = queue_show_file(stdout, file, name, what ? what : ~0u);
    close(file);
    free(name);
    if (fflush(stdout) != 0 && status == 0) {
        pq_fatal("output write error: %s", strerror(errno));
        status = 1;
    }
    return status;
}

/* pq_show_path - postcat's plain form: a queue file named by its path (root's business) */
static int
pq_show_path(const char *path, unsigned what)
{
    FILE *f = fopen(path, "r");
    int status;

    if (f == NULL) {
        pq_fatal("open %s: %s", path, strerror(errno));
        return 1;
    }
    status = queue_show_file(stdout, fileno(f), path, what ? what : ~0u);
    fclose(f);
    return status;
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
pq_opt_config(struct pq *pq, int ch)
{
    if (ch != 'c')
        return false;
    free(pq->config_dir);
    pq->config_dir = xstrdup(optarg);
    return true;
}

/* pq_queue_list - postern queue list [-j] */
static int
pq_queue_list(struct pq *pq, int argc, char **argv)
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
    return pq_list(pq, json);
}

/* pq_queue_flush - postern queue flush [-s site | -i id] */
static int
pq_queue_flush(struct pq *pq, int argc, char **argv)
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
    return pq_flush(pq, site, id);
}

/* pq_queue_admin - postern queue delete|hold|release|requeue id|ALL|- [queue ...] */
static int
pq_queue_admin(struct pq *pq, const struct pq_action *a, int argc, char **argv)
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
    status = pq_admin(pq, a, &ids, names);
    free(names);
    strvec_free(&ids);
    strvec_free(&queues);
    return status;
}

/* pq_queue_show - postern queue show [-e] [-h] [-b] id */
static int
pq_queue_show(struct pq *pq, int argc, char **argv)
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
    return pq_show(pq, argv[optind], what);
}

/* postern_queue_main - `postern queue VERB ...` */
int
postern_queue_main(int argc, char **argv)
{
    struct pq pq = {0};
    const struct pq_action *a;
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
    else if ((a = pq_action_find(argv[1])) != NULL)
        status = pq_queue_admin(&pq, a, argc, argv);
    else
        status = pq_usage(PQ_USAGE_QUEUE);
    pq_free(&pq);
    return status;
}

/* pq_mailq - mailq: the queue in postqueue -p's layout (-C dir: sendmail's -c) */
static int
pq_mailq(struct pq *pq, int argc, char **argv)
{
    int ch;

    while ((ch = getopt(argc, argv, "C:c:v")) != -1)
        if (ch == 'C' || ch == 'c') {
            free(pq->config_dir);
            pq->config_dir = xstrdup(optarg);
        } else if (ch != 'v')
            return pq_usage("mailq [-C config_dir]");
    return pq_list(pq, false);
}

#define PQ_USAGE_POSTQUEUE "postqueue [-c dir] -f | -i queue_id | -j | -p | -s site"

/* pq_postqueue - postqueue: exactly one of -f, -i, -j, -p, -s */
static int
pq_postqueue(struct pq *pq, int argc, char **argv)
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
        return pq_list(pq, mode == 'j');
    return pq_flush(pq, mode == 's' ? arg : "", mode == 'i' ? arg : "");
}

#define PQ_USAGE_POSTSUPER "postsuper [-c dir] [-d id] [-h id] [-H id] [-r id] [queue ...]"

/* pq_postsuper - postsuper: -d, -h, -H, -r (each repeatable; ID, ALL or -), then queues */
static int
pq_postsuper(struct pq *pq, int argc, char **argv)
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
        status = pq_admin(pq, pq_action_find(verb), &ids, names);
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
pq_postcat(struct pq *pq, int argc, char **argv)
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
        status = by_id ? pq_show(pq, argv[i], what) : pq_show_path(argv[i], what);
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
        int (*run)(struct pq *pq, int argc, char **argv);
    } names[] = {{"mailq", pq_mailq},
                 {"postqueue", pq_postqueue},
                 {"postsuper", pq_postsuper},
                 {"postcat", pq_postcat}};
    struct pq pq = {0};

    for (size_t i = 0; i < nitems(names); i++) {
        if (strcmp(name, names[i].name) != 0)
            continue;
        log_init(names[i].name, NULL);
        pq_tag = names[i].name;
        optind = 1;
        *status = names[i].run(&pq, argc, argv);
        pq_free(&pq);
        return true;
    }
    return false;
}
