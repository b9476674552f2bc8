/* sasl_dovecot.c - the Dovecot backend of sasl_server.h (to come) */
#include "mail/sasl_impl.h"

static bool
dovecot_open(struct sasl_server *s, struct err *err)
{
    return err_set(err, "smtpd_sasl_type = dovecot: not yet supported");
}

const struct sasl_backend sasl_dovecot_backend = {
    .name = "dovecot",
    .open = dovecot_open,
};
