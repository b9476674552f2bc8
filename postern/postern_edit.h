/* postern_edit.h - change main.cf in place */
#ifndef POSTERN_POSTERN_EDIT_H
#define POSTERN_POSTERN_EDIT_H

#include <stdbool.h>

int postern_edit_main_cf(const char *path, char **args, int n, bool remove);

#endif
