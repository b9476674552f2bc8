#!/usr/bin/python3
"""smtp-out-mx.t - delivery to a domain's MX hosts (doc/smtp-out.md): a real DNS server
(Debian's unbound, t/lib/dnsserver.py) on a loopback port serves the test's zones; each MX
host is a real server on its own loopback address 127.0.0.x, all on one port P, and the
next hops are "domain:P" (Postfix's form: MX lookup, then port P on each host). Where the
test may listen on port 25, one domain goes without a port, as mail to the world does.
relayhost names a domain without brackets, so it is looked up as MX too.

Covered: preference order and fallback to the next MX when the first refuses the
connection, never answers it (a full accept queue: connect time-out), greets with 421
or 554, or says nothing; the A record when there is no MX;
null MX; a domain that does not exist; a temporary DNS failure that defers, then the same
message delivered after the zone is fixed; one message to three domains; CNAMEs; this
host among the MX hosts; smtp_mx_session_limit, smtp_mx_address_limit, inet_protocols and
smtp_address_preference (per service with -o). The order among equal preferences is
random and tested without luck in t/unit/mail_mx_list.c."""
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dnsserver  # noqa: E402
import outbound  # noqa: E402
from outbound import lines_for, outcome, send  # noqa: E402
from instance import Instance, free_port  # noqa: E402
from sockets import accept_each, listener  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")
if not dnsserver.available():
    t.skip_all("needs unbound (Debian package unbound; tools/setup-deps)")


class Recorder:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 2.0.0 Ok: queued as %s" % server.hostname

    def rcpts(self):
        return [r for m in self.messages for r in m.rcpt_tos]


def sink(addr, port, handler_class=None):
    handler = (handler_class or Recorder)()
    c = Controller(handler, hostname=addr, port=port, server_hostname="sink-" + addr)
    c.start()
    return c, handler


class Scripted:
    """A server on addr:port that greets with a fixed line (or never) and counts clients."""

    def __init__(self, addr, port, greeting):
        self.greeting = greeting
        self.accepted = 0
        self.sock = listener(addr, port)
        accept_each(self.sock, self.serve)

    def serve(self, conn):
        self.accepted += 1
        threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn):
        """421 closes at once (RFC 5321 3.8); other greetings answer every command with 503,
        and QUIT with nothing: a client that waits for the reply to QUIT waits long."""
        try:
            if self.greeting:
                conn.sendall(self.greeting.encode() + b"\r\n")
            f = conn.makefile("rb")
            while self.greeting and not self.greeting.startswith("421"):
                line = f.readline()
                if not line:
                    break
                if not line.upper().startswith(b"QUIT"):
                    conn.sendall(b"503 5.5.1 Error: no service\r\n")
            if not self.greeting:
                f.read()
        except OSError:
            pass
        finally:
            conn.close()


class Dot451(outbound.ScriptedServer):
    """Takes the whole message, then answers the final dot with 451."""

    def play_dot451(self, conn, f):
        self.send(conn, "220 dot451 ESMTP\r\n")
        for reply in ("250 dot451", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead"):
            self.line(f)
            self.send(conn, reply + "\r\n")
        self.data.append(self.content(f))
        self.send(conn, "451 4.3.0 Error: queue file write error\r\n")
        self.line(f)


class Blackhole:
    """addr:port where connections time out: a listener whose accept queue is full (backlog
    0, one connection made and never accepted), so the kernel drops every further SYN and
    the client waits for its connect time-out. Loopback, no luck: the queue never drains."""

    def __init__(self, addr, port):
        self.sock = socket.socket()
        self.sock.bind((addr, port))
        self.sock.listen(0)
        self.fill = []
        while True:
            c = socket.socket()
            c.settimeout(1)
            try:
                c.connect((addr, port))
            except socket.timeout:
                c.close()
                break
            self.fill.append(c)

    def close(self):
        for c in self.fill + [self.sock]:
            c.close()


def like_seq(line, text, name):
    """Passes when the parts of text between ".*" occur in line in that order."""
    pattern = ".*".join(re.escape(part) for part in text.split(".*"))
    good = t.ok(re.search(pattern, line) is not None, name)
    if not good:
        t.diag("     got: %r" % line)
        t.diag("  wanted: %r" % pattern)
    return good


P = free_port()
SENDER = "sender@mx.test.example"
H = "hosts.example"
RECORDS = [
    # the MX hosts: 2-4 take mail, 5 and 11 greet with 421, 7 with 554, 8 says nothing,
    # 6 and 12 refuse connections
    "mx1.%s. A 127.0.0.2" % H, "mx2.%s. A 127.0.0.3" % H, "mx3.%s. A 127.0.0.4" % H,
    "down.%s. A 127.0.0.6" % H, "down2.%s. A 127.0.0.12" % H,
    "busy.%s. A 127.0.0.5" % H, "busy2.%s. A 127.0.0.11" % H,
    "hostile.%s. A 127.0.0.7" % H, "silent.%s. A 127.0.0.8" % H,
    "alias.%s. CNAME mx2.%s." % (H, H),
    "refused.example. MX 10 down.%s." % H, "refused.example. MX 20 mx2.%s." % H,
    "greet421.example. MX 10 busy.%s." % H, "greet421.example. MX 20 mx2.%s." % H,
    "greet554.example. MX 5 hostile.%s." % H, "greet554.example. MX 50 mx2.%s." % H,
    "silent.example. MX 10 silent.%s." % H, "silent.example. MX 20 mx2.%s." % H,
    "arecord.example. A 127.0.0.2", "arecord.example. TXT \\\"no MX here\\\"",
    "null.example. MX 0 .",
    "d1.example. MX 10 mx1.%s." % H, "d2.example. MX 10 mx2.%s." % H, "d3.example. MX 10 mx3.%s." % H,
    "cname.example. MX 10 alias.%s." % H, "cdom.example. CNAME d3.example.",
    "loop1.example. MX 10 mx.test.example.",
    "loop2.example. MX 10 mx1.%s." % H, "loop2.example. MX 20 mx.test.example.",
    "loop3.example. MX 10 ghost.%s." % H, "loop3.example. MX 20 mx.test.example.",
    "limit.example. MX 10 busy.%s." % H, "limit.example. MX 20 busy2.%s." % H,
    "limit.example. MX 30 mx3.%s." % H,
    "addrs.example. MX 10 down.%s." % H, "addrs.example. MX 20 down2.%s." % H,
    "addrs.example. MX 30 mx1.%s." % H,
    "v6.example. A 127.0.0.12", "v6.example. AAAA ::1",
    "picky.%s. A 127.0.0.13" % H,
    "partial.example. MX 10 picky.%s." % H, "partial.example. MX 20 mx2.%s." % H,
    "pipe.%s. A 127.0.0.14" % H, "dot451.%s. A 127.0.0.15" % H,
    "dot.example. MX 10 dot451.%s." % H, "dot.example. MX 20 mx2.%s." % H,
    "partial2.example. MX 10 picky.%s." % H, "partial2.example. MX 20 pipe.%s." % H,
    "direct.example. MX 10 direct.%s." % H, "direct.%s. A 127.0.0.10" % H,
    "grey.example. MX 10 picky.%s." % H, "grey.example. MX 20 down.%s." % H,
    "only421.example. MX 10 busy.%s." % H,
    "blackhole.%s. A 127.0.0.16" % H,
    "timeout.example. MX 10 blackhole.%s." % H, "timeout.example. MX 20 mx2.%s." % H,
]
ZONES = ["example. static", "broken.example. always_refuse"]
FIXED = ["broken.example. MX 10 mx1.%s." % H]

tmp = tempfile.mkdtemp(prefix="postern-dns.")
os.chmod(tmp, 0o755)
dns = dnsserver.Unbound(tmp)
servers = {a: sink(a, P) for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4")}
pipe = outbound.ScriptedServer("pipelining", "127.0.0.14", P)
dot451 = Dot451("dot451", "127.0.0.15", P)
servers["127.0.0.13"] = sink("127.0.0.13", P, outbound.Recorder)  # later@ 450, refuse@ 550
got = {a: h for a, (c, h) in servers.items()}
v6 = sink("::1", P)
busy = Scripted("127.0.0.5", P, "421 4.3.2 busy.hosts.example Service not available, too busy")
busy2 = Scripted("127.0.0.11", P, "421 4.3.2 busy2.hosts.example Service not available")
hostile = Scripted("127.0.0.7", P, "554 5.7.1 hostile.hosts.example No SMTP service here")
silent = Scripted("127.0.0.8", P, None)
blackhole = Blackhole("127.0.0.16", P)
try:
    direct = sink("127.0.0.10", 25)
except OSError:
    direct = None

domains = ["refused", "greet421", "greet554", "silent", "arecord", "null", "nosuch", "broken",
           "d1", "d2", "d3", "partial", "partial2", "dot", "cname", "cdom", "loop1", "loop2", "loop3", "limit"]
routes = ["%s.example=smtp:%s.example:%d" % (d, d, P) for d in domains]
routes += ["addrs.example=smtplimit:addrs.example:%d" % P, "v6.example=smtp6:v6.example:%d" % P,
           "v4.example=smtp4:v6.example:%d" % P, "any.example=smtp:v6.example:%d" % P,
           "direct.example=smtp:direct.example", "timeout.example=smtpquick:timeout.example:%d" % P,
           "sec.example=smtpsec:d2.example:%d" % P, "nodns.example=smtpnodns:d2.example:%d" % P]
# A trust anchor for example. (a key of no one's): the test zone is not signed, so with
# smtp_dns_support_level = dnssec every answer under example. is bogus.
ANCHOR = os.path.join(tmp, "anchor.key")
with open(ANCHOR, "w") as f:
    f.write("example. DNSKEY 257 3 13 %s\n" % base64.b64encode(os.urandom(64)).decode())
os.chmod(ANCHOR, 0o644)
i = Instance(services="qmgr unix - - n - 1 qmgr\n"
                      "local unix - n n - - local\n"
                      "bounce unix - - n - 0 bounce\n"
                      "showq unix n - n - - showq\n"
                      "smtp unix - - n - - smtp-out\n"
                      "smtplimit unix - - n - - smtp-out -o smtp_mx_address_limit=2\n"
                      "smtp6 unix - - n - - smtp-out -o smtp_address_preference=ipv6\n"
                      "smtp4 unix - - n - - smtp-out -o inet_protocols=ipv4\n"
                      "smtpquick unix - - n - - smtp-out -o smtp_connect_timeout=2s\n"
                      "smtpsec unix - - n - - smtp-out -o smtp_dns_support_level=dnssec "
                      "-o smtp_dns_trust_anchor_file=%s\n" % ANCHOR +
                      "smtpnodns unix - - n - - smtp-out -o smtp_dns_support_level=disabled\n",
             main="transport_maps = inline:{ %s }\n" % ", ".join(routes) +
                  "relayhost = d1.example:%d\n" % P +
                  "smtp_dns_resolv_conf = %s\n" % dns.resolv_conf +
                  "smtp_helo_timeout = 3s\nsmtp_connect_timeout = 10s\n"
                  "smtp_helo_name = client.example.example\n")
try:
    t.ok(dns.start(ZONES, RECORDS, ("mx1.hosts.example", 1)), "unbound serves the test zones")
    t.ok(i.start(), "an instance with smtp-out starts")

    qid = send(i, SENDER, ["a@refused.example"])
    line = outcome(i, qid, "a@refused.example")
    t.like(line, "relay=mx2.hosts.example[127.0.0.3]:%d, " % P,
           "first MX refuses the connection: the second takes it")
    t.like(line, "status=sent (250 2.0.0 Ok: queued as", "  sent")
    t.like(i.log(), "connect to down.hosts.example[127.0.0.6]:%d: Connection refused" % P,
           "  the refused connection is logged in Postfix's words")

    qid = send(i, SENDER, ["a@greet421.example"])
    t.like(outcome(i, qid, "a@greet421.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, " % P,
           "first MX greets with 421: the second takes it")
    t.like(i.log(), "%s: host busy.hosts.example[127.0.0.5] refused to talk to me: 421 4.3.2" % qid,
           "  the 421 is logged")
    qid = send(i, SENDER, ["a@greet554.example"])
    t.like(outcome(i, qid, "a@greet554.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, " % P,
           "first MX greets with 554: the second takes it (a 5xx greeting is skipped)")
    t.like(i.log(), "%s: host hostile.hosts.example[127.0.0.7] refused to talk to me: 554 5.7.1" %
           qid, "  once QUIT is sent, without waiting for a reply the server never sends")
    qid = send(i, SENDER, ["a@silent.example"])
    t.like(outcome(i, qid, "a@silent.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, " % P,
           "first MX never greets: the second takes it after smtp_helo_timeout")
    t.like(i.log(), "conversation with silent.hosts.example[127.0.0.8] timed out while receiving "
           "the initial server greeting", "  the time-out is logged")
    qid = send(i, SENDER, ["a@timeout.example"])
    t.like(outcome(i, qid, "a@timeout.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, " % P,
           "first MX never answers the connection: the second takes it after "
           "smtp_connect_timeout")
    t.like(i.log(), "connect to blackhole.hosts.example[127.0.0.16]:%d: Connection timed out"
           % P, "  the time-out is logged in Postfix's words")
    t.is_eq(sorted(got["127.0.0.3"].rcpts()),
            ["a@greet421.example", "a@greet554.example", "a@refused.example", "a@silent.example",
             "a@timeout.example"],
            "mx2 got each of the five messages once")

    # smtp_dns_support_level: dnssec validates (an unsigned zone under a trust anchor is
    # bogus: deferred), disabled asks nobody.
    qid = send(i, SENDER, ["a@sec.example"])
    t.like(outcome(i, qid, "a@sec.example"), "dsn=4.4.3, status=deferred (Host or domain name "
           "not found. Name service error for name=d2.example type=MX: Host not found, try again)",
           "dnssec: a bogus answer defers")
    t.like(i.log(), "DNS: name=d2.example type=15: DNSSEC validation failed: ",
           "  and the validation failure is logged")
    qid = send(i, SENDER, ["a@nodns.example"])
    t.like(outcome(i, qid, "a@nodns.example"), "dsn=4.4.3, status=deferred (Host or domain name "
           "not found. Name service error for name=d2.example type=MX: Host not found, try again)",
           "disabled: no lookup, deferred")

    qid = send(i, SENDER, ["a@arecord.example"])
    t.like(outcome(i, qid, "a@arecord.example"), "relay=arecord.example[127.0.0.2]:%d, " % P,
           "no MX record: the domain's A record")

    qid = send(i, SENDER, ["a@null.example"])
    like_seq(outcome(i, qid, "a@null.example"), "relay=none, .*dsn=5.1.10, status=bounced "
           "(Domain null.example does not accept mail (nullMX))", "null MX bounces at once")
    qid = send(i, SENDER, ["a@nosuch.example"])
    t.like(outcome(i, qid, "a@nosuch.example"), "dsn=5.4.4, status=bounced (Host or domain name "
           "not found. Name service error for name=nosuch.example type=A: Host not found)",
           "a domain that does not exist bounces")

    qid = send(i, SENDER, ["a@broken.example"])
    t.like(outcome(i, qid, "a@broken.example"), "dsn=4.4.3, status=deferred (Host or domain name "
           "not found. Name service error for name=broken.example type=MX: Host not found, try "
           "again)", "the name server fails for the domain: deferred")
    t.ok(dns.reload(ZONES[:1], RECORDS + FIXED, ("broken.example", 15)), "the zone is fixed")
    # The resolver in smtp-out keeps a failure for 5 seconds (libunbound's NORR_TTL): the
    # queue is flushed until the retry asks the server again.
    start, n = time.time(), 0
    while time.time() < start + 60:
        seen = len(lines_for(i, qid, "a@broken.example"))
        i.postern("queue", "flush")
        n += 1
        if "status=sent" in outcome(i, qid, "a@broken.example", after=seen, seconds=10):
            break
        time.sleep(0.5)
    t.diag("sent after %d flushes, %.1fs" % (n, time.time() - start))
    like_seq(outcome(i, qid, "a@broken.example", after=1), "relay=mx1.hosts.example[127.0.0.2]:%d, .*"
           "status=sent" % P, "  the deferred message goes out on the retry")

    qid = send(i, SENDER, ["a@d1.example", "b@d2.example", "c@d3.example"])
    for r, host, addr in (("a@d1.example", "mx1", "127.0.0.2"), ("b@d2.example", "mx2", "127.0.0.3"),
                          ("c@d3.example", "mx3", "127.0.0.4")):
        like_seq(outcome(i, qid, r), "relay=%s.hosts.example[%s]:%d, .*status=sent" % (host, addr, P),
               "one message to three domains: %s via %s" % (r, host))
        t.ok(r in got[addr].rcpts(), "  %s has it" % host)

    qid = send(i, SENDER, ["ok@partial.example", "later@partial.example", "refuse@partial.example"])
    like_seq(outcome(i, qid, "ok@partial.example"), "relay=picky.hosts.example[127.0.0.13]:%d, "
             ".*status=sent" % P, "one message, three recipients: the first MX takes one")
    like_seq(outcome(i, qid, "refuse@partial.example"), "relay=picky.hosts.example[127.0.0.13]:%d, "
             ".*dsn=5.1.1, status=bounced (host picky.hosts.example[127.0.0.13] said: 550" % P,
             "  refuses one with 550: bounced, not tried again")
    like_seq(outcome(i, qid, "later@partial.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, "
             ".*status=sent" % P, "  defers one with 450: the second MX takes that one")
    t.is_eq([(m.rcpt_tos) for m in got["127.0.0.13"].messages if "partial" in m.rcpt_tos[0]],
            [["ok@partial.example"]], "  the first MX got the message for ok@ only")
    t.is_eq([(m.rcpt_tos) for m in got["127.0.0.3"].messages if "partial" in m.rcpt_tos[0]],
            [["later@partial.example"]], "  the second for later@ only")

    qid = send(i, SENDER, ["ok@partial2.example", "later@partial2.example",
                           "refuse@partial2.example"])
    like_seq(outcome(i, qid, "later@partial2.example"), "relay=pipe.hosts.example[127.0.0.14]:"
             "%d, .*status=sent (250 2.0.0 Ok: queued as PIPE1)" % P,
             "the same with PIPELINING at the second MX: it takes the deferred one")
    t.is_eq([c for c in pipe.commands if c.startswith("RCPT")],
            ["RCPT TO:<later@partial2.example>"], "  and is asked for that one only")
    like_seq(outcome(i, qid, "ok@partial2.example"), "relay=picky.hosts.example[127.0.0.13]:%d, "
             ".*status=sent" % P, "  the first MX's delivery stands")

    qid = send(i, SENDER, ["a@dot.example"])
    like_seq(outcome(i, qid, "a@dot.example"), "relay=mx2.hosts.example[127.0.0.3]:%d, "
             ".*status=sent" % P, "4xx to the final dot: the second MX takes the message")
    t.like(i.log(), "%s: host dot451.hosts.example[127.0.0.15] said: 451 4.3.0 Error: queue "
           "file write error (in reply to end of DATA command)" % qid, "  the 451 is logged")
    t.is_eq(len(dot451.data), 1, "  after the first had the whole message")

    qid = send(i, SENDER, ["a@elsewhere.example"])
    like_seq(outcome(i, qid, "a@elsewhere.example"), "relay=mx1.hosts.example[127.0.0.2]:%d, .*"
             "status=sent" % P, "relayhost = d1.example:P without brackets: d1's MX host")

    qid = send(i, SENDER, ["a@cname.example", "b@cdom.example"])
    like_seq(outcome(i, qid, "a@cname.example"), "relay=alias.hosts.example[127.0.0.3]:%d, .*"
           "status=sent" % P, "an MX host that is a CNAME")
    like_seq(outcome(i, qid, "b@cdom.example"), "relay=mx3.hosts.example[127.0.0.4]:%d, .*"
           "status=sent" % P, "a domain that is a CNAME of one with MX records")

    qid = send(i, SENDER, ["a@loop1.example"])
    t.like(outcome(i, qid, "a@loop1.example"), "dsn=5.4.6, status=bounced (mail for loop1.example "
           "loops back to myself)", "this host is the best MX: loops back to myself")
    qid = send(i, SENDER, ["a@loop2.example"])
    like_seq(outcome(i, qid, "a@loop2.example"), "relay=mx1.hosts.example[127.0.0.2]:%d, .*"
           "status=sent" % P, "this host is a backup MX: the better one gets it")
    qid = send(i, SENDER, ["a@loop3.example"])
    t.like(outcome(i, qid, "a@loop3.example"), "dsn=4.4.4, status=deferred (unable to find "
           "primary relay for loop3.example)", "this host is a backup MX, the better one has no "
           "address: deferred")

    before = busy.accepted
    qid = send(i, SENDER, ["a@limit.example"])
    like_seq(outcome(i, qid, "a@limit.example"), "relay=busy2.hosts.example[127.0.0.11]:%d, .*"
           "status=deferred (host busy2.hosts.example[127.0.0.11] refused to talk to me: 421" % P,
           "smtp_mx_session_limit = 2: two sessions, then deferred with the last error")
    t.ok(busy.accepted == before + 1 and "a@limit.example" not in got["127.0.0.4"].rcpts(),
         "  the third MX was not tried")
    qid = send(i, SENDER, ["a@addrs.example"])
    t.like(outcome(i, qid, "a@addrs.example"), "status=deferred (connect to "
           "down2.hosts.example[127.0.0.12]:%d: Connection refused)" % P,
           "smtp_mx_address_limit = 2: two addresses, then deferred with the last error")
    t.ok("a@addrs.example" not in got["127.0.0.2"].rcpts(), "  the third MX was not tried")

    qid = send(i, SENDER, ["a@any.example"])
    like_seq(outcome(i, qid, "a@any.example"), "relay=v6.example[::1]:%d, .*status=sent" % P,
           "smtp_address_preference = any: A first (refused), then AAAA")
    t.like(i.log(), "connect to v6.example[127.0.0.12]:%d: Connection refused" % P,
           "  the IPv4 address was tried first")
    log_before = i.log().count("connect to v6.example[127.0.0.12]")
    qid = send(i, SENDER, ["a@v6.example"])
    like_seq(outcome(i, qid, "a@v6.example"), "relay=v6.example[::1]:%d, .*status=sent" % P,
           "smtp_address_preference = ipv6: AAAA first")
    t.is_eq(i.log().count("connect to v6.example[127.0.0.12]"), log_before,
            "  the IPv4 address was not tried")
    qid = send(i, SENDER, ["a@v4.example"])
    t.like(outcome(i, qid, "a@v4.example"), "status=deferred (connect to v6.example[127.0.0.12]:%d: "
           "Connection refused)" % P, "inet_protocols = ipv4: the IPv6 address is never tried")
    t.is_eq(len(v6[1].messages), 2, "  the IPv6 server has two messages, not three")

    if direct is not None:
        qid = send(i, SENDER, ["a@direct.example"])
        like_seq(outcome(i, qid, "a@direct.example"), "relay=direct.hosts.example[127.0.0.10]:25, .*"
               "status=sent", "no port in the next hop: the MX host's port 25")
    else:
        t.diag("port 25 on 127.0.0.10 is not free: no test of the default port")

    log = i.log()
    t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
    i.cleanup()

    # qmgr's feedback (doc/queue.md): a delivery is unreachable when no session of it got as
    # far as MAIL FROM. With a cohort of one, an unreachable delivery makes its destination
    # dead, and the next message to it is suspended without a connection.
    i = Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - - smtp-out\n",
                 main="transport_maps = inline:{ grey.example=smtp:grey.example:%d, " % P +
                      "only421.example=smtp:only421.example:%d }\n" % P +
                      "smtp_dns_resolv_conf = %s\n" % dns.resolv_conf +
                      "initial_destination_concurrency = 1\nminimal_backoff_time = 3600s\n"
                      "maximal_backoff_time = 3600s\nqueue_run_delay = 3600s\n"
                      "smtp_helo_name = client.example.example\n")
    t.ok(i.start(), "an instance with a cohort of one")
    first = send(i, SENDER, ["later@grey.example"])
    second = send(i, SENDER, ["later@grey.example"])
    t.like(outcome(i, first, "later@grey.example"), "status=deferred (connect to "
           "down.hosts.example[127.0.0.6]:%d: Connection refused)" % P,
           "first MX defers the recipient with 450, the second refuses the connection")
    line = outcome(i, second, "later@grey.example")
    t.ok("status=deferred (connect to down" in line, "  the first MX got MAIL FROM: the "
         "destination is not dead, the next message is tried (got %r)" % line[-90:])
    first = send(i, SENDER, ["a@only421.example"])
    second = send(i, SENDER, ["a@only421.example"])
    t.like(outcome(i, first, "a@only421.example"), "refused to talk to me: 421",
           "the only MX greets with 421")
    t.like(outcome(i, second, "a@only421.example"), "delivery temporarily suspended",
           "  a 4xx greeting is unreachable (QUIT sent or not): the destination is dead")
finally:
    i.cleanup()
    dns.stop()
    for c, _ in servers.values():
        c.stop()
    v6[0].stop()
    blackhole.close()
    if direct is not None:
        direct[0].stop()
    subprocess.run(["rm", "-rf", tmp])
t.done()
