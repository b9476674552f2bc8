/* conf_impl.h - struct conf, shared by the conf*.c files and nobody else */
#ifndef CORE_CONF_IMPL_H
#define CORE_CONF_IMPL_H

#include "core/conf.h"
#include "core/str.h"

struct conf_kv {
    char *name;
    char *value;
    conf_default_fn fn; /* defaults only: computes value on each lookup */
    bool busy;          /* fn is running: a lookup from inside it finds nothing */
};

struct conf {
    const struct param_decl *decls;
    size_t ndecls;
    struct conf_entry *entries; /* main.cf, in file order */
    size_t nentries;
    struct conf_kv *overrides; /* -o name=value */
    size_t noverrides;
    struct conf_kv *defaults; /* computed at run time, such as myhostname */
    size_t ndefaults;
    struct strvec files; /* file names the entries point into */
};

bool conf_name_valid(const char *name, size_t len);

#endif
