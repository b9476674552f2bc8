/* resolv_conf.h - the name servers a resolv.conf file lists */
#ifndef CORE_RESOLV_CONF_H
#define CORE_RESOLV_CONF_H

#include <stdbool.h>

#include "core/err.h"
#include "core/str.h"

bool resolv_conf_servers(const char *path, struct strvec *servers, struct err *err);

#endif
