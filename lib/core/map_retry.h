/* map_retry.h - a table list parameter that may fail to open, tried again at each lookup */
#ifndef CORE_MAP_RETRY_H
#define CORE_MAP_RETRY_H

#include "core/map.h"
#include "core/str.h"

/*
 * A table list named by one parameter ("milter_header_checks = pcre:/etc/x, lmdb:/etc/y").
 * If it cannot be opened, every lookup answers MAP_ERROR (a temporary failure, never "not
 * found") and first tries to open it again, so a table built after the start is used
 * without a reload. An empty parameter opens nothing and finds nothing.
 */
struct map_retry {
    struct map_list *maps; /* NULL: empty parameter, or broken (error set) */
    char *error;
    const char *name;           /* the parameter, for the log */
    const struct strvec *specs; /* its value */
};

/* map_retry_open - open the tables of parameter name (value specs, kept), or log why not */
void map_retry_open(struct map_retry *t, const char *name, const struct strvec *specs);
/* map_retry_ready - reopened if it had failed; false (err set) while it is broken. Then
 * maps is the open list, or NULL for an empty parameter */
bool map_retry_ready(struct map_retry *t, struct err *err);
/* map_retry_lookup - key in the list, reopened first if it failed; MAP_ERROR while broken */
enum map_status map_retry_lookup(struct map_retry *t, const char *key, const char **value,
                                 struct err *err);
/* map_retry_configured - the parameter names tables (open or not) */
bool map_retry_configured(const struct map_retry *t);
void map_retry_close(struct map_retry *t);

#endif
