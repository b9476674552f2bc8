/* queue_dirs.h - the directories of the queue, with their owners and modes */
#ifndef MAIL_QUEUE_DIRS_H
#define MAIL_QUEUE_DIRS_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/err.h"
#include "core/str.h"

/* drop_group: setgid_group's gid, the group of maildrop/ and of public/ sockets */
void queue_dirs_make(const char *queue_dir, uid_t owner, gid_t group, gid_t drop_group,
                     struct strvec *problems);

bool queue_drop_group(const char *group, gid_t *gid, struct err *err);

#endif
