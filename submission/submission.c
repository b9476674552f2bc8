/*
 * submission.c - the SMTP server in the message submission role (RFC 6409, RFC 8314): port
 * 587 with STARTTLS required, or 465 with TLS from the first byte (smtpd_tls_wrappermode);
 * AUTH required before MAIL in both. The session code is the shared one in lib/smtpd/.
 */
#include "smtpd/smtpd.h"

int
main(int argc, char **argv)
{
    static const struct smtpd_role role = {.name = "submission", .submission = true};

    return smtpd_main(argc, argv, &role);
}
