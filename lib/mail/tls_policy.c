/*
 * tls_policy.c - the TLS parameters that are policy, not secrets: what a receiver tells
 * tlsproxy for each handshake (tls_proto.h).
 *
 * Trusts: main.cf. Every value is checked, so a typo is an error at start, not a session
 * with weaker TLS than the administrator wrote.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "mail/tls_policy.h"

bool
tls_level_parse(const char *text, enum tls_level *level, struct err *err)
{
    if (*text == 0 || strcasecmp(text, "none") == 0)
        *level = TLS_LEVEL_NONE;
    else if (strcasecmp(text, "may") == 0)
        *level = TLS_LEVEL_MAY;
    else if (strcasecmp(text, "encrypt") == 0)
        *level = TLS_LEVEL_ENCRYPT;
    else
        return err_set(err, "smtpd_tls_security_level: \"%s\" is none of none, may, encrypt", text);
    return true;
}

static const char *const tls_level_names[] = {"none", "may", "encrypt", "verify", "secure"};

const char *
tls_level_name(enum tls_level level)
{
    return (size_t)level < sizeof(tls_level_names) / sizeof(tls_level_names[0])
               ? tls_level_names[level]
               : "unknown";
}

bool
tls_client_level_parse(const char *text, enum tls_level *level, struct err *err)
{
    const char *const *names = tls_level_names;

    if (*text == 0) {
        *level = TLS_LEVEL_NONE;
        return true;
    }
    for (size_t i = 0; i < sizeof(tls_level_names) / sizeof(tls_level_names[0]); i++)
        if (strcasecmp(text, names[i]) == 0) {
            *level = (enum tls_level)i;
            return true;
        }
    if (strncasecmp(text, "dane", 4) == 0 || strcasecmp(text, "fingerprint") == 0)
        return err_set(err, "TLS security level \"%s\" is not implemented yet", text);
    return err_set(err, "TLS security level \"%s\" is none of none, may, encrypt, verify, secure",
                   text);
}

static const struct {
    const char *name;
    int version;
} tls_versions[] = {
    {"SSLv3", TLS_V_SSL3},    {"TLSv1", TLS_V_TLS1},    {"TLSv1.1", TLS_V_TLS11},
    {"TLSv1.2", TLS_V_TLS12}, {"TLSv1.3", TLS_V_TLS13},
};
#define TLS_NVERSIONS (sizeof(tls_versions) / sizeof(tls_versions[0]))

/* tls_version_index - the index of a version name, -2 for SSLv2 (ignored), -1 unknown */
static int
tls_version_index(const char *name)
{
    if (strcasecmp(name, "SSLv2") == 0)
        return -2;
    for (size_t i = 0; i < TLS_NVERSIONS; i++)
        if (strcasecmp(name, tls_versions[i].name) == 0)
            return (int)i;
    return -1;
}

/* tls_protocols_word - one word of the value applied to the allowed set */
static bool
tls_protocols_word(const char *w, bool allowed[], bool *listed, struct err *err)
{
    bool exclude = w[0] == '!', at_least = strncmp(w, ">=", 2) == 0,
         at_most = strncmp(w, "<=", 2) == 0;
    const char *name = w + (exclude ? 1 : at_least || at_most ? 2 : 0);
    int i = tls_version_index(name);

    if (i == -1)
        return err_set(err, "unknown TLS protocol \"%s\"", name);
    if (i == -2)
        return true;
    for (int j = 0; j < (int)TLS_NVERSIONS; j++) {
        if (exclude && j == i)
            allowed[j] = false;
        if ((at_least && j < i) || (at_most && j > i))
            allowed[j] = false;
    }
    if (!exclude && !at_least && !at_most) {
        if (!*listed)
            for (size_t j = 0; j < TLS_NVERSIONS; j++)
                allowed[j] = false;
        *listed = true;
        allowed[i] = true;
    }
    return true;
}

bool
tls_protocols_parse(const char *text, int *min, int *max, struct err *err)
{
    bool allowed[TLS_NVERSIONS], listed = false, good = true;
    struct strvec words;
    int lo = -1, hi = -1;

    for (size_t j = 0; j < TLS_NVERSIONS; j++)
        allowed[j] = true;
    strvec_init(&words);
    strvec_split(&words, text, " \t,:");
    for (size_t i = 0; good && i < words.n; i++)
        good = tls_protocols_word(words.v[i], allowed, &listed, err);
    strvec_free(&words);
    if (!good)
        return false;
    for (int j = 0; j < (int)TLS_NVERSIONS; j++) {
        if (!allowed[j])
            continue;
        if (hi >= 0 && hi != j - 1)
            return err_set(err, "TLS protocols \"%s\" leave a gap between versions", text);
        if (lo < 0)
            lo = j;
        hi = j;
    }
    if (lo < 0)
        return err_set(err, "TLS protocols \"%s\" allow no version", text);
    *min = tls_versions[lo].version;
    *max = tls_versions[hi].version;
    return true;
}

/* tls_cipher_exclude - add ":!NAME" for each excluded cipher */
static bool
tls_cipher_exclude(const struct strvec *ex, char *out, size_t size)
{
    for (size_t i = 0; i < ex->n; i++) {
        size_t len = strlen(out);
        if (snprintf(out + len, size - len, ":!%s", ex->v[i]) >= (int)(size - len))
            return false;
    }
    return true;
}

/* tls_cipher_grade - the OpenSSL list of a grade named in param, less the exclusions */
static bool
tls_cipher_grade(const struct params *p, const char *param, const char *grade,
                 const struct strvec *exclude, const struct strvec *mandatory_exclude, char *out,
                 size_t size, struct err *err)
{
    const char *list;

    if (strcasecmp(grade, "high") == 0)
        list = p->tls_high_cipherlist;
    else if (strcasecmp(grade, "medium") == 0)
        list = p->tls_medium_cipherlist;
    else if (strcasecmp(grade, "null") == 0)
        list = p->tls_null_cipherlist;
    else
        return err_set(err, "%s: \"%s\" is none of high, medium, null", param, grade);
    if (snprintf(out, size, "%s", list) >= (int)size || !tls_cipher_exclude(exclude, out, size) ||
        (mandatory_exclude != NULL && !tls_cipher_exclude(mandatory_exclude, out, size)))
        return err_set(err, "cipher list longer than %zu characters", size - 1);
    return true;
}

bool
tls_cipherlist(const struct params *p, bool mandatory, char *out, size_t size, struct err *err)
{
    return tls_cipher_grade(p, mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers",
                            mandatory ? p->smtpd_tls_mandatory_ciphers : p->smtpd_tls_ciphers,
                            &p->smtpd_tls_exclude_ciphers,
                            mandatory ? &p->smtpd_tls_mandatory_exclude_ciphers : NULL, out, size,
                            err);
}

bool
tls_client_cipherlist(const struct params *p, bool mandatory, const char *grade, char *out,
                      size_t size, struct err *err)
{
    const char *param = mandatory ? "smtp_tls_mandatory_ciphers" : "smtp_tls_ciphers";

    if (grade == NULL || *grade == 0)
        grade = mandatory ? p->smtp_tls_mandatory_ciphers : p->smtp_tls_ciphers;
    else
        param = "smtp_tls_policy_maps ciphers";
    return tls_cipher_grade(p, param, grade, &p->smtp_tls_exclude_ciphers,
                            mandatory ? &p->smtp_tls_mandatory_exclude_ciphers : NULL, out, size,
                            err);
}
