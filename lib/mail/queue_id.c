/*
 * queue_id.c - make queue IDs and check names before they are used as file names.
 *
 * Trusts: nothing in a name it validates (it may come from readdir() or from a client);
 * a valid name has exactly QUEUE_ID_LEN characters of [0-9A-Za-z], so it can hold no '/',
 * no '.', and cannot be empty or overlong.
 */
#include <string.h>
#include <unistd.h>

#include "mail/queue_id.h"

static const char queue_id_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define QUEUE_ID_BASE 62

/* Field widths, in the order they appear. */
#define QUEUE_ID_SEC_LEN   7 /* 62^7 seconds: far beyond any clock */
#define QUEUE_ID_USEC_LEN  4 /* 62^4 > 10^6 */
#define QUEUE_ID_PID_LEN   4 /* 62^4 > 2^22, Linux's pid_max */
#define QUEUE_ID_COUNT_LEN 2

/* queue_id_put - value as width base-62 digits, most significant first (wraps silently) */
static char *
queue_id_put(char *out, unsigned long long value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = queue_id_alphabet[value % QUEUE_ID_BASE];
        value /= QUEUE_ID_BASE;
    }
    return out + width;
}

/* queue_id_digit - the value of one ID character, or -1 */
static int
queue_id_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

/* queue_id_make - the ID for this time, process and counter */
void
queue_id_make(char out[QUEUE_ID_SIZE], const struct timeval *tv, pid_t pid, unsigned counter)
{
    char *p = out;

    p = queue_id_put(p, (unsigned long long)tv->tv_sec, QUEUE_ID_SEC_LEN);
    p = queue_id_put(p, (unsigned long long)tv->tv_usec, QUEUE_ID_USEC_LEN);
    p = queue_id_put(p, (unsigned long long)pid, QUEUE_ID_PID_LEN);
    p = queue_id_put(p, counter, QUEUE_ID_COUNT_LEN);
    *p = 0;
}

/* queue_id_new - a fresh ID from the clock, this process and a counter */
void
queue_id_new(char out[QUEUE_ID_SIZE])
{
    static unsigned counter;
    struct timeval tv;

    gettimeofday(&tv, NULL);
    queue_id_make(out, &tv, getpid(), counter++);
}

/* queue_id_valid - may len bytes at name be used as a queue file name? */
bool
queue_id_valid(const char *name, size_t len)
{
    if (len != QUEUE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (queue_id_digit(name[i]) < 0)
            return false;
    return true;
}

/* queue_id_time - the arrival time an ID was made from (false if not a valid ID) */
bool
queue_id_time(const char *id, struct timeval *tv)
{
    unsigned long long sec = 0, usec = 0;

    if (!queue_id_valid(id, strnlen(id, QUEUE_ID_SIZE)))
        return false;
    for (int i = 0; i < QUEUE_ID_SEC_LEN; i++)
        sec = sec * QUEUE_ID_BASE + (unsigned)queue_id_digit(id[i]);
    for (int i = QUEUE_ID_SEC_LEN; i < QUEUE_ID_SEC_LEN + QUEUE_ID_USEC_LEN; i++)
        usec = usec * QUEUE_ID_BASE + (unsigned)queue_id_digit(id[i]);
    if (usec >= 1000000)
        return false;
    tv->tv_sec = (time_t)sec;
    tv->tv_usec = (suseconds_t)usec;
    return true;
}
