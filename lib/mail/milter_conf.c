/*
 * milter_conf.c - one entry of smtpd_milters: "inet:host:port", "unix:/path" (also a bare
 * "/path" and "local:/path", as Postfix takes them), "inet6:host:port", or the same in
 * braces with per-milter settings: "{ inet:host:port, default_action=accept,
 * command_timeout=10s, connect_timeout=5s, content_timeout=300s, protocol=6 }".
 *
 * A relative socket path ("unix:opendkim/opendkim.sock", Debian's advice for a chrooted
 * Postfix) is relative to the queue directory, as in Postfix: every daemon works there (or
 * in its chroot, which is the queue directory), and the connect resolves it from there.
 *
 * Trusts: main.cf (the text is the administrator's); every value is checked all the same,
 * and a host name is resolved here, once, through the system's resolver configuration.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "mail/milter_conf.h"
#include "mail/params.h"

static const char *const milter_action_names[] = {
    [MILTER_DEFAULT_ACCEPT] = "accept",
    [MILTER_DEFAULT_REJECT] = "reject",
    [MILTER_DEFAULT_TEMPFAIL] = "tempfail",
    [MILTER_DEFAULT_QUARANTINE] = "quarantine",
};

/* milter_action_parse - milter_default_action's words */
bool
milter_action_parse(const char *text, enum milter_action *out)
{
    for (size_t i = 0; i < sizeof(milter_action_names) / sizeof(milter_action_names[0]); i++)
        if (strcmp(text, milter_action_names[i]) == 0) {
            *out = (enum milter_action)i;
            return true;
        }
    return false;
}

const char *
milter_action_name(enum milter_action a)
{
    return milter_action_names[a];
}

/* milter_unix - a UNIX-domain endpoint */
static bool
milter_unix(const char *path, struct milter_spec *out, struct err *err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->addr;

    if (*path == 0 || strlen(path) >= sizeof(sun->sun_path)) {
        err_set(err, "\"%s\": not a socket path of 1 to %zu octets", path,
                sizeof(sun->sun_path) - 1);
        return false;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
    out->addr_len = (socklen_t)sizeof(*sun);
    return true;
}

/* milter_inet - "host:port" ("[v6]:port" too) resolved to its first address */
static bool
milter_inet(const char *spec, int family, struct milter_spec *out, struct err *err)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res = NULL;
    const char *colon = strrchr(spec, ':');
    char host[256];
    int rc;

    if (colon == NULL || colon == spec || colon[1] == 0 || (size_t)(colon - spec) >= sizeof(host)) {
        err_set(err, "%s: want host:port", spec);
        return false;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
        err_set(err, "%s: %s", spec, gai_strerror(rc));
        return false;
    }
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    out->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

/* milter_endpoint - the address an endpoint names */
static bool
milter_endpoint(const char *ep, struct milter_spec *out, struct err *err)
{
    if (ep[0] == '/')
        return milter_unix(ep, out, err);
    if (strncmp(ep, "unix:", 5) == 0 || strncmp(ep, "local:", 6) == 0)
        return milter_unix(strchr(ep, ':') + 1, out, err);
    if (strncmp(ep, "inet:", 5) == 0)
        return milter_inet(ep + 5, AF_UNSPEC, out, err);
    if (strncmp(ep, "inet6:", 6) == 0)
        return milter_inet(ep + 6, AF_INET6, out, err);
    err_set(err, "%s: want inet:host:port, inet6:host:port, unix:/path or /path", ep);
    return false;
}

/* milter_setting - one "name=value" of the braced form */
static bool
milter_setting(const char *item, struct milter_settings *set, struct err *err)
{
    const char *eq = strchr(item, '=');
    char buf[64], *name, *copy, *value;
    bool good = true;

    if (eq == NULL || (size_t)(eq - item) >= sizeof(buf)) {
        err_set(err, "%s: want name=value", item);
        return false;
    }
    snprintf(buf, sizeof(buf), "%.*s", (int)(eq - item), item);
    name = str_trim(buf);
    copy = xstrdup(eq + 1);
    value = str_trim(copy);
    if (strcmp(name, "default_action") == 0)
        good = milter_action_parse(value, &set->default_action);
    else if (strcmp(name, "connect_timeout") == 0)
        good = conf_parse_time(value, 's', &set->connect_timeout) && set->connect_timeout > 0;
    else if (strcmp(name, "command_timeout") == 0)
        good = conf_parse_time(value, 's', &set->command_timeout) && set->command_timeout > 0;
    else if (strcmp(name, "content_timeout") == 0)
        good = conf_parse_time(value, 's', &set->content_timeout) && set->content_timeout > 0;
    else if (strcmp(name, "protocol") == 0) {
        char *end;
        unsigned long v = strtoul(value, &end, 10);
        good = *value && *end == 0 && v >= 2 && v <= 6;
        set->protocol = (unsigned)v;
    } else {
        err_set(err, "%s: unknown milter setting", name);
        free(copy);
        return false;
    }
    if (!good)
        err_set(err, "%s: bad value \"%s\"", name, value);
    free(copy);
    return good;
}

/* milter_spec_parse - one smtpd_milters element, settings from defaults unless given */
bool
milter_spec_parse(const char *text, const struct milter_settings *defaults, struct milter_spec *out,
                  struct err *err)
{
    struct strvec items;
    char *inner = xstrdup(text);
    size_t len = strlen(inner);
    bool good;

    memset(out, 0, sizeof(*out));
    out->set = *defaults;
    if (len >= 2 && inner[0] == '{' && inner[len - 1] == '}') {
        inner[len - 1] = 0;
        memmove(inner, inner + 1, len - 1);
    }
    strvec_init(&items);
    strvec_split(&items, inner, ",");
    free(inner);
    good = items.n > 0 && *str_trim(items.v[0]) != 0;
    if (!good)
        err_set(err, "%s: no endpoint", text);
    else {
        out->name = xstrdup(str_trim(items.v[0]));
        good = milter_endpoint(out->name, out, err);
    }
    for (size_t i = 1; good && i < items.n; i++)
        good = *str_trim(items.v[i]) == 0 || milter_setting(str_trim(items.v[i]), &out->set, err);
    strvec_free(&items);
    if (!good)
        milter_spec_free(out);
    return good;
}

/*
 * milter_spec_socket - a non-blocking socket for the milter's address family; a TCP one
 * without Nagle's delay: a milter with SMFIP_NR_* steps gets several small packets in a
 * row with no reply between them, and the last of them (EOH, end of message) would wait
 * for the ACK of the ones before (up to 40 ms on Linux with delayed ACKs)
 */
int
milter_spec_socket(const struct milter_spec *spec)
{
    int fd = socket(spec->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;

    if (fd >= 0 && (spec->addr.ss_family == AF_INET || spec->addr.ss_family == AF_INET6) &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
        log_warn("milter %s: TCP_NODELAY: %m", spec->name);
    return fd;
}

void
milter_spec_free(struct milter_spec *spec)
{
    free(spec->name);
    spec->name = NULL;
}

/* milter_defaults - main.cf's settings for a milter without { ... } of its own; false if
 * milter_default_action names no action (tempfail then) */
static bool
milter_defaults(const struct params *p, struct milter_settings *def)
{
    *def = (struct milter_settings){
        .default_action = MILTER_DEFAULT_TEMPFAIL,
        .connect_timeout = p->milter_connect_timeout,
        .command_timeout = p->milter_command_timeout,
        .content_timeout = p->milter_content_timeout,
        .protocol = (unsigned)p->milter_protocol,
    };
    return milter_action_parse(p->milter_default_action, &def->default_action);
}

struct milter_spec *
milter_specs_load(const struct params *p, const char *param, const struct strvec *list, size_t *n)
{
    struct milter_settings def;
    struct milter_spec *specs;
    struct err err;

    *n = list->n;
    if (list->n == 0)
        return NULL;
    if (!milter_defaults(p, &def))
        log_warn("milter_default_action: unknown action \"%s\": using tempfail",
                 p->milter_default_action);
    specs = xcalloc(list->n, sizeof(*specs));
    for (size_t i = 0; i < list->n; i++) {
        if (milter_spec_parse(list->v[i], &def, &specs[i], &err))
            continue;
        log_warn("%s: %s: using the default action %s", param, err.text,
                 milter_action_name(def.default_action));
        memset(&specs[i], 0, sizeof(specs[i]));
        specs[i].name = xstrdup(list->v[i]);
        specs[i].set = def;
    }
    return specs;
}

struct milter_spec *
milter_specs_parse(const struct params *p, const struct strvec *list, size_t *n, struct err *err)
{
    struct milter_settings def;
    struct milter_spec *specs;

    *n = 0;
    if (list->n == 0) {
        err_set(err, "no milter named");
        return NULL;
    }
    (void)milter_defaults(p, &def); /* the list's loader said so at start */
    specs = xcalloc(list->n, sizeof(*specs));
    for (size_t i = 0; i < list->n; i++)
        if (!milter_spec_parse(list->v[i], &def, &specs[i], err)) {
            milter_specs_free(specs, i);
            return NULL;
        }
    *n = list->n;
    return specs;
}

void
milter_specs_free(struct milter_spec *specs, size_t n)
{
    if (specs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        milter_spec_free(&specs[i]);
    free(specs);
}
