/*
 * restrict.c - evaluate smtpd_*_restrictions (see restrict.h).
 *
 * Runs in smtpd and submission as mail_owner. Trusts main.cf and its tables as far as
 * their parsers check them; every fact about the client (address, HELO, sender, recipient)
 * is untrusted and only compared or looked up, never interpreted. Replies follow Postfix's
 * wording, so that log parsers and administrators recognise them:
 *     554 5.7.1 <rcpt@example.org>: Relay access denied
 *     554 5.7.1 <rcpt@example.org>: Recipient address rejected: Access denied
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/restrict.h"

#define RESTRICT_DEPTH 8 /* access table values may name restrictions, that deep */

enum restrict_kind {
    R_PERMIT,
    R_REJECT,
    R_DEFER,
    R_PERMIT_MYNETWORKS,
    R_PERMIT_SASL,
    R_REJECT_UNAUTH_DEST,
    R_DEFER_UNAUTH_DEST,
    R_REJECT_NON_FQDN_HELO,
    R_REJECT_INVALID_HELO,
    R_REJECT_NON_FQDN_SENDER,
    R_REJECT_NON_FQDN_RECIPIENT,
    R_CHECK_CLIENT,
    R_CHECK_HELO,
    R_CHECK_SENDER,
    R_CHECK_RECIPIENT,
    R_REJECT_UNAUTH_PIPELINING,
    R_SENDER_LOGIN,        /* reject_sender_login_mismatch */
    R_SENDER_LOGIN_AUTH,   /* reject_authenticated_sender_login_mismatch */
    R_SENDER_LOGIN_KNOWN,  /* reject_known_sender_login_mismatch */
    R_SENDER_LOGIN_UNAUTH, /* reject_unauthenticated_sender_login_mismatch */
    R_REJECT_UNLISTED_SENDER,
};

static const struct {
    const char *name;
    enum restrict_kind kind;
    bool takes_table;
} restrict_names[] = {
    {"permit", R_PERMIT, false},
    {"reject", R_REJECT, false},
    {"defer", R_DEFER, false},
    {"permit_mynetworks", R_PERMIT_MYNETWORKS, false},
    {"permit_sasl_authenticated", R_PERMIT_SASL, false},
    {"reject_unauth_destination", R_REJECT_UNAUTH_DEST, false},
    {"defer_unauth_destination", R_DEFER_UNAUTH_DEST, false},
    {"reject_non_fqdn_helo_hostname", R_REJECT_NON_FQDN_HELO, false},
    {"reject_non_fqdn_hostname", R_REJECT_NON_FQDN_HELO, false},
    {"reject_invalid_helo_hostname", R_REJECT_INVALID_HELO, false},
    {"reject_invalid_hostname", R_REJECT_INVALID_HELO, false},
    {"reject_non_fqdn_sender", R_REJECT_NON_FQDN_SENDER, false},
    {"reject_non_fqdn_recipient", R_REJECT_NON_FQDN_RECIPIENT, false},
    {"check_client_access", R_CHECK_CLIENT, true},
    {"check_helo_access", R_CHECK_HELO, true},
    {"check_sender_access", R_CHECK_SENDER, true},
    {"check_recipient_access", R_CHECK_RECIPIENT, true},
    {"reject_unauth_pipelining", R_REJECT_UNAUTH_PIPELINING, false},
    {"reject_sender_login_mismatch", R_SENDER_LOGIN, false},
    {"reject_authenticated_sender_login_mismatch", R_SENDER_LOGIN_AUTH, false},
    {"reject_known_sender_login_mismatch", R_SENDER_LOGIN_KNOWN, false},
    {"reject_unauthenticated_sender_login_mismatch", R_SENDER_LOGIN_UNAUTH, false},
    {"reject_unlisted_sender", R_REJECT_UNLISTED_SENDER, false},
};

static const char *const stage_texts[] = {
    [RESTRICT_CLIENT] = "Client host rejected",
    [RESTRICT_HELO] = "Helo command rejected",
    [RESTRICT_SENDER] = "Sender address rejected",
    [RESTRICT_RECIPIENT] = "Recipient address rejected",
    [RESTRICT_DATA] = "Data command rejected",
};

struct restrict_step {
    enum restrict_kind kind;
    struct map_list *table;
};

struct restrict_list {
    enum restrict_stage stage;
    struct restrict_step *v;
    size_t n;
};

static int
restrict_lookup_name(const char *name)
{
    for (size_t i = 0; i < sizeof(restrict_names) / sizeof(restrict_names[0]); i++)
        if (str_eq_nocase(restrict_names[i].name, name))
            return (int)i;
    return -1;
}

/* restrict_add - one restriction, with its table when it takes one */
static bool
restrict_add(struct restrict_list *list, char **words, size_t n, size_t *i, struct err *err)
{
    int idx = restrict_lookup_name(words[*i]);
    struct restrict_step step = {0};

    if (idx < 0)
        return err_set(err, "unknown restriction \"%.100s\"", words[*i]);
    step.kind = restrict_names[idx].kind;
    if (restrict_names[idx].takes_table) {
        if (*i + 1 >= n)
            return err_set(err, "%s needs a table", words[*i]);
        if ((step.table = map_list_open(words[++*i], MAP_FOLD_FIXED, err)) == NULL)
            return false;
    }
    list->v = xreallocarray(list->v, list->n + 1, sizeof(step));
    list->v[list->n++] = step;
    return true;
}

/* restrict_compile_words - a list already split, as a LIST parameter holds it */
struct restrict_list *
restrict_compile_words(const struct strvec *words, enum restrict_stage stage, struct err *err)
{
    struct restrict_list *list = xcalloc(1, sizeof(*list));
    bool good = true;

    list->stage = stage;
    for (size_t i = 0; good && i < words->n; i++)
        good = restrict_add(list, words->v, words->n, &i, err);
    if (!good) {
        restrict_free(list);
        return NULL;
    }
    return list;
}

struct restrict_list *
restrict_compile(const char *text, enum restrict_stage stage, struct err *err)
{
    struct restrict_list *list = NULL;
    struct strvec words;

    strvec_init(&words);
    if (conf_split_list(text, &words, err))
        list = restrict_compile_words(&words, stage, err);
    strvec_free(&words);
    return list;
}

void
restrict_free(struct restrict_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        map_list_close(list->v[i].table);
    free(list->v);
    free(list);
}

struct restrict_eval {
    const struct restrict_env *env;
    const struct restrict_facts *facts;
    enum restrict_stage stage;
    struct restrict_reply *reply;
};

static enum restrict_verdict restrict_kind_eval(struct restrict_eval *ev, enum restrict_kind kind,
                                                struct map_list *table, int depth);

static enum restrict_verdict restrict_answer(struct restrict_eval *ev, enum restrict_verdict v,
                                             int code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* restrict_answer - fill in the reply of a reject or defer */
static enum restrict_verdict
restrict_answer(struct restrict_eval *ev, enum restrict_verdict v, int code, const char *dsn,
                const char *fmt, ...)
{
    va_list ap;

    ev->reply->code = code;
    snprintf(ev->reply->dsn, sizeof(ev->reply->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(ev->reply->text, sizeof(ev->reply->text), fmt, ap);
    va_end(ap);
    return v;
}

/* restrict_subject - what the stage is about, as Postfix writes it: "<rcpt>" or "host[addr]" */
static void
restrict_subject(const struct restrict_eval *ev, char *out, size_t len)
{
    const struct restrict_facts *f = ev->facts;

    switch (ev->stage) {
    case RESTRICT_CLIENT:
        snprintf(out, len, "%s[%s]", f->client_name ? f->client_name : "unknown",
                 f->client_addr ? f->client_addr : "");
        break;
    case RESTRICT_HELO:
        snprintf(out, len, "<%s>", f->helo ? f->helo : "");
        break;
    case RESTRICT_SENDER:
        snprintf(out, len, "<%s>", f->sender ? f->sender : "");
        break;
    case RESTRICT_RECIPIENT:
        snprintf(out, len, "<%s>", f->recipient ? f->recipient : "");
        break;
    case RESTRICT_DATA:
        snprintf(out, len, "<DATA>");
        break;
    }
}

static enum restrict_verdict
restrict_table_error(struct restrict_eval *ev, const struct err *err)
{
    char subject[600];

    /* The client hears only that a lookup failed; which table and why go to the log. */
    restrict_subject(ev, subject, sizeof(subject));
    log_warn("%s: table lookup failed: %s", subject, err->text);
    return restrict_answer(ev, RESTRICT_DEFER, 451, "4.3.0", "%s: Temporary lookup failure",
                           subject);
}

static const char *
restrict_domain_of(const char *address)
{
    const char *at = address ? strrchr(address, '@') : NULL;

    return at ? at + 1 : NULL;
}

/* restrict_local_or_relay - is the recipient's domain one we accept mail for? */
static enum map_status
restrict_local_or_relay(struct restrict_eval *ev, const char *domain, struct err *err)
{
    struct match_list *lists[] = {ev->env->mydestination, ev->env->virtual_alias_domains,
                                  ev->env->virtual_mailbox_domains, ev->env->relay_domains};

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        enum map_status status = lists[i] ? match_list_find(lists[i], domain, err) : MAP_NOTFOUND;
        if (status != MAP_NOTFOUND)
            return status;
    }
    return MAP_NOTFOUND;
}

static enum restrict_verdict
restrict_unauth_destination(struct restrict_eval *ev, bool defer)
{
    const char *rcpt = ev->facts->recipient, *domain = restrict_domain_of(rcpt);
    struct err err;
    enum map_status status;

    if (rcpt == NULL || domain == NULL)
        return RESTRICT_DUNNO;
    if ((status = restrict_local_or_relay(ev, domain, &err)) == MAP_ERROR)
        return restrict_table_error(ev, &err);
    if (status == MAP_FOUND)
        return RESTRICT_DUNNO;
    if (defer)
        return restrict_answer(ev, RESTRICT_DEFER, 454, "4.7.1", "<%s>: Relay access denied", rcpt);
    return restrict_answer(ev, RESTRICT_REJECT, 554, "5.7.1", "<%s>: Relay access denied", rcpt);
}

/* restrict_fqdn - a host name with at least one dot and no trailing dot */
static bool
restrict_fqdn(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && strchr(name, '.') && name[len - 1] != '.' && name[0] != '.';
}

/* restrict_valid_hostname - letters, digits, hyphens and dots, or an address literal */
static bool
restrict_valid_hostname(const char *name)
{
    size_t len = strlen(name);

    if (len >= 2 && name[0] == '[' && name[len - 1] == ']')
        return true;
    if (len == 0 || len > 255 || name[0] == '.' || name[0] == '-' || strstr(name, ".."))
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == len;
}

static enum restrict_verdict
restrict_non_fqdn_address(struct restrict_eval *ev, const char *address, const char *what)
{
    const char *domain = restrict_domain_of(address);

    if (address == NULL || *address == 0 || (domain && restrict_fqdn(domain)))
        return RESTRICT_DUNNO;
    return restrict_answer(ev, RESTRICT_REJECT, 504, "5.5.2",
                           "<%s>: %s rejected: need fully-qualified address", address, what);
}

static enum restrict_verdict
restrict_helo_checks(struct restrict_eval *ev, enum restrict_kind kind)
{
    const char *helo = ev->facts->helo;

    if (helo == NULL)
        return RESTRICT_DUNNO;
    if (kind == R_REJECT_INVALID_HELO && !restrict_valid_hostname(helo))
        return restrict_answer(ev, RESTRICT_REJECT, 501, "5.5.2",
                               "<%s>: Helo command rejected: Invalid name", helo);
    if (kind == R_REJECT_NON_FQDN_HELO && helo[0] != '[' && !restrict_fqdn(helo))
        return restrict_answer(ev, RESTRICT_REJECT, 504, "5.5.2",
                               "<%s>: Helo command rejected: need fully-qualified hostname", helo);
    return RESTRICT_DUNNO;
}

/* restrict_owns - is login among the owners a smtpd_sender_login_maps value lists? */
static bool
restrict_owns(const char *owners, const char *login)
{
    size_t len = strlen(login);

    while (*owners) {
        size_t n;
        owners += strspn(owners, STR_LIST_DELIMS);
        n = strcspn(owners, STR_LIST_DELIMS);
        if (n == len && n > 0 && strncasecmp(owners, login, n) == 0)
            return true;
        owners += n;
    }
    return false;
}

/*
 * restrict_sender_login - the four *_sender_login_mismatch restrictions: does the SASL
 * login (or its absence) fit the owners smtpd_sender_login_maps lists for the sender?
 */
static enum restrict_verdict
restrict_sender_login(struct restrict_eval *ev, enum restrict_kind kind)
{
    const struct restrict_facts *f = ev->facts;
    struct map_addr_match match = {0};
    struct err err;
    enum map_status status;
    bool authed = f->sasl_authenticated && f->sasl_username != NULL, owned = false;

    if (f->sender == NULL || *f->sender == 0 || ev->env->sender_login_maps == NULL)
        return RESTRICT_DUNNO;
    if ((authed && kind == R_SENDER_LOGIN_UNAUTH) || (!authed && kind == R_SENDER_LOGIN_AUTH))
        return RESTRICT_DUNNO;
    status = map_addr_find(ev->env->sender_login_maps, MAP_ADDR_ACCESS, f->sender,
                           &ev->env->addr_opts, &match, &err);
    if (status == MAP_ERROR)
        return restrict_table_error(ev, &err);
    if (status == MAP_FOUND && authed)
        owned = restrict_owns(match.value, f->sasl_username);
    map_addr_match_free(&match);
    if (!authed && status == MAP_FOUND)
        return restrict_answer(ev, RESTRICT_REJECT, 553, "5.7.1",
                               "<%s>: Sender address rejected: not logged in", f->sender);
    if (!authed || owned || (status == MAP_NOTFOUND && kind == R_SENDER_LOGIN_KNOWN))
        return RESTRICT_DUNNO;
    return restrict_answer(ev, RESTRICT_REJECT, 553, "5.7.1",
                           "<%s>: Sender address rejected: not owned by user %s", f->sender,
                           f->sasl_username);
}

/* restrict_unlisted_sender - a sender in one of our domains must exist there */
static enum restrict_verdict
restrict_unlisted_sender(struct restrict_eval *ev)
{
    const char *sender = ev->facts->sender, *table = "local recipient table";
    struct err err;

    if (sender == NULL || *sender == 0 || ev->env->known == NULL)
        return RESTRICT_DUNNO;
    switch (ev->env->known(ev->env->known_ctx, sender, &table, &err)) {
    case RESTRICT_KNOWN:
        return RESTRICT_DUNNO;
    case RESTRICT_KNOWN_ERROR:
        return restrict_table_error(ev, &err);
    default:
        return restrict_answer(ev, RESTRICT_REJECT, 550, "5.1.0",
                               "<%s>: Sender address rejected: User unknown in %s", sender, table);
    }
}

/* restrict_action - act on an access table's value */
static enum restrict_verdict
restrict_action(struct restrict_eval *ev, const char *value, int depth)
{
    char word[64], subject[600];
    const char *rest;
    size_t n = strcspn(value, " \t");
    long code;
    int idx;

    snprintf(word, sizeof(word), "%.*s", (int)(n < sizeof(word) ? n : sizeof(word) - 1), value);
    rest = value + n + strspn(value + n, " \t");
    restrict_subject(ev, subject, sizeof(subject));
    if (str_eq_nocase(word, "OK") || str_eq_nocase(word, "PERMIT"))
        return RESTRICT_PERMIT;
    if (str_eq_nocase(word, "DUNNO"))
        return RESTRICT_DUNNO;
    if (str_eq_nocase(word, "REJECT") || str_eq_nocase(word, "DEFER")) {
        bool reject = str_eq_nocase(word, "REJECT");
        return restrict_answer(ev, reject ? RESTRICT_REJECT : RESTRICT_DEFER, reject ? 554 : 450,
                               reject ? "5.7.1" : "4.7.1", "%s: %s: %s", subject,
                               stage_texts[ev->stage], *rest ? rest : "Access denied");
    }
    if (str_to_long(word, 400, 599, &code)) {
        char dsn[16] = "";
        if ((rest[0] == '4' || rest[0] == '5') && rest[1] == '.' &&
            sscanf(rest, "%15[0-9.]", dsn) == 1 && dsn[0] == word[0])
            rest += strlen(dsn) + strspn(rest + strlen(dsn), " \t");
        else
            snprintf(dsn, sizeof(dsn), "%c.7.1", word[0]);
        return restrict_answer(ev, code < 500 ? RESTRICT_DEFER : RESTRICT_REJECT, (int)code, dsn,
                               "%s: %s: %s", subject, stage_texts[ev->stage],
                               *rest ? rest : "Access denied");
    }
    if ((idx = restrict_lookup_name(word)) >= 0 && !restrict_names[idx].takes_table &&
        depth < RESTRICT_DEPTH)
        return restrict_kind_eval(ev, restrict_names[idx].kind, NULL, depth + 1);
    return restrict_answer(ev, RESTRICT_DEFER, 451, "4.3.5",
                           "%s: Server configuration error (bad access table value \"%.60s\")",
                           subject, value);
}

/* restrict_check_access - check_*_access: look the fact up, then act on the value */
static enum restrict_verdict
restrict_check_access(struct restrict_eval *ev, enum restrict_kind kind, struct map_list *table,
                      int depth)
{
    const struct restrict_facts *f = ev->facts;
    struct map_addr_match match = {0};
    struct err err;
    enum map_status status;
    const char *value = NULL;
    enum restrict_verdict verdict;

    if (kind == R_CHECK_CLIENT && f->client_addr) {
        status = map_list_lookup(table, f->client_addr, 0, &value, &err);
        if (status == MAP_NOTFOUND && f->client_name && strcmp(f->client_name, "unknown") != 0)
            status = map_addr_domain(table, f->client_name, false, &match, &err);
    } else if (kind == R_CHECK_HELO && f->helo) {
        status = map_addr_domain(table, f->helo, false, &match, &err);
    } else if (kind == R_CHECK_SENDER && f->sender) {
        const char *null_key = ev->env->null_sender_key ? ev->env->null_sender_key : "<>";
        status = map_addr_find(table, MAP_ADDR_ACCESS, *f->sender ? f->sender : null_key,
                               &ev->env->addr_opts, &match, &err);
    } else if (kind == R_CHECK_RECIPIENT && f->recipient) {
        status =
            map_addr_find(table, MAP_ADDR_ACCESS, f->recipient, &ev->env->addr_opts, &match, &err);
    } else {
        return RESTRICT_DUNNO;
    }
    if (status == MAP_ERROR)
        verdict = restrict_table_error(ev, &err);
    else if (status == MAP_NOTFOUND)
        verdict = RESTRICT_DUNNO;
    else
        verdict = restrict_action(ev, value ? value : match.value, depth);
    map_addr_match_free(&match);
    return verdict;
}

/*
 * restrict_kind_eval - one restriction of a list, evaluated against the session's facts:
 * its verdict, or DUNNO
 */
static enum restrict_verdict
restrict_kind_eval(struct restrict_eval *ev, enum restrict_kind kind, struct map_list *table,
                   int depth)
{
    struct err err;
    char subject[600];

    restrict_subject(ev, subject, sizeof(subject));
    switch (kind) {
    case R_PERMIT:
        return RESTRICT_PERMIT;
    case R_REJECT:
        return restrict_answer(ev, RESTRICT_REJECT, 554, "5.7.1", "%s: %s: Access denied", subject,
                               stage_texts[ev->stage]);
    case R_DEFER:
        return restrict_answer(ev, RESTRICT_DEFER, 450, "4.7.1", "%s: %s: Try again later", subject,
                               stage_texts[ev->stage]);
    case R_PERMIT_MYNETWORKS:
        if (ev->facts->client_addr == NULL || ev->env->mynetworks == NULL)
            return RESTRICT_DUNNO;
        switch (match_list_find(ev->env->mynetworks, ev->facts->client_addr, &err)) {
        case MAP_FOUND:
            return RESTRICT_PERMIT;
        case MAP_ERROR:
            return restrict_table_error(ev, &err);
        default:
            return RESTRICT_DUNNO;
        }
    case R_PERMIT_SASL:
        return ev->facts->sasl_authenticated ? RESTRICT_PERMIT : RESTRICT_DUNNO;
    case R_REJECT_UNAUTH_DEST:
    case R_DEFER_UNAUTH_DEST:
        return restrict_unauth_destination(ev, kind == R_DEFER_UNAUTH_DEST);
    case R_REJECT_NON_FQDN_HELO:
    case R_REJECT_INVALID_HELO:
        return restrict_helo_checks(ev, kind);
    case R_REJECT_NON_FQDN_SENDER:
        return restrict_non_fqdn_address(ev, ev->facts->sender, "Sender address");
    case R_REJECT_NON_FQDN_RECIPIENT:
        return restrict_non_fqdn_address(ev, ev->facts->recipient, "Recipient address");
    case R_REJECT_UNLISTED_SENDER:
        return restrict_unlisted_sender(ev);
    case R_SENDER_LOGIN:
    case R_SENDER_LOGIN_AUTH:
    case R_SENDER_LOGIN_KNOWN:
    case R_SENDER_LOGIN_UNAUTH:
        return restrict_sender_login(ev, kind);
    case R_REJECT_UNAUTH_PIPELINING:
        if (!ev->facts->unauth_pipelining)
            return RESTRICT_DUNNO;
        return restrict_answer(ev, RESTRICT_REJECT, 554, "5.5.0",
                               "%s: %s: Improper use of SMTP command pipelining", subject,
                               stage_texts[ev->stage]);
    default:
        return table ? restrict_check_access(ev, kind, table, depth) : RESTRICT_DUNNO;
    }
}

/* restrict_eval - the first restriction with an opinion decides */
enum restrict_verdict
restrict_eval(const struct restrict_list *list, const struct restrict_env *env,
              const struct restrict_facts *facts, struct restrict_reply *reply)
{
    struct restrict_eval ev = {env, facts, list->stage, reply};

    for (size_t i = 0; i < list->n; i++) {
        enum restrict_verdict v = restrict_kind_eval(&ev, list->v[i].kind, list->v[i].table, 0);
        if (v != RESTRICT_DUNNO)
            return v;
    }
    return RESTRICT_DUNNO;
}
