/* queue_format.h - the queue file's layout and the helpers its writer, reader and slot
 * updates share; private to lib/mail/queue_*.c (the format is described in queue_file.c) */
#ifndef MAIL_QUEUE_FORMAT_H
#define MAIL_QUEUE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/queue_file.h"

#define QUEUE_REC_HEADER  RECORD_HEADER
#define QUEUE_SLOT_NOTICE 9                                  /* where the notice ID is in a slot */
#define QUEUE_SLOT_REASON (QUEUE_SLOT_NOTICE + QUEUE_ID_LEN) /* its length, then the reason */
#define QUEUE_SLOT_CHECK  (QUEUE_SLOT_REASON + 2 + QUEUE_FILE_REASON_MAX)
#define QUEUE_SLOT_LEN    (QUEUE_SLOT_CHECK + 4)
#define QUEUE_TIME_LEN    12
#define QUEUE_END_LEN     12
#define QUEUE_VERSION_LEN 4
#define QUEUE_ORIGIN_MIN  (1 + QUEUE_ID_LEN + 4)
#define QUEUE_ORIGIN_MAX  (1 + QUEUE_ID_LEN + 4 * QUEUE_NOTICE_RCPT_MAX)
#define QUEUE_VALUE_MAX   QUEUE_ORIGIN_MAX /* the longest record that is not content */
#define QUEUE_OUT_LIMIT   (2 * (QUEUE_FILE_CHUNK_MAX + QUEUE_REC_HEADER))

bool queue_state_known(int c);
void queue_slot_encode(unsigned char slot[QUEUE_SLOT_LEN], const struct queue_rcpt_status *st);
bool queue_slot_decode(const unsigned char *slot, struct queue_rcpt_status *st, bool *torn);

#endif
