/* mail_mx_list.c - MX records in the order smtp-out tries them, with a scripted random source */
#include <string.h>
#include <sys/socket.h>

#include "mail/mx_list.h"
#include "t/tap.h"

/* A random source that replays a script of numbers (each taken modulo the bound). */
struct script {
    const unsigned *v;
    size_t n, at;
};

static unsigned
scripted(void *arg, unsigned bound)
{
    struct script *s = arg;

    return s->at < s->n ? s->v[s->at++] % bound : 0;
}

static void
hosts(struct mx_host *v, size_t n, const unsigned *pref, const char *const *name)
{
    for (size_t i = 0; i < n; i++) {
        v[i].pref = pref[i];
        strcpy(v[i].name, name[i]);
    }
}

static void
order(const struct mx_host *v, size_t n, char *out, size_t len)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        strncat(out, i ? " " : "", len - strlen(out) - 1);
        strncat(out, v[i].name, len - strlen(out) - 1);
    }
}

static void
test_parse(void)
{
    static const unsigned char mx[] = {0,   10,  3,   'm', 'x', '1', 7, 'e',
                                       'x', 'a', 'm', 'p', 'l', 'e', 0};
    static const unsigned char null[] = {0, 0, 0};
    static const unsigned char ptr[] = {0, 10, 0xc0, 0x0c};
    static const unsigned char bad[] = {0, 10, 2, 'a', ' ', 0};
    static const unsigned char trail[] = {0, 10, 1, 'a', 0, 0};
    struct mx_host h;

    ok(mx_rdata_parse(mx, sizeof(mx), &h) && h.pref == 10 && strcmp(h.name, "mx1.example") == 0,
       "MX 10 mx1.example");
    ok(mx_rdata_parse(null, sizeof(null), &h) && h.pref == 0 && strcmp(h.name, ".") == 0,
       "MX 0 . (null MX)");
    ok(mx_list_null(&h, 1), "  is a null MX alone");
    ok(!mx_list_null(&h, 0), "  an empty list is not");
    {
        struct mx_host v[3];
        static const unsigned pref[] = {10, 0, 20};
        static const char *const name[] = {"mx1.example", ".", "mx2.example"};
        size_t n = 3;

        hosts(v, n, pref, name);
        ok(!mx_list_null(v, n), "a null MX beside real MX hosts is not a null MX");
        mx_list_drop_null(v, &n);
        ok(n == 2 && strcmp(v[0].name, "mx1.example") == 0 && strcmp(v[1].name, "mx2.example") == 0,
           "  it is dropped wherever it is, and the real hosts kept in order");
    }
    ok(!mx_rdata_parse(ptr, sizeof(ptr), &h), "a compressed name is refused");
    ok(!mx_rdata_parse(bad, sizeof(bad), &h), "a space in a label is refused");
    ok(!mx_rdata_parse(trail, sizeof(trail), &h), "bytes after the root label are refused");
    ok(!mx_rdata_parse(mx, 5, &h), "a cut name is refused");
}

static void
test_sort(void)
{
    static const unsigned pref[] = {20, 10, 10, 30, 10};
    static const char *const name[] = {"b20", "a10", "b10", "c30", "c10"};
    static const unsigned other[] = {1, 0, 0, 0, 0};
    static const unsigned last[] = {4, 3, 2, 1, 0};
    struct mx_host v[5];
    struct script s = {last, 5, 0};
    char got[128];

    hosts(v, 5, pref, name);
    mx_list_sort(v, 5, scripted, &s);
    order(v, 5, got, sizeof(got));
    is_str(got, "a10 b10 c10 b20 c30", "preference order; equal ones as the random source says");
    hosts(v, 5, pref, name);
    s = (struct script){other, 5, 0};
    mx_list_sort(v, 5, scripted, &s);
    order(v, 5, got, sizeof(got));
    is_str(got, "c10 b10 a10 b20 c30", "another draw, another order among the 10s only");
}

static void
test_self(void)
{
    static const unsigned pref[] = {10, 20, 20, 30};
    static const char *const name[] = {"mx1.example", "me.example", "mx2.example", "mx3.example"};
    struct mx_host v[4];
    size_t n = 4;

    hosts(v, 4, pref, name);
    is_int(mx_list_cut_self(v, &n, "other.example"), MX_SELF_NONE, "not among them");
    is_int((long long)n, 4, "  all kept");
    is_int(mx_list_cut_self(v, &n, "ME.example."), MX_SELF_CUT, "among them, case and dot aside");
    is_int((long long)n, 1, "  only the more preferred host is left");
    is_str(v[0].name, "mx1.example", "  mx1");
    n = 4;
    hosts(v, 4, pref, name);
    is_int(mx_list_cut_self(v, &n, "mx1.example"), MX_SELF_LOOP, "the best MX: loops back");
    is_int((long long)n, 0, "  nothing left");
}

static void
test_prefer(void)
{
    struct mx_addr v[] = {
        {10, 0, AF_INET, "192.0.2.1"}, {10, 0, AF_INET6, "2001:db8::1"},
        {10, 1, AF_INET, "192.0.2.2"}, {20, 2, AF_INET6, "2001:db8::3"},
        {20, 2, AF_INET, "192.0.2.3"},
    };
    char got[256] = "";

    mx_addr_prefer(v, 5, AF_INET6);
    for (size_t i = 0; i < 5; i++) {
        strcat(got, i ? " " : "");
        strcat(got, v[i].addr);
    }
    is_str(got, "2001:db8::1 192.0.2.1 192.0.2.2 2001:db8::3 192.0.2.3",
           "ipv6 first within each preference, else in order");
    got[0] = 0;
    mx_addr_prefer(v, 5, AF_INET);
    for (size_t i = 0; i < 5; i++) {
        strcat(got, i ? " " : "");
        strcat(got, v[i].addr);
    }
    is_str(got, "192.0.2.1 192.0.2.2 2001:db8::1 192.0.2.3 2001:db8::3", "ipv4 first likewise");
}

int
main(void)
{
    test_parse();
    test_sort();
    test_self();
    test_prefer();
    return done_testing();
}
