/* mail_header_action.c - header_checks(5) actions as milter_header_checks reads them */
#include <stddef.h>

#include "mail/header_action.h"
#include "t/tap.h"

int
main(void)
{
    static const struct {
        const char *value;
        bool known;
        enum header_action_kind kind;
        int code;
        const char *status, *text;
    } cases[] = {
        {"REJECT", true, HEADER_ACTION_REJECT, 550, "5.7.1", "Message content rejected"},
        {"reject no spam here", true, HEADER_ACTION_REJECT, 550, "5.7.1", "no spam here"},
        {"REJECT 5.7.0 policy", true, HEADER_ACTION_REJECT, 550, "5.7.0", "policy"},
        {"REJECT 4.7.1 try later", true, HEADER_ACTION_REJECT, 450, "4.7.1", "try later"},
        {"REJECT 4.7.1", true, HEADER_ACTION_REJECT, 450, "4.7.1", "Message content rejected"},
        {"REJECT 2.0.0 fine", true, HEADER_ACTION_REJECT, 550, "5.7.1", "2.0.0 fine"},
        {"REJECT 5.7.1x y", true, HEADER_ACTION_REJECT, 550, "5.7.1", "5.7.1x y"},
        {"DISCARD spam", true, HEADER_ACTION_DISCARD, 0, "", "spam"},
        {"Hold\tquarantined", true, HEADER_ACTION_HOLD, 0, "", "quarantined"},
        {"IGNORE", true, HEADER_ACTION_IGNORE, 0, "", ""},
        {"WARN seen", true, HEADER_ACTION_WARN, 0, "", "seen"},
        {"INFO traced", true, HEADER_ACTION_INFO, 0, "", "traced"},
        {"OK", true, HEADER_ACTION_DUNNO, 0, "", ""},
        {"DUNNO", true, HEADER_ACTION_DUNNO, 0, "", ""},
        {"FILTER smtp:[127.0.0.1]:10025", true, HEADER_ACTION_UNSUPPORTED, 0, "",
         "smtp:[127.0.0.1]:10025"},
        {"REJECTED", false, HEADER_ACTION_DUNNO, 0, "", ""},
        {"", false, HEADER_ACTION_DUNNO, 0, "", ""},
        {"550 no", false, HEADER_ACTION_DUNNO, 0, "", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct header_action a;
        bool known = header_action_parse(cases[i].value, &a);

        ok(known == cases[i].known, "\"%s\": %s", cases[i].value,
           cases[i].known ? "known" : "unknown");
        is_int(a.kind, cases[i].kind, "\"%s\": kind", cases[i].value);
        is_int(a.code, cases[i].code, "\"%s\": code", cases[i].value);
        is_str(a.status, cases[i].status, "\"%s\": status", cases[i].value);
        is_str(a.text, cases[i].text, "\"%s\": text", cases[i].value);
    }
    return done_testing();
}
