/* showq.h - the queue lister's parts: the session (showq.c), the scan (showq_scan.c) */
#ifndef SHOWQ_SHOWQ_H
#define SHOWQ_SHOWQ_H

#include <stdbool.h>
#include <time.h>

#include "core/err.h"

/* showq_scan - send a showq_msg (with its recipients) per message in the queue, then
 * showq_end; false with err when the client could not be written to or the deadline
 * passed */
bool showq_scan(int fd, time_t deadline, struct err *err);

#endif
