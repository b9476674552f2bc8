/* path.h - checks on path names built from table values */
#ifndef CORE_PATH_H
#define CORE_PATH_H

#include <stdbool.h>

bool path_is_confined(const char *rel);

#endif
