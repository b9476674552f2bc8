/*
 * path.c - checks on path names built from table values.
 *
 * Trusts: nothing in the names; it looks only at their text and never at the file system
 * (a symlink inside the tree is the opener's business: O_NOFOLLOW and ownership checks).
 */
#include <string.h>

#include "core/path.h"

/*
 * path_is_confined - does rel, appended to a directory, stay below it? It must be relative
 * and have no ".." component anywhere: first, in the middle or last ("a/.." and "a/b/.."
 * included, the case a search for "/../" misses). "." components and repeated or trailing
 * slashes are harmless.
 */
bool
path_is_confined(const char *rel)
{
    const char *s = rel;

    if (*rel == '/' || *rel == 0)
        return false;
    while (*s) {
        size_t len = strcspn(s, "/");

        if (len == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += len;
        while (*s == '/')
            s++;
    }
    return true;
}
