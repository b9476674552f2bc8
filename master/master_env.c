/*
 * master_env.c - the environment a child starts with: built, not inherited.
 *
 * Whoever ran `postern start` may have SSH_AUTH_SOCK, tokens, LD_PRELOAD, MALLOC_*, or
 * resolver variables (LOCALDOMAIN, RES_OPTIONS, HOSTALIASES) in the environment; none of it
 * reaches a daemon or, through local, a user's command. A child gets exactly the entries
 * of import_environment (Postfix's parameter: NAME passes the master's value when it has
 * one, NAME=VALUE sets it), plus POSTERN_LISTEN_FDS from the skeleton's protocol. A build
 * with AddressSanitizer also passes the sanitizers' own options, so that `make
 * check-sanitize` sees the daemons' reports.
 *
 * Trusts: main.cf (root's, checked at start). Runs in the forked child before exec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "master/master.h"

#if defined(__SANITIZE_ADDRESS__)
#define MASTER_SANITIZER_ENV 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MASTER_SANITIZER_ENV 1
#endif
#endif

/* master_env_import - NAME with the master's value (if it has one), or NAME=VALUE as given */
static void
master_env_import(struct strvec *env, const char *entry)
{
    const char *value;

    if (strchr(entry, '=') != NULL)
        strvec_add(env, entry);
    else if ((value = getenv(entry)) != NULL)
        strvec_add_owned(env, xasprintf("%s=%s", entry, value));
}

/* master_env_build - a child's whole environment, for execve */
void
master_env_build(const struct params *p, size_t nfds, struct strvec *env)
{
    strvec_init(env);
    for (size_t i = 0; i < p->import_environment.n; i++)
        master_env_import(env, p->import_environment.v[i]);
#ifdef MASTER_SANITIZER_ENV
    master_env_import(env, "ASAN_OPTIONS");
    master_env_import(env, "LSAN_OPTIONS");
    master_env_import(env, "UBSAN_OPTIONS");
#endif
    strvec_add_owned(env, xasprintf("POSTERN_LISTEN_FDS=%zu", nfds));
}
