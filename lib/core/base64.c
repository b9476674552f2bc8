/*
 * base64.c - strict base64 encoding and decoding (base64.h says what "strict" means).
 *
 * Reads untrusted input (SASL responses from SMTP clients). Invariants: the decoder never
 * writes more than BASE64_DECODED_MAX(len) + 1 bytes, and decode(encode(x)) == x.
 */
#include "core/base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const void *data, size_t len, char *out)
{
    const unsigned char *in = data;
    char *o = out;
    size_t i;

    for (i = 0; i + 3 <= len; i += 3) {
        unsigned long v =
            ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];

        *o++ = base64_alphabet[(v >> 18) & 63];
        *o++ = base64_alphabet[(v >> 12) & 63];
        *o++ = base64_alphabet[(v >> 6) & 63];
        *o++ = base64_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;

        *o++ = base64_alphabet[(v >> 18) & 63];
        *o++ = base64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);

        *o++ = base64_alphabet[(v >> 18) & 63];
        *o++ = base64_alphabet[(v >> 12) & 63];
        *o++ = base64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = 0;
    return (size_t)(o - out);
}

/* base64_value - the six bits of one alphabet character, or -1 */
static int
base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool
base64_decode(const char *text, size_t len, unsigned char *out, size_t *outlen)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t n = 0;

    *outlen = 0;
    if (len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = 0, v[4] = {0, 0, 0, 0};

        /* Padding only at the very end: "xx==" or "xxx=". */
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        for (int k = 0; k < 4 - pad; k++)
            if ((v[k] = base64_value(in[i + k])) < 0)
                return false;
        out[n++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        if (pad == 2) {
            if ((v[1] & 0x0f) != 0)
                return false;
            break;
        }
        out[n++] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
        if (pad == 1) {
            if ((v[2] & 0x03) != 0)
                return false;
            break;
        }
        out[n++] = (unsigned char)(((v[2] & 0x03) << 6) | v[3]);
    }
    out[n] = 0;
    *outlen = n;
    return true;
}
