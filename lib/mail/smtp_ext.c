/*
 * smtp_ext.c - the service extensions an EHLO reply offers (RFC 5321 4.1.1.1): one keyword
 * per line after the first, case-insensitive, with parameters after a space.
 *
 * Trusts: only what smtp_resp.c checked; a SIZE value that is not a plain number counts as
 * no limit announced (the server still refuses what it does not take). AUTH's mechanism
 * names reach the SASL client and an AUTH command line, so only names of SASL's own syntax
 * are kept (RFC 4422 3.1), folded to upper case.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/smtp_resp.h"

static const struct {
    const char *word;
    unsigned flag;
} smtp_ext_words[] = {
    {"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE}, {"8BITMIME", SMTP_EXT_8BITMIME},
    {"SMTPUTF8", SMTP_EXT_SMTPUTF8},     {"DSN", SMTP_EXT_DSN},   {"CHUNKING", SMTP_EXT_CHUNKING},
    {"STARTTLS", SMTP_EXT_STARTTLS},     {"AUTH", SMTP_EXT_AUTH},
};

/* smtp_ext_size - SIZE's parameter: digits only, else 0 (no limit known) */
static unsigned long long
smtp_ext_size(const char *p, size_t len)
{
    unsigned long long v = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (~0ULL - 9) / 10)
            return 0;
        v = v * 10 + (unsigned long long)(p[i] - '0');
    }
    return v;
}

/* smtp_ext_mech_ok - a SASL mechanism name: [A-Za-z0-9_-], 1 to 20 characters */
static bool
smtp_ext_mech_ok(const char *p, size_t len)
{
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-'))
            return false;
    return true;
}

/* smtp_ext_has_mech - is the mechanism (upper case) in the list already? */
static bool
smtp_ext_has_mech(const char *list, const char *mech, size_t len)
{
    while (*list) {
        size_t n = strcspn(list, " ");
        if (n == len && strncmp(list, mech, len) == 0)
            return true;
        list += n + (list[n] == ' ');
    }
    return false;
}

/* smtp_ext_mechs - AUTH's parameters: the mechanisms added to ext->auth */
static void
smtp_ext_mechs(const char *p, size_t len, struct smtp_ext *ext)
{
    size_t have = strlen(ext->auth);

    while (len > 0) {
        size_t n = 0;
        char mech[21];

        while (n < len && p[n] != ' ')
            n++;
        if (smtp_ext_mech_ok(p, n) && have + n + 2 <= sizeof(ext->auth)) {
            for (size_t i = 0; i < n; i++)
                mech[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 'a' + 'A') : p[i];
            if (!smtp_ext_has_mech(ext->auth, mech, n)) {
                if (have > 0)
                    ext->auth[have++] = ' ';
                memcpy(ext->auth + have, mech, n);
                have += n;
                ext->auth[have] = 0;
            }
        }
        p += n;
        len -= n;
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
    }
}

/* smtp_ext_line - one keyword line */
static void
smtp_ext_line(const char *line, size_t len, struct smtp_ext *ext)
{
    size_t word = 0;

    while (word < len && line[word] != ' ' && line[word] != '=')
        word++;
    if (word == 4 && strncasecmp(line, "AUTH", 4) == 0 && word < len) {
        ext->flags |= SMTP_EXT_AUTH;
        smtp_ext_mechs(line + word + 1, len - word - 1, ext);
        return;
    }
    if (word < len && line[word] == '=')
        return; /* AUTH= is the only keyword of that form we read */
    for (size_t k = 0; k < sizeof(smtp_ext_words) / sizeof(smtp_ext_words[0]); k++) {
        if (strlen(smtp_ext_words[k].word) != word ||
            strncasecmp(line, smtp_ext_words[k].word, word) != 0)
            continue;
        ext->flags |= smtp_ext_words[k].flag;
        if (smtp_ext_words[k].flag == SMTP_EXT_SIZE && word < len)
            ext->size = smtp_ext_size(line + word + 1, len - word - 1);
    }
}

void
smtp_ext_parse(const struct smtp_resp *r, struct smtp_ext *ext)
{
    const char *p = buf_str(&r->text);
    const char *nl = strchr(p, '\n');

    memset(ext, 0, sizeof(*ext));
    while (nl != NULL) {
        const char *line = nl + 1;
        nl = strchr(line, '\n');
        smtp_ext_line(line, nl ? (size_t)(nl - line) : strlen(line), ext);
    }
}
