/*
 * queue_file.c - the queue file format, and what its writer (queue_write.c), reader
 * (queue_read.c) and in-place status updates (queue_slot.c) share: byte order, the status
 * slot's encoding, errors.
 *
 * Trusts: nothing in a file it reads. A file may be cut short by a crash, damaged on disk
 * or written by a confused receiver; every length is checked against the file size and a
 * per-type maximum before anything is read, and a bad file is refused with its offset.
 *
 * Format (version 1). A file is a sequence of records; every record is
 *
 *     type (1 byte) | length (4 bytes, big-endian) | length bytes of value
 *
 * in this order:
 *
 *     'V'  version: 4 bytes, big-endian; always the first record
 *     envelope, each at most once, in any order; T and S are required:
 *       'T'  arrival: 8 bytes seconds, 4 bytes microseconds (big-endian)
 *       'S'  sender address (empty: the null sender)
 *       'r'  DSN RET ("FULL" or "HDRS")      'i'  DSN ENVID (xtext)
 *       'b'  body type as the client declared it ("8BITMIME" or "7BIT")
 *       'c'  client host name    'a'  client address    'h'  HELO name    'p'  protocol
 *       'O'  origin, in a notice only: kind (1: 'F' failure, 'S' success, '2' double bounce,
 *              'W' delay warning, 'C' the postmaster's copy, which marks nothing)
 *              | the reported message's queue ID (17) | its recipients' indexes (4 each,
 *              big-endian, at least one, at most QUEUE_NOTICE_RCPT_MAX)
 *     per recipient, at least one:
 *       'R'  recipient address
 *       'n'  DSN NOTIFY (optional)           'o'  DSN ORCPT (optional)
 *       'Q'  status slot, QUEUE_SLOT_LEN bytes, closes the recipient:
 *              state (1: 'P' pending, 'D' delivered, 'd' deferred, 'F' failed,
 *                'B' failed, 'S' delivered and 'R' relayed with a notice to send:
 *                doc/bounce.md)
 *              next try (8, big-endian seconds) | notice ID (17, all NUL if none)
 *              | reason length (2) | reason (200, NUL padded)
 *              check (4: FNV-1a of the bytes before it)
 *     'D'  content, up to QUEUE_FILE_CHUNK_MAX bytes per record, any number of records
 *     'E'  end marker: content size (8) | recipient count (4); must be the last bytes
 *
 * Text values hold no NUL byte. The end marker proves the writer finished: it is written
 * last, its counts must match what precedes it, and nothing may follow it.
 *
 * A status slot is rewritten in place with one pwrite() of fixed size followed by
 * fdatasync(), so the file never changes length or layout after it is committed. A write
 * cut short by a power cut leaves a slot whose check fails; the reader then treats that
 * recipient as pending (at worst one delivery repeats, which the durability rule allows
 * for the delivery in flight) and says so in status_torn.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/queue_format.h"

/* queue_check - FNV-1a over a status slot, so that a torn write is recognised */
static uint32_t
queue_check(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

bool
queue_state_known(int c)
{
    return c == QUEUE_RCPT_PENDING || c == QUEUE_RCPT_DELIVERED || c == QUEUE_RCPT_DEFERRED ||
           c == QUEUE_RCPT_FAILED || c == QUEUE_RCPT_FAILED_NOTICE ||
           c == QUEUE_RCPT_DELIVERED_NOTICE || c == QUEUE_RCPT_RELAYED_NOTICE;
}

/* queue_slot_encode - a status as the bytes of its slot */
void
queue_slot_encode(unsigned char slot[QUEUE_SLOT_LEN], const struct queue_rcpt_status *st)
{
    size_t len = strnlen(st->reason, QUEUE_FILE_REASON_MAX);

    memset(slot, 0, QUEUE_SLOT_LEN);
    slot[0] = (unsigned char)st->state;
    be_put(slot + 1, (uint64_t)st->next_try, 8);
    memcpy(slot + QUEUE_SLOT_NOTICE, st->notice, strnlen(st->notice, QUEUE_ID_LEN));
    be_put(slot + QUEUE_SLOT_REASON, len, 2);
    memcpy(slot + QUEUE_SLOT_REASON + 2, st->reason, len);
    be_put(slot + QUEUE_SLOT_CHECK, queue_check(slot, QUEUE_SLOT_CHECK), 4);
}

/* queue_slot_decode - false if the slot is malformed; *torn if only its check fails */
bool
queue_slot_decode(const unsigned char *slot, struct queue_rcpt_status *st, bool *torn)
{
    size_t len = (size_t)be_get(slot + QUEUE_SLOT_REASON, 2);
    const unsigned char *notice = slot + QUEUE_SLOT_NOTICE, *reason = slot + QUEUE_SLOT_REASON + 2;

    memset(st, 0, sizeof(*st));
    st->state = QUEUE_RCPT_PENDING;
    *torn = be_get(slot + QUEUE_SLOT_CHECK, 4) != queue_check(slot, QUEUE_SLOT_CHECK);
    if (*torn)
        return true;
    if (!queue_state_known(slot[0]) || len > QUEUE_FILE_REASON_MAX ||
        memchr(reason, 0, len) != NULL ||
        (notice[0] != 0 && !queue_id_valid((const char *)notice, QUEUE_ID_LEN)))
        return false;
    for (size_t i = QUEUE_SLOT_REASON + 2 + len; i < QUEUE_SLOT_CHECK; i++)
        if (slot[i] != 0)
            return false;
    st->state = (enum queue_rcpt_state)slot[0];
    st->next_try = (int64_t)be_get(slot + 1, 8);
    if (notice[0] != 0)
        memcpy(st->notice, notice, QUEUE_ID_LEN);
    memcpy(st->reason, reason, len);
    return true;
}

void
queue_envelope_free(struct queue_envelope *env)
{
    char *text[] = {env->sender,      env->ret,         env->envid, env->body,
                    env->client_name, env->client_addr, env->helo,  env->protocol};

    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        free(text[i]);
    for (size_t i = 0; i < env->nrcpt; i++) {
        free(env->rcpt[i].addr);
        free(env->rcpt[i].notify);
        free(env->rcpt[i].orcpt);
    }
    free(env->rcpt);
    free(env->origin.rcpt);
    memset(env, 0, sizeof(*env));
}
