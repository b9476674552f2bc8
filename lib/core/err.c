/*
 * err.c - filling in a struct err.
 *
 * Trusts: its callers' format strings (the compiler checks them); a NULL err is allowed and
 * ignored, for callers that only want the verdict.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/err.h"

static bool err_vset(struct err *err, enum err_kind kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* err_vset - the common part */
static bool
err_vset(struct err *err, enum err_kind kind, const char *fmt, va_list ap)
{
    if (err != NULL) {
        err->kind = kind;
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
    }
    return false;
}

/* err_set - a failure of the default kind; always false */
bool
err_set(struct err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, ERR_FAILED, fmt, ap);
    va_end(ap);
    return false;
}

/* err_set_kind - a failure callers must tell apart; always false */
bool
err_set_kind(struct err *err, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, kind, fmt, ap);
    va_end(ap);
    return false;
}
