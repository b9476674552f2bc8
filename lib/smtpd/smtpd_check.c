/*
 * smtpd_check.c - what is decided at RCPT time: the client, HELO and sender restrictions
 * (smtpd_delay_reject = yes, as Postfix's default), relay control, the recipient
 * restrictions, then whether the recipient exists for its address class.
 *
 * Runs as mail_owner. Trusts main.cf and its tables; the addresses are the parser's. A
 * restriction list or table that could not be opened at start is remembered with its
 * error: every check that needs it answers 451 4.3.0, like a lookup error, so a broken
 * table never lets mail through nor bounces it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "mail/map_addr.h"
#include "smtpd/smtpd.h"

static enum restrict_known smtpd_check_exists(void *ctx, const char *addr, const char **table,
                                              struct err *err);

/* smtpd_check_rlist - compile one restriction list, or remember why not */
static void
smtpd_check_rlist(struct smtpd_rlist *r, const char *name, const struct strvec *words,
                  enum restrict_stage stage)
{
    struct err err;

    r->name = name;
    r->words = words;
    r->stage = stage;
    if ((r->list = restrict_compile_words(words, stage, &err)) == NULL) {
        log_warn("%s: %s: every check that needs it will be deferred", name, err.text);
        r->error = xstrdup(err.text);
        r->missing = err.kind == ERR_MISSING;
    }
}

/* smtpd_check_usable - the list compiled, or compiles now that its missing table is built */
static bool
smtpd_check_usable(struct smtpd_rlist *r)
{
    struct err err;

    if (r->error == NULL)
        return true;
    if (!r->missing || (r->list = restrict_compile_words(r->words, r->stage, &err)) == NULL)
        return false;
    log_info("%s: its tables are open now: checks are no longer deferred", r->name);
    free(r->error);
    r->error = NULL;
    return true;
}

/* smtpd_check_match - one match list for the restriction environment */
static struct match_list *
smtpd_check_match(const struct strvec *v, enum match_kind kind, bool parent, struct smtpd *smtpd)
{
    struct err err;
    struct match_list *list = match_list_open_words(v, kind, parent, &err);

    if (list == NULL && smtpd->domains_error == NULL) {
        log_warn("%s: every recipient will be deferred", err.text);
        smtpd->domains_error = xstrdup(err.text);
    }
    return list;
}

/* smtpd_check_lists - the network and domain lists of the restrictions */
static void
smtpd_check_lists(struct smtpd *smtpd)
{
    const struct params *p = smtpd->p;
    struct restrict_env *e = &smtpd->renv;
    bool parent = strvec_contains(&p->parent_domain_matches_subdomains, "mynetworks");

    e->mynetworks = smtpd_check_match(&p->mynetworks, MATCH_ADDRESS, parent, smtpd);
    e->mydestination = smtpd_check_match(&p->mydestination, MATCH_DOMAIN, false, smtpd);
    e->relay_domains = smtpd_check_match(&p->relay_domains, MATCH_DOMAIN, false, smtpd);
    e->virtual_alias_domains =
        smtpd_check_match(&p->virtual_alias_domains, MATCH_DOMAIN, false, smtpd);
    e->virtual_mailbox_domains =
        smtpd_check_match(&p->virtual_mailbox_domains, MATCH_DOMAIN, false, smtpd);
}

/* smtpd_check_lists_close - release the restrictions' network and domain lists */
static void
smtpd_check_lists_close(struct smtpd *smtpd)
{
    struct restrict_env *e = &smtpd->renv;

    match_list_close(e->mynetworks);
    match_list_close(e->mydestination);
    match_list_close(e->relay_domains);
    match_list_close(e->virtual_alias_domains);
    match_list_close(e->virtual_mailbox_domains);
    e->mynetworks = e->mydestination = e->relay_domains = NULL;
    e->virtual_alias_domains = e->virtual_mailbox_domains = NULL;
}

/*
 * smtpd_check_ready - the lists opened, or open now: one that could not be opened (a table
 * not built yet) is tried again at each recipient, so a table built later is used without a
 * reload; false (every recipient deferred) while it still cannot
 */
static bool
smtpd_check_ready(struct smtpd *smtpd)
{
    char *was = smtpd->domains_error;

    if (was == NULL)
        return true;
    smtpd_check_lists_close(smtpd);
    smtpd->domains_error = NULL;
    smtpd_check_lists(smtpd);
    if (smtpd->domains_error != NULL) {
        free(smtpd->domains_error); /* the same failure again: keep the first, logged once */
        smtpd->domains_error = was;
        return false;
    }
    log_info("domain and network lists are open now: recipients are no longer deferred");
    free(was);
    return true;
}

/* smtpd_check_open - everything the checks consult, opened once per process */
bool
smtpd_check_open(struct smtpd *smtpd)
{
    const struct params *p = smtpd->p;
    struct restrict_env *e = &smtpd->renv;
    struct err err;

    smtpd_check_lists(smtpd);
    e->addr_opts.recipient_delimiter = p->recipient_delimiter;
    e->addr_opts.parent_domain_matches_subdomains =
        strvec_contains(&p->parent_domain_matches_subdomains, "smtpd_access_maps");
    e->null_sender_key = p->smtpd_null_access_lookup_key;
    if (!addr_domains_open(&smtpd->domains, p, &err))
        log_warn("address classes: %s: recipients that need them are deferred", err.text);
    smtpd_check_rlist(&smtpd->client, "smtpd_client_restrictions", &p->smtpd_client_restrictions,
                      RESTRICT_CLIENT);
    smtpd_check_rlist(&smtpd->helo, "smtpd_helo_restrictions", &p->smtpd_helo_restrictions,
                      RESTRICT_HELO);
    smtpd_check_rlist(&smtpd->sender, "smtpd_sender_restrictions", &p->smtpd_sender_restrictions,
                      RESTRICT_SENDER);
    smtpd_check_rlist(&smtpd->relay, "smtpd_relay_restrictions", &p->smtpd_relay_restrictions,
                      RESTRICT_RECIPIENT);
    smtpd_check_rlist(&smtpd->recipient, "smtpd_recipient_restrictions",
                      &p->smtpd_recipient_restrictions, RESTRICT_RECIPIENT);
    smtpd_check_rlist(&smtpd->data, "smtpd_data_restrictions", &p->smtpd_data_restrictions,
                      RESTRICT_DATA);
    map_retry_open(&smtpd->local_rcpt, "local_recipient_maps", &p->local_recipient_maps);
    smtpd->nss_offload = smtpd_nss_wanted(p);
    map_retry_open(&smtpd->valias, "virtual_alias_maps", &p->virtual_alias_maps);
    map_retry_open(&smtpd->vmailbox, "virtual_mailbox_maps", &p->virtual_mailbox_maps);
    map_retry_open(&smtpd->sender_login, "smtpd_sender_login_maps", &p->smtpd_sender_login_maps);
    map_retry_open(&smtpd->milter_hbc, "milter_header_checks", &p->milter_header_checks);
    map_retry_open(&smtpd->milter_maps, "smtpd_milter_maps", &p->smtpd_milter_maps);
    e->sender_login_maps = smtpd->sender_login.maps;
    e->known = smtpd_check_exists;
    e->known_ctx = smtpd;
    return smtpd->domains_error == NULL;
}

static void
smtpd_check_free_rlist(struct smtpd_rlist *r)
{
    restrict_free(r->list);
    free(r->error);
}

/* smtpd_check_close - release what smtpd_check_open built */
void
smtpd_check_close(struct smtpd *smtpd)
{
    smtpd_check_lists_close(smtpd);
    addr_domains_close(&smtpd->domains);
    free(smtpd->domains_error);
    smtpd_check_free_rlist(&smtpd->client);
    smtpd_check_free_rlist(&smtpd->helo);
    smtpd_check_free_rlist(&smtpd->sender);
    smtpd_check_free_rlist(&smtpd->relay);
    smtpd_check_free_rlist(&smtpd->recipient);
    smtpd_check_free_rlist(&smtpd->data);
    map_retry_close(&smtpd->local_rcpt);
    map_retry_close(&smtpd->valias);
    map_retry_close(&smtpd->vmailbox);
    map_retry_close(&smtpd->sender_login);
    map_retry_close(&smtpd->milter_hbc);
    map_retry_close(&smtpd->milter_maps);
}

/* smtpd_check_refuse - reply and log a refusal of rcpt */
static bool
smtpd_check_refuse(struct smtpd_session *sess, const char *rcpt, int code, const char *dsn,
                   const char *text)
{
    smtpd_log_reject(sess, "RCPT", code, dsn, text, rcpt);
    smtpd_reply(sess, code, dsn, "%s", text);
    return false;
}

/* smtpd_check_tempfail - 451 4.3.0 for a table that failed */
static bool
smtpd_check_tempfail(struct smtpd_session *sess, const char *rcpt, const char *why)
{
    char text[700];

    log_warn("recipient <%s>: table lookup failed: %s", rcpt, why);
    snprintf(text, sizeof(text), "<%s>: Temporary lookup failure", rcpt);
    return smtpd_check_refuse(sess, rcpt, 451, "4.3.0", text);
}

/* smtpd_check_restrictions - the five lists in Postfix's order; false once one refuses */
static bool
smtpd_check_restrictions(struct smtpd_session *sess, const char *rcpt)
{
    struct smtpd *smtpd = sess->smtpd;
    struct smtpd_rlist *lists[] = {&smtpd->client, &smtpd->helo, &smtpd->sender, &smtpd->relay,
                                   &smtpd->recipient};
    struct restrict_facts facts = {
        .client_addr = sess->addr,
        .client_name = sess->name,
        .helo = sess->helo,
        .sender = sess->txn.sender,
        .recipient = rcpt,
        .sasl_authenticated = smtpd_auth_user(sess) != NULL,
        .sasl_username = smtpd_auth_user(sess),
        .unauth_pipelining = sess->unauth_pipelining,
    };

    struct err err;

    if (smtpd->sender_login.error != NULL) {
        if (!map_retry_ready(&smtpd->sender_login, &err))
            return smtpd_check_tempfail(sess, rcpt, smtpd->sender_login.error);
        smtpd->renv.sender_login_maps = smtpd->sender_login.maps;
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct restrict_reply reply;
        enum restrict_verdict v;

        if (!smtpd_check_usable(lists[i]))
            return smtpd_check_tempfail(sess, rcpt, lists[i]->error);
        v = restrict_eval(lists[i]->list, &smtpd->renv, &facts, &reply);
        if (v == RESTRICT_REJECT || v == RESTRICT_DEFER)
            return smtpd_check_refuse(sess, rcpt, reply.code, reply.dsn, reply.text);
    }
    return true;
}

/* smtpd_check_lookup - is rcpt in the table list? MAP_ERROR for a broken one */
static enum map_status
smtpd_check_lookup(struct smtpd *smtpd, struct map_retry *t, const char *rcpt, bool local,
                   struct err *err)
{
    struct map_addr_opts opts = smtpd->renv.addr_opts;
    struct map_addr_match match = {0};
    enum map_status status;

    if (!map_retry_ready(t, err))
        return MAP_ERROR;
    if (t->maps == NULL)
        return MAP_NOTFOUND;
    opts.domain_is_local = local;
    status = map_addr_find(t->maps, MAP_ADDR_VIRTUAL, rcpt, &opts, &match, err);
    map_addr_match_free(&match);
    return status;
}

/*
 * smtpd_check_exists - does an address of one of our domains exist in the table its address
 * class names? (table: the one that said no.) Relay and other domains are not ours to judge.
 */
static enum restrict_known
smtpd_check_exists(void *ctx, const char *addr, const char **table, struct err *err)
{
    struct smtpd *smtpd = ctx;
    const char *at = strrchr(addr, '@');
    enum addr_class cls = ADDR_CLASS_LOCAL;
    struct map_retry *t = NULL;
    enum map_status status;

    if (smtpd->domains_error != NULL) {
        err_set(err, "%s", smtpd->domains_error);
        return RESTRICT_KNOWN_ERROR;
    }
    if (at != NULL && addr_class_find(&smtpd->domains, at + 1, &cls, err) == MAP_ERROR)
        return RESTRICT_KNOWN_ERROR;
    status = smtpd_check_lookup(smtpd, &smtpd->valias, addr, cls == ADDR_CLASS_LOCAL, err);
    if (status != MAP_NOTFOUND)
        return status == MAP_FOUND ? RESTRICT_KNOWN : RESTRICT_KNOWN_ERROR;
    if (cls == ADDR_CLASS_LOCAL && smtpd->local_rcpt.maps == NULL && !smtpd->local_rcpt.error)
        return RESTRICT_KNOWN; /* empty local_recipient_maps: every local address exists */
    if (cls == ADDR_CLASS_LOCAL) {
        t = &smtpd->local_rcpt;
        *table = "local recipient table";
    } else if (cls == ADDR_CLASS_VIRTUAL_ALIAS) {
        *table = "virtual alias table";
    } else if (cls == ADDR_CLASS_VIRTUAL_MAILBOX) {
        t = &smtpd->vmailbox;
        *table = "virtual mailbox table";
    } else {
        return RESTRICT_KNOWN;
    }
    status = t ? smtpd_check_lookup(smtpd, t, addr, cls == ADDR_CLASS_LOCAL, err) : MAP_NOTFOUND;
    if (status == MAP_ERROR)
        return RESTRICT_KNOWN_ERROR;
    return status == MAP_FOUND ? RESTRICT_KNOWN : RESTRICT_UNKNOWN;
}

/* smtpd_check_known - the recipient must exist in the table its address class names */
static bool
smtpd_check_known(struct smtpd_session *sess, const char *rcpt)
{
    const char *table = "local recipient table";
    struct err err;
    char text[700];

    switch (smtpd_check_exists(sess->smtpd, rcpt, &table, &err)) {
    case RESTRICT_KNOWN:
        return true;
    case RESTRICT_KNOWN_ERROR:
        return smtpd_check_tempfail(sess, rcpt, err.text);
    default:
        snprintf(text, sizeof(text), "<%s>: Recipient address rejected: User unknown in %s", rcpt,
                 table);
        return smtpd_check_refuse(sess, rcpt, 550, "5.1.1", text);
    }
}

/* smtpd_check_data - smtpd_data_restrictions at DATA; false when replied and logged */
bool
smtpd_check_data(struct smtpd_session *sess)
{
    struct smtpd *smtpd = sess->smtpd;
    const char *rcpt = sess->txn.nrcpt == 1 ? sess->txn.rcpt[0].addr : NULL;
    struct restrict_facts facts = {
        .client_addr = sess->addr,
        .client_name = sess->name,
        .helo = sess->helo,
        .sender = sess->txn.sender,
        .unauth_pipelining = sess->unauth_pipelining,
    };
    struct restrict_reply reply;
    enum restrict_verdict v;

    if (!smtpd_check_usable(&smtpd->data)) {
        log_warn("smtpd_data_restrictions: %s", smtpd->data.error);
        smtpd_log_reject(sess, "DATA", 451, "4.3.0", "<DATA>: Temporary lookup failure", rcpt);
        smtpd_reply(sess, 451, "4.3.0", "<DATA>: Temporary lookup failure");
        return false;
    }
    v = restrict_eval(smtpd->data.list, &smtpd->renv, &facts, &reply);
    if (v != RESTRICT_REJECT && v != RESTRICT_DEFER)
        return true;
    smtpd_log_reject(sess, "DATA", reply.code, reply.dsn, reply.text, rcpt);
    smtpd_reply(sess, reply.code, reply.dsn, "%s", reply.text);
    return false;
}

/* smtpd_check_rcpt - true when rcpt may be accepted; otherwise replied and logged */
bool
smtpd_check_rcpt(struct smtpd_session *sess, const char *rcpt, bool postmaster)
{
    if (postmaster)
        return true; /* RFC 5321 4.5.1: <postmaster> is always accepted */
    if (!smtpd_check_ready(sess->smtpd))
        return smtpd_check_tempfail(sess, rcpt, sess->smtpd->domains_error);
    return smtpd_check_restrictions(sess, rcpt) && smtpd_check_known(sess, rcpt);
}

/* smtpd_check_local - is rcpt's domain one of the local domains (mydestination)? */
bool
smtpd_check_local(struct smtpd_session *sess, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    enum addr_class cls = ADDR_CLASS_LOCAL;
    struct err err;

    return at != NULL && sess->smtpd->domains_error == NULL &&
           addr_class_find(&sess->smtpd->domains, at + 1, &cls, &err) != MAP_ERROR &&
           cls == ADDR_CLASS_LOCAL;
}
