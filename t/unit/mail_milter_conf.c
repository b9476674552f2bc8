/* mail_milter_conf.c - smtpd_milters entries: endpoints (a relative unix: path is taken, as
 * Postfix takes it, relative to the queue directory) and per-milter settings */
#include <string.h>
#include <sys/un.h>

#include "mail/milter_conf.h"
#include "t/tap.h"

int
main(void)
{
    static const struct milter_settings def = {MILTER_DEFAULT_TEMPFAIL, 30, 30, 300, 6};
    static const struct {
        const char *text;
        bool good;
        const char *path; /* a UNIX-domain endpoint's path */
    } cases[] = {
        {"unix:/run/opendkim/opendkim.sock", true, "/run/opendkim/opendkim.sock"},
        {"unix:opendkim/opendkim.sock", true, "opendkim/opendkim.sock"},
        {"local:/run/m.sock", true, "/run/m.sock"},
        {"/run/m.sock", true, "/run/m.sock"},
        {"unix:", false, NULL},
        {"inet:127.0.0.1:8891", true, NULL},
        {"inet:[127.0.0.1]:8891", true, NULL},
        {"inet6:[::1]:8891", true, NULL},
        {"inet:127.0.0.1", false, NULL},
        {"tcp:127.0.0.1:1", false, NULL},
        {"{ inet:127.0.0.1:8891, default_action=accept, command_timeout=10s }", true, NULL},
        {"{ inet:127.0.0.1:8891, default_action=maybe }", false, NULL},
        {"{ }", false, NULL},
    };
    struct milter_spec spec;
    struct err err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool good = milter_spec_parse(cases[i].text, &def, &spec, &err);
        ok(good == cases[i].good, "\"%s\" %s", cases[i].text, cases[i].good ? "parses" : "fails");
        if (good && cases[i].path != NULL)
            is_str(((struct sockaddr_un *)&spec.addr)->sun_path, cases[i].path, "its path");
        if (good)
            milter_spec_free(&spec);
    }
    ok(milter_spec_parse("{ inet:127.0.0.1:1, default_action=accept, command_timeout=10s }", &def,
                         &spec, &err) &&
           spec.set.default_action == MILTER_DEFAULT_ACCEPT && spec.set.command_timeout == 10 &&
           spec.set.content_timeout == 300,
       "settings given replace the defaults, the others stay");
    milter_spec_free(&spec);
    return done_testing();
}
