/* postdrop.h - the set-gid helper that puts a message into maildrop/ */
#ifndef POSTDROP_POSTDROP_H
#define POSTDROP_POSTDROP_H

#include "mail/params.h"

/* postdrop_file.c: the maildrop stream on stdin into a new file; a sysexits.h status */
int postdrop_file(const struct params *p);

#endif
