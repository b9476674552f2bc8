/*
 * smtpd_nss.c - passwd lookups (local_recipient_maps = unix:passwd.byname ...) off the event
 * loop. With LDAP or sssd behind NSS one getpwnam can take seconds; made on the loop, it
 * would stall every session of the process.
 *
 * A RCPT for an address of a local domain first looks its local part (and that part without
 * its extension) up on a helper thread (lib/core/offload.c); the session takes no input
 * meanwhile. With the answers primed (map_unix_prime), the command is handled again from
 * the start and the table lookups find them instead of asking NSS; then they are forgotten.
 *
 * Trusts: NSS's answers, as map_unix.c does; the address is only a lookup key.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/map_addr.h"
#include "smtpd/smtpd.h"

/* What a helper looks up and finds; freed after the answer reached the loop. */
struct smtpd_nss_job {
    struct smtpd_session *sess;
    char *name[2]; /* the keys, lower case as the table lookups fold them; [1] may be NULL */
    enum map_status status[2];
    char *value[2];
};

/* smtpd_nss_fetch - on a helper thread: touch nothing but the job */
static int
smtpd_nss_fetch(void *data)
{
    struct smtpd_nss_job *job = data;
    int rc;

    for (int i = 0; i < 2; i++)
        if (job->name[i] != NULL)
            job->status[i] = map_unix_fetch(job->name[i], &job->value[i], &rc);
    return 0;
}

static void
smtpd_nss_release(void *data)
{
    struct smtpd_nss_job *job = data;

    for (int i = 0; i < 2; i++) {
        free(job->name[i]);
        free(job->value[i]);
    }
    free(job);
}

/* smtpd_nss_done - on the loop: prime the answers, handle the command again, forget them */
static void
smtpd_nss_done(int unused, void *arg)
{
    struct smtpd_nss_job *job = arg;
    struct smtpd_session *sess = job->sess;
    char *line = sess->nss_line;

    sess->nss_job = NULL;
    sess->nss_line = NULL;
    for (int i = 0; i < 2; i++)
        if (job->name[i] != NULL)
            map_unix_prime(job->name[i], job->status[i], job->value[i]);
    sess->nss_primed = true;
    smtpd_cmd_line(sess, line, strlen(line));
    sess->nss_primed = false;
    map_unix_forget();
    free(line);
    smtpd_session_resume(sess);
}

/*
 * smtpd_nss_start - for a RCPT of rcpt in a local domain, whose line is line: look its
 * passwd keys up off the loop; true if that started (the command comes back later)
 */
bool
smtpd_nss_start(struct smtpd_session *sess, const char *rcpt, const char *line)
{
    struct smtpd *smtpd = sess->smtpd;
    struct smtpd_nss_job *job;

    if (strchr(rcpt, '@') == NULL)
        return false;
    job = xcalloc(1, sizeof(*job));
    job->sess = sess;
    map_addr_local_keys(rcpt, smtpd->p->recipient_delimiter, &job->name[0], &job->name[1]);
    for (int i = 0; i < 2; i++)
        if (job->name[i] != NULL)
            str_lower(job->name[i]);
    sess->nss_line = xstrdup(line);
    sess->nss_job =
        offload_call(smtpd->offload, smtpd_nss_fetch, job, smtpd_nss_release, smtpd_nss_done, job);
    return true;
}

/* smtpd_nss_cancel - the session ends while its lookup runs */
void
smtpd_nss_cancel(struct smtpd_session *sess)
{
    if (sess->nss_job != NULL)
        offload_cancel(sess->nss_job);
    sess->nss_job = NULL;
    free(sess->nss_line);
    sess->nss_line = NULL;
}

/* smtpd_nss_wanted - does local_recipient_maps ask the name service? */
bool
smtpd_nss_wanted(const struct params *p)
{
    for (size_t i = 0; i < p->local_recipient_maps.n; i++)
        if (strstr(p->local_recipient_maps.v[i], "unix:passwd.byname") != NULL)
            return true;
    return false;
}
