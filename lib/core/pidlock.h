/* pidlock.h - a pid file that is also a lock: one owner at a time, seen by others */
#ifndef CORE_PIDLOCK_H
#define CORE_PIDLOCK_H

#include <sys/types.h>

#include "core/err.h"

int pidlock_acquire(const char *path, struct err *err);
pid_t pidlock_owner(const char *path);

#endif
