/* err.h - the one error convention: what went wrong as text, and a kind where callers must
 * tell cases apart */
#ifndef CORE_ERR_H
#define CORE_ERR_H

#include <stdbool.h>

/*
 * A function that can fail takes a struct err * as its last argument and returns false (or
 * NULL, or a status) with the reason filled in; `return err_set(err, "...", ...)` is the
 * one line that does both. The text is for a log line or a reply, without a trailing
 * period; callers prefix it with their own context.
 */
enum err_kind {
    ERR_FAILED,  /* the default: it did not work, the text says why */
    ERR_TIMEOUT, /* a time limit passed */
    ERR_MISSING, /* a file or table that is not there (yet): worth a retry after a rebuild */
};

struct err {
    enum err_kind kind;
    char text[512];
};

bool err_set(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool err_set_kind(struct err *err, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
