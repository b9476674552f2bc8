/* params.h - postern's configuration parameters, declared once in params.def */
#ifndef MAIL_PARAMS_H
#define MAIL_PARAMS_H

#include <stdbool.h>

#include "core/conf.h"
#include "core/str.h"

#define PARAM_CTYPE_STR  char *
#define PARAM_CTYPE_INT  long
#define PARAM_CTYPE_BOOL bool
#define PARAM_CTYPE_TIME long
#define PARAM_CTYPE_SIZE long
#define PARAM_CTYPE_LIST struct strvec

/*
 * Every parameter, expanded and typed. A daemon reads these after the skeleton loaded them;
 * they do not change until the process exits (a reload starts new processes).
 */
struct params {
#define PARAM(type, name, dflt, min, max, unit, doc)              PARAM_CTYPE_##type name;
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) PARAM_CTYPE_##type field;
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
};

extern const struct param_decl params_decls[];
extern const size_t params_ndecls;

struct conf *params_conf_new(void);
bool params_load(struct params *p, const struct conf *conf, struct err *err);
void params_free(struct params *p);

#endif
