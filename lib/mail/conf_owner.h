/* conf_owner.h - is the configuration safe to run as root? */
#ifndef MAIL_CONF_OWNER_H
#define MAIL_CONF_OWNER_H

#include "core/str.h"

void conf_owner_check(const char *config_dir, struct strvec *problems);

#endif
