/*
 * gen_params_man.c - write the roff page postern-params(5) from lib/mail/params.def.
 *
 *   gen_params_man DATE > postern-params.5
 *
 * Built and run by `make`; the declaration stays the only source of the parameter
 * reference, so the page cannot drift from the code. DATE goes on the .TH line (the Makefile
 * passes the date params.def last changed, so the page is the same for the same source).
 *
 * Trusts: params.def, which is part of the source.
 */
#include <stdio.h>

enum {
    STR,
    INT,
    BOOL,
    TIME,
    SIZE,
    LIST
};

static const char *const type_names[] = {
    [STR] = "string", [INT] = "integer",        [BOOL] = "yes or no",
    [TIME] = "time",  [SIZE] = "size in bytes", [LIST] = "list",
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

/* param_range - the bounds of a numeric parameter (a time's in seconds, as conf checks it) */
static void
param_range(int type, long min, long max)
{
    if ((type != INT && type != TIME && type != SIZE) || max <= min)
        return;
    if (type == TIME)
        printf("; from %lds to %lds", min, max);
    else
        printf("; from %ld to %ld", min, max);
}

/* param - one parameter as a tagged paragraph: name, type, default, bounds, the doc line */
static void
param(int type, const char *name, const char *dflt, long min, long max, char unit, const char *doc)
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
    param_range(type, min, max);
    printf(")\n.br\n");
    roff_text(doc);
    printf("\n");
}

/* main - write postern-params(5) from params.def on stdout */
int
main(int argc, char **argv)
{
    printf(".TH POSTERN-PARAMS 5 %s postern \"File Formats\"\n", argc > 1 ? argv[1] : "\"\"");
    puts(".SH NAME\n"
         "postern-params \\- every main.cf parameter of postern, with its type and default\n"
         ".SH DESCRIPTION\n"
         "Each parameter below can be set in\n.BR main.cf (5)\n"
         "or for one service with\n.B \\-o name=value\nin\n.BR master.cf (5).\n"
         "Names and meanings follow Postfix wherever postern does the same thing.\n"
         "Times take a unit suffix (s, m, h, d, w); a bare number uses the unit shown.\n"
         "Sizes are in bytes. Lists are separated by commas or white space.\n"
         "A numeric value outside the bounds shown is a configuration error.\n"
         "A default may name other parameters as\n.IR $name ;\n"
         ".B postern conf \\-d\nprints every default as it is declared here.\n"
         "This page is generated from the parameter declarations in the source.\n"
         ".SH PARAMETERS");
#define PARAM(type, name, dflt, min, max, unit, doc) param(type, #name, dflt, min, max, unit, doc);
#define PARAM_NAMED(type, field, name, dflt, min, max, unit, doc) \
    param(type, name, dflt, min, max, unit, doc);
#include "mail/params.def"
#undef PARAM
#undef PARAM_NAMED
    puts(".SH SEE ALSO\n.BR postern (8),\n.BR postern-conf (1),\n.BR main.cf (5),\n"
         ".BR master.cf (5),\n.BR postern-tables (5)");
    return 0;
}
