/* maildir.h - delivery into a Maildir */
#ifndef MAIL_MAILDIR_H
#define MAIL_MAILDIR_H

#include "mail/deliver.h"

int deliver_maildir(const struct mailbox_request *req, const char *dir, struct deliver_result *res);

#endif
