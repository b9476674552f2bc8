/* placeholder */
#include <stdio.h>
#include <sysexits.h>

#include "sendmail/sendmail.h"
int
sendmail_smtp(const struct sendmail_opts *opts, const struct params *p, const char *config)
{
    fprintf(stderr, "sendmail: -bs is not supported yet\n");
    return EX_USAGE;
}
