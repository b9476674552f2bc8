/* sasl_opts.h - SASL security options ("noplaintext, noanonymous") for both sides of AUTH */
#ifndef MAIL_SASL_OPTS_H
#define MAIL_SASL_OPTS_H

#include "core/str.h"

/* The words of smtpd_sasl_security_options, smtp_sasl_security_options and their TLS
 * variants, as bits. */
#define SASL_OPT_NOPLAINTEXT  0x01u
#define SASL_OPT_NOACTIVE     0x02u
#define SASL_OPT_NODICTIONARY 0x04u
#define SASL_OPT_NOANONYMOUS  0x08u
#define SASL_OPT_MUTUAL_AUTH  0x10u

/* sasl_opts_parse - the bits of one option list; unknown words are logged and ignored */
unsigned sasl_opts_parse(const struct strvec *list, const char *param);

/* sasl_opts_props - the bits as Cyrus SASL's security properties (a sasl_security_properties_t),
 * with no security layer: SMTP AUTH has none, TLS or not */
void sasl_opts_props(unsigned opts, void *props);

#endif
