/*
 * master_conf.c - turn master.cf entries into services the master can run.
 *
 * Runs as root in the master. Trusts master.cf (root's file) only after mastercf.c parsed
 * it. Each service gets the command line its children run with:
 *   PROGRAM -c CONFIG_DIR -n SERVICE -t TYPE [-u] [-r] [-o maillog_file=/dev/stderr] ARGS...
 * where -u means "drop to mail_owner" (unpriv column y, the default) and -r "chroot to the
 * queue directory" (chroot column y). The signature is the text of all that, so a reload
 * restarts a service exactly when something its children would see has changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mastercf.h"
#include "core/mem.h"
#include "master/master.h"

static enum master_svc_type
master_type(enum mastercf_type type)
{
    switch (type) {
    case MASTERCF_INET:
        return MASTER_INET;
    case MASTERCF_UNIX:
        return MASTER_UNIX;
    case MASTERCF_UNIX_DGRAM:
        return MASTER_UNIX_DGRAM;
    case MASTERCF_FIFO:
        return MASTER_FIFO;
    default:
        return MASTER_PASS;
    }
}

/* master_argv - the child's command line, from the entry and the running mode */
static void
master_argv(struct master *m, struct master_service *svc, const struct mastercf_entry *e)
{
    strvec_init(&svc->argv);
    strvec_add(&svc->argv, svc->path);
    strvec_add(&svc->argv, "-c");
    strvec_add(&svc->argv, m->config_dir);
    strvec_add(&svc->argv, "-n");
    strvec_add(&svc->argv, e->service);
    strvec_add(&svc->argv, "-t");
    strvec_add(&svc->argv, mastercf_type_name(e->type));
    if (svc->unpriv)
        strvec_add(&svc->argv, "-u");
    if (svc->chroot)
        strvec_add(&svc->argv, "-r");
    if (m->foreground && *m->params.maillog_file == 0) {
        strvec_add(&svc->argv, "-o");
        strvec_add(&svc->argv, "maillog_file=/dev/stderr");
    }
    for (size_t i = 0; i < e->args.n; i++)
        strvec_add(&svc->argv, e->args.v[i]);
}

static char *
master_signature(const struct master_service *svc)
{
    struct buf sig;

    buf_init(&sig, BUF_UNLIMITED);
    buf_printf(&sig, "%d %d%s %d %d %s %s|", svc->private_sock, svc->wakeup,
               svc->wakeup_if_running ? "?" : "", svc->maxproc, svc->type,
               svc->listen_host ? svc->listen_host : "*", svc->listen_port ? svc->listen_port : "");
    for (size_t i = 0; i < svc->argv.n; i++)
        buf_printf(&sig, "%s|", svc->argv.v[i]);
    return buf_steal(&sig);
}

/*
 * master_service_new - a service from its master.cf entry: key, type, limits, program and
 * command line
 */
static struct master_service *
master_service_new(struct master *m, const struct mastercf_entry *e)
{
    struct master_service *svc = xcalloc(1, sizeof(*svc));

    svc->key = xasprintf("%s/%s", e->service, mastercf_type_name(e->type));
    svc->name = xstrdup(e->service);
    svc->type = master_type(e->type);
    svc->private_sock = e->type != MASTERCF_INET && e->private_sock != 0;
    svc->unpriv = e->unpriv != 0;
    svc->chroot = e->chroot == 1;
    svc->wakeup = e->wakeup == MASTERCF_DEFAULT ? 0 : e->wakeup;
    svc->wakeup_if_running = e->wakeup_if_running;
    svc->maxproc =
        e->maxproc == MASTERCF_DEFAULT ? (int)m->params.default_process_limit : e->maxproc;
    svc->path = e->command[0] == '/' ? xstrdup(e->command)
                                     : xasprintf("%s/%s", m->params.daemon_directory, e->command);
    svc->listen_host = e->host ? xstrdup(e->host) : NULL;
    svc->listen_port = e->port ? xstrdup(e->port) : NULL;
    svc->file = xstrdup(e->file);
    svc->line = e->line;
    svc->status_fd[0] = svc->status_fd[1] = -1;
    strvec_init(&svc->sock_paths);
    master_argv(m, svc, e);
    svc->signature = master_signature(svc);
    return svc;
}

/*
 * master_conf_load - read master.cf into a fresh list of services (not started). A program
 * that cannot be executed is an error here, so a typo never becomes a restart loop.
 */
bool
master_conf_load(struct master *m, struct master_service **services, struct err *err)
{
    char *path = xasprintf("%s/master.cf", m->config_dir);
    struct master_service *list = NULL;
    struct mastercf mcf;
    bool good;

    mastercf_init(&mcf);
    good = mastercf_read_file(&mcf, path, err);
    for (size_t i = 0; good && i < mcf.n; i++) {
        struct master_service *svc = master_service_new(m, &mcf.entries[i]);

        if (access(svc->path, X_OK) < 0) {
            err_set(err, "%s, line %d: %s: %s", svc->file, svc->line, svc->path, strerror(errno));
            master_service_free(svc);
            good = false;
            break;
        }
        svc->next = list;
        list = svc;
    }
    mastercf_free(&mcf);
    free(path);
    if (!good) {
        while (list) {
            struct master_service *next = list->next;
            master_service_free(list);
            list = next;
        }
        return false;
    }
    *services = list;
    return true;
}

/* master_service_free - everything a service owns; its listeners must be closed already */
void
master_service_free(struct master_service *svc)
{
    if (svc->status_watch)
        loop_fd_free(svc->status_watch);
    if (svc->throttle_timer)
        loop_timer_free(svc->throttle_timer);
    if (svc->wakeup_timer)
        loop_timer_free(svc->wakeup_timer);
    for (int i = 0; i < 2; i++)
        if (svc->status_fd[i] >= 0)
            close(svc->status_fd[i]);
    master_listen_close(svc);
    free(svc->accept_watch);
    strvec_free(&svc->argv);
    free(svc->key);
    free(svc->signature);
    free(svc->name);
    free(svc->path);
    free(svc->listen_host);
    free(svc->listen_port);
    free(svc->file);
    free(svc);
}
