/* queue_dirs.h - the directories of the queue, with their owners and modes */
#ifndef MAIL_QUEUE_DIRS_H
#define MAIL_QUEUE_DIRS_H

#include <sys/types.h>

#include "core/str.h"

void queue_dirs_make(const char *queue_dir, uid_t owner, gid_t group, struct strvec *problems);

#endif
