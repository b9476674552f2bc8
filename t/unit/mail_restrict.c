/* mail_restrict.c - relay control and access restrictions, as Postfix words and orders them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "mail/restrict.h"
#include "t/tap.h"

static struct restrict_env env;

static void
env_open(void)
{
    struct err err;

    env.mynetworks =
        match_list_open("127.0.0.0/8 [::1]/128 192.0.2.0/24", MATCH_ADDRESS, false, &err);
    env.mydestination = match_list_open("mx.example.org, localhost", MATCH_DOMAIN, false, &err);
    env.relay_domains = match_list_open("relayed.example", MATCH_DOMAIN, false, &err);
    env.virtual_alias_domains = match_list_open("alias.example", MATCH_DOMAIN, false, &err);
    env.virtual_mailbox_domains = match_list_open("", MATCH_DOMAIN, false, &err);
    env.addr_opts.recipient_delimiter = "+";
}

struct want {
    enum restrict_verdict verdict;
    int code;
    const char *text;
};

static void
check(const char *list_text, enum restrict_stage stage, const struct restrict_facts *f,
      struct want want, const char *name)
{
    struct err err;
    struct restrict_list *list = restrict_compile(list_text, stage, &err);
    struct restrict_reply reply = {0};
    enum restrict_verdict v;

    if (list == NULL) {
        ok(false, "%s (compile: %s)", name, err.text);
        return;
    }
    v = restrict_eval(list, &env, f, &reply);
    ok(v == want.verdict && (want.code == 0 || reply.code == want.code) &&
           (want.text == NULL || strcmp(reply.text, want.text) == 0),
       "%s", name);
    if (v != want.verdict || (want.text && strcmp(reply.text, want.text) != 0))
        diag("verdict %d code %d text '%s'", v, reply.code, reply.text);
    restrict_free(list);
}

int
main(void)
{
    const char *relay = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination";
    struct restrict_facts outsider = {"203.0.113.5",
                                      "unknown",
                                      "client.example",
                                      "a@b.example",
                                      "victim@elsewhere.example",
                                      false,
                                      false,
                                      NULL};
    struct restrict_facts f;
    char *access = tap_write_file("access", "");
    char *inline_access;

    env_open();
    check(relay, RESTRICT_RECIPIENT, &outsider,
          (struct want){RESTRICT_REJECT, 554, "<victim@elsewhere.example>: Relay access denied"},
          "an outsider may not relay");
    f = outsider;
    f.client_addr = "192.0.2.10";
    check(relay, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_PERMIT, 0, NULL},
          "mynetworks may relay");
    f = outsider;
    f.client_addr = "::1";
    check(relay, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_PERMIT, 0, NULL},
          "IPv6 loopback is in mynetworks");
    f = outsider;
    f.sasl_authenticated = true;
    check(relay, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_PERMIT, 0, NULL},
          "an authenticated client may relay");
    const char *local_rcpts[] = {"u@mx.example.org", "u@MX.Example.ORG", "u@relayed.example",
                                 "u@alias.example"};
    for (size_t i = 0; i < sizeof(local_rcpts) / sizeof(local_rcpts[0]); i++) {
        f = outsider;
        f.recipient = local_rcpts[i];
        check(relay, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_DUNNO, 0, NULL},
              "mail for our own domain is no relaying");
    }
    f = outsider;
    f.recipient = "u@sub.mx.example.org";
    check(relay, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_REJECT, 554, NULL},
          "a subdomain is not ours unless listed");
    check("defer_unauth_destination", RESTRICT_RECIPIENT, &outsider,
          (struct want){RESTRICT_DEFER, 454, "<victim@elsewhere.example>: Relay access denied"},
          "defer_unauth_destination defers");

    inline_access = xasprintf("check_recipient_access inline:{ "
                              "{ spam@mx.example.org = REJECT no spam here }, "
                              "{ later@mx.example.org = 451 4.7.1 come back later }, "
                              "mx.example.org=OK, "
                              "{ nested@mx.example.org = reject_unauth_destination } }, reject");
    f = outsider;
    f.recipient = "spam@mx.example.org";
    check(inline_access, RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "<spam@mx.example.org>: Recipient address rejected: no spam here"},
          "access REJECT with text");
    f.recipient = "later@mx.example.org";
    check(inline_access, RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_DEFER, 451,
                        "<later@mx.example.org>: Recipient address rejected: come back later"},
          "access NNN with enhanced code");
    f.recipient = "other+tag@mx.example.org";
    check(inline_access, RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_PERMIT, 0, NULL},
          "access falls back to the domain");
    f.recipient = "nested@mx.example.org";
    check(inline_access, RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "<nested@mx.example.org>: Recipient address rejected: Access denied"},
          "a restriction named by an access value has nothing to say: the list goes on");
    f.client_addr = "192.0.2.9";
    check("check_recipient_access inline:{ nested@mx.example.org=permit_mynetworks }, reject",
          RESTRICT_RECIPIENT, &f, (struct want){RESTRICT_PERMIT, 0, NULL},
          "a restriction named by an access value decides");
    f.client_addr = outsider.client_addr;
    f.recipient = "x@nowhere.example";
    check(inline_access, RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "<x@nowhere.example>: Recipient address rejected: Access denied"},
          "reject after a table that had nothing to say");

    f = outsider;
    f.sender = "";
    check("check_sender_access inline:{ { <> = REJECT no bounces } }", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_REJECT, 554, "<>: Sender address rejected: no bounces"},
          "the null sender is looked up as <>");
    f = outsider;
    check("check_client_access inline:{ 203.0.113.5=REJECT }", RESTRICT_CLIENT, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "unknown[203.0.113.5]: Client host rejected: Access denied"},
          "check_client_access by address");
    f.helo = "localhost";
    check("reject_non_fqdn_helo_hostname", RESTRICT_HELO, &f,
          (struct want){RESTRICT_REJECT, 504,
                        "<localhost>: Helo command rejected: need fully-qualified hostname"},
          "a non-FQDN HELO");
    f.helo = "bad_name!";
    check("reject_invalid_helo_hostname", RESTRICT_HELO, &f,
          (struct want){RESTRICT_REJECT, 501, "<bad_name!>: Helo command rejected: Invalid name"},
          "an invalid HELO");
    f.helo = "[192.0.2.1]";
    check("reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname", RESTRICT_HELO, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL}, "an address literal HELO is fine");
    f = outsider;
    f.sender = "user";
    check("reject_non_fqdn_sender", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_REJECT, 504,
                        "<user>: Sender address rejected: need fully-qualified address"},
          "a sender without a domain");
    f = outsider;
    check("reject_unauth_pipelining", RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL},
          "a client that waited for its replies passes reject_unauth_pipelining");
    f.unauth_pipelining = true;
    check("reject_unauth_pipelining", RESTRICT_RECIPIENT, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "<victim@elsewhere.example>: Recipient address rejected: Improper use of "
                        "SMTP command pipelining"},
          "one that did not is refused");
    check("reject_unauth_pipelining", RESTRICT_DATA, &f,
          (struct want){RESTRICT_REJECT, 554,
                        "<DATA>: Data command rejected: Improper use of SMTP command pipelining"},
          "at DATA, in Postfix's words");

    free(access);
    access = xasprintf("check_recipient_access lmdb:%s/missing", tap_tmpdir());
    struct err err;
    ok(restrict_compile(access, RESTRICT_RECIPIENT, &err) == NULL,
       "a missing table is an error at start");
    ok(restrict_compile("permit_nobody", RESTRICT_RECIPIENT, &err) == NULL &&
           strstr(err.text, "unknown restriction \"permit_nobody\""),
       "an unknown restriction is an error at start");
    ok(restrict_compile("check_sender_access", RESTRICT_SENDER, &err) == NULL &&
           strstr(err.text, "needs a table"),
       "a check without its table is an error at start");
    free(access);
    free(inline_access);
    env.sender_login_maps = map_list_open(
        "inline:{ alice@example.org=alice, {shared@example.org=alice bob} }", MAP_FOLD_FIXED, &err);
    f = outsider;
    f.sender = "alice@example.org";
    f.sasl_authenticated = true;
    f.sasl_username = "alice";
    check("reject_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL}, "a login may send as the address it owns");
    f.sender = "shared@example.org";
    check("reject_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL}, "and as one it shares with others");
    f.sasl_username = "mallory";
    check("reject_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_REJECT, 553,
                        "<shared@example.org>: Sender address rejected: not owned by user mallory"},
          "another login may not");
    f.sender = "nobody@example.org";
    check("reject_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_REJECT, 553, NULL}, "nor send as an address nobody owns");
    check("reject_known_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL},
          "reject_known_sender_login_mismatch leaves addresses nobody owns alone");
    check("reject_unauthenticated_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL},
          "reject_unauthenticated_sender_login_mismatch leaves logged-in clients alone");
    f = outsider;
    f.sender = "alice@example.org";
    check("reject_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_REJECT, 553,
                        "<alice@example.org>: Sender address rejected: not logged in"},
          "without a login, an owned address is refused");
    check("reject_authenticated_sender_login_mismatch", RESTRICT_SENDER, &f,
          (struct want){RESTRICT_DUNNO, 0, NULL},
          "reject_authenticated_sender_login_mismatch leaves the unauthenticated alone");
    map_list_close(env.sender_login_maps);
    env.sender_login_maps = NULL;
    return done_testing();
}
