/* mail_resolve.c - virtual alias expansion (recursion, limits, loops, extensions) and
 * transport selection (class defaults, transport_maps) */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/conf.h"
#include "mail/params.h"
#include "mail/resolve.h"
#include "t/tap.h"

static const char *const main_cf =
    "myhostname = mx.example.org\n"
    "myorigin = example.org\n"
    "mydestination = $myhostname, localhost\n"
    "recipient_delimiter = +\n"
    "virtual_alias_domains = alias.example\n"
    "virtual_mailbox_domains = box.example\n"
    "relay_domains = relay.example\n"
    "virtual_alias_maps = inline:{ a@alias.example=b@alias.example, "
    "b@alias.example=c@box.example, { list@alias.example = x@box.example, y@box.example, "
    "x@box.example } , self@alias.example=self@alias.example, "
    "{ keep@box.example = keep@box.example, copy@box.example }, "
    "loop1@box.example=loop2@box.example, loop2@box.example=loop1@box.example, "
    "user@alias.example=plain, ext@alias.example=target@box.example, "
    "deep0@box.example=deep1@box.example, deep1@box.example=deep2@box.example, "
    "deep2@box.example=deep3@box.example, deep3@box.example=deep4@box.example, "
    "{ wide@box.example = w1@box.example, w2@box.example, w3@box.example } }\n"
    "transport_maps = inline:{ special@mx.example.org=mbox:, relay.example=:[10.0.0.1], "
    ".sub.example=smtp:[gw.example], far.example=smtp:, gone.example=error:, later.example=retry }\n"
    "relayhost = [smarthost.example]\n"
    "sender_dependent_relayhost_maps = inline:{ alice@example.org=[alice-relay.example]:587, "
    "@corp.example=[corp-relay.example], bob@corp.example=DUNNO, <>=[bounce-relay.example] }\n";

/* expand - the expansion of addr as one comma-separated string, or "defer:"/"bounce:" */
static char *
expand(struct resolve *r, const char *addr, struct resolve_result *res)
{
    struct strvec out;
    struct buf text;

    strvec_init(&out);
    buf_init(&text, BUF_UNLIMITED);
    switch (resolve_expand(r, addr, &out, res)) {
    case RESOLVE_OK:
        for (size_t i = 0; i < out.n; i++)
            buf_printf(&text, "%s%s", i ? "," : "", out.v[i]);
        break;
    case RESOLVE_DEFER:
        buf_printf(&text, "defer:%s", res->dsn);
        break;
    case RESOLVE_BOUNCE:
        buf_printf(&text, "bounce:%s", res->dsn);
        break;
    }
    strvec_free(&out);
    return buf_steal(&text);
}

static void
test_expand(struct resolve *r)
{
    static const struct {
        const char *addr, *want;
    } cases[] = {
        {"nobody@elsewhere.example", "nobody@elsewhere.example"},
        {"a@alias.example", "c@box.example"},                  /* recursive */
        {"list@alias.example", "x@box.example,y@box.example"}, /* unique */
        {"self@alias.example", "bounce:5.1.1"}, /* final, but its domain has no mailboxes */
        {"keep@box.example", "keep@box.example,copy@box.example"},
        {"user@alias.example", "plain@example.org"},         /* unqualified: @myorigin */
        {"ext+tag@alias.example", "target+tag@box.example"}, /* extension carried on */
        {"unknown@alias.example", "bounce:5.1.1"},           /* virtual alias domain: must match */
        {"loop1@box.example", "defer:4.3.0"},                /* a loop */
        {"deep0@box.example", "defer:4.3.0"},                /* recursion limit 3 */
        {"wide@box.example", "defer:4.3.0"},                 /* expansion limit 2 */
    };
    struct resolve_result res;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = expand(r, cases[i].addr, &res);
        is_str(got, cases[i].want, "expand %s", cases[i].addr);
        free(got);
    }
    free(expand(r, "loop1@box.example", &res));
    ok(strstr(res.reason, "loop") != NULL, "a loop says so: %s", res.reason);
    free(expand(r, "deep0@box.example", &res));
    ok(strstr(res.reason, "nesting") != NULL, "the recursion limit says so: %s", res.reason);
    free(expand(r, "wide@box.example", &res));
    ok(strstr(res.reason, "expansion size") != NULL, "the expansion limit says so: %s", res.reason);
}

/* test_sender_relay - sender_dependent_relayhost_maps: address, address without its
 * extension, @domain, DUNNO, the null sender's key; never for local mail or a transport's
 * own next hop */
static void
test_sender_relay(struct resolve *r)
{
    static const struct {
        const char *sender, *addr, *nexthop;
    } cases[] = {
        {"alice@example.org", "x@elsewhere.example", "[alice-relay.example]:587"},
        {"alice+tag@example.org", "x@elsewhere.example", "[alice-relay.example]:587"},
        {"carol@corp.example", "x@elsewhere.example", "[corp-relay.example]"},
        {"bob@corp.example", "x@elsewhere.example", "[smarthost.example]"},
        {"", "x@elsewhere.example", "[bounce-relay.example]"},
        {"dave@example.org", "x@elsewhere.example", "[smarthost.example]"},
        {"alice@example.org", "user@mx.example.org", "mx.example.org"},
        {"alice@example.org", "r@relay.example", "[10.0.0.1]"},
        {"alice@example.org", "x@host.sub.example", "[gw.example]"},
    };
    struct resolve_result res;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(resolve_transport(r, cases[i].sender, cases[i].addr, &res) == RESOLVE_OK,
           "<%s> to %s resolves", cases[i].sender, cases[i].addr);
        is_str(res.nexthop, cases[i].nexthop, "<%s> to %s: next hop", cases[i].sender,
               cases[i].addr);
    }
}

static void
test_transport(struct resolve *r)
{
    static const struct {
        const char *addr, *transport, *nexthop;
    } cases[] = {
        {"user@mx.example.org", "local", "mx.example.org"},
        {"user", "local", "mx.example.org"},
        {"special@mx.example.org", "mbox", "mx.example.org"}, /* transport_maps, address */
        {"v@box.example", "virtual", "box.example"},
        {"r@relay.example", "relay", "[10.0.0.1]"},             /* transport_maps: next hop only */
        {"x@elsewhere.example", "smtp", "[smarthost.example]"}, /* relayhost */
        {"x@host.sub.example", "smtp", "[gw.example]"},         /* .parent entry */
        {"x@sub.example", "smtp", "[smarthost.example]"},       /* not the parent itself */
        {"x@far.example", "smtp", "far.example"}, /* a transport alone: the domain, not relayhost */
        {"x@gone.example", "error", "Address is undeliverable"},
        {"x@later.example", "retry", "Address is undeliverable"},
    };
    struct resolve_result res;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(resolve_transport(r, "someone@example.org", cases[i].addr, &res) == RESOLVE_OK,
           "%s resolves", cases[i].addr);
        is_str(res.transport, cases[i].transport, "%s: transport", cases[i].addr);
        is_str(res.nexthop, cases[i].nexthop, "%s: next hop", cases[i].addr);
    }
    ok(resolve_transport(r, "", "x@alias.example", &res) == RESOLVE_BOUNCE &&
           strcmp(res.dsn, "5.1.1") == 0,
       "an unexpanded virtual alias address bounces 5.1.1");
}

/* test_route - what smtpd's milter macros get: trivial-rewrite's answer, no alias expansion */
static void
test_route(struct resolve *r)
{
    static const struct {
        const char *addr, *transport, *nexthop;
    } cases[] = {
        {"", "local", "mx.example.org"}, /* the null sender: MAILER-DAEMON@$myhostname */
        {"postmaster", "local", "mx.example.org"},
        {"user@localhost", "local", "mx.example.org"},
        {"a@alias.example", "error", "User unknown in virtual alias table"},
        {"v@box.example", "virtual", "box.example"},
        {"x@far.example", "smtp", "far.example"},
        {"x@elsewhere.example", "smtp", "[bounce-relay.example]"}, /* the null sender's relay */
    };
    struct resolve_result res;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(resolve_route(r, "", cases[i].addr, &res) == RESOLVE_OK, "route <%s>", cases[i].addr);
        is_str(res.transport, cases[i].transport, "route <%s>: transport", cases[i].addr);
        is_str(res.nexthop, cases[i].nexthop, "route <%s>: next hop", cases[i].addr);
    }
}

int
main(void)
{
    struct conf *conf = params_conf_new();
    struct err cerr;
    struct err err;
    struct resolve r;
    struct params p;

    ok(conf_read_text(conf, "main.cf", main_cf, &cerr) &&
           conf_override(conf, "virtual_alias_recursion_limit", "3", &cerr) &&
           conf_override(conf, "virtual_alias_expansion_limit", "2", &cerr) &&
           params_load(&p, conf, &cerr),
       "main.cf loads");
    if (!ok(resolve_open(&r, &p, &err), "the tables open"))
        diag("%s", err.text);
    test_expand(&r);
    test_transport(&r);
    test_sender_relay(&r);
    test_route(&r);
    resolve_close(&r);
    params_free(&p);
    conf_free(conf);

    conf = params_conf_new();
    ok(conf_read_text(conf, "main.cf", "myhostname = mx.example.org\nlocal_transport = local\n",
                      &cerr) &&
           params_load(&p, conf, &cerr),
       "local_transport without a next hop loads");
    if (ok(resolve_open(&r, &p, &err), "its tables open")) {
        struct resolve_result res;
        ok(resolve_transport(&r, "", "u@localhost", &res) == RESOLVE_OK &&
               strcmp(res.transport, "local") == 0 && strcmp(res.nexthop, "localhost") == 0,
           "then a local address's next hop is its domain, as in Postfix: %s", res.nexthop);
        ok(resolve_transport(&r, "", "u", &res) == RESOLVE_OK &&
               strcmp(res.nexthop, "mx.example.org") == 0,
           "and an unqualified one's $myhostname: %s", res.nexthop);
        resolve_close(&r);
    }
    params_free(&p);
    conf_free(conf);

    conf = params_conf_new();
    ok(conf_read_text(conf, "main.cf", "virtual_alias_maps = texthash:/nonexistent/x\n", &cerr) &&
           params_load(&p, conf, &cerr),
       "a missing table still loads as a parameter");
    if (resolve_open(&r, &p, &err)) {
        struct resolve_result res;
        char *got = expand(&r, "a@b.example", &res);
        is_str(got, "defer:4.3.0", "a table error defers");
        free(got);
        resolve_close(&r);
    } else
        ok(1, "a table that cannot be opened is refused at open: %s", err.text);
    params_free(&p);
    conf_free(conf);
    return done_testing();
}
