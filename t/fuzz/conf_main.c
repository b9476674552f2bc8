/*
 * conf_main.c - fuzz target for main.cf text: conf_read_text() with postern's parameter
 * table, then the expansion of every value read, the typed load of every parameter and
 * the unused-parameter scan.
 *
 * Invariants: a refused text comes with an error naming where; every value either expands
 * or says why (self-reference, depth, length are errors, never a hang or a crash).
 */
#include <string.h>

#include "core/conf.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/params.h"
#include "t/fuzz.h"

/* fuzz_expand_all - expand the value of each entry read, and a few names besides */
static void
fuzz_expand_all(const struct conf *conf)
{
    struct err err;

    for (size_t i = 0; i < conf_entry_count(conf); i++) {
        const struct conf_entry *e = conf_entry_at(conf, i);
        char *ref = xasprintf("${%s?x}$%s${%s:y}", e->name, e->name, e->name);
        char *value;

        FUZZ_ASSERT(e->name && e->value && e->line > 0);
        err.text[0] = 0;
        if ((value = conf_expand(conf, e->value, &err)) == NULL)
            FUZZ_ASSERT(err.text[0] != 0);
        free(value);
        err.text[0] = 0;
        if ((value = conf_expand(conf, ref, &err)) == NULL)
            FUZZ_ASSERT(err.text[0] != 0);
        free(value);
        free(ref);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct conf *conf = params_conf_new();
    struct err err = {0};
    struct strvec unused;
    struct params p;

    if (!conf_read_text(conf, "main.cf", text, &err)) {
        FUZZ_ASSERT(strstr(err.text, "main.cf") != NULL);
    } else {
        fuzz_expand_all(conf);
        if (params_load(&p, conf, &err))
            params_free(&p);
        strvec_init(&unused);
        conf_unused(conf, NULL, NULL, &unused);
        strvec_free(&unused);
    }
    conf_free(conf);
    free(text);
    return 0;
}
