/*
 * local_forward.c - alias and .forward destinations in other domains: the message is
 * submitted again, as a new message to all of them, through qmgr's receiving protocol
 * (qmgr_clnt), the way a receiver submits. Postfix's local does the same through cleanup.
 *
 * The submission runs in a child that has dropped to mail_owner: qmgr admits receivers by
 * their uid, mail_owner, and never root, so the peer table needs no entry for local (which
 * stays root) and root gains no way into qmgr. The new message keeps the envelope sender,
 * names the local recipient as each new recipient's ORCPT, and starts with a Delivered-To
 * header for the local recipient, so that a route back here is seen as a loop (5.4.6).
 * The new queue file is committed (on disk) before the recipient is reported as sent.
 *
 * Trusts: qmgr's answers as far as the qmgr_clnt codec checks them; the addresses only as
 * recipients of the new message, never in a path or a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/mem.h"
#include "local/local.h"
#include "mail/qmgr_clnt.h"
#include "mail/queue_file.h"

#define LOCAL_FORWARD_MS 30000

/* local_crlf - queue files hold CRLF line ends: the memory copy has LF */
static void
local_crlf(struct queue_writer *w, const struct local_msg *msg)
{
    char in[8192], out[16384];
    off_t off = 0;
    ssize_t n;

    while (off < msg->len && (n = pread(msg->fd, in, sizeof(in), off)) > 0) {
        size_t o = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (in[i] == '\n')
                out[o++] = '\r';
            out[o++] = in[i];
        }
        queue_writer_content(w, out, o);
        off += n;
    }
}

/* local_forward_child - as mail_owner: open, write, commit */
static void
local_forward_child(void *arg, struct deliver_result *res)
{
    const struct local_rcpt *r = arg;
    struct queue_envelope env = {.sender = r->msg->req->sender,
                                 .client_name = "localhost",
                                 .client_addr = "127.0.0.1",
                                 .helo = "localhost",
                                 .protocol = "local"};
    char *head, *orcpt;
    struct err qerr;
    struct queue_writer w;
    struct qmgr_reply opened, reply;
    struct err err;
    int sock, fd;
    bool good;

    if ((sock = qmgr_clnt_connect("private/qmgr", &err)) < 0) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "cannot forward: %s", err.text);
        return;
    }
    if (qmgr_clnt_open(sock, LOCAL_FORWARD_MS, &opened) != QMGR_OK) {
        deliver_set(res, DELIVER_DEFER, "4.3.0", "cannot forward: %s", opened.why);
        close(sock);
        return;
    }
    fd = opened.fd;
    gettimeofday(&env.arrival, NULL);
    queue_writer_init(&w, fd, &env);
    orcpt = xasprintf("rfc822;%s", r->rcpt->addr);
    for (size_t i = 0; i < r->remote.n; i++)
        queue_writer_rcpt(&w, r->remote.v[i], NULL, orcpt);
    head = xasprintf("Delivered-To: %s\r\n", r->rcpt->addr);
    queue_writer_content(&w, head, strlen(head));
    local_crlf(&w, r->msg);
    good = queue_writer_finish(&w, &qerr);
    queue_writer_free(&w);
    close(fd);
    if (!good)
        deliver_set(res, DELIVER_DEFER, "4.3.0", "cannot forward: %s", qerr.text);
    else if (qmgr_clnt_commit(sock, opened.id, LOCAL_FORWARD_MS, &reply) != QMGR_OK)
        deliver_set(res, DELIVER_DEFER, "4.3.0", "cannot forward: %s", reply.why);
    else
        deliver_set(res, DELIVER_OK, "2.0.0", "forwarded as %s", opened.id);
    free(head);
    free(orcpt);
    close(sock);
}

/* local_forward_remote - submit the message again to the recipient's remote addresses */
void
local_forward_remote(struct local_rcpt *r)
{
    struct local_privs owner;
    struct deliver_result res;

    if (!local_privs_user(r->lc->ctx->params.mail_owner, &owner, NULL)) {
        deliver_set(&res, DELIVER_DEFER, "4.3.0", "cannot forward: no mail_owner account");
        local_merge(r, &res);
        return;
    }
    local_run_as(&owner, local_forward_child, r, r->msg->fd, &res);
    local_merge(r, &res);
    local_privs_free(&owner);
}
