/* mail_params.c - every declared parameter loads with its default; derived defaults follow */
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "mail/params.h"
#include "t/tap.h"

static bool
load(const char *text, struct params *p, struct err *err)
{
    struct conf *conf = params_conf_new();
    bool good = conf_read_text(conf, "main.cf", text, err) && params_load(p, conf, err);

    conf_free(conf);
    return good;
}

int
main(void)
{
    struct params p;
    struct err err;

    ok(load("", &p, &err), "every default is valid for its own type and bounds");
    ok(strchr(p.myhostname, '.') != NULL, "the default myhostname is qualified: %s", p.myhostname);
    is_str(p.mydomain, strchr(p.myhostname, '.') + 1, "mydomain is myhostname less a label");
    is_str(p.myorigin, p.myhostname, "myorigin follows myhostname");
    is_int(p.max_idle, 100, "max_idle is 100 seconds");
    is_int(p.message_size_limit, 10240000, "message_size_limit in bytes");
    ok(p.mynetworks.n == 2, "mynetworks is a list of two");
    is_str(p.config_directory, POSTERN_CONFIG_DIR, "config_directory is the compiled-in one");
    params_free(&p);

    ok(load("myhostname = mx.example.org\nmaximal_unknown = 1\n", &p, &err),
       "unknown names do not stop a load");
    is_str(p.mydomain, "example.org", "mydomain derives from the configured myhostname");
    is_str(p.smtpd_banner, "mx.example.org ESMTP Postern", "the banner expands");
    ok(p.mydestination.n == 3 && strcmp(p.mydestination.v[1], "localhost.example.org") == 0,
       "mydestination expands inside a list");
    params_free(&p);

    ok(load("myhostname = localhost\n", &p, &err), "a one-label myhostname");
    is_str(p.mydomain, "localdomain", "gives mydomain localdomain");
    params_free(&p);

    ok(load("myhostname = mail.$mydomain\nmydomain = example.net\n", &p, &err) &&
           strcmp(p.myhostname, "mail.example.net") == 0,
       "myhostname may be built from mydomain");
    params_free(&p);

    ok(!load("max_idle = 0\n", &p, &err), "a value below its bound is refused");
    is_str(err.text, "main.cf, line 1: max_idle: value 0 out of range [1, 86400]",
           "with file, line, name and bounds");
    ok(!load("max_use = 5\nmax_use = many\n", &p, &err), "the last of two entries counts");
    like(err.text, "line 2: max_use: bad numerical value \"many\"", "and is the one named");
    return done_testing();
}
