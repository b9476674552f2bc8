/* milter_conf.h - one milter as main.cf names it: endpoint and per-milter settings */
#ifndef MAIL_MILTER_CONF_H
#define MAIL_MILTER_CONF_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/err.h"

/* What happens when a milter cannot be reached or breaks the protocol. */
enum milter_action {
    MILTER_DEFAULT_ACCEPT,
    MILTER_DEFAULT_REJECT,
    MILTER_DEFAULT_TEMPFAIL,
    MILTER_DEFAULT_QUARANTINE,
};

/* The settings a milter has unless its own { ... } says otherwise (seconds). */
struct milter_settings {
    enum milter_action default_action;
    long connect_timeout;
    long command_timeout;
    long content_timeout;
    unsigned protocol;
};

/*
 * One milter: its endpoint as written ("inet:127.0.0.1:8891", "unix:/run/m.sock", a bare
 * "/path", "local:/path", "inet6:[::1]:8891"), the address it names, and its settings.
 * Host names are resolved by milter_spec_parse (at process start, not per session).
 */
struct milter_spec {
    char *name;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct milter_settings set;
};

bool milter_action_parse(const char *text, enum milter_action *out);
const char *milter_action_name(enum milter_action a);
bool milter_spec_parse(const char *text, const struct milter_settings *defaults,
                       struct milter_spec *out, struct err *err);
void milter_spec_free(struct milter_spec *spec);
int milter_spec_socket(const struct milter_spec *spec);

/*
 * milter_specs_load - the milters of a list parameter (smtpd_milters, non_smtpd_milters,
 * named param for the log), each with main.cf's defaults (milter_default_action and the
 * milter_*_timeout parameters); *n gets their number, NULL for none. An entry that does
 * not parse is kept with the default action and no address, so that a mistake fails as a
 * milter that cannot be reached does, and is logged.
 */
struct params;
struct strvec;
struct milter_spec *milter_specs_load(const struct params *p, const char *param,
                                      const struct strvec *list, size_t *n);
/*
 * milter_specs_parse - the same, strictly (a list from a table, smtpd_milter_maps): NULL
 * and why in err when the list is empty or any entry does not parse.
 */
struct milter_spec *milter_specs_parse(const struct params *p, const struct strvec *list, size_t *n,
                                       struct err *err);
void milter_specs_free(struct milter_spec *specs, size_t n);

#endif
