/* showq.h - the queue lister's parts: the session (showq.c), the scan (showq_scan.c) */
#ifndef SHOWQ_SHOWQ_H
#define SHOWQ_SHOWQ_H

#include <stdbool.h>

#include "core/err.h"

/* showq_scan - send a showq_msg (with its recipients) per message in the queue, then
 * showq_end; false with err when the client could not be written to */
bool showq_scan(int fd, struct err *err);

#endif
