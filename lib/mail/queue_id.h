/* queue_id.h - queue IDs: unique names of queue files, and their validator */
#ifndef MAIL_QUEUE_ID_H
#define MAIL_QUEUE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

/*
 * An ID is QUEUE_ID_LEN characters of [0-9A-Za-z]: seconds (7), microseconds (4), process
 * id (4) and a per-process counter (2), each a fixed-width base-62 number, so IDs sort by
 * arrival time. Two IDs made by one process in one microsecond differ in the counter; the
 * creator still opens with O_EXCL and makes another on a collision.
 */
#define QUEUE_ID_LEN  17
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

void queue_id_make(char out[QUEUE_ID_SIZE], const struct timeval *tv, pid_t pid, unsigned counter);
void queue_id_new(char out[QUEUE_ID_SIZE]);
bool queue_id_valid(const char *name, size_t len);
bool queue_id_time(const char *id, struct timeval *tv);

#endif
