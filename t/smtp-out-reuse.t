#!/usr/bin/python3
"""smtp-out-reuse.t - connection reuse in smtp-out (doc/smtp-out.md, "Connection reuse"):
a delivery whose transaction ended cleanly keeps its connection, and the next delivery to
the same next hop goes straight to MAIL FROM on it.

The receiving servers are scripted here (one thread per connection; each counts its
connections, transactions and QUITs, and says in its "queued as" which connection and
which transaction it was), plus aiosmtpd with STARTTLS for TLS reuse. Messages go in one
after another, each after the previous one's outcome is in the log, so that the kept
connection is always idle in the cache when the next request comes: no timing luck. Time
limits are either far longer than the test (60 s) or waited for by their effect (the QUIT
the server receives)."""
import os
import ssl
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, wait_for  # noqa: E402
from outbound import ScriptedServer, aiosmtpd_server, outcome, send  # noqa: E402
from smtpd_harness import tls_owner  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402

t = TAP()
try:
    import aiosmtpd.controller  # noqa: F401
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


class Counting(ScriptedServer):
    """Offers PIPELINING and takes one transaction after another on each connection; refuses
    recipients whose address starts with "refuse".
    refuse_second: answers 421 to the second MAIL FROM of a connection and hangs up (a
    server that gave up on an idle connection). hang_up: closes the connection right after
    each transaction (a server that drops idle clients)."""

    def __init__(self, refuse_second=False, hang_up=False):
        self.refuse_second = refuse_second
        self.hang_up = hang_up
        self.conns = 0
        self.quits = 0
        self.lock = threading.Lock()
        super().__init__("multi")

    def serve(self, conn):
        threading.Thread(target=ScriptedServer.serve, args=(self, conn), daemon=True).start()

    def play_multi(self, conn, f):
        with self.lock:
            self.conns += 1
            n = self.conns
        self.send(conn, "220 counting ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-counting\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        mails = rcpts = 0
        while True:
            cmd = self.line(f)
            if cmd.startswith("MAIL"):
                mails += 1
                if self.refuse_second and mails == 2:
                    self.send(conn, "421 4.4.2 counting: idle too long, closing\r\n")
                    return
                self.send(conn, "250 2.1.0 Ok\r\n")
                rcpts = 0
            elif cmd.startswith("RCPT TO:<refuse"):
                self.send(conn, "550 5.1.1 no such user\r\n")
            elif cmd.startswith("RCPT"):
                rcpts += 1
                self.send(conn, "250 2.1.5 Ok\r\n")
            elif cmd == "DATA" and rcpts == 0:
                self.send(conn, "554 5.5.1 Error: no valid recipients\r\n")
            elif cmd == "DATA":
                self.send(conn, "354 go ahead\r\n")
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as C%dT%d\r\n" % (n, mails))
                if self.hang_up:
                    return
            elif cmd == "RSET":
                self.send(conn, "250 2.0.0 Ok\r\n")
            elif cmd == "QUIT":
                with self.lock:
                    self.quits += 1
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "502 5.5.1 what?\r\n")


def deliver(i, rcpt):
    """One message, its outcome line (waits for it)."""
    return outcome(i, send(i, "", [rcpt]), rcpt)


def main(root):
    os.chmod(root, 0o755)
    ca = TestCA(os.path.join(root, "ca"), host="localhost")
    os.chmod(ca.dir, 0o755)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(ca.cert, ca.key)
    tls_srv, tls_h = aiosmtpd_server(tls_context=ctx)

    one, idle, drop, stale = Counting(), Counting(), Counting(hang_up=True), \
        Counting(refuse_second=True)
    count, off, listed, rset = Counting(), Counting(), Counting(), Counting()
    ip = "[127.0.0.1]:%d"
    routes = {"one.example": "smtp:" + ip % one.port,
              "idle.example": "short:" + ip % idle.port,
              "drop.example": "smtp:" + ip % drop.port,
              "stale.example": "smtp:" + ip % stale.port,
              "count.example": "counted:" + ip % count.port,
              "off.example": "nocache:" + ip % off.port,
              "listed.example": "nocache:" + ip % listed.port,
              "rset.example": "smtp:" + ip % rset.port,
              "tls.example": "smtp:" + ip % tls_srv.port}
    transport = ", ".join("%s=%s" % kv for kv in routes.items())
    i = Instance(services=Instance.DEFAULT_SERVICES +
                 "smtp unix - - n - - smtp-out\n"
                 "short unix - - n - - smtp-out -o smtp_connection_cache_time_limit=1s\n"
                 "counted unix - - n - - smtp-out -o smtp_connection_reuse_count_limit=2\n"
                 "nocache unix - - n - - smtp-out -o smtp_connection_cache_on_demand=no\n"
                 "tlsproxy unix - - n - 0 tlsproxy\n",
                 main="transport_maps = inline:{ %s }\n" % transport +
                      "smtp_helo_name = client.test.example\n"
                      "smtp_connection_cache_time_limit = 60s\n"
                      "smtp_connection_cache_destinations = %s\n" % (ip % listed.port) +
                      "tls_owner = %s\n" % tls_owner().pw_name +
                      "smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n")
    try:
        t.ok(i.start(), "an instance with smtp-out and tlsproxy starts")

        # Five messages one after another: one connection, one transaction each.
        lines = [deliver(i, "r%d@one.example" % n) for n in range(1, 6)]
        t.like(lines[0], "status=sent (250 2.0.0 Ok: queued as C1T1)", "first message: sent")
        t.ok("conn_use=" not in lines[0], "  a new connection: no conn_use= (as Postfix logs)")
        for n in range(2, 6):
            t.like(lines[n - 1], "relay=127.0.0.1[127.0.0.1]:%d, conn_use=%d, delay=" %
                   (one.port, n), "message %d: conn_use=%d after relay=" % (n, n))
            t.like(lines[n - 1], "status=sent (250 2.0.0 Ok: queued as C1T%d)" % n,
                   "  transaction %d on the first connection" % n)
        t.is_eq(one.conns, 1, "five messages, one connection")
        t.is_eq([c.split()[0] for c in one.commands if c.split()[0] in ("EHLO", "RSET")],
                ["EHLO"], "  one EHLO, no RSET between successful transactions")
        t.is_eq(len(one.data), 5, "  five transactions")
        t.is_eq(one.quits, 0, "  no QUIT while the connection is kept (60 s)")

        # A failed transaction (every RCPT refused, so DATA is too): RSET, then the
        # connection is kept, and the next message goes on it.
        t.like(deliver(i, "refuse@rset.example"), "status=bounced", "every RCPT refused: "
               "bounced")
        t.like(deliver(i, "ok@rset.example"), "conn_use=2, ", "  the next message reuses the "
               "connection")
        t.is_eq([c for c in rset.commands if c in ("RSET", "QUIT")], ["RSET"],
                "  RSET after the failed transaction, no QUIT")
        t.is_eq(rset.conns, 1, "  one connection")

        # The idle time limit (1 s on this transport): QUIT, waited for at the server.
        t.like(deliver(i, "a@idle.example"), "status=sent", "idle limit 1 s: delivered")
        t.ok(wait_for(lambda: idle.quits == 1, 30), "  the idle connection ends with QUIT")
        t.like(deliver(i, "b@idle.example"), "status=sent", "  the next message: sent")
        t.is_eq(idle.conns, 2, "  on a new connection")

        # The server closes the idle connection: the next message is sent on a new one,
        # whether smtp-out saw the close while idle or only when it reused the connection.
        t.like(deliver(i, "a@drop.example"), "queued as C1T1", "server hangs up after each "
               "transaction: sent")
        t.ok(wait_for(lambda: drop.closed.is_set(), 10), "  the server closed the connection")
        line = deliver(i, "b@drop.example")
        t.like(line, "status=sent (250 2.0.0 Ok: queued as C2T1)", "  the next message: sent "
               "on a new connection, not deferred")
        t.ok("status=deferred" not in "".join(
            x for x in i.log().splitlines() if "drop.example" in x), "  nothing deferred")

        # 421 to MAIL FROM on the kept connection: the delivery goes to a new connection.
        t.like(deliver(i, "a@stale.example"), "queued as C1T1", "stale: first message sent")
        line = deliver(i, "b@stale.example")
        t.like(line, "status=sent (250 2.0.0 Ok: queued as C2T1)", "  421 to MAIL on the kept "
               "connection: sent on a new one")
        t.ok("conn_use=" not in line, "  and logged as a new connection")
        t.ok(wait_for(lambda: "reused connection to 127.0.0.1[127.0.0.1] failed before MAIL "
                      "FROM was answered: trying a new connection" in i.log(), 5),
             "  the retry is logged")
        t.is_eq(stale.conns, 2, "  two connections")

        # smtp_connection_reuse_count_limit = 2: a connection carries two deliveries.
        lines = [deliver(i, "r%d@count.example" % n) for n in range(1, 4)]
        t.ok("conn_use=2, " in lines[1] and "queued as C1T2" in lines[1], "count limit 2: the "
             "second message on the first connection")
        t.like(lines[2], "queued as C2T1", "  the third on a new one")
        t.ok("conn_use=" not in lines[2], "  without conn_use=")
        t.ok(wait_for(lambda: count.quits >= 1, 10), "  the first connection ended with QUIT")

        # smtp_connection_cache_on_demand = no: every delivery has its own connection,
        # except to the next hops in smtp_connection_cache_destinations.
        for n in (1, 2):
            t.like(deliver(i, "r%d@off.example" % n), "queued as C%dT1" % n,
                   "on demand off: message %d on connection %d" % (n, n))
        t.ok(wait_for(lambda: off.quits == 2, 10), "  each connection ended with QUIT")
        for n in (1, 2):
            t.like(deliver(i, "r%d@listed.example" % n), "queued as C1T%d" % n,
                   "  a next hop in smtp_connection_cache_destinations: kept (%d)" % n)

        # TLS: the connection through tlsproxy is kept too; one handshake for three messages.
        lines = [deliver(i, "r%d@tls.example" % n) for n in range(1, 4)]
        t.like(lines[0], "status=sent", "STARTTLS: first message sent")
        t.ok("conn_use=3, " in lines[2] and "status=sent" in lines[2],
             "  the third on the same connection")
        shakes = [x for x in i.log().splitlines()
                  if "TLS connection established to 127.0.0.1[127.0.0.1]:%d" % tls_srv.port in x]
        t.is_eq(len(shakes), 1, "  one TLS handshake for three messages")
        t.is_eq(len(tls_h.messages), 3, "  the server has the three messages")

        log = i.log()
        t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
    finally:
        if t.failed:
            t.diag(i.log()[-4000:])
        i.cleanup()
        tls_srv.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
