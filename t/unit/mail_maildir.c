/* mail_maildir.c - Maildir delivery: layout, exact bytes, unique names, loops, errors */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "mail/maildir.h"
#include "t/tap.h"

/* count_dir - entries in a directory other than . and .., the last name in *name */
static int
count_dir(const char *path, char **name)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (name) {
            free(*name);
            *name = xstrdup(e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* run - deliver content (after a 3-byte prefix in the source file) into dir */
static int
run(const char *dir, const char *host, const char *content, struct deliver_result *res)
{
    char *text = xasprintf("XXX%s", content);
    char *src = tap_write_file("src", text);
    int fd = open(src, O_RDONLY);
    struct mailbox_request req = {.sender = "",
                                  .recipient = "u@example.org",
                                  .hostname = host,
                                  .src = {fd, 3, (off_t)strlen(content)}};
    int st = deliver_maildir(&req, dir, res);

    close(fd);
    free(src), free(text);
    return st;
}

static const struct {
    const char *name, *content, *want;
} cases[] = {
    {"plain", "Subject: x\n\nhello\n",
     "Return-Path: <>\nDelivered-To: u@example.org\nSubject: x\n\nhello\n"},
    {"8-bit kept", "S: \xc3\xa9\n\nFrom \xe2\x82\xac\xff",
     "Return-Path: <>\nDelivered-To: "
     "u@example.org\nS: \xc3\xa9\n\nFrom "
     "\xe2\x82\xac\xff"},
    {"empty", "", "Return-Path: <>\nDelivered-To: u@example.org\n"},
};

static void
test_cases(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = xasprintf("%s/md%zu", tap_tmpdir(), i);
        char *new = xasprintf("%s/new", dir), *tmp = xasprintf("%s/tmp", dir);
        char *name = NULL, *file, got[4096] = "";
        struct deliver_result res;
        struct stat st;
        FILE *f;

        is_int(run(dir, "a/b:c", cases[i].content, &res), DELIVER_OK, "%s: delivered",
               cases[i].name);
        is_int(count_dir(new, &name), 1, "%s: one file in new", cases[i].name);
        is_int(count_dir(tmp, NULL), 0, "%s: tmp is empty", cases[i].name);
        ok(stat(new, &st) == 0 && (st.st_mode & 0777) == 0700, "%s: new is 0700", cases[i].name);
        ok(name && strstr(name, "a\\057b\\072c") != NULL, "%s: host escaped in %s", cases[i].name,
           name ? name : "");
        file = xasprintf("%s/%s", new, name ? name : "");
        if ((f = fopen(file, "rb")) != NULL) {
            if (fread(got, 1, sizeof got - 1, f) == 0)
                got[0] = 0;
            fclose(f);
        }
        is_str(got, cases[i].want, "%s: exact bytes", cases[i].name);
        free(dir), free(new), free(tmp), free(name), free(file);
    }
}

static void
test_many_and_errors(void)
{
    char *dir = xasprintf("%s/many", tap_tmpdir());
    char *new = xasprintf("%s/new", dir);
    char *blocked = tap_write_file("blocked", "");
    struct deliver_result res;

    for (int i = 0; i < 50; i++)
        run(dir, "h", "S: x\n\n", &res);
    is_int(count_dir(new, NULL), 50, "50 deliveries, 50 unique files");
    is_int(run(dir, "h", "Delivered-To: U@Example.Org\n\n", &res), DELIVER_BOUNCE, "loop bounces");
    is_str(res.dsn, "5.4.6", "loop dsn");
    is_int(count_dir(new, NULL), 50, "nothing written on a loop");
    is_int(run(blocked, "h", "S: x\n\n", &res), DELIVER_DEFER, "a file in the way defers");
    like(res.reason, "blocked", "reason names the path");
    free(dir), free(new), free(blocked);
}

/* A Maildir whose new/ (or cur/) went missing gets it back at the next delivery. */
static void
test_missing_subdirectory(void)
{
    char *dir = xasprintf("%s/partial", tap_tmpdir());
    char *new = xasprintf("%s/new", dir), *cur = xasprintf("%s/cur", dir);
    char *tmp = xasprintf("%s/tmp", dir), *name = NULL, *file;
    struct deliver_result res;
    struct stat st;

    is_int(run(dir, "h", "S: x\n\n", &res), DELIVER_OK, "a Maildir is created at first delivery");
    ok(stat(cur, &st) == 0 && S_ISDIR(st.st_mode), "with cur/");
    count_dir(new, &name);
    file = xasprintf("%s/%s", new, name ? name : "");
    unlink(file);
    ok(rmdir(new) == 0 && rmdir(cur) == 0, "new/ and cur/ removed");
    is_int(run(dir, "h", "S: x\n\n", &res), DELIVER_OK, "the next delivery succeeds");
    is_int(count_dir(new, NULL), 1, "into a new new/");
    is_int(count_dir(tmp, NULL), 0, "tmp/ is empty");
    ok(stat(cur, &st) == 0 && S_ISDIR(st.st_mode), "cur/ is back");
    free(dir), free(new), free(cur), free(tmp), free(name), free(file);
}

static void
test_header_scan(void)
{
    static const struct {
        const char *text, *rcpt;
        bool loop;
    } t[] = {
        {"Delivered-To: a@b\n\n", "a@b", true},
        {"delivered-to:<A@B>  \r\n\r\n", "a@b", true},
        {"Delivered-To: a@b.c\n\n", "a@b", false},
        {"X: y\n\nDelivered-To: a@b\n", "a@b", false},
        {"X: y\n Delivered-To: a@b\n\n", "a@b", false},
        {"Delivered-To:\n a@b\n\n", "a@b", true},
        {"Delivered-To: a@b", "a@b", true},
        {"Delivered-To:", "a@b", false},
        {"", "a@b", false},
        {"Delivered-To: \n\n", "", false},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        is_int(deliver_headers_loop(t[i].text, strlen(t[i].text), t[i].rcpt), t[i].loop,
               "header scan %zu", i);
}

int
main(void)
{
    test_cases();
    test_many_and_errors();
    test_missing_subdirectory();
    test_header_scan();
    return done_testing();
}
