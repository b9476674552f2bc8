/*
 * postern_queue_print.c - a queue listing as Postfix's postqueue prints it: -p text (the
 * layout mailq has printed since Sendmail, which monitoring scripts parse) or -j, one JSON
 * object per message and line with Postfix's field names.
 *
 * The addresses arrive as showq sends them: local parts quoted where RFC 5321 needs it, the
 * null sender as MAILER-DAEMON (both forms, as Postfix's showq does).
 *
 * Trusts: nothing in the listing. Addresses and reasons come from queue files, and so from
 * SMTP clients: in text, control characters and bytes that are not UTF-8 become '?'; in
 * JSON, quotes, backslashes and control characters are escaped and bytes that are not
 * UTF-8 become '?', so every line is valid JSON whatever the file held.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "postern/postern_queue.h"

#define QUEUE_NO_REASON  "reason unavailable"
#define QUEUE_REASON_COL 76 /* a reason ends in this column when it fits */

/* queue_utf8_len - the length of the valid UTF-8 sequence at s, or 0 */
static size_t
queue_utf8_len(const unsigned char *s)
{
    size_t n;
    unsigned min;
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    return c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : n;
}

/* queue_put_text - s for a terminal: controls and broken UTF-8 as '?' */
static void
queue_put_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n = queue_utf8_len(p);

        if (n == 0 || *p < 0x20 || *p == 0x7f) {
            fputc('?', out);
            p++;
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
}

/* queue_put_json - s as a JSON string, quotes included */
static void
queue_put_json(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', out);
    while (*p) {
        size_t n = queue_utf8_len(p);

        const char *esc = *p == '\b'   ? "\\b"
                          : *p == '\f' ? "\\f"
                          : *p == '\n' ? "\\n"
                          : *p == '\r' ? "\\r"
                          : *p == '\t' ? "\\t"
                                       : NULL;

        if (n == 0)
            fputc('?', out);
        else if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (esc != NULL)
            fputs(esc, out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04X", *p);
        else
            fwrite(p, 1, n, out);
        p += n ? n : 1;
    }
    fputc('"', out);
}

/* queue_print_json - one message as one line of JSON */
static void
queue_print_json(FILE *out, const struct queue_ctl_entry *e)
{
    fprintf(out, "{\"queue_name\": ");
    queue_put_json(out, e->queue_name);
    fprintf(out, ", \"queue_id\": ");
    queue_put_json(out, e->id);
    fprintf(out, ", \"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": false",
            (long long)e->arrival, (long long)e->size);
    fprintf(out, ", \"sender\": ");
    queue_put_json(out, e->sender);
    fprintf(out, ", \"recipients\": [");
    for (size_t i = 0; i < e->nrcpt; i++) {
        fprintf(out, "%s{\"address\": ", i ? ", " : "");
        queue_put_json(out, e->rcpt[i].addr);
        if (*e->rcpt[i].reason) {
            fprintf(out, ", \"delay_reason\": ");
            queue_put_json(out, e->rcpt[i].reason);
        }
        fputc('}', out);
    }
    fprintf(out, "]}\n");
}

/* queue_print_text - one message as postqueue -p: ID line, (reason) lines, recipients */
static void
queue_print_text(FILE *out, const struct queue_ctl_entry *e, bool first)
{
    char id[QUEUE_ID_SIZE + 1], when[32];
    time_t arrival = (time_t)e->arrival;
    struct tm tm;
    const char *last = "";
    char mark = strcmp(e->queue_name, "active") == 0 ? '*'
                : strcmp(e->queue_name, "hold") == 0 ? '!'
                                                     : 0;

    if (first)
        fprintf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
                "-Sender/Recipient-------");
    else
        fputc('\n', out);
    snprintf(id, sizeof(id), "%s%c", e->id, mark);
    if (localtime_r(&arrival, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %T", &tm) == 0)
        snprintf(when, sizeof(when), "??");
    fprintf(out, "%-11s %7lld %-20.20s ", id, (long long)e->size, when);
    queue_put_text(out, e->sender);
    fputc('\n', out);
    for (size_t i = 0; i < e->nrcpt; i++) {
        const char *why = e->rcpt[i].reason;
        int pad = QUEUE_REASON_COL - (int)strlen(why);

        if (strcmp(last, why) != 0) { /* a new reason, or none after one */
            if (*why == 0)
                pad = QUEUE_REASON_COL - (int)strlen(QUEUE_NO_REASON);
            fprintf(out, "%*s(", pad > 0 ? pad : 0, "");
            queue_put_text(out, *why ? why : QUEUE_NO_REASON);
            fprintf(out, ")\n");
            last = why;
        }
        fprintf(out, "%-11s %7s %-20s ", "", "", "");
        queue_put_text(out, e->rcpt[i].addr);
        fputc('\n', out);
    }
}

/* queue_print_entry - a queue_ctl_list callback: one message, in the chosen form */
void
queue_print_entry(const struct queue_ctl_entry *e, void *ctx)
{
    struct queue_print *p = ctx;

    if (p->json)
        queue_print_json(p->out, e);
    else
        queue_print_text(p->out, e, p->count == 0);
    p->count++;
    p->bytes += e->size > 0 ? (uint64_t)e->size : 0;
}

/* queue_print_end - the trailer, or the line scripts grep for when there is nothing */
void
queue_print_end(struct queue_print *p)
{
    if (p->json)
        return;
    if (p->count == 0)
        fprintf(p->out, "Mail queue is empty\n");
    else
        fprintf(p->out, "\n-- %llu Kbytes in %lu Request%s.\n",
                (unsigned long long)(p->bytes / 1024), p->count, p->count == 1 ? "" : "s");
}
