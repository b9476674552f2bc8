/*
 * resolv_conf.c - the "nameserver" lines of a resolv.conf file, for the daemons that give
 * them to libunbound as forwarders (smtpd's client names, smtp-out's next hops). Read here
 * rather than by ub_ctx_resolvconf() so that "nameserver ADDR@PORT" works too, which lets
 * tests point a daemon at their own DNS server.
 *
 * Trusts: the file (the administrator's); each value is only handed to the resolver,
 * which checks it.
 */
#include <stdio.h>

#include "core/resolv_conf.h"

/* resolv_conf_servers - append each name server of path to servers; false if unreadable */
bool
resolv_conf_servers(const char *path, struct strvec *servers, struct err *err)
{
    FILE *fp = fopen(path, "r");
    char line[512], addr[256];

    if (fp == NULL)
        return err_set(err, "open %s: %m", path);
    while (fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, " nameserver %255s", addr) == 1)
            strvec_add(servers, addr);
    fclose(fp);
    return true;
}
