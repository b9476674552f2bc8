/* core_base64.c - strict base64: the RFC 4648 vectors, and everything not strict refused */
#include <string.h>

#include "core/base64.h"
#include "core/mem.h"
#include "t/tap.h"

static void
test_vectors(void)
{
    /* RFC 4648, section 10, and a few bytes outside ASCII */
    static const struct {
        const char *plain;
        size_t len;
        const char *coded;
    } cases[] = {
        {"", 0, ""},
        {"f", 1, "Zg=="},
        {"fo", 2, "Zm8="},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg=="},
        {"fooba", 5, "Zm9vYmE="},
        {"foobar", 6, "Zm9vYmFy"},
        {"\0user\0pass", 10, "AHVzZXIAcGFzcw=="},
        {"\xff\xfe\xfd", 3, "//79"},
        {"\xfb\xef", 2, "++8="},
    };
    for (size_t i = 0; i < nitems(cases); i++) {
        char enc[64];
        unsigned char dec[64];
        size_t n;

        is_int((long long)base64_encode(cases[i].plain, cases[i].len, enc),
               (long long)strlen(cases[i].coded), "encode '%s': length", cases[i].coded);
        is_str(enc, cases[i].coded, "encode '%s'", cases[i].coded);
        ok(base64_decode(cases[i].coded, strlen(cases[i].coded), dec, &n) && n == cases[i].len &&
               memcmp(dec, cases[i].plain, n) == 0 && dec[n] == 0,
           "decode '%s'", cases[i].coded);
    }
}

static void
test_refused(void)
{
    static const char *bad[] = {
        "Zg",       /* padding missing */
        "Zg=",      /* padding short */
        "Zg===",    /* padding long */
        "Z===",     /* three pads */
        "====",     /* nothing but padding */
        "Zh==",     /* unused bits set */
        "Zm9=",     /* unused bits set */
        "Zg==Zg==", /* padding in the middle */
        "Zm=v",     /* padding before data */
        "Zm9v\r\n", /* line end */
        " Zm9v",    /* white space */
        "Zm 9v",    /* white space inside */
        "Zm9v\t",   /* tab */
        "Zm-v",     /* URL alphabet */
        "Zm_v",     /* URL alphabet */
        "Zm9\x80",  /* eighth bit */
        "*",        /* the client's cancel */
        "=",        /* the empty initial response is the caller's business */
        "Zm9vY",    /* length not a multiple of four */
    };
    for (size_t i = 0; i < nitems(bad); i++) {
        unsigned char dec[64];
        size_t n = 99;

        ok(!base64_decode(bad[i], strlen(bad[i]), dec, &n) && n == 0, "refused: '%s'", bad[i]);
    }
    {
        unsigned char dec[8];
        size_t n;

        ok(!base64_decode("Zm\0v", 4, dec, &n), "refused: a NUL inside");
    }
}

static void
test_roundtrip(void)
{
    unsigned char data[256], back[256 + 1];
    char enc[BASE64_ENCODED_LEN(256) + 1];
    bool good = true;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(data); len++) {
        size_t elen = base64_encode(data, len, enc), n;

        good = good && elen == BASE64_ENCODED_LEN(len) && base64_decode(enc, elen, back, &n) &&
               n == len && memcmp(back, data, len) == 0 && n <= BASE64_DECODED_MAX(elen);
    }
    ok(good, "every length from 0 to 256 bytes encodes and decodes back");
}

int
main(void)
{
    test_vectors();
    test_refused();
    test_roundtrip();
    return done_testing();
}
