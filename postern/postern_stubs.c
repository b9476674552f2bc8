/* postern_stubs.c - placeholders until the conf and map verbs land */
#include <stdio.h>

#include "postern/postern.h"

int
postern_conf_main(int argc, char **argv)
{
    fprintf(stderr, "postern conf: not yet\n");
    return 1;
}
