/*
 * mail_maildrop.c - the maildrop side of lib/mail: file names (made, recognised, claimed
 * and unclaimed), addresses checked and completed with an origin, and the writer's
 * refusals of what the reader would refuse.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail/maildrop.h"
#include "t/tap.h"

static const struct {
    const char *in;
    const char *origin;
    const char *want; /* NULL: refused */
} addrs[] = {
    {"alice", "example.org", "alice@example.org"},
    {"alice", NULL, "alice"},
    {"alice@host.example", "example.org", "alice@host.example"},
    {"", "example.org", ""},
    {"\"a b\"@host.example", NULL, "\"a b\"@host.example"},
    {"a..b@host.example", NULL, NULL},
    {"bad address@@x", NULL, NULL},
    {"<alice@host.example>", NULL, NULL},
    {"alice@", NULL, NULL},
};

static const struct {
    const char *name;
    enum maildrop_name_kind kind;
} names[] = {
    {"6b12729556c875a622252b9d8814a", MAILDROP_NAME_READY},
    {"t6b12729556c875a622252b9d8814a", MAILDROP_NAME_TEMP},
    {"6b12729556c875a622252b9d8814a-01xZOBL1MX804Xv0X", MAILDROP_NAME_CLAIMED},
    {"6b12729556c875a622252b9d8814", MAILDROP_NAME_OTHER},
    {"6B12729556C875A622252B9D8814A", MAILDROP_NAME_OTHER},
    {"6b12729556c875a622252b9d8814a-01xZOBL1MX804Xv0", MAILDROP_NAME_OTHER},
    {"6b12729556c875a622252b9d8814a-01xZOBL1MX804Xv0-", MAILDROP_NAME_OTHER},
    {"../6b12729556c875a622252b9d881", MAILDROP_NAME_OTHER},
    {"", MAILDROP_NAME_OTHER},
};

static void
test_names(void)
{
    char ready[MAILDROP_NAME_SIZE], temp[MAILDROP_NAME_SIZE], again[MAILDROP_NAME_SIZE];
    char claimed[MAILDROP_CLAIM_SIZE], qid[QUEUE_ID_SIZE];
    struct err err;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        is_int(maildrop_name_kind(names[i].name), names[i].kind, "name kind of \"%s\"",
               names[i].name);
    ok(maildrop_name_new(ready, temp, &err), "a new name");
    is_int(maildrop_name_kind(ready), MAILDROP_NAME_READY, "is a ready name: %s", ready);
    is_int(maildrop_name_kind(temp), MAILDROP_NAME_TEMP, "with its temporary name: %s", temp);
    ok(strcmp(temp + 1, ready) == 0, "which is the ready name after t");
    maildrop_name_claim(claimed, ready, "01xZOBL1MX804Xv0X");
    is_int(maildrop_name_kind(claimed), MAILDROP_NAME_CLAIMED, "claimed: %s", claimed);
    maildrop_name_unclaim(claimed, again, qid);
    ok(strcmp(again, ready) == 0 && strcmp(qid, "01xZOBL1MX804Xv0X") == 0,
       "and unclaimed into the same name and queue ID");
}

static void
test_addrs(void)
{
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        struct err err;
        char *out;
        bool good = maildrop_addr(addrs[i].in, addrs[i].origin, &out, &err);

        if (addrs[i].want == NULL)
            ok(!good && out == NULL, "refused: <%s> (%s)", addrs[i].in, err.text);
        else if (ok(good, "accepted: <%s>", addrs[i].in))
            is_str(out, addrs[i].want, "  as <%s>", addrs[i].want);
        free(out);
    }
}

/* test_writer - what the reader refuses, the writer refuses to write */
static void
test_writer(void)
{
    struct maildrop_envelope env;
    struct maildrop_writer w;
    struct err err;
    int fd = memfd_create("maildrop", MFD_CLOEXEC);

    maildrop_envelope_init(&env);
    maildrop_writer_init(&w, fd, &env);
    ok(!maildrop_writer_end(&w, &err), "no recipients: refused (%s)", err.text);
    maildrop_writer_free(&w);
    strvec_add(&env.rcpt, "bob\nRCPT TO:<evil>");
    maildrop_writer_init(&w, fd, &env);
    ok(!maildrop_writer_end(&w, &err), "a control character: refused (%s)", err.text);
    maildrop_writer_free(&w);
    maildrop_envelope_free(&env);
    close(fd);
}

int
main(void)
{
    test_names();
    test_addrs();
    test_writer();
    return done_testing();
}
