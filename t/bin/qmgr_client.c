/*
 * qmgr_client.c - a receiver for t/qmgr.t, through qmgr_clnt only: never installed.
 *
 *   qmgr_client SOCKET commit N    write and commit N messages, "committed ID" for each
 *   qmgr_client SOCKET noend       a file without its end marker: "refused ID: reason"
 *   qmgr_client SOCKET abort       open, write, abort: "aborted ID"
 *   qmgr_client SOCKET twice       commit one ID twice: the second is refused
 *   qmgr_client SOCKET badid       commit a name that is no queue ID of ours
 *   qmgr_client SOCKET hold        open, write half, print "opened ID", wait to be killed
 *   qmgr_client SOCKET status ID   was ID committed? "committed ID" or "refused ID: reason"
 *   qmgr_client read FILE          check a queue file: "ok SENDER NRCPT SIZE" or the error
 *   qmgr_client SOCKET send SENDER RCPTS FILE [N]
 *                                  commit N messages (default 1) from SENDER to the
 *                                  comma-separated RCPTS with FILE as content (LF made CRLF,
 *                                  as smtpd stores it): "committed ID" for each
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "core/str.h"
#include "mail/qmgr_clnt.h"
#include "mail/queue_file.h"
#include "mail/queue_id.h"

#define TIMEOUT_MS 10000

static const char body[] = "Subject: test\r\n\r\nHello.\r\n";

/* write_message - envelope, content, end marker, fsync */
static bool
write_message(int fd, struct err *err)
{
    struct queue_envelope env = {.sender = "sender@example.org",
                                 .client_name = "localhost",
                                 .client_addr = "127.0.0.1",
                                 .helo = "client.example.org",
                                 .protocol = "ESMTP"};
    struct queue_writer w;
    bool good;

    gettimeofday(&env.arrival, NULL);
    queue_writer_init(&w, fd, &env);
    queue_writer_rcpt(&w, "one@example.com", NULL, NULL);
    queue_writer_rcpt(&w, "two@example.com", "FAILURE", "rfc822;two@example.com");
    queue_writer_content(&w, body, strlen(body));
    good = queue_writer_finish(&w, err);
    queue_writer_free(&w);
    return good;
}

static int
read_file(const char *path)
{
    struct queue_envelope env;
    struct err err;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || !queue_file_read(fd, &env, &err)) {
        printf("bad %s: %s\n", path, fd < 0 ? "cannot open" : err.text);
        return 1;
    }
    printf("ok <%s> %zu %llu\n", env.sender, env.nrcpt, (unsigned long long)env.size);
    queue_envelope_free(&env);
    return 0;
}

/* open_written - open a queue file and write a message into it */
static bool
open_written(int sock, char id[QUEUE_ID_SIZE], bool finish, struct qmgr_reply *reply)
{
    struct err qerr;
    int fd;

    if (qmgr_clnt_open(sock, TIMEOUT_MS, reply) != QMGR_OK)
        return false;
    memcpy(id, reply->id, QUEUE_ID_SIZE);
    fd = reply->fd;
    if (!write_message(fd, &qerr)) {
        qmgr_reply_broken(reply, "%s", qerr.text);
        close(fd);
        return false;
    }
    if (!finish) {
        /* A receiver that died before its end marker: cut the file inside its content. */
        struct stat st;
        if (fstat(fd, &st) < 0 || ftruncate(fd, st.st_size - 20) < 0)
            perror("queue file");
    }
    close(fd);
    return true;
}

/* send_one - one message with the given envelope and content */
static bool
send_one(int sock, char **argv, const struct buf *content, char id[QUEUE_ID_SIZE],
         struct qmgr_reply *reply)
{
    struct queue_envelope env = {.sender = argv[0],
                                 .client_name = "localhost",
                                 .client_addr = "127.0.0.1",
                                 .helo = "client.example.org",
                                 .protocol = "ESMTP"};
    struct err qerr;
    struct queue_writer w;
    struct strvec rcpts;
    bool good;
    int fd;

    if (qmgr_clnt_open(sock, TIMEOUT_MS, reply) != QMGR_OK)
        return false;
    memcpy(id, reply->id, QUEUE_ID_SIZE);
    fd = reply->fd;
    gettimeofday(&env.arrival, NULL);
    queue_writer_init(&w, fd, &env);
    strvec_init(&rcpts);
    strvec_split(&rcpts, argv[1], ",");
    for (size_t i = 0; i < rcpts.n; i++)
        queue_writer_rcpt(&w, rcpts.v[i], NULL, NULL);
    strvec_free(&rcpts);
    queue_writer_content(&w, content->data, content->len);
    good = queue_writer_finish(&w, &qerr);
    queue_writer_free(&w);
    close(fd);
    if (!good) {
        qmgr_reply_broken(reply, "%s", qerr.text);
        return false;
    }
    return qmgr_clnt_commit(sock, id, TIMEOUT_MS, reply) == QMGR_OK;
}

/* send_mode - "send SENDER RCPTS FILE [N]" */
static int
send_mode(int sock, int argc, char **argv)
{
    char id[QUEUE_ID_SIZE];
    struct qmgr_reply reply;
    struct buf content;
    long count = 1;
    FILE *f;
    int c;

    if (argc < 3 || (f = fopen(argv[2], "r")) == NULL ||
        (argc > 3 && !str_to_long(argv[3], 1, 1000000, &count))) {
        fprintf(stderr, "usage: qmgr_client SOCKET send SENDER RCPTS FILE [N]\n");
        return 2;
    }
    buf_init(&content, BUF_UNLIMITED);
    while ((c = getc(f)) != EOF) {
        if (c == '\n' && (content.len == 0 || content.data[content.len - 1] != '\r'))
            buf_putc(&content, '\r');
        buf_putc(&content, c);
    }
    fclose(f);
    for (long i = 0; i < count; i++) {
        if (!send_one(sock, argv, &content, id, &reply)) {
            printf("failed: %s\n", reply.why);
            buf_free(&content);
            return 1;
        }
        printf("committed %s\n", id);
    }
    buf_free(&content);
    return 0;
}

/* print_answer - "committed ID", or why not */
static void
print_answer(const char *id, enum qmgr_outcome outcome, const struct qmgr_reply *reply)
{
    if (outcome == QMGR_OK)
        printf("committed %s\n", id);
    else
        printf("%s %s: %s\n", outcome == QMGR_REFUSED ? "refused" : "failed", id, reply->why);
}

static int
run(int sock, const char *mode, int count)
{
    char id[QUEUE_ID_SIZE];
    struct qmgr_reply reply;

    if (strcmp(mode, "commit") == 0) {
        for (int i = 0; i < count; i++) {
            if (!open_written(sock, id, true, &reply) ||
                qmgr_clnt_commit(sock, id, TIMEOUT_MS, &reply) != QMGR_OK) {
                printf("failed: %s\n", reply.why);
                return 1;
            }
            printf("committed %s\n", id);
        }
        return 0;
    }
    if (!open_written(sock, id, strcmp(mode, "noend") != 0 && strcmp(mode, "hold") != 0, &reply)) {
        printf("failed: %s\n", reply.why);
        return 1;
    }
    if (strcmp(mode, "hold") == 0) {
        printf("opened %s\n", id);
        fflush(stdout);
        pause();
    }
    if (strcmp(mode, "abort") == 0) {
        bool good = qmgr_clnt_abort(sock, id, TIMEOUT_MS, &reply) == QMGR_OK;
        printf(good ? "aborted %s\n" : "failed %s: %s\n", id, reply.why);
        return good ? 0 : 1;
    }
    if (strcmp(mode, "twice") == 0 && qmgr_clnt_commit(sock, id, TIMEOUT_MS, &reply) == QMGR_OK)
        printf("committed %s\n", id);
    if (strcmp(mode, "badid") == 0)
        strcpy(id, "../../etc/passwd");
    print_answer(id, qmgr_clnt_commit(sock, id, TIMEOUT_MS, &reply), &reply);
    return 0;
}

int
main(int argc, char **argv)
{
    struct err err;
    long count = 1;
    int sock;

    if (argc == 3 && strcmp(argv[1], "read") == 0)
        return read_file(argv[2]);
    if (argc < 3) {
        fprintf(stderr, "usage: qmgr_client SOCKET MODE [COUNT] | qmgr_client read FILE\n");
        return 2;
    }
    if ((sock = qmgr_clnt_connect(argv[1], &err)) < 0) {
        printf("failed: %s\n", err.text);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[2], "send") == 0)
        return send_mode(sock, argc - 3, argv + 3);
    if (strcmp(argv[2], "status") == 0 && argc == 4) {
        struct qmgr_reply reply;
        print_answer(argv[3], qmgr_clnt_status(sock, argv[3], TIMEOUT_MS, &reply), &reply);
        return 0;
    }
    if (argc > 3 && !str_to_long(argv[3], 1, 1000000, &count)) {
        fprintf(stderr, "qmgr_client: bad COUNT \"%s\"\n", argv[3]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return run(sock, argv[2], (int)count);
}
