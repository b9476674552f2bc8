/*
 * smtp_out_tlspol.c - one delivery's TLS policy: smtp_tls_security_level and friends, or
 * the next hop's entry in smtp_tls_policy_maps, in Postfix's syntax:
 *
 *   [mx.example.net]:587   encrypt protocols=>=TLSv1.3
 *   example.com            verify match=mail.example.com:.example.com
 *   .example.org           secure
 *
 * The key is the next hop as qmgr gave it ("[host]:port", "[host]" or a domain); a domain
 * also finds its parent domains' ".parent" entries. The first word of a value is the level;
 * match=, protocols=, ciphers= and servername= override the parameters. An entry that does
 * not parse, or a table that fails, defers the delivery: a typo must not lower the policy.
 *
 * Then the request for tlsproxy: versions and ciphers of the level's grade, SNI, and the
 * names the certificate must match, with hostname, nexthop and dot-nexthop expanded.
 *
 * Trusts: main.cf and its tables.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/map.h"
#include "core/mem.h"
#include "core/str.h"
#include "smtp-out/smtp_out.h"

void
smtp_out_tlspol_init(struct smtp_out *so)
{
    struct err err;

    if (so->p->smtp_tls_policy_maps.n == 0)
        return;
    so->tls_policy = map_list_open_param(&so->p->smtp_tls_policy_maps, MAP_FOLD_FIXED, &err);
    if (so->tls_policy == NULL) {
        so->tls_policy_error = xstrdup(err.text);
        log_warn("smtp_tls_policy_maps: %s", err.text);
    }
}

void
smtp_out_tlspol_free(struct smtp_out *so)
{
    if (so->tls_policy != NULL)
        map_list_close(so->tls_policy);
    free(so->tls_policy_error);
}

/* smtp_out_tlspol_words - a match list ("a:b", "a, b") as space-separated words into out */
static bool
smtp_out_tlspol_words(const char *list, char *out, size_t size)
{
    size_t n = 0;

    out[0] = 0;
    while (*list) {
        size_t len;
        list += strspn(list, ":, \t");
        len = strcspn(list, ":, \t");
        if (len == 0)
            break;
        if (n + len + 2 > size)
            return false;
        if (n > 0)
            out[n++] = ' ';
        memcpy(out + n, list, len);
        n += len;
        out[n] = 0;
        list += len;
    }
    return true;
}

/* smtp_out_tlspol_param - the default match list of a level, from its parameter */
static void
smtp_out_tlspol_default_match(struct smtp_out_sess *s)
{
    const struct params *p = s->so->p;
    const struct strvec *v = s->tlspol.level == TLS_LEVEL_SECURE ? &p->smtp_tls_secure_cert_match
                                                                 : &p->smtp_tls_verify_cert_match;
    size_t n = 0;

    s->tlspol.match[0] = 0;
    for (size_t i = 0; i < v->n && n + strlen(v->v[i]) + 2 < sizeof(s->tlspol.match); i++)
        n += (size_t)snprintf(s->tlspol.match + n, sizeof(s->tlspol.match) - n, "%s%s",
                              n ? " " : "", v->v[i]);
}

/* smtp_out_tlspol_attr - one name=value of an entry; false: not one we know, or too long */
static bool
smtp_out_tlspol_attr(struct smtp_out_tlspol *tp, const char *w)
{
    const char *v = strchr(w, '=');
    size_t klen = v ? (size_t)(v - w) : 0;

    if (v++ == NULL)
        return false;
    if (klen == 5 && strncasecmp(w, "match", 5) == 0)
        return smtp_out_tlspol_words(v, tp->match, sizeof(tp->match));
    if (klen == 9 && strncasecmp(w, "protocols", 9) == 0)
        return str_copy(tp->protocols, v, sizeof(tp->protocols)) < sizeof(tp->protocols);
    if (klen == 7 && strncasecmp(w, "ciphers", 7) == 0)
        return str_copy(tp->ciphers, v, sizeof(tp->ciphers)) < sizeof(tp->ciphers);
    if (klen == 10 && strncasecmp(w, "servername", 10) == 0)
        return str_copy(tp->servername, v, sizeof(tp->servername)) < sizeof(tp->servername);
    return false;
}

/* smtp_out_tlspol_entry - a policy-map value: a level, then attributes */
static bool
smtp_out_tlspol_entry(struct smtp_out_sess *s, const char *value, struct err *err)
{
    struct strvec words;
    bool good = true;

    strvec_init(&words);
    strvec_split(&words, value, " \t");
    if (words.n == 0)
        good = err_set(err, "empty policy");
    else if (!tls_client_level_parse(words.v[0], &s->tlspol.level, err))
        good = false;
    if (good && s->tlspol.level >= TLS_LEVEL_VERIFY)
        smtp_out_tlspol_default_match(s);
    for (size_t i = 1; good && i < words.n; i++)
        if (!smtp_out_tlspol_attr(&s->tlspol, words.v[i]))
            good = err_set(err, "invalid attribute \"%s\"", words.v[i]);
    strvec_free(&words);
    return good;
}

/* smtp_out_tlspol_lookup - the next hop's entry, then each parent domain's ".parent" */
static enum map_status
smtp_out_tlspol_lookup(struct smtp_out_sess *s, const char **value, struct err *err)
{
    char key[300];
    const char *dot;
    enum map_status st = map_list_lookup(s->so->tls_policy, s->req.nexthop, 0, value, err);

    if (st != MAP_NOTFOUND || s->req.nexthop[0] == '[' || strchr(s->req.nexthop, ':'))
        return st;
    for (dot = strchr(s->req.nexthop, '.'); dot != NULL && st == MAP_NOTFOUND;
         dot = strchr(dot + 1, '.')) {
        snprintf(key, sizeof(key), "%s", dot);
        st = map_list_lookup(s->so->tls_policy, key, MAP_LOOKUP_PARTIAL, value, err);
    }
    return st;
}

/*
 * smtp_out_tlspol_find - this delivery's policy: the parameters, then a policy-map entry.
 * False: every recipient is deferred (a broken table or entry, a level not implemented).
 */
bool
smtp_out_tlspol_find(struct smtp_out_sess *s)
{
    const struct params *p = s->so->p;
    struct smtp_out_tlspol *tp = &s->tlspol;
    const char *value = NULL;
    struct err err;
    enum map_status st = MAP_NOTFOUND;

    memset(tp, 0, sizeof(*tp));
    tp->wrapper = p->smtp_tls_wrappermode;
    if (!tls_client_level_parse(p->smtp_tls_security_level, &tp->level, &err)) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "smtp_tls_security_level: %s", err.text);
        return false;
    }
    if (tp->level >= TLS_LEVEL_VERIFY)
        smtp_out_tlspol_default_match(s);
    if (s->so->tls_policy_error != NULL) {
        smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "TLS policy lookup error: %s",
                          s->so->tls_policy_error);
        return false;
    }
    if (s->so->tls_policy != NULL)
        st = smtp_out_tlspol_lookup(s, &value, &err);
    if (st == MAP_ERROR || (st == MAP_FOUND && !smtp_out_tlspol_entry(s, value, &err))) {
        log_warn("%s: TLS policy lookup for %s: %s", s->req.queue_id, s->req.nexthop, err.text);
        smtp_out_fail_all(s, DELIVER_DEFER, "4.7.5", "TLS policy lookup error for %s",
                          s->req.nexthop);
        return false;
    }
    if (tp->wrapper && tp->level < TLS_LEVEL_ENCRYPT)
        tp->level = TLS_LEVEL_ENCRYPT; /* TLS from the first byte has no plaintext to fall to */
    return true;
}

/* smtp_out_tlspol_name - one word of a match list or servername, expanded: hostname is the
 * server's name, nexthop the next hop's, dot-nexthop its subdomains */
static const char *
smtp_out_tlspol_name(const struct smtp_out_sess *s, const char *w, char *buf, size_t size)
{
    if (strcasecmp(w, "hostname") == 0)
        return smtp_out_hop_host(s);
    if (strcasecmp(w, "nexthop") == 0)
        return s->nh.host;
    if (strcasecmp(w, "dot-nexthop") == 0) {
        snprintf(buf, size, ".%s", s->nh.host);
        return buf;
    }
    return w;
}

/* smtp_out_tlspol_match - the match words, expanded, into req->match */
static bool
smtp_out_tlspol_match(const struct smtp_out_sess *s, struct tls_request *req, struct err *err)
{
    struct strvec words;
    char buf[300];
    size_t n = 0;
    bool good = true;

    strvec_init(&words);
    strvec_split(&words, s->tlspol.match, " ");
    for (size_t i = 0; good && i < words.n; i++) {
        const char *name = smtp_out_tlspol_name(s, words.v[i], buf, sizeof(buf));
        int w = snprintf(req->match + n, sizeof(req->match) - n, "%s%s", n ? " " : "", name);
        good = w > 0 && (size_t)w < sizeof(req->match) - n;
        n += good ? (size_t)w : 0;
    }
    strvec_free(&words);
    return good || err_set(err, "certificate match list too long");
}

/* smtp_out_tlspol_request - what tlsproxy is asked for: versions, ciphers, SNI, names */
bool
smtp_out_tlspol_request(const struct smtp_out_sess *s, struct tls_request *req, struct err *err)
{
    const struct params *p = s->so->p;
    const struct smtp_out_tlspol *tp = &s->tlspol;
    bool mandatory = tp->level >= TLS_LEVEL_ENCRYPT;
    const char *protocols = tp->protocols[0] ? tp->protocols
                            : mandatory      ? p->smtp_tls_mandatory_protocols
                                             : p->smtp_tls_protocols;
    const char *sni = tp->servername[0] ? tp->servername : p->smtp_tls_servername;
    char buf[300];
    unsigned char addr[16];
    int min, max;

    memset(req, 0, sizeof(*req));
    req->client = true;
    req->peer = -1;
    req->timeout = p->smtp_starttls_timeout;
    str_copy(req->level, tls_level_name(tp->level), sizeof(req->level));
    if (!tls_protocols_parse(protocols, &min, &max, err) ||
        str_copy(req->protocols, protocols, sizeof(req->protocols)) >= sizeof(req->protocols))
        return err_set(err, "TLS protocols \"%s\" not usable", protocols);
    if (!tls_client_cipherlist(p, mandatory, tp->ciphers, req->ciphers, sizeof(req->ciphers), err))
        return false;
    if (*sni) {
        const char *name = smtp_out_tlspol_name(s, sni, buf, sizeof(buf));
        if (str_copy(req->servername, name, sizeof(req->servername)) >= sizeof(req->servername))
            return err_set(err, "servername too long");
        if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
            req->servername[0] = 0; /* SNI names a host, never an address (RFC 6066 3) */
    }
    return tp->level < TLS_LEVEL_VERIFY || smtp_out_tlspol_match(s, req, err);
}
