/* sendmail.h - the sendmail command: options, the message, the hand-over to postdrop */
#ifndef SENDMAIL_SENDMAIL_H
#define SENDMAIL_SENDMAIL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/str.h"
#include "mail/maildrop.h"
#include "mail/params.h"

enum sendmail_mode {
    SENDMAIL_DELIVER,    /* -bm, the default */
    SENDMAIL_MAILQ,      /* -bp, or called mailq */
    SENDMAIL_NEWALIASES, /* -bi, -I, or called newaliases */
    SENDMAIL_SMTP,       /* -bs */
    SENDMAIL_FLUSH,      /* -q */
};

struct sendmail_opts {
    enum sendmail_mode mode;
    bool extract;       /* -t */
    bool ignore_dots;   /* -i, -oi */
    int verbose;        /* -v */
    char *sender;       /* -f, -r; NULL: the user's login name */
    char *fullname;     /* -F; NULL: $NAME or the password file's */
    char *notify;       /* -N, as NOTIFY ("SUCCESS,FAILURE", "NEVER"); NULL if none */
    char *ret;          /* -R: "FULL" or "HDRS"; NULL if none */
    char *body;         /* -B: "7BIT" or "8BITMIME"; NULL if none */
    char *envid;        /* -V, as xtext; NULL if none */
    char *config;       /* -C: the configuration directory; NULL: MAIL_CONFIG or the default */
    char *flush_site;   /* -qRsite, -qSsite: flush only that site; NULL: everything */
    struct strvec rcpt; /* the arguments after the options, as given */
};

/* sendmail_opts.c: argv into opts; false with a message on stderr (EX_USAGE) */
bool sendmail_opts_parse(int argc, char **argv, struct sendmail_opts *opts);
void sendmail_opts_free(struct sendmail_opts *opts);

/* sendmail_drop.c: a running postdrop and the maildrop stream into its stdin */
struct sendmail_drop {
    pid_t pid;
    int fd;
    struct maildrop_writer w;
};

bool sendmail_drop_open(struct sendmail_drop *d, const struct params *p, const char *config,
                        const struct maildrop_envelope *env);
void sendmail_drop_write(struct sendmail_drop *d, const void *data, size_t len);
int sendmail_drop_close(struct sendmail_drop *d);

/* sendmail_msg.c: stdin into postdrop (-bm); a sysexits.h status */
int sendmail_deliver(const struct sendmail_opts *opts, const struct params *p, const char *config);

/* sendmail_smtp.c: SMTP on stdin and stdout (-bs); a sysexits.h status */
int sendmail_smtp(const struct sendmail_opts *opts, const struct params *p, const char *config);

/* sendmail.c: the envelope's sender and full name from the options and the password file */
bool sendmail_sender(const struct sendmail_opts *opts, struct maildrop_envelope *env);

#endif
