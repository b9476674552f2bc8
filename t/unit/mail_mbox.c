/* mail_mbox.c - mbox delivery: exact bytes, mboxrd quoting, locking, refusal, loops */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/mbox.h"
#include "t/tap.h"

static const struct mbox_opts opts = {.lock_timeout = 1, .stale_lock_age = 300, .dotlock = true};

/* slurp - a whole small file as a string */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *out = xcalloc(1, 65536);

    if (f) {
        if (fread(out, 1, 65535, f) == 0)
            out[0] = 0;
        fclose(f);
    }
    return out;
}

/* deliver_text - deliver content to path from a temp file at an offset */
static int
deliver_text(const char *path, const char *rcpt, const char *content, struct deliver_result *res)
{
    char *src = tap_write_file("src", content);
    int fd = open(src, O_RDONLY);
    struct mailbox_request req = {.sender = "a@example.org",
                                  .recipient = rcpt,
                                  .hostname = "h",
                                  .arrival = 0,
                                  .src = {fd, 0, (off_t)strlen(content)}};
    int st;

    req.arrival = 1700000000;
    st = deliver_mbox(&req, path, &opts, res);
    close(fd);
    free(src);
    return st;
}

static const struct {
    const char *name, *before, *content, *after;
} cases[] = {
    {"plain", NULL, "Subject: x\n\nhello\n",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\nSubject: x\n\nhello\n\n"},
    {"no final newline", NULL, "S: x\n\nhi",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\nS: x\n\nhi\n\n"},
    {"8-bit utf-8", NULL, "S: \xc3\xa9\n\n\xe2\x82\xac \xff\xfe\n",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\nS: \xc3\xa9\n\n\xe2\x82\xac \xff\xfe\n\n"},
    {"from quoting", NULL, "S: x\n\nFrom me\n>From you\n>>From x\nFrom\nFro\n >From\n",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\nS: x\n\n>From me\n>>From you\n>>>From x\nFrom\nFro\n "
     ">From\n\n"},
    {"from at body start", NULL, "\nFrom start\n",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\n\n>From start\n\n"},
    {"trailing > run", NULL, "S: x\n\n>>>",
     "From a@example.org Tue Nov 14 22:13:20 2023\nReturn-Path: <a@example.org>\n"
     "Delivered-To: b@example.org\nS: x\n\n>>>\n\n"},
    {"existing without newline", "From x Mon\n\nold", "S: x\n\nb\n",
     "From x Mon\n\nold\n\nFrom a@example.org Tue Nov 14 22:13:20 2023\n"
     "Return-Path: <a@example.org>\nDelivered-To: b@example.org\nS: x\n\nb\n\n"},
};

static void
test_cases(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = xasprintf("%s/mbox%zu", tap_tmpdir(), i);
        struct deliver_result res;
        char *got;

        if (cases[i].before) {
            FILE *f = fopen(path, "w");
            fputs(cases[i].before, f);
            fclose(f);
        }
        is_int(deliver_text(path, "b@example.org", cases[i].content, &res), DELIVER_OK,
               "%s: delivered (%s)", cases[i].name, res.reason);
        got = slurp(path);
        is_str(got, cases[i].after, "%s: exact bytes", cases[i].name);
        free(got), free(path);
    }
}

static void
test_refusals(void)
{
    struct deliver_result res;
    char *target = tap_write_file("target", "");
    char *slink = xasprintf("%s/slink", tap_tmpdir());
    char *dir = xasprintf("%s/adir", tap_tmpdir());

    ok(symlink(target, slink) == 0, "symlink made");
    is_int(deliver_text(slink, "b@x", "S: x\n\n", &res), DELIVER_BOUNCE, "symlink refused");
    like(res.reason, "symbolic link", "reason names the symlink");
    mkdir(dir, 0700);
    is_int(deliver_text(dir, "b@x", "S: x\n\n", &res), DELIVER_DEFER, "a directory fails");
    is_int(deliver_text(target, "b@example.org",
                        "Delivered-To: x@y\nDelivered-To: <B@Example.ORG>\n\nb\n", &res),
           DELIVER_BOUNCE, "loop detected");
    is_str(res.dsn, "5.4.6", "loop is 5.4.6");
    is_int(deliver_text(target, "b@example.org", "S: x\n\nDelivered-To: b@example.org\n", &res),
           DELIVER_OK, "Delivered-To in the body is no loop");
    {
        char *hard = xasprintf("%s/hard", tap_tmpdir());

        ok(link(target, hard) == 0, "hard link made");
        is_int(deliver_text(hard, "b@x", "S: x\n\n", &res), DELIVER_BOUNCE, "two links refused");
        unlink(hard);
        free(hard);
    }
    if (geteuid() == 0 && chown(target, 1, 1) == 0) {
        is_int(deliver_text(target, "b@x", "S: x\n\n", &res), DELIVER_BOUNCE,
               "foreign owner refused");
        like(res.reason, "not owned", "reason names the owner");
    }
    free(target), free(slink), free(dir);
}

static void
test_lock_timeout(void)
{
    char *path = tap_write_file("locked", "");
    int pipefd[2];
    struct deliver_result res;
    pid_t pid;
    char c;

    ok(pipe(pipefd) == 0, "pipe");
    if ((pid = fork()) == 0) {
        int fd = open(path, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        fcntl(fd, F_SETLK, &fl);
        if (write(pipefd[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    ok(read(pipefd[0], &c, 1) == 1, "child holds the lock");
    is_int(deliver_text(path, "b@x", "S: x\n\n", &res), DELIVER_DEFER, "held lock defers");
    is_str(res.dsn, "4.2.0", "lock timeout is 4.2.0");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    is_int(deliver_text(path, "b@x", "S: x\n\n", &res), DELIVER_OK, "works once released");
    free(path);
}

static void
test_stale_dotlock(void)
{
    char *path = tap_write_file("stale", "");
    char *lock = xasprintf("%s.lock", path);
    struct deliver_result res;
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};

    close(open(lock, O_CREAT | O_WRONLY, 0600));
    utimensat(AT_FDCWD, lock, old, 0);
    is_int(deliver_text(path, "b@x", "S: x\n\n", &res), DELIVER_OK, "stale dotlock removed");
    ok(access(lock, F_OK) != 0, "our dotlock is gone afterwards");
    close(open(lock, O_CREAT | O_WRONLY, 0600));
    is_int(deliver_text(path, "b@x", "S: x\n\n", &res), DELIVER_DEFER, "fresh dotlock waits");
    unlink(lock);
    free(path), free(lock);
}

static void
test_concurrent(void)
{
    char *path = tap_write_file("conc", "");
    enum {
        PROCS = 4,
        EACH = 10
    };
    char *got;
    int count = 0;

    for (int i = 0; i < PROCS; i++) {
        if (fork() == 0) {
            for (int j = 0; j < EACH; j++) {
                struct deliver_result res;
                struct mbox_opts o = opts;
                char *body = xasprintf("S: %d\n\nline1 %d\nline2 %d\n", i, j, j);
                char *src = xasprintf("%s/src%d", tap_tmpdir(), i);
                FILE *f = fopen(src, "w");
                int fd;
                struct mailbox_request req = {.sender = "s", .recipient = "r", .hostname = "h"};

                fputs(body, f);
                fclose(f);
                fd = open(src, O_RDONLY);
                req.src = (struct deliver_source){fd, 0, (off_t)strlen(body)};
                o.lock_timeout = 20;
                if (deliver_mbox(&req, path, &o, &res) != DELIVER_OK)
                    _exit(1);
                close(fd);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int st;
        wait(&st);
        ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d succeeded", i);
    }
    got = slurp(path);
    for (int i = 0; i < PROCS; i++) {
        for (int j = 0; j < EACH; j++) {
            char *want = xasprintf("\nDelivered-To: r\nS: %d\n\nline1 %d\nline2 %d\n\n", i, j, j);
            char *at = strstr(got, want);
            count += at != NULL && strstr(at + 1, want) == NULL;
            free(want);
        }
    }
    is_int(count, PROCS * EACH, "every message whole");
    free(got), free(path);
}

int
main(void)
{
    test_cases();
    test_refusals();
    test_lock_timeout();
    test_stale_dotlock();
    test_concurrent();
    return done_testing();
}
