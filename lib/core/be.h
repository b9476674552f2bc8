/* be.h - unsigned integers of n bytes, big-endian, in byte arrays: the byte order of
 * postern's files and IPC records */
#ifndef CORE_BE_H
#define CORE_BE_H

#include <stdint.h>

static inline void
be_put(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static inline uint64_t
be_get(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
