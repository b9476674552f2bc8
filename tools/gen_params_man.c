/*
 * gen_params_man.c - write the roff page postern-params(5) from lib/mail/params.def.
 *
 * Built and run by `make`; the declaration stays the only source of the parameter
 * reference, so the page cannot drift from the code.
 *
 * Trusts: params.def, which is part of the source.
 */
#include <stdio.h>

static const char *const type_names[] = {
    [0] = "string", [1] = "integer",       [2] = "yes or no",
    [3] = "time",   [4] = "size in bytes", [5] = "list",
};

enum {
    STR,
    INT,
    BOOL,
    TIME,
    SIZE,
    LIST
};

/* roff_text - print text with roff's special characters made harmless */
static void
roff_text(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

static void
param(int type, const char *name, const char *dflt, char unit, const char *doc)
{
    printf(".TP\n.B %s\n(%s", name, type_names[type]);
    if (type == TIME)
        printf(", bare number in %c", unit);
    printf("; default: ");
    if (*dflt) {
        fputs("\\fI", stdout);
        roff_text(dflt);
        fputs("\\fR", stdout);
    } else {
        fputs("empty", stdout);
    }
    printf(")\n.br\n");
    roff_text(doc);
    printf("\n");
}

/* main - write postern-params(5) from params.def on stdout */
int
main(void)
{
    puts(".TH POSTERN-PARAMS 5 \"\" postern \"File formats\"\n"
         ".SH NAME\n"
         "postern-params \\- every main.cf parameter of postern, with its type and default\n"
         ".SH DESCRIPTION\n"
         "Each parameter below can be set in\n.BR main.cf (5)\n"
         "or for one service with\n.B \\-o name=value\nin\n.BR master.cf (5).\n"
         "Names and meanings follow Postfix wherever postern does the same thing.\n"
         "Times take a unit suffix (s, m, h, d, w); a bare number uses the unit shown.\n"
         "Sizes are in bytes. Lists are separated by commas or white space.\n"
         "This page is generated from the parameter declarations in the source.\n"
         ".SH PARAMETERS");
#define PARAM(type, name, dflt, min, max, unit, doc) param(type, #name, dflt, unit, doc);
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) \
    param(type, name, dflt, unit, doc);
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
    puts(".SH SEE ALSO\n.BR postern (8),\n.BR postern-conf (1),\n.BR main.cf (5),\n"
         ".BR master.cf (5)");
    return 0;
}
