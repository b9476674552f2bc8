/* maildrop_format.h - the maildrop file's layout, shared by its writer and reader; private
 * to lib/mail/maildrop*.c (the format is described in maildrop.c) */
#ifndef MAIL_MAILDROP_FORMAT_H
#define MAIL_MAILDROP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "mail/maildrop.h"

#define MAILDROP_REC_HEADER RECORD_HEADER
#define MAILDROP_END_LEN    12
#define MAILDROP_OUT_LIMIT  (2 * (MAILDROP_CHUNK_MAX + MAILDROP_REC_HEADER))

bool maildrop_text_ok(const char *s, size_t len);

#endif
