/*
 * str.c - fuzz target for the string helpers that split and read configuration and
 * protocol text: str_token, strvec_split, str_trim, str_to_long, str_lower and friends.
 *
 * The input, cut at its first NUL, is one line of text. Invariants: every token is
 * non-empty, holds no delimiter and lies inside the text; strvec_split finds the same
 * tokens; a trimmed string has no white space at either end; a number is in range.
 */
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "t/fuzz.h"

#define NUM_MIN (-1000L)
#define NUM_MAX 1000000L

/* fuzz_tokens - cut text apart with str_token and check it against strvec_split */
static void
fuzz_tokens(const char *text, const char *delims)
{
    char *copy = xstrdup(text), *cursor = copy, *tok;
    size_t len = strlen(copy), n = 0;
    struct strvec sv;

    strvec_init(&sv);
    strvec_split(&sv, text, delims);
    while ((tok = str_token(&cursor, delims)) != NULL) {
        long v = 0;

        FUZZ_ASSERT(tok >= copy && tok + strlen(tok) <= copy + len);
        FUZZ_ASSERT(*tok != 0 && strcspn(tok, delims) == strlen(tok));
        FUZZ_ASSERT(n < sv.n && strcmp(sv.v[n], tok) == 0);
        FUZZ_ASSERT(strvec_contains(&sv, tok));
        if (str_to_long(tok, NUM_MIN, NUM_MAX, &v))
            FUZZ_ASSERT(v >= NUM_MIN && v <= NUM_MAX);
        n++;
    }
    FUZZ_ASSERT(n == sv.n && (sv.v == NULL || sv.v[n] == NULL));
    strvec_free(&sv);
    free(copy);
}

/* fuzz_case - trimming and case folding */
static void
fuzz_case(const char *text)
{
    char *copy = xstrdup(text), *trimmed = str_trim(copy);
    size_t len = strlen(trimmed);

    FUZZ_ASSERT(len == 0 || (strchr(" \t\r\n\f\v", trimmed[0]) == NULL &&
                             strchr(" \t\r\n\f\v", trimmed[len - 1]) == NULL));
    FUZZ_ASSERT(str_has_suffix_nocase(text, "") && str_has_prefix(text, ""));
    free(copy);
    copy = xstrdup(text);
    FUZZ_ASSERT(str_eq_nocase(str_lower(copy), text));
    FUZZ_ASSERT(str_has_suffix_nocase(text, copy));
    free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmalloc(size + 1);

    memcpy(text, data, size);
    text[size] = 0;
    fuzz_tokens(text, STR_LIST_DELIMS);
    fuzz_tokens(text, "=");
    fuzz_case(text);
    free(text);
    return 0;
}
