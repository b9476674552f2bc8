/* fuzz.h - what every fuzz target under t/fuzz shares with libFuzzer and t/fuzz_replay.c */
#ifndef T_FUZZ_H
#define T_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The one entry point of a target: parse size bytes of data, never crash, return 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_util.c, linked into every fuzz program (libFuzzer and replay alike). */
char *fuzz_text(const uint8_t *data, size_t size);
const char *fuzz_file(const char *text);
void fuzz_map(const char *type, const uint8_t *data, size_t size, const char *default_keys);

/* A broken invariant is a crash, so that libFuzzer keeps the input and replays fail. */
#define FUZZ_ASSERT(cond)                                                                \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#endif
