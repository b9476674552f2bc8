/*
 * smtpd.c - the SMTP server in the MX role (port 25): STARTTLS offered, never required unless
 * configured; AUTH only when configured. The session code is the shared one in lib/smtpd/.
 */
#include "smtpd/smtpd.h"

int
main(int argc, char **argv)
{
    static const struct smtpd_role role = {.name = "smtpd", .submission = false};

    return smtpd_main(argc, argv, &role);
}
