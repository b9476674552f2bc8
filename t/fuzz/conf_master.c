/*
 * conf_master.c - fuzz target for master.cf text: mastercf_read_text().
 *
 * Invariants: a refused text comes with an error naming where; every entry kept has a
 * service, a command and as many -o values as names, and mastercf_find() finds it again.
 */
#include <string.h>

#include "core/conf.h"
#include "core/mastercf.h"
#include "t/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct err err = {0};
    struct mastercf mcf;

    mastercf_init(&mcf);
    if (!mastercf_read_text(&mcf, "master.cf", text, &err)) {
        FUZZ_ASSERT(strstr(err.text, "master.cf") != NULL);
    } else {
        for (size_t i = 0; i < mcf.n; i++) {
            const struct mastercf_entry *e = &mcf.entries[i];

            FUZZ_ASSERT(e->service && e->command && e->line > 0);
            FUZZ_ASSERT(e->opt_names.n == e->opt_values.n);
            FUZZ_ASSERT(mastercf_find(&mcf, e->service, mastercf_type_name(e->type)) == e);
        }
    }
    mastercf_free(&mcf);
    free(text);
    return 0;
}
