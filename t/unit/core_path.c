/* core_path.c - path_is_confined: no way out of the directory a table value is put under */
#include <stddef.h>

#include "core/mem.h"
#include "core/path.h"
#include "t/tap.h"

int
main(void)
{
    static const struct {
        const char *rel;
        bool confined;
    } cases[] = {
        {"example.com/alice/", true},
        {"example.com/alice", true},
        {"a/./b", true},
        {"a//b//", true},
        {"..a/b..", true},
        {"a/...", true},
        {"a/..", false},
        {"a/../..", false},
        {"a/b/../c", false},
        {"../a", false},
        {"..", false},
        {"/..", false},
        {"/etc/passwd", false},
        {"a/../", false},
        {"", false},
    };

    for (size_t i = 0; i < nitems(cases); i++)
        ok(path_is_confined(cases[i].rel) == cases[i].confined, "\"%s\" %s", cases[i].rel,
           cases[i].confined ? "stays below" : "is refused");
    return done_testing();
}
