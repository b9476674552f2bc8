/* mbox.h - delivery into an mbox file, with fcntl and dotlock locking */
#ifndef MAIL_MBOX_H
#define MAIL_MBOX_H

#include <stdbool.h>

#include "mail/deliver.h"

struct mbox_opts {
    int lock_timeout;   /* seconds to wait for the fcntl lock and dotlock */
    int stale_lock_age; /* seconds after which a dotlock is stale */
    bool dotlock;       /* also take file.lock */
};

int deliver_mbox(const struct mailbox_request *req, const char *path, const struct mbox_opts *opts,
                 struct deliver_result *res);

#endif
