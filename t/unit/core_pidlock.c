/* core_pidlock.c - one holder at a time; the lock names its live owner and dies with it */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/pidlock.h"
#include "t/tap.h"

static void
test_second_taker(const char *path, struct err *why)
{
    int fd = pidlock_acquire(path, why), status;
    pid_t child;

    ok(fd >= 0, "the first taker gets the lock");
    if ((child = fork()) == 0) {
        int again = pidlock_acquire(path, why);
        _exit(again < 0 && pidlock_owner(path) == getppid() ? 0 : 1);
    }
    waitpid(child, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "a second taker is refused and sees the first one's pid");
    close(fd);
    is_int(pidlock_owner(path), 0, "closing the descriptor releases the lock");
}

static void
test_owner_dies(const char *path, struct err *why)
{
    int ready[2], status;
    char byte;
    pid_t child;

    if (pipe(ready) < 0)
        abort();
    if ((child = fork()) == 0) {
        if (pidlock_acquire(path, why) < 0 || write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    ok(read(ready[0], &byte, 1) == 1, "a child takes the lock");
    is_int(pidlock_owner(path), child, "the owner is the child");
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    is_int(pidlock_owner(path), 0, "a killed owner leaves no owner behind");
    ok(pidlock_acquire(path, why) >= 0, "and the lock can be taken again");
}

int
main(void)
{
    char *path = tap_write_file("master.pid", "99999\n");
    struct err why;
    is_int(pidlock_owner(path), 0, "a stale pid file with no lock has no owner");
    test_second_taker(path, &why);
    test_owner_dies(path, &why);
    free(path);
    return done_testing();
}
