/*
 * map_retry.c - a table list parameter that may fail to open: a warning once, MAP_ERROR
 * for every lookup while it stays broken, each lookup trying to open it again
 * (map_retry.h).
 *
 * Trusts: the parameter's value (the administrator's); keys are only looked up.
 */
#include <stdlib.h>

#include "core/log.h"
#include "core/map_retry.h"
#include "core/mem.h"

void
map_retry_open(struct map_retry *t, const char *name, const struct strvec *specs)
{
    struct err err;

    t->maps = NULL;
    t->error = NULL;
    t->name = name;
    t->specs = specs;
    if (specs->n == 0)
        return;
    if ((t->maps = map_list_open_param(specs, MAP_FOLD_FIXED, &err)) == NULL) {
        log_warn("%s: %s: lookups in it will be deferred", name, err.text);
        t->error = xstrdup(err.text);
    }
}

bool
map_retry_ready(struct map_retry *t, struct err *err)
{
    if (t->error == NULL)
        return true;
    if ((t->maps = map_list_open_param(t->specs, MAP_FOLD_FIXED, err)) == NULL)
        return false;
    log_info("%s: now open: lookups in it are no longer deferred", t->name);
    free(t->error);
    t->error = NULL;
    return true;
}

enum map_status
map_retry_lookup(struct map_retry *t, const char *key, const char **value, struct err *err)
{
    if (!map_retry_ready(t, err))
        return MAP_ERROR;
    if (t->maps == NULL)
        return MAP_NOTFOUND;
    return map_list_lookup(t->maps, key, 0, value, err);
}

bool
map_retry_configured(const struct map_retry *t)
{
    return t->maps != NULL || t->error != NULL;
}

void
map_retry_close(struct map_retry *t)
{
    map_list_close(t->maps);
    free(t->error);
    t->maps = NULL;
    t->error = NULL;
}
