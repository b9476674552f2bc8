/* addr_list.h - the addresses of an RFC 5322 address list (To:, Cc:, a sendmail argument) */
#ifndef MAIL_ADDR_LIST_H
#define MAIL_ADDR_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/str.h"

/*
 * addr_list_parse - append to out the addr-spec of each address in text[0..len): the part
 * in angle brackets when there is one (a source route dropped), else the address itself;
 * display names, comments, group names and folding white space removed, quoted strings
 * and domain literals kept as written. Empty members ("undisclosed-recipients:;", "<>")
 * give nothing. An unbalanced quote, comment, bracket or angle, or a phrase without angle
 * brackets, fails with err and appends nothing. Each addr-spec is at most
 * ADDR_LIST_ADDR_MAX bytes.
 */
#define ADDR_LIST_ADDR_MAX 1024

bool addr_list_parse(const char *text, size_t len, struct strvec *out, struct err *err);

#endif
