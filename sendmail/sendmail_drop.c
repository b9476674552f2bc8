/*
 * sendmail_drop.c - start postdrop and write the maildrop stream into its stdin; its exit
 * status is the message's fate.
 *
 * Runs as the invoking user. postdrop is $command_directory/postdrop (set-gid
 * setgid_group); it gets MAIL_CONFIG when a configuration other than the default was
 * named, and decides itself whether to honour it. A write that fails because postdrop
 * gave up (EPIPE) is not reported here: postdrop said why on stderr, and its status wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/mem.h"
#include "sendmail/sendmail.h"

/* sendmail_drop_open - postdrop running, the envelope written; false with a message */
bool
sendmail_drop_open(struct sendmail_drop *d, const struct params *p, const char *config,
                   const struct maildrop_envelope *env)
{
    char *path = xasprintf("%s/postdrop", p->command_directory);
    int fds[2];

    memset(d, 0, sizeof(*d));
    if (pipe2(fds, O_CLOEXEC) < 0 || (d->pid = fork()) < 0) {
        fprintf(stderr, "sendmail: cannot start postdrop: %s\n", strerror(errno));
        free(path);
        return false;
    }
    if (d->pid == 0) {
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(EX_OSERR);
        if (config != NULL)
            setenv("MAIL_CONFIG", config, 1);
        execl(path, "postdrop", (char *)NULL);
        fprintf(stderr, "sendmail: cannot run %s: %s\n", path, strerror(errno));
        _exit(EX_UNAVAILABLE);
    }
    free(path);
    close(fds[0]);
    d->fd = fds[1];
    maildrop_writer_init(&d->w, d->fd, env);
    return true;
}

void
sendmail_drop_write(struct sendmail_drop *d, const void *data, size_t len)
{
    maildrop_writer_content(&d->w, data, len);
}

/* sendmail_drop_close - the end marker, then postdrop's exit status */
int
sendmail_drop_close(struct sendmail_drop *d)
{
    struct err err;
    bool written = maildrop_writer_end(&d->w, &err);
    int wstatus;

    maildrop_writer_free(&d->w);
    close(d->fd);
    while (waitpid(d->pid, &wstatus, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "sendmail: waitpid: %s\n", strerror(errno));
            return EX_OSERR;
        }
    if (WIFSIGNALED(wstatus)) {
        fprintf(stderr, "sendmail: postdrop was killed by signal %d\n", WTERMSIG(wstatus));
        return EX_TEMPFAIL;
    }
    if (WEXITSTATUS(wstatus) != EX_OK)
        return WEXITSTATUS(wstatus);
    if (!written) {
        fprintf(stderr, "sendmail: %s\n", err.text);
        return d->w.rec.errnum ? EX_IOERR : EX_DATAERR;
    }
    return EX_OK;
}
