/* mail_echo_clnt.c - the model client stub: values in, values out, the wire hidden */
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/buf.h"
#include "t/echo_clnt.h"
#include "t/tap.h"

#define LIMIT 4096

int
main(void)
{
    struct err err;
    struct buf reply;
    int sp[2], status;
    pid_t server;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
        return 1;
    if ((server = fork()) == 0) {
        close(sp[0]);
        _exit(echo_serve_one(sp[1], 5000, LIMIT, &err) && echo_serve_one(sp[1], 5000, LIMIT, &err)
                  ? 0
                  : 1);
    }
    close(sp[1]);
    buf_init(&reply, LIMIT);
    ok(echo_clnt_call(sp[0], "ping", &reply, 5000, LIMIT, &err), "a call returns");
    is_str(buf_str(&reply), "ping", "with the text sent");
    ok(echo_clnt_call(sp[0], "second", &reply, 5000, LIMIT, &err) &&
           strcmp(buf_str(&reply), "second") == 0,
       "a second call on the same connection");
    waitpid(server, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server side saw two requests");
    ok(!echo_clnt_call(sp[0], "third", &reply, 2000, LIMIT, &err), "a call to a closed peer fails");
    ok(strlen(err.text) > 0, "with a reason: %s", err.text);
    buf_free(&reply);
    close(sp[0]);
    return done_testing();
}
