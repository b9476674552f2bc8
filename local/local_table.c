/*
 * local_table.c - the table lists of virtual delivery (virtual_mailbox_maps,
 * virtual_uid_maps, virtual_gid_maps), opened at start. One that cannot be opened (not built
 * yet, say) is logged once and not fatal: lookups in it fail as temporary errors, so the
 * deliveries that need it are deferred, and each lookup tries to open it again, so a table
 * built later is used without a reload and local never exits into a restart loop.
 *
 * Trusts: the tables as their owners wrote them; keys come from the network.
 */
#include "core/log.h"
#include "local/local.h"
#include "mail/map_addr.h"

/* local_table_open - open specs, the value of parameter name; a failure is only logged */
void
local_table_open(struct local_table *t, const struct strvec *specs, const char *name)
{
    struct err err;

    t->specs = specs;
    t->name = name;
    t->maps = NULL;
    if (specs->n > 0 && (t->maps = map_list_open_param(specs, MAP_FOLD_FIXED, &err)) == NULL)
        log_warn("%s: %s: deliveries that need it are deferred", name, err.text);
}

void
local_table_close(struct local_table *t)
{
    if (t->maps != NULL)
        map_list_close(t->maps);
    t->maps = NULL;
}

/* local_table_find - look addr up; MAP_ERROR while the table cannot be opened */
enum map_status
local_table_find(struct local_table *t, const char *addr, const struct map_addr_opts *opts,
                 struct map_addr_match *m, struct err *err)
{
    if (t->specs->n == 0)
        return MAP_NOTFOUND;
    if (t->maps == NULL && (t->maps = map_list_open_param(t->specs, MAP_FOLD_FIXED, err)) == NULL)
        return MAP_ERROR;
    return map_addr_find(t->maps, MAP_ADDR_VIRTUAL, addr, opts, m, err);
}
