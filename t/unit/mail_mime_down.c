/* mail_mime_down.c - 8-bit MIME content made 7-bit: what is converted, what cannot be, and
 * that the result decodes back to the original part */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/mime_down.h"
#include "t/tap.h"

/* run - both passes over text fed step bytes at a time; the verdict, the output in out */
static enum mime_down_verdict
run(const char *text, size_t step, struct buf *out, const char **why)
{
    struct mime_down md;
    size_t len = strlen(text);
    enum mime_down_verdict v;

    buf_init(out, BUF_UNLIMITED);
    mime_down_init(&md);
    for (size_t i = 0; i < len; i += step)
        mime_down_feed(text + i, len - i < step ? len - i : step, &md);
    mime_down_finish(&md);
    v = md.verdict;
    *why = md.why;
    if (v == MIME_DOWN_CONVERT) {
        mime_down_rewind(&md, out);
        for (size_t i = 0; i < len; i += step)
            mime_down_feed(text + i, len - i < step ? len - i : step, &md);
        mime_down_finish(&md);
    }
    mime_down_free(&md);
    return v;
}

static enum mime_down_verdict
convert(const char *text, struct buf *out)
{
    const char *why;

    return run(text, strlen(text) + 1, out, &why);
}

static bool
is_7bit(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] >= 0x80)
            return false;
    return true;
}

/* qp_decode - quoted-printable text back to bytes (the test's own decoder) */
static void
qp_decode(const char *p, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";

    buf_init(out, BUF_UNLIMITED);
    while (*p) {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n')
            p += 3;
        else if (p[0] == '=' && p[1] && p[2]) {
            buf_putc(out, (int)((strchr(hex, p[1]) - hex) * 16 + (strchr(hex, p[2]) - hex)));
            p += 3;
        } else
            buf_putc(out, *p++);
    }
}

static void
test_7bit(void)
{
    struct buf out;
    const char *why;

    ok(run("Subject: hi\r\n\r\nplain text\r\n", 4096, &out, &why) == MIME_DOWN_7BIT,
       "7-bit content: nothing to do");
    buf_free(&out);
}

static void
test_plain(void)
{
    struct buf out;

    ok(convert("Subject: hi\r\n\r\ncaf\xc3\xa9 = 1 \r\n", &out) == MIME_DOWN_CONVERT,
       "8-bit text without MIME: converted");
    is_str(buf_str(&out),
           "Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =3D 1=20\r\n",
           "MIME-Version, unknown-8bit and quoted-printable added; '=' and the last space "
           "encoded");
    buf_free(&out);
    ok(convert("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n",
               &out) == MIME_DOWN_CONVERT,
       "a MIME text part in 8bit: converted");
    is_str(buf_str(&out),
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n",
           "its encoding rewritten in place of the old one, its charset kept");
    buf_free(&out);
}

static void
test_long_line(void)
{
    char text[4096], want[2048];
    struct buf out, back;
    size_t n = (size_t)snprintf(text, sizeof(text), "Subject: x\r\n\r\n");
    size_t body = n;

    for (size_t i = 0; i < 300; i++)
        text[n++] = i % 3 == 0 ? '\xe9' : 'a';
    memcpy(text + n, "\r\n", 3);
    memcpy(want, text + body, n + 2 - body);
    want[n + 2 - body] = 0;
    ok(convert(text, &out) == MIME_DOWN_CONVERT, "a 300-byte 8-bit line: converted");
    const char *b = strstr(out.data, "\r\n\r\n") + 4;
    bool short_lines = true;
    for (const char *p = b; *p;) {
        const char *nl = strstr(p, "\r\n");
        short_lines = short_lines && nl != NULL && nl - p <= 76;
        p = nl ? nl + 2 : p + strlen(p);
    }
    ok(short_lines, "no encoded line longer than 76 characters");
    qp_decode(b, &back);
    is_str(buf_str(&back), want, "the soft line breaks decode back to the one line");
    buf_free(&out);
    buf_free(&back);
}

static const char multipart[] = "MIME-Version: 1.0\r\n"
                                "Content-Type: multipart/mixed;\r\n boundary=\"=_outer\"\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n"
                                "\r\n"
                                "preamble\r\n"
                                "--=_outer\r\n"
                                "Content-Type: text/plain\r\n"
                                "\r\n"
                                "seven bit\r\n"
                                "--=_outer  \r\n"
                                "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n"
                                "\r\n"
                                "na\xefve\r\n"
                                "--=_outer\r\n"
                                "Content-Type: message/rfc822\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n"
                                "\r\n"
                                "Subject: inner\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n"
                                "\r\n"
                                "\xc3\xbc\r\n"
                                "--=_outer\r\n"
                                "Content-Type: application/octet-stream\r\n"
                                "Content-Transfer-Encoding: base64\r\n"
                                "\r\n"
                                "AAEC\r\n"
                                "--=_outer--\r\n"
                                "epilogue\r\n";

static const char multipart_7bit[] = "MIME-Version: 1.0\r\n"
                                     "Content-Type: multipart/mixed;\r\n boundary=\"=_outer\"\r\n"
                                     "Content-Transfer-Encoding: 7bit\r\n"
                                     "\r\n"
                                     "preamble\r\n"
                                     "--=_outer\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "\r\n"
                                     "seven bit\r\n"
                                     "--=_outer  \r\n"
                                     "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                     "Content-Transfer-Encoding: quoted-printable\r\n"
                                     "\r\n"
                                     "na=EFve\r\n"
                                     "--=_outer\r\n"
                                     "Content-Type: message/rfc822\r\n"
                                     "Content-Transfer-Encoding: 7bit\r\n"
                                     "\r\n"
                                     "Subject: inner\r\n"
                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Transfer-Encoding: quoted-printable\r\n"
                                     "\r\n"
                                     "=C3=BC\r\n"
                                     "--=_outer\r\n"
                                     "Content-Type: application/octet-stream\r\n"
                                     "Content-Transfer-Encoding: base64\r\n"
                                     "\r\n"
                                     "AAEC\r\n"
                                     "--=_outer--\r\n"
                                     "epilogue\r\n";

static void
test_multipart(void)
{
    struct buf out, bytewise;
    const char *why;

    ok(convert(multipart, &out) == MIME_DOWN_CONVERT, "a multipart with 8-bit parts: converted");
    is_str(buf_str(&out), multipart_7bit,
           "only the 8-bit parts change (the nested message's too); 7bit declared around them");
    ok(is_7bit(&out), "the result is 7-bit");
    ok(run(multipart, 1, &bytewise, &why) == MIME_DOWN_CONVERT,
       "fed a byte at a time: the same verdict");
    is_str(buf_str(&bytewise), buf_str(&out), "and the same result");
    buf_free(&out);
    buf_free(&bytewise);
}

static void
test_cannot(void)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"Subject: caf\xc3\xa9\r\n\r\nbody\r\n", "8-bit bytes in a header"},
        {"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
         "pr\xc3\xa9\r\n--b\r\n\r\nx\r\n--b--\r\n",
         "8-bit text outside any MIME part"},
        {"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n\xff\xfe\r\n",
         "8-bit bytes in a base64 or quoted-printable part"},
    };
    struct buf out;
    const char *why;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(run(cases[i].text, 7, &out, &why) == MIME_DOWN_CANNOT, "cannot convert: %s",
           cases[i].why);
        is_str(why ? why : "", cases[i].why, "  and says why");
        buf_free(&out);
    }
}

static void
test_depth(void)
{
    struct buf text, out;
    const char *why;

    buf_init(&text, BUF_UNLIMITED);
    buf_puts(&text, "MIME-Version: 1.0\r\n");
    for (int i = 0; i <= MIME_DOWN_DEPTH; i++)
        buf_printf(&text, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_puts(&text, "\r\n\xe9\r\n");
    ok(run(buf_str(&text), 4096, &out, &why) == MIME_DOWN_CANNOT && why &&
           strcmp(why, "MIME nested too deeply") == 0,
       "multiparts nested deeper than %d: cannot", MIME_DOWN_DEPTH);
    buf_free(&out);
    buf_free(&text);
}

/* M3: Content-Type is read without MIME-Version, as Postfix reads it */
static const char nover[] = "Subject: x\r\n"
                            "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
                            "\r\n"
                            "--b\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: 8bit\r\n"
                            "\r\n"
                            "caf\xc3\xa9\r\n"
                            "--b--\r\n";

static const char nover_7bit[] = "Subject: x\r\n"
                                 "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "\r\n"
                                 "--b\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: quoted-printable\r\n"
                                 "\r\n"
                                 "caf=C3=A9\r\n"
                                 "--b--\r\n";

static void
test_no_version(void)
{
    struct buf out;
    const char *why;

    ok(convert(nover, &out) == MIME_DOWN_CONVERT,
       "a multipart without MIME-Version: converted as a multipart");
    is_str(buf_str(&out), nover_7bit,
           "  its part made quoted-printable, its header kept, MIME-Version added");
    buf_free(&out);
    ok(run("Subject: x\r\nContent-Type: multipart/mixed\r\n\r\ncaf\xc3\xa9\r\n", 4096, &out,
           &why) == MIME_DOWN_CANNOT &&
           why && strcmp(why, "8-bit bytes in a multipart without a boundary") == 0,
       "8-bit bytes in a multipart without a boundary: cannot");
    buf_free(&out);
    ok(run("MIME-Version: 1.0\r\nContent-Type: message/partial; id=x\r\n\r\n\xe9\r\n", 4096, &out,
           &why) == MIME_DOWN_CANNOT &&
           why &&
           strcmp(why, "8-bit bytes in a message/partial or message/external-body part") == 0,
       "8-bit bytes in a message/partial part (7bit only): cannot");
    buf_free(&out);
}

/* feed_bounded - the scan over text fed in 64 KiB chunks; the longest line it held */
static size_t
feed_bounded(struct mime_down *md, const struct buf *text)
{
    size_t most = 0;

    for (size_t i = 0; i < text->len; i += 65536) {
        mime_down_feed(text->data + i, text->len - i < 65536 ? text->len - i : 65536, md);
        most = md->line.len > most ? md->line.len : most;
    }
    mime_down_finish(md);
    return most;
}

/* H2: a line of 4 MiB is held in pieces, and its quoted-printable decodes back */
static void
test_huge_line(void)
{
    struct buf text, out, back, want;
    struct mime_down md;
    size_t body, most;
    bool short_lines = true;

    buf_init(&text, BUF_UNLIMITED);
    buf_init(&want, BUF_UNLIMITED);
    buf_puts(&text, "Subject: ");
    for (size_t i = 0; i < 5000; i++)
        buf_putc(&text, 'a' + (int)(i % 26)); /* a header line longer than a piece */
    buf_puts(&text, "\r\n\r\n");
    body = text.len;
    for (size_t i = 0; i < 4u << 20; i++)
        buf_putc(&text, i % 7 == 0 ? 0xe9 : i % 5 == 0 ? ' ' : 'x');
    buf_puts(&text, "\r\n");
    for (size_t i = 0; i < MIME_DOWN_LINE_MAX - 1; i++)
        buf_putc(&text, i == MIME_DOWN_LINE_MAX - 2 ? ' ' : 'y'); /* CR at a piece's end */
    buf_puts(&text, "\r\nend \xe9");
    buf_append(&want, text.data + body, text.len - body);

    mime_down_init(&md);
    most = feed_bounded(&md, &text);
    ok(md.verdict == MIME_DOWN_CONVERT, "a 4 MiB 8-bit line: converted");
    ok(most <= MIME_DOWN_LINE_MAX, "  the scan held at most %d octets of it (held %zu)",
       MIME_DOWN_LINE_MAX, most);
    buf_init(&out, BUF_UNLIMITED);
    mime_down_rewind(&md, &out);
    most = feed_bounded(&md, &text);
    ok(most <= MIME_DOWN_LINE_MAX, "  so did the conversion (held %zu)", most);
    mime_down_free(&md);
    ok(is_7bit(&out), "  the result is 7-bit");
    ok(out.len > body && memcmp(out.data, text.data, body - 2) == 0,
       "  the long header line is kept whole");
    const char *b = strstr(out.data, "\r\n\r\n") + 4;
    for (const char *p = b; *p && short_lines;) {
        const char *nl = strstr(p, "\r\n");
        short_lines = nl == NULL ? strlen(p) <= 76 : nl - p <= 76;
        p = nl ? nl + 2 : p + strlen(p);
    }
    ok(short_lines, "  no encoded line longer than 76 characters");
    qp_decode(b, &back);
    ok(back.len == want.len && memcmp(back.data, want.data, want.len) == 0,
       "  and it decodes back to the lines that were sent");
    buf_free(&out);
    buf_free(&back);
    buf_free(&want);
    buf_free(&text);
}

/* a header past MIME_DOWN_HEADER_MAX: 8-bit content cannot be converted, 7-bit goes as is */
static void
test_huge_header(void)
{
    struct buf text, out;
    const char *why;

    buf_init(&text, BUF_UNLIMITED);
    for (size_t i = 0; i < MIME_DOWN_HEADER_MAX / 40; i++)
        buf_printf(&text, "X-Filler-%05zu: 0123456789012345678901234567890\r\n", i);
    buf_puts(&text, "\r\nseven\r\n");
    ok(run(buf_str(&text), 65536, &out, &why) == MIME_DOWN_7BIT,
       "a header over %d octets, 7-bit content: goes as it is", MIME_DOWN_HEADER_MAX);
    buf_free(&out);
    buf_puts(&text, "\xe9\r\n");
    ok(run(buf_str(&text), 65536, &out, &why) == MIME_DOWN_CANNOT && why &&
           strcmp(why, "a MIME header longer than 64 KiB") == 0,
       "  with 8-bit content: cannot");
    buf_free(&out);
    buf_free(&text);
}

int
main(void)
{
    test_7bit();
    test_plain();
    test_long_line();
    test_multipart();
    test_cannot();
    test_depth();
    test_no_version();
    test_huge_line();
    test_huge_header();
    return done_testing();
}
