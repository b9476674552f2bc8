/*
 * slownss.c - LD_PRELOAD shim for t/smtpd-nss.t: a name service that hangs. getpwnam_r for
 * the user named in $SLOWNSS_USER waits until the file $SLOWNSS_GATE exists, then answers
 * "no such user"; every other name goes to the real getpwnam_r. Stands in for an LDAP or
 * sssd server that takes its time. Trusts its environment (tests only).
 */
#include <dlfcn.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*getpwnam_r_fn)(const char *, struct passwd *, char *, size_t, struct passwd **);

int
getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
    const char *slow = getenv("SLOWNSS_USER"), *gate = getenv("SLOWNSS_GATE");
    const struct timespec tick = {0, 10 * 1000 * 1000};

    if (slow != NULL && gate != NULL && strcmp(name, slow) == 0) {
        while (access(gate, F_OK) != 0)
            nanosleep(&tick, NULL);
        *result = NULL;
        return 0;
    }
    return ((getpwnam_r_fn)dlsym(RTLD_NEXT, "getpwnam_r"))(name, pwd, buf, buflen, result);
}
