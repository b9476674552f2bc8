/* mail_addr_class.c - a domain's address class follows Postfix's order and reports errors */
#include <stdlib.h>

#include "core/conf.h"
#include "mail/addr_class.h"
#include "mail/params.h"
#include "t/tap.h"

static const char *const main_cf = "myhostname = mx.example.org\n"
                                   "mydestination = $myhostname, localhost, both.example\n"
                                   "virtual_alias_domains = alias.example, both.example\n"
                                   "virtual_mailbox_domains = inline:{ box.example=1 }\n"
                                   "relay_domains = relay.example\n"
                                   "parent_domain_matches_subdomains = relay_domains\n";

int
main(void)
{
    static const struct {
        const char *domain;
        enum addr_class want;
    } cases[] = {
        {"", ADDR_CLASS_LOCAL},
        {"MX.example.org", ADDR_CLASS_LOCAL},
        {"localhost", ADDR_CLASS_LOCAL},
        {"both.example", ADDR_CLASS_LOCAL},
        {"alias.example", ADDR_CLASS_VIRTUAL_ALIAS},
        {"box.example", ADDR_CLASS_VIRTUAL_MAILBOX},
        {"sub.box.example", ADDR_CLASS_DEFAULT},
        {"relay.example", ADDR_CLASS_RELAY},
        {"mx.relay.example", ADDR_CLASS_RELAY},
        {"elsewhere.example", ADDR_CLASS_DEFAULT},
    };
    struct conf *conf = params_conf_new();
    struct err cerr;
    struct err err;
    struct params p;
    struct addr_domains d;
    enum addr_class cls;

    ok(conf_read_text(conf, "main.cf", main_cf, &cerr) && params_load(&p, conf, &cerr),
       "main.cf loads");
    ok(addr_domains_open(&d, &p, &err), "the domain lists open");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(addr_class_find(&d, cases[i].domain, &cls, &err) == MAP_FOUND, "%s: decided",
           cases[i].domain);
        is_str(addr_class_name(cls), addr_class_name(cases[i].want), "%s: %s", cases[i].domain,
               addr_class_name(cases[i].want));
    }
    ok(addr_class_find(&d, NULL, &cls, &err) == MAP_FOUND && cls == ADDR_CLASS_LOCAL,
       "no domain at all is local");
    addr_domains_close(&d);
    params_free(&p);
    conf_free(conf);

    conf = params_conf_new();
    ok(conf_read_text(conf, "main.cf", "relay_domains = texthash:/nonexistent/relay\n", &cerr) &&
           params_load(&p, conf, &cerr),
       "a table that cannot be read still loads as a parameter");
    ok(!addr_domains_open(&d, &p, &err) ||
           addr_class_find(&d, "x.example", &cls, &err) == MAP_ERROR,
       "a table error is never 'default class': %s", err.text);
    addr_domains_close(&d);
    params_free(&p);
    conf_free(conf);
    return done_testing();
}
