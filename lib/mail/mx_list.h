/* mx_list.h - a domain's mail exchangers in the order an SMTP client tries them */
#ifndef MAIL_MX_LIST_H
#define MAIL_MX_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define MX_NAME_MAX 256
#define MX_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

/* One MX record: preference and host name ("." for a null MX, RFC 7505). */
struct mx_host {
    unsigned pref;
    char name[MX_NAME_MAX];
};

/* One address of one host: what a connection is tried to. */
struct mx_addr {
    unsigned pref;
    size_t host; /* index into the host list */
    int family;  /* AF_INET or AF_INET6 */
    char addr[MX_ADDR_MAX];
};

/* A random number below bound (tests inject their own). */
typedef unsigned (*mx_random_fn)(void *arg, unsigned bound);

/* What mx_list_cut_self found. */
enum mx_self {
    MX_SELF_NONE, /* this host is not among the MX hosts */
    MX_SELF_CUT,  /* it is: only the more preferred hosts are left */
    MX_SELF_LOOP, /* it is the most preferred: nothing is left ("loops back to myself") */
};

bool mx_rdata_parse(const unsigned char *rdata, size_t len, struct mx_host *out);
bool mx_list_null(const struct mx_host *v, size_t n);
void mx_list_drop_null(struct mx_host *v, size_t *n);
void mx_list_sort(struct mx_host *v, size_t n, mx_random_fn rnd, void *arg);
enum mx_self mx_list_cut_self(struct mx_host *v, size_t *n, const char *myhostname);
void mx_addr_prefer(struct mx_addr *v, size_t n, int family);

#endif
