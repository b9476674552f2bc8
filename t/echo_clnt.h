/* echo_clnt.h - client stub of the test echo protocol, the pattern for real stubs */
#ifndef T_ECHO_CLNT_H
#define T_ECHO_CLNT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "core/buf.h"

bool echo_clnt_call(int sock, const char *text, struct buf *reply, int timeout_ms,
                    size_t record_limit, struct err *err);
bool echo_serve_one(int sock, int timeout_ms, size_t record_limit, struct err *err);

#endif
