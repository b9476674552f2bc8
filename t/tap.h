/* tap.h - a tiny Test Anything Protocol producer for the unit tests under t/unit */
#ifndef T_TAP_H
#define T_TAP_H

#include <stdbool.h>

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

bool ok(bool cond, const char *fmt, ...) TAP_PRINTF(2, 3);
bool is_int(long long got, long long want, const char *fmt, ...) TAP_PRINTF(3, 4);
bool is_str(const char *got, const char *want, const char *fmt, ...) TAP_PRINTF(3, 4);
bool like(const char *got, const char *substring, const char *fmt, ...) TAP_PRINTF(3, 4);
void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
int done_testing(void);
const char *tap_tmpdir(void);
char *tap_write_file(const char *name, const char *content);

#endif
