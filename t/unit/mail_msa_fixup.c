/*
 * mail_msa_fixup.c - missing Date: and Message-ID: (and From: when asked) are added at the end of
 * the header section, existing ones are kept, nothing else changes; each input fed whole, split at
 * every point, and byte by byte.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/msa_fixup.h"
#include "t/tap.h"

#define DATE  "Date: Fri, 4 Dec 2026 05:00:00 +0000\r\n"
#define MSGID "Message-ID: <20261204050000.ABC@mx.example.org>\r\n"
#define FROM  "From: Cron Daemon <root@mx.example.org>\r\n"

/* With a From: line to add (pickup's use), or without (submission's). */
static const char *from_line;

static void
sink(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
}

/* run - the output for in, fed in pieces of step bytes (0: split once at cut) */
static char *
run(const char *in, size_t step, size_t cut)
{
    struct msa_fixup f;
    struct buf out;
    size_t len = strlen(in);

    buf_init(&out, BUF_UNLIMITED);
    buf_puts(&out, "");
    msa_fixup_init(&f, sink, &out, DATE, MSGID);
    if (from_line != NULL)
        msa_fixup_set_from(&f, from_line);
    if (step == 0) {
        msa_fixup_feed(&f, in, cut);
        msa_fixup_feed(&f, in + cut, len - cut);
    } else {
        for (size_t i = 0; i < len; i += step)
            msa_fixup_feed(&f, in + i, len - i < step ? len - i : step);
    }
    msa_fixup_end(&f);
    return buf_steal(&out);
}

/* check - want for in, however the input is cut */
static void
check(const char *in, const char *want, const char *name)
{
    bool same = true;
    char *got = run(in, strlen(in) + 1, 0);

    is_str(got, want, "%s", name);
    free(got);
    for (size_t cut = 0; cut <= strlen(in) && same; cut++) {
        got = run(in, 0, cut);
        same = strcmp(got, want) == 0;
        if (!same)
            diag("cut at %zu: %s", cut, got);
        free(got);
    }
    got = run(in, 1, 0);
    same = same && strcmp(got, want) == 0;
    free(got);
    ok(same, "%s: the same split anywhere and byte by byte", name);
}

int
main(void)
{
    check("Subject: hi\r\n\r\nbody\r\n", "Subject: hi\r\n" DATE MSGID "\r\nbody\r\n",
          "both missing: added before the empty line");
    check("Date: x\r\nSubject: hi\r\n\r\nbody\r\n",
          "Date: x\r\nSubject: hi\r\n" MSGID "\r\nbody\r\n", "Date present: only Message-ID added");
    check("message-id: <a@b>\r\nDATE: y\r\n\r\nb\r\n", "message-id: <a@b>\r\nDATE: y\r\n\r\nb\r\n",
          "both present, in any case: nothing added");
    check("Subject: a\r\n continued Date: no\r\n\r\n",
          "Subject: a\r\n continued Date: no\r\n" DATE MSGID "\r\n",
          "a Date: inside a continuation line is not a Date field");
    check("Subject: a\r\nHello world\r\nmore\r\n",
          "Subject: a\r\n" DATE MSGID "Hello world\r\nmore\r\n",
          "a line that is not a field ends the header section");
    check("Subject: a\r\nX-Date: b\r\nDated: c\r\n",
          "Subject: a\r\nX-Date: b\r\nDated: c\r\n" DATE MSGID,
          "header fields only: the lines are added at the end");
    check("", DATE MSGID, "empty content: the two lines");
    check("\r\nbody Date: z\r\n", DATE MSGID "\r\nbody Date: z\r\n", "no header fields at all");
    check("Received: from x\r\n\tby y\r\nSubject: s\r\n\r\n",
          "Received: from x\r\n\tby y\r\nSubject: s\r\n" DATE MSGID "\r\n",
          "folded fields are passed whole");
    check(
        "X-A-Very-Long-Field-Name-That-Is-Longer-Than-Eighty-Characters-For-Sure-Really-Yes: v\r\n\r\n",
        "X-A-Very-Long-Field-Name-That-Is-Longer-Than-Eighty-Characters-For-Sure-Really-Yes: v\r\n" DATE
            MSGID "\r\n",
        "a field name longer than the held bytes");
    from_line = FROM;
    check("Subject: s\r\n\r\nb\r\n", "Subject: s\r\n" DATE MSGID FROM "\r\nb\r\n",
          "pickup: a From: is added after Date: and Message-ID: when missing");
    check("from: <a@b>\r\nSubject: s\r\n\r\n", "from: <a@b>\r\nSubject: s\r\n" DATE MSGID "\r\n",
          "pickup: a From: in any case is kept, none added");
    check("Subject: s\r\nFromage: no\r\n\r\n",
          "Subject: s\r\nFromage: no\r\n" DATE MSGID FROM "\r\n", "pickup: Fromage: is no From:");
    return done_testing();
}
