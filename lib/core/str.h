/* str.h - small string routines for ASCII protocol and configuration text */
#ifndef CORE_STR_H
#define CORE_STR_H

#include <stdbool.h>
#include <stddef.h>

/* A growable array of owned strings. */
struct strvec {
    char **v;
    size_t n;
    size_t cap;
};

char *str_lower(char *s);
bool str_eq_nocase(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix_nocase(const char *s, const char *suffix);
char *str_trim(char *s);
char *str_token(char **cursor, const char *delims);
bool str_to_long(const char *s, long min, long max, long *out);
unsigned str_hash(const char *s);
/* str_copy - copy what fits of src into dst (size > 0), always terminated; src's length */
size_t str_copy(char *dst, const char *src, size_t size);

void strvec_init(struct strvec *sv);
void strvec_add(struct strvec *sv, const char *s);
void strvec_add_owned(struct strvec *sv, char *s);
bool strvec_contains(const struct strvec *sv, const char *s);
void strvec_free(struct strvec *sv);
void strvec_split(struct strvec *sv, const char *text, const char *delims);
int strvec_split_list(struct strvec *sv, const char *text, const char **bad);

#define STR_LIST_DELIMS ", \t\r\n"

#endif
