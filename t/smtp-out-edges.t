#!/usr/bin/python3
"""smtp-out-edges.t - smtp-out's edges from the review of 2026-12-04 (doc/smtp-out.md).

- A command longer than a line the client sends (2046 octets) is never cut: an EHLO with
  an smtp_helo_name of 2,100 octets defers with 4.3.5 and the server gets no EHLO at all
  (L4; MAIL FROM and RCPT TO, whose arguments come from the queue file, bounce with 5.5.4
  instead, but what smtpd, sendmail and qmgr let into a queue file never reaches 2046).
- A delivery whose sender's smtp_sasl_password_maps entry cannot be looked up (a pcre
  table whose pattern backtracks past its match limit: a table error, every time) neither
  leaves nor takes a kept connection: its key could not say whose it is (L7). A sender
  without an entry still reuses, as a control.
- An AUTH initial response too long for one line defers with that reason, and the QUIT
  that follows is the only command after EHLO (L2)."""
import os
import sys
import threading
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance  # noqa: E402
from outbound import ScriptedServer, outcome, send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()


class Server(ScriptedServer):
    """An ESMTP server offering DSN and SIZE, and AUTH PLAIN when auth is set; it counts its
    connections (each served on a thread of its own) and takes anything."""

    def __init__(self, auth=False):
        self.auth = auth
        self.conns = 0
        super().__init__("esmtp")

    def serve(self, conn):
        threading.Thread(target=super().serve, args=(conn,), daemon=True).start()

    def play_esmtp(self, conn, f):
        self.conns += 1
        self.send(conn, "220 scripted ESMTP\r\n")
        while True:
            verb = self.line(f).split(" ")[0].upper()
            if verb == "EHLO":
                self.send(conn, "250-scripted\r\n250-DSN\r\n%s250 SIZE 10000000\r\n"
                          % ("250-AUTH PLAIN\r\n" if self.auth else ""))
            elif verb == "AUTH":
                self.send(conn, "235 2.7.0 Authentication successful\r\n")
            elif verb == "DATA":
                self.send(conn, "354 go ahead\r\n")
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as EDGE%d\r\n" % len(self.data))
            elif verb == "QUIT":
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "250 2.0.0 Ok\r\n")


plain, authsrv, helo = Server(), Server(auth=True), Server()
tmp = tempfile.mkdtemp(prefix="smtp-out-edges.")
os.chmod(tmp, 0o755)
passwd = os.path.join(tmp, "sasl_passwd.pcre")
with open(passwd, "w") as f:
    f.write("/^(\\w+\\s?)*$/ slow:never\n")
    f.write("/^\\[127\\.0\\.0\\.1\\]:%d$/ alice:%s\n" % (authsrv.port, "p" * 1600))
i = Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - 1 smtp-out\n"
             "plainauth unix - - n - - smtp-out -o smtp_sasl_security_options=noanonymous\n"
             "longhelo unix - - n - - smtp-out -o smtp_helo_name=%s\n" % ("h" * 2100),
             main="transport_maps = inline:{ plain.example=smtp:[127.0.0.1]:%d, "
                  "auth.example=plainauth:[127.0.0.1]:%d, "
                  "helo.example=longhelo:[127.0.0.1]:%d }\n"
                  "smtp_connection_cache_time_limit = 60s\n"
                  "smtp_sasl_auth_enable = yes\n"
                  "smtp_sender_dependent_authentication = yes\n"
                  "smtp_sasl_password_maps = pcre:%s\n" % (plain.port, authsrv.port, helo.port, passwd))
try:
    t.ok(i.start(), "an instance with smtp-out and a pcre password table")

    # L4: "EHLO " and 2100 octets
    qid = send(i, "", ["x@helo.example"])
    t.like(outcome(i, qid, "x@helo.example"),
           "dsn=4.3.5, status=deferred (EHLO command too long (2105 octets, at most 2046): "
           "not sent)", "an EHLO longer than 2046 octets: deferred 4.3.5, saying why")
    t.ok(helo.closed.wait(10) and helo.commands == [],
         "  the server got no EHLO, cut or whole (got %r)" % [c[:20] for c in helo.commands])
    t.like(i.log(), "warning: %s: EHLO command of 2105 octets for 127.0.0.1[127.0.0.1] not "
           "sent: longer than 2046" % qid, "  and the log warns")

    # L7: the sender's entry cannot be looked up (a table error, each time)
    slow = "a" * 50 + "@slow.example"
    before = plain.conns
    first = outcome(i, send(i, slow, ["slow1@plain.example"]), "slow1@plain.example")
    second = outcome(i, send(i, slow, ["slow2@plain.example"]), "slow2@plain.example")
    t.like(first, "status=sent", "a sender whose table lookup fails, server without AUTH: sent")
    t.like(second, "status=sent", "  a second one too")
    t.ok("conn_use=" not in first + second and plain.conns - before == 2,
         "  each on a connection of its own: none kept under an unknown identity (%d)"
         % (plain.conns - before))
    t.like(outcome(i, send(i, "ok@example.org", ["ok1@plain.example"]), "ok1@plain.example"),
           "status=sent", "control: a sender without an entry: sent")
    t.like(outcome(i, send(i, "ok@example.org", ["ok2@plain.example"]), "ok2@plain.example"),
           "conn_use=2, ",
           "  and the next one reuses its connection")

    # L2: AUTH PLAIN's initial response would not fit in one line
    before = len(authsrv.commands)
    qid = send(i, "", ["x@auth.example"])
    t.like(outcome(i, qid, "x@auth.example"),
           "dsn=4.7.0, status=deferred (SASL authentication failed; cannot authenticate to "
           "server 127.0.0.1[127.0.0.1]: initial response too long)",
           "an AUTH initial response too long: deferred, saying so")
    t.ok(authsrv.closed.wait(10) and
         [c.split(" ")[0] for c in authsrv.commands[before:]] == ["EHLO", "QUIT"],
         "  nothing after EHLO but QUIT (got %r)"
         % [c[:20] for c in authsrv.commands[before:]])
    log = i.log()
    t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
    t.ok("p" * 100 not in log, "no password in the log")
finally:
    if t.failed:
        t.diag(i.log()[-4000:])
    i.cleanup()
sys.exit(t.done())
