/* core_conf.c - main.cf syntax, expansion, typed values and unused names, good and bad */
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/mem.h"
#include "t/tap.h"

static const struct param_decl decls[] = {
    {"myhostname", PARAM_STR, "host.example", 0, 0, 0, "name"},
    {"mydomain", PARAM_STR, "example", 0, 0, 0, "domain"},
    {"myorigin", PARAM_STR, "$myhostname", 0, 0, 0, "origin"},
    {"limit", PARAM_INT, "10", 1, 100, 0, "a bounded number"},
    {"timeout", PARAM_TIME, "300s", 0, 86400, 's', "a time"},
    {"lifetime", PARAM_TIME, "5", 0, 1000000, 'd', "a time in days"},
    {"size", PARAM_SIZE, "1024", 0, 0, 0, "a size"},
    {"flag", PARAM_BOOL, "no", 0, 0, 0, "a boolean"},
    {"things", PARAM_LIST, "a, b", 0, 0, 0, "a list"},
};
#define NDECLS (sizeof(decls) / sizeof(decls[0]))

static struct conf *
conf_of(const char *text, struct err *err)
{
    struct conf *conf = conf_new(decls, NDECLS);

    if (!conf_read_text(conf, "main.cf", text, err)) {
        conf_free(conf);
        return NULL;
    }
    return conf;
}

/* expanded - the expanded value of name in text, or the error text */
static char *
expanded(const char *text, const char *name)
{
    struct err err;
    struct conf *conf = conf_of(text, &err);
    char *value;

    if (conf == NULL)
        return xstrdup(err.text);
    if (!conf_get_str(conf, name, &value, &err))
        value = xstrdup(err.text);
    conf_free(conf);
    return value;
}

static void
test_expansion(void)
{
    static const struct {
        const char *text, *name, *want;
    } cases[] = {
        {"", "myorigin", "host.example"},
        {"myhostname = mx.$mydomain\nmydomain = example.org\n", "myorigin", "mx.example.org"},
        {"a = 1\nb = ${a}-$(a)-$a\n", "b", "1-1-1"},
        {"a = x\nb = ${a?yes}${a:no}\n", "b", "yes"},
        {"a =\nb = ${a?yes}${a:no}\n", "b", "no"},
        {"a = yes\nb = ${a?{10}:{300}}s\n", "b", "10s"},
        {"a =\nb = ${a?{10}:{300}}s\n", "b", "300s"},
        {"a =\nc = 7\nb = ${a?{x}:{$c}}\n", "b", "7"},
        {"a = ${b?{1}:2}\n", "a", "main.cf, line 1: a: bad ${name?{value}:{value}}: \"{1}:2\""},
        {"b = $$a $ x\n", "b", "$a $ x"},
        {"b = $undefined|\n", "b", "|"},
        {"b = 1\n  2\n# comment in between\n\t3\n", "b", "1 2 3"},
        {"b = first\nb = second\n", "b", "second"},
        {"b=   spaced   value   \n", "b", "spaced   value"},
        {"a = $b\nb = $a\n", "a", "main.cf, line 1: a: recursive reference to $a"},
        {"a = $a\n", "a", "main.cf, line 1: a: recursive reference to $a"},
        {"a = ${b\n", "a", "main.cf, line 1: a: unbalanced '{' after '$'"},
        {"a = ${b!x}\n", "a", "main.cf, line 1: a: bad parameter reference \"${b!x}\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = expanded(cases[i].text, cases[i].name);
        is_str(got, cases[i].want, "expand %s in case %zu", cases[i].name, i);
        free(got);
    }
}

static void
test_syntax_errors(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"  orphan = 1\n", "main.cf, line 1: continuation line without a parameter before it"},
        {"# c\n\n  orphan\n", "main.cf, line 3: continuation line without a parameter before it"},
        {"a = 1\nno equals here\n", "main.cf, line 2: missing '=' after \"no equals here\""},
        {"bad-name = 1\n", "main.cf, line 1: bad parameter name \"bad-name\""},
        {" = 1\n", "main.cf, line 1: continuation line without a parameter before it"},
        {"= 1\n", "main.cf, line 1: bad parameter name \"\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err err = {0};
        struct conf *conf = conf_of(cases[i].text, &err);
        ok(conf == NULL, "syntax error %zu is refused", i);
        is_str(err.text, cases[i].want, "and named with file and line");
        conf_free(conf);
    }
}

static void
test_typed(void)
{
    static const struct {
        const char *text, *name;
        bool good;
        long value;
    } cases[] = {
        {"", "limit", true, 10},
        {"limit = 100", "limit", true, 100},
        {"limit = 101", "limit", false, 0},
        {"limit = 0", "limit", false, 0},
        {"limit = 1x", "limit", false, 0},
        {"timeout = 90", "timeout", true, 90},
        {"timeout = 5m", "timeout", true, 300},
        {"timeout = 1h", "timeout", true, 3600},
        {"timeout = 1d", "timeout", true, 86400},
        {"timeout = 2d", "timeout", false, 0},
        {"timeout = 10x", "timeout", false, 0},
        {"timeout = 10ss", "timeout", false, 0},
        {"timeout = -1s", "timeout", false, 0},
        {"timeout = s", "timeout", false, 0},
        {"timeout = 99999999999999999999s", "timeout", false, 0},
        {"lifetime = 2", "lifetime", true, 2 * 86400},
        {"lifetime = 1w", "lifetime", true, 7 * 86400},
        {"size = 10240000", "size", true, 10240000},
        {"size = 10M", "size", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err err;
        struct conf *conf = conf_of(cases[i].text, &err);
        long v = -1;
        bool good = conf && conf_get_long(conf, cases[i].name, &v, &err);
        ok(good == cases[i].good && (!good || v == cases[i].value), "'%s' -> %s %ld", cases[i].text,
           cases[i].good ? "good" : "bad", cases[i].value);
        if (!good && conf)
            like(err.text, "main.cf, line 1: ", "the error names the file and line");
        conf_free(conf);
    }
}

static void
test_bool_and_list(void)
{
    struct err err;
    struct conf *conf = conf_of("flag = YES\nthings = a,b  c,{ d e, f }\n  g\n", &err);
    struct strvec list;
    bool flag = false;

    ok(conf_get_bool(conf, "flag", &flag, &err) && flag, "yes is true, in any case");
    ok(conf_get_list(conf, "things", &list, &err) && list.n == 5, "list of five elements");
    is_str(list.n == 5 ? list.v[3] : NULL, "{ d e, f }", "braces keep an element together");
    is_str(list.n == 5 ? list.v[4] : NULL, "g", "a continuation line continues the list");
    strvec_free(&list);
    conf_free(conf);

    conf = conf_of("flag = true\nthings = a { b\n", &err);
    ok(!conf_get_bool(conf, "flag", &flag, &err), "only yes and no are booleans");
    like(err.text, "main.cf, line 1: flag: bad boolean value \"true\"", "error for a bad bool");
    ok(!conf_get_list(conf, "things", &list, &err), "unbalanced braces are refused");
    like(err.text, "main.cf, line 2: things: unbalanced '{'", "error for unbalanced braces");
    conf_free(conf);
}

static void
test_overrides_and_unused(void)
{
    struct err err;
    struct conf *conf = conf_of("limit = 5\nmy_rules = check\nfoo = bar\n"
                                "smtp_x_limit = 1\nuses = $my_rules\n",
                                &err);
    struct strvec unused, patterns, extra;
    long v;

    ok(conf_override(conf, "limit", "7", &err), "an override is accepted");
    ok(conf_get_long(conf, "limit", &v, &err) && v == 7, "and wins over main.cf");
    ok(!conf_override(conf, "bad name", "1", &err), "a bad override name is refused");
    ok(conf_override(conf, "limit", "700", &err) && !conf_get_long(conf, "limit", &v, &err),
       "an override out of range fails");
    is_str(err.text, "-o limit: value 700 out of range [1, 100]", "and says it came from -o");

    strvec_init(&unused);
    strvec_init(&patterns);
    strvec_init(&extra);
    strvec_add(&patterns, "*_x_limit");
    conf_unused(conf, &extra, &patterns, &unused);
    ok(unused.n == 2 && strvec_contains(&unused, "foo") && strvec_contains(&unused, "uses"),
       "unused: foo and uses, not my_rules ($-referenced) nor smtp_x_limit (pattern)");
    strvec_free(&unused);
    strvec_add(&extra, "smtpd_client_restrictions=$foo");
    conf_unused(conf, &extra, &patterns, &unused);
    ok(!strvec_contains(&unused, "foo"), "a reference from master.cf counts as use");
    strvec_free(&unused);
    strvec_free(&patterns);
    strvec_free(&extra);
    conf_free(conf);
}

static void
test_read_file(void)
{
    struct conf *conf = conf_new(decls, NDECLS);
    struct err err;
    char *path = tap_write_file("main.cf", "myhostname = a.b\n\n  \nlimit=3\n");
    char *missing = xasprintf("%s/nope.cf", tap_tmpdir());
    const struct conf_entry *entry;

    ok(conf_read_file(conf, path, &err), "a file reads");
    entry = conf_entry_at(conf, 1);
    ok(entry && strcmp(entry->name, "limit") == 0 && entry->line == 4 &&
           strcmp(entry->file, path) == 0,
       "entries know their file and line");
    ok(!conf_read_file(conf, missing, &err), "a missing file fails");
    like(err.text, "No such file", "with the system's reason");
    free(path);
    free(missing);
    conf_free(conf);
}

int
main(void)
{
    test_expansion();
    test_syntax_errors();
    test_typed();
    test_bool_and_list();
    test_overrides_and_unused();
    test_read_file();
    return done_testing();
}
