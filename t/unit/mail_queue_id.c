/* mail_queue_id.c - queue IDs are fixed-width, sortable, unique, and names are validated */
#include <string.h>
#include <unistd.h>

#include "mail/queue_id.h"
#include "t/tap.h"

static void
test_make(void)
{
    struct timeval tv = {1700000000, 999999}, back;
    char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE];

    queue_id_make(a, &tv, 4194303, 0);
    is_int((long long)strlen(a), QUEUE_ID_LEN, "an ID has QUEUE_ID_LEN characters");
    ok(queue_id_valid(a, strlen(a)), "a made ID is valid");
    ok(queue_id_time(a, &back) && back.tv_sec == tv.tv_sec && back.tv_usec == tv.tv_usec,
       "the arrival time comes back from the ID");
    queue_id_make(b, &tv, 4194303, 1);
    ok(strcmp(a, b) != 0, "the counter separates IDs of one microsecond");
    tv.tv_usec = 0;
    tv.tv_sec++;
    queue_id_make(b, &tv, 1, 0);
    ok(strcmp(a, b) < 0, "a later second sorts later");
    tv.tv_sec--;
    tv.tv_usec = 999998;
    queue_id_make(b, &tv, 4194303, 0);
    ok(strcmp(b, a) < 0, "an earlier microsecond sorts earlier");
}

static void
test_unique(void)
{
    enum {
        N = 2000
    };
    static char ids[N][QUEUE_ID_SIZE];
    int dup = 0;

    for (int i = 0; i < N; i++)
        queue_id_new(ids[i]);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            dup += strcmp(ids[i], ids[j]) == 0;
    is_int(dup, 0, "%d IDs made in a tight loop are all different", N);
}

static void
test_valid(void)
{
    static const struct {
        const char *name;
        size_t len;
        bool valid;
    } cases[] = {
        {"0123456789ABCDEFz", 17, true},
        {"", 0, false},
        {".", 1, false},
        {"..", 2, false},
        {"0123456789ABCDEF", 16, false},
        {"0123456789ABCDEFzz", 18, false},
        {"0123456789ABCDE/z", 17, false},
        {"0123456789ABCDE.z", 17, false},
        {"0123456789ABCDE-z", 17, false},
        {"0123456789ABCDE z", 17, false},
        {"0123456789ABCDE\0z", 17, false},
        {"../../etc/passwd0", 17, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ok(queue_id_valid(cases[i].name, cases[i].len) == cases[i].valid, "%s: \"%.*s\"",
           cases[i].valid ? "valid" : "invalid", (int)cases[i].len, cases[i].name);
    {
        struct timeval tv;
        ok(!queue_id_time("0123456789ABCDEF", &tv), "no time from a short name");
        ok(!queue_id_time("0000000zzzz000000", &tv), "no time from microseconds past 999999");
    }
}

int
main(void)
{
    test_make();
    test_unique();
    test_valid();
    return done_testing();
}
