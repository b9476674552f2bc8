/* mail_match_list.c - domain and address match lists as mydestination and mynetworks use */
#include <stdlib.h>

#include "core/mem.h"
#include "mail/match_list.h"
#include "t/tap.h"

static enum map_status
find(const char *text, enum match_kind kind, bool parent, const char *item)
{
    struct err err;
    struct match_list *list = match_list_open(text, kind, parent, &err);
    enum map_status status;

    if (list == NULL) {
        diag("open: %s", err.text);
        return MAP_ERROR;
    }
    status = match_list_find(list, item, &err);
    match_list_close(list);
    return status;
}

int
main(void)
{
    char *file = tap_write_file("domains", "# relay these\nrelay.example\n  .sub.example\n");
    char *nested = xasprintf("!nope.example, %s", file);
    static const struct {
        const char *list;
        enum match_kind kind;
        bool parent;
        const char *item;
        enum map_status want;
    } cases[] = {
        {"example.com, localhost", MATCH_DOMAIN, false, "EXAMPLE.com", MAP_FOUND},
        {"example.com", MATCH_DOMAIN, false, "mx.example.com", MAP_NOTFOUND},
        {"example.com", MATCH_DOMAIN, true, "mx.example.com", MAP_FOUND},
        {"example.com", MATCH_DOMAIN, true, "badexample.com", MAP_NOTFOUND},
        {".example.com", MATCH_DOMAIN, false, "mx.example.com", MAP_FOUND},
        {".example.com", MATCH_DOMAIN, false, "example.com", MAP_NOTFOUND},
        {"!bad.example.com, .example.com", MATCH_DOMAIN, false, "bad.example.com", MAP_NOTFOUND},
        {"!bad.example.com, .example.com", MATCH_DOMAIN, false, "ok.example.com", MAP_FOUND},
        {"inline:{ listed.example=x }", MATCH_DOMAIN, false, "listed.example", MAP_FOUND},
        {"inline:{ listed.example=x }", MATCH_DOMAIN, false, "other.example", MAP_NOTFOUND},
        {"inline:{ .listed.example=x }", MATCH_DOMAIN, false, "a.listed.example", MAP_FOUND},
        {"", MATCH_DOMAIN, false, "example.com", MAP_NOTFOUND},
        {"127.0.0.0/8 [::1]/128", MATCH_ADDRESS, false, "127.0.0.1", MAP_FOUND},
        {"127.0.0.0/8 [::1]/128", MATCH_ADDRESS, false, "::1", MAP_FOUND},
        {"127.0.0.0/8 [::1]/128", MATCH_ADDRESS, false, "192.0.2.1", MAP_NOTFOUND},
        {"!192.0.2.7, 192.0.2.0/24", MATCH_ADDRESS, false, "192.0.2.7", MAP_NOTFOUND},
        {"!192.0.2.7, 192.0.2.0/24", MATCH_ADDRESS, false, "192.0.2.8", MAP_FOUND},
        {"192.0.2.0/24", MATCH_ADDRESS, false, "not-an-address", MAP_NOTFOUND},
        {"lmdb:/nonexistent/table", MATCH_DOMAIN, false, "x", MAP_ERROR},
        {"192.0.2.1/24", MATCH_ADDRESS, false, "192.0.2.1", MAP_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(find(cases[i].list, cases[i].kind, cases[i].parent, cases[i].item), cases[i].want,
               "%s in \"%s\"", cases[i].item, cases[i].list);
    is_int(find(file, MATCH_DOMAIN, false, "relay.example"), MAP_FOUND, "entries from a file");
    is_int(find(file, MATCH_DOMAIN, false, "x.sub.example"), MAP_FOUND, "a continued line");
    is_int(find(nested, MATCH_DOMAIN, false, "nope.example"), MAP_NOTFOUND, "with a negation");
    is_int(find("/nonexistent/file", MATCH_DOMAIN, false, "x"), MAP_ERROR, "a missing file");
    free(file);
    free(nested);
    return done_testing();
}
