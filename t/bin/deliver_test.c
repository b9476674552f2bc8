/*
 * deliver_test.c - test driver: deliver one file to a Maildir or mbox and print the result.
 *
 * Usage: deliver_test maildir|mbox TARGET MESSAGE-FILE RECIPIENT. Prints
 * "ok|defer|bounce DSN REASON" and exits 0, 75 or 69. Trusts its arguments (tests only).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/deliver.h"
#include "mail/maildir.h"
#include "mail/mbox.h"

int
main(int argc, char **argv)
{
    static const char *words[] = {"ok", "defer", "bounce"};
    static const int codes[] = {0, 75, 69};
    struct mbox_opts opts = {.lock_timeout = 2, .stale_lock_age = 300, .dotlock = true};
    struct deliver_result res;
    struct stat st;
    int fd, status;

    if (argc != 5 || (fd = open(argv[3], O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "usage: deliver_test maildir|mbox TARGET MESSAGE-FILE RECIPIENT\n");
        return 64;
    }
    struct mailbox_request req = {.sender = "sender@example.org",
                                  .recipient = argv[4],
                                  .hostname = "test.example.org",
                                  .src = {fd, 0, st.st_size}};
    if (strcmp(argv[1], "maildir") == 0)
        status = deliver_maildir(&req, argv[2], &res);
    else
        status = deliver_mbox(&req, argv[2], &opts, &res);
    printf("%s %s %s\n", words[status], res.dsn, res.reason);
    return codes[status];
}
