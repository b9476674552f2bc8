/*
 * maildrop_name.c - names of files in maildrop/: made by postdrop, recognised by pickup
 * (maildrop.h says what they look like).
 *
 * Trusts: nothing in a name it is asked about; a name is recognised by its exact length
 * and digits only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "mail/maildrop.h"

/* maildrop_name_new - a new file's final name and the name it is written under */
bool
maildrop_name_new(char ready[MAILDROP_NAME_SIZE], char temp[MAILDROP_NAME_SIZE], struct err *err)
{
    unsigned long long rnd;
    struct timeval tv;

    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return err_set(err, "getrandom: %s", strerror(errno));
    gettimeofday(&tv, NULL);
    snprintf(ready, MAILDROP_NAME_SIZE, "%08llx%05lx%016llx",
             (unsigned long long)tv.tv_sec & 0xffffffffULL, (unsigned long)tv.tv_usec, rnd);
    snprintf(temp, MAILDROP_NAME_SIZE, "t%s", ready);
    return true;
}

static bool
maildrop_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

enum maildrop_name_kind
maildrop_name_kind(const char *name)
{
    size_t len = strlen(name);

    if (len == MAILDROP_NAME_LEN && maildrop_hex(name, len))
        return MAILDROP_NAME_READY;
    if (len == MAILDROP_NAME_LEN + 1 && name[0] == 't' && maildrop_hex(name + 1, len - 1))
        return MAILDROP_NAME_TEMP;
    if (len == MAILDROP_CLAIM_SIZE - 1 && maildrop_hex(name, MAILDROP_NAME_LEN) &&
        name[MAILDROP_NAME_LEN] == '-' &&
        queue_id_valid(name + MAILDROP_NAME_LEN + 1, QUEUE_ID_LEN))
        return MAILDROP_NAME_CLAIMED;
    return MAILDROP_NAME_OTHER;
}

void
maildrop_name_claim(char out[MAILDROP_CLAIM_SIZE], const char *ready, const char *qid)
{
    snprintf(out, MAILDROP_CLAIM_SIZE, "%.*s-%.*s", MAILDROP_NAME_LEN, ready, QUEUE_ID_LEN, qid);
}

void
maildrop_name_unclaim(const char *claimed, char ready[MAILDROP_NAME_SIZE], char qid[QUEUE_ID_SIZE])
{
    snprintf(ready, MAILDROP_NAME_SIZE, "%.*s", MAILDROP_NAME_LEN, claimed);
    snprintf(qid, QUEUE_ID_SIZE, "%.*s", QUEUE_ID_LEN, claimed + MAILDROP_NAME_LEN + 1);
}
