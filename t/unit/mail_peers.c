/* mail_peers.c - the one table of who may connect to which socket, and the uid check */
#include <stdlib.h>

#include "core/buf.h"
#include "mail/peers.h"
#include "t/tap.h"

static void
test_table(void)
{
    static const struct {
        const char *socket;
        const char *client;
        bool allowed;
    } cases[] = {
        {"qmgr", "smtpd", true},           {"qmgr", "submission", true},
        {"qmgr", "pickup", true},          {"qmgr", "smtp-out", false},
        {"qmgr", "local", false},          {"local", "qmgr", true},
        {"local", "smtpd", false},         {"smtp-out", "qmgr", true},
        {"smtp-out", "submission", false}, {"tlsproxy", "smtpd", true},
        {"tlsproxy", "smtp-out", true},    {"tlsproxy", "local", false},
        {"pickup", "sendmail", true},      {"pickup", "smtpd", false},
        {"qmgr", "postern", true},         {"qmgr", "showq", true},
        {"showq", "postern", true},        {"showq", "smtpd", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct peer_socket *sock = peers_lookup(cases[i].socket);
        enum peer_role role;
        bool known = peers_role_lookup(cases[i].client, &role);

        ok(sock && known && peers_may_connect(sock, role) == cases[i].allowed, "%s %s %s",
           cases[i].client, cases[i].allowed ? "may reach" : "may not reach", cases[i].socket);
    }
    ok(peers_lookup("nosuch") == NULL, "an unknown socket is not in the table");
}

static void
test_uid_check(void)
{
    struct peer_uids uids;
    struct ipc_cred stranger = {.pid = 42, .uid = 1000, .gid = 1000};
    struct ipc_cred owner = {.pid = 43, .uid = 110, .gid = 110};
    struct ipc_cred root = {.pid = 1, .uid = 0, .gid = 0};
    struct err why;

    peers_uids_all(&uids, 110);
    uids.uid[PEER_TLSPROXY] = 111;
    uids.uid[PEER_LOCAL] = 0;
    ok(peers_check(peers_lookup("qmgr"), &owner, &uids, &why), "mail_owner reaches qmgr");
    ok(!peers_check(peers_lookup("qmgr"), &stranger, &uids, &why), "a local user does not");
    like(why.text, "qmgr: uid 1000 (pid 42)", "and the refusal says who tried");
    ok(!peers_check(peers_lookup("qmgr"), &root, &uids, &why), "root gets no exception");
    ok(peers_check(peers_lookup("pickup"), &stranger, &uids, &why),
       "a public socket is open to local users");
    ok(peers_check(peers_lookup("showq"), &stranger, &uids, &why),
       "so is showq: mailq runs as any user");
    uids.uid[PEER_POSTERN] = 0;
    ok(peers_check(peers_lookup("qmgr"), &root, &uids, &why),
       "root reaches qmgr as the postern command (queue administration)");
    ok(!peers_check(peers_lookup("anvil"), &root, &uids, &why), "but not anvil");
}

int
main(void)
{
    test_table();
    test_uid_check();
    return done_testing();
}
