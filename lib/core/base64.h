/* base64.h - strict base64 (RFC 4648, section 4): the standard alphabet, padding required */
#ifndef CORE_BASE64_H
#define CORE_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The decoder accepts exactly what the encoder writes and nothing else: no white space, no
 * line breaks, no missing or extra padding, no characters outside the alphabet, and no
 * set bits in the unused low bits of the last character before padding ("QR==" is refused,
 * "QQ==" is "A"). So one byte string has one encoding, and text that decodes is known to
 * hold no control characters, tabs or spaces.
 */

/* BASE64_ENCODED_LEN - characters the encoding of n bytes takes, without the NUL */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* BASE64_DECODED_MAX - bytes at most in the decoding of n characters */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/* base64_encode - len bytes of data as base64 into out, which holds
 * BASE64_ENCODED_LEN(len) + 1 bytes; NUL-terminated; the length */
size_t base64_encode(const void *data, size_t len, char *out);

/* base64_decode - len characters of text into out (BASE64_DECODED_MAX(len) bytes, plus
 * one for a NUL written after the data); false if text is not strict base64 */
bool base64_decode(const char *text, size_t len, unsigned char *out, size_t *outlen);

#endif
