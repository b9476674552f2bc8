#!/usr/bin/python3
"""smtp-out.t - outbound delivery in plaintext to a next hop in brackets (doc/smtp-out.md).

Mail goes in through postern's smtpd and out through smtp-out to real receiving servers on
loopback: aiosmtpd (no PIPELINING, no DSN: it refuses MAIL and RCPT parameters it does not
know, so passing DSN parameters it did not offer would fail the delivery), Postfix's
smtp-sink where it is installed (PIPELINING), and scripted
servers written here, which offer PIPELINING and DSN or misbehave on purpose: a greeting
that never ends, a line of a megabyte, a server that never answers the final dot, a port
where nothing listens. Each domain is routed to its server by transport_maps, the default
by relayhost = [localhost]:port. Outcomes are read from the log lines qmgr writes."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, free_port  # noqa: E402
from outbound import ScriptedServer, aiosmtpd_server, outcome, send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
try:
    import aiosmtpd.controller  # noqa: F401
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


def smtp_out_peaks(i):
    """{pid: peak resident KiB (VmHWM)} of the instance's smtp-out processes"""
    peaks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/status" % pid) as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if status.get("Name", "").strip() == "smtp-out" and \
                status.get("PPid", "").strip() == str(i.proc.pid):
            peaks[pid] = int(status["VmHWM"].split()[0])
    return peaks


class Scripted(ScriptedServer):
    """A server on a raw socket, one connection at a time, playing one of these parts:
    pipelining - (outbound.py's) offers PIPELINING, DSN and SIZE, and answers nothing after
                 EHLO until it has read DATA: a client that waits for each reply gets stuck
    endless    - a greeting of continuation lines that never ends
    longline   - a greeting line of 1 MiB
    stall      - a normal conversation, but the final dot is never answered
    helo       - refuses EHLO with 502, takes HELO; refuses MAIL from <refused@...>
    chunking   - offers PIPELINING and CHUNKING (RFC 3030), answers each command as it
                 comes, refuses RCPT to <refuse@...>, and keeps each BDAT chunk as sent
    early      - offers CHUNKING and refuses BDAT before it reads the chunk
    slowchunk  - offers CHUNKING, reads the chunk slowly, then answers the envelope"""

    def __init__(self, part):
        super().__init__(part)
        self.sent_bytes = 0

    def play_helo(self, conn, f):
        self.send(conn, "220 scripted SMTP\r\n")
        self.line(f)
        self.send(conn, "502 5.5.1 EHLO not implemented\r\n")
        self.line(f)
        self.send(conn, "250 scripted\r\n")
        cmd = self.line(f)
        while cmd.startswith("MAIL"):  # one transaction after another on a kept connection
            if not cmd.startswith("MAIL FROM:<refused@"):
                for reply in ("250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead"):
                    self.send(conn, reply + "\r\n")
                    self.line(f)
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as HELO1\r\n")
            else:
                self.send(conn, "553 5.7.1 <refused@mx.test.example>: Sender address rejected\r\n")
            cmd = self.line(f)
        self.send(conn, "221 2.0.0 Bye\r\n")

    def play_chunking(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 CHUNKING\r\n")
        while True:
            cmd = self.line(f)
            if cmd.startswith("BDAT "):
                size = int(cmd.split()[1])
                self.data.append(f.read(size))
                self.send(conn, "250 2.0.0 Ok: %d octets queued as BDAT1\r\n" % size)
            elif cmd.startswith("RCPT TO:<refuse@"):
                self.send(conn, "550 5.1.1 no such user\r\n")
            elif cmd == "QUIT":
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "250 2.0.0 Ok\r\n")

    def play_early(self, conn, f):
        """CHUNKING, and BDAT refused at once, before its chunk is read; then every byte the
        client sends after the BDAT line is kept until it closes the connection"""
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        while not self.line(f).startswith("BDAT "):
            self.send(conn, "250 2.0.0 Ok\r\n")
        self.send(conn, "554 5.6.0 refused before reading it\r\n")
        self.data.append(f.read())

    def play_slowchunk(self, conn, f):
        """CHUNKING, and no reply to the pipelined envelope until the whole chunk is read,
        64 KiB every 0.1 s (as Postfix's smtpd flushes its replies only when it waits for
        input)"""
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        group = [self.line(f)]
        while not group[-1].startswith("BDAT "):
            group.append(self.line(f))
        size, chunk = int(group[-1].split()[1]), b""
        while len(chunk) < size:
            chunk += f.read(min(65536, size - len(chunk)))
            time.sleep(0.1)
        self.data.append(chunk)
        self.send(conn, "250 2.0.0 Ok\r\n" * (len(group) - 1) + "250 2.0.0 Ok: queued\r\n")
        while self.line(f) != "QUIT":
            self.send(conn, "250 2.0.0 Ok\r\n")
        self.send(conn, "221 2.0.0 Bye\r\n")

    def play_endless(self, conn, f):
        chunk = b"220-and more\r\n" * 1000
        while True:
            self.send(conn, chunk)
            self.sent_bytes += len(chunk)

    def play_longline(self, conn, f):
        self.send(conn, b"220 " + b"x" * (1 << 20) + b"\r\n")
        f.read()

    def play_stall(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250 SIZE 1000000\r\n")
        for reply in ("250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead"):
            self.line(f)
            self.send(conn, reply + "\r\n")
        self.data.append(self.content(f))
        f.read()  # no answer to the dot: wait until the client gives up


plain, plain_h = aiosmtpd_server()
small, small_h = aiosmtpd_server(size_limit=1000)
pipe = Scripted("pipelining")
endless = Scripted("endless")
longline = Scripted("longline")
stall = Scripted("stall")
helo = Scripted("helo")
chunking = Scripted("chunking")
early = Scripted("early")
slowchunk = Scripted("slowchunk")
down = free_port()
# Postfix's smtp-sink, where installed (with Postfix, for make bench): a real server that
# offers PIPELINING.
SMTP_SINK = shutil.which("smtp-sink") or shutil.which("/usr/sbin/smtp-sink")
sink_port = free_port()
sink = subprocess.Popen([SMTP_SINK, "-u", "nobody", "127.0.0.1:%d" % sink_port, "10"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if SMTP_SINK else None

routes = {"small.example": "[127.0.0.1]:%d" % small.port,
          "pipe.example": "[127.0.0.1]:%d" % pipe.port,
          "chunk.example": "[127.0.0.1]:%d" % chunking.port,
          "early.example": "[127.0.0.1]:%d" % early.port,
          "endless.example": "[127.0.0.1]:%d" % endless.port,
          "longline.example": "[127.0.0.1]:%d" % longline.port,
          "stall.example": "[127.0.0.1]:%d" % stall.port,
          "down.example": "[127.0.0.1]:%d" % down,
          "helo.example": "[127.0.0.1]:%d" % helo.port,
          "relay.example": "[127.0.0.1]:%d" % plain.port,
          "sink.example": "[127.0.0.1]:%d" % sink_port,
          "nodns.example": "nodns.example"}
transport = ", ".join("%s=smtp:%s" % kv for kv in routes.items())
transport += ", slowchunk.example=slow:[127.0.0.1]:%d" % slowchunk.port
i = Instance(services="qmgr unix - - n - 1 qmgr\n"
                      "local unix - n n - - local\n"
                      "bounce unix - - n - 0 bounce\n"
                      "smtp unix - - n - - smtp-out\n"
                      "relay unix - - n - - smtp-out\n"
                      "slow unix - - n - - smtp-out -o smtp_mail_timeout=1s "
                      "-o smtp_data_done_timeout=60s\n",
             main="relayhost = [localhost]:%d\n" % plain.port +
                  "transport_maps = inline:{ %s }\n" % transport +
                  "smtp_helo_name = client.test.example\n"
                  "smtp_helo_timeout = 5s\nsmtp_data_done_timeout = 3s\n"
                  "smtp_connect_timeout = 5s\n")
try:
    t.ok(i.start(), "an instance with smtp-out starts")

    # Through relayhost = [localhost]:port to aiosmtpd (no PIPELINING offered).
    body = "Subject: dots\r\n\r\n.a line that starts with a dot\r\n..two\r\nend\r\n"
    qid = send(i, "", ["rcpt@remote.example"], body=body)
    line = outcome(i, qid, "rcpt@remote.example")
    t.like(line, "relay=localhost[127.0.0.1]:%d," % plain.port, "relay=name[addr]:port")
    t.like(line, "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as AIO1)",
           "status=sent with the server's words")
    t.ok(re.search(r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+,", line),
         "delay= and delays= as Postfix's")
    got = plain_h.messages[0] if plain_h.messages else None
    t.ok(got is not None and got.rcpt_tos == ["rcpt@remote.example"] and got.mail_from in ("", "<>"),
         "aiosmtpd has the message, with its envelope")
    t.ok(got is not None and got.content.endswith(
        b".a line that starts with a dot\r\n..two\r\nend\r\n"),
         "dot-stuffing undone by the server: the content arrives as it was")
    t.ok(got is not None and "SIZE=" in " ".join(got.mail_options),
         "SIZE= sent where SIZE was offered")

    # Three recipients: one taken, one refused with 550, one deferred with 450.
    qid = send(i, "", ["ok@relay.example", "refuse@relay.example", "later@relay.example"])
    ok_line = outcome(i, qid, "ok@relay.example")
    bad_line = outcome(i, qid, "refuse@relay.example")
    later_line = outcome(i, qid, "later@relay.example")
    host = "127.0.0.1[127.0.0.1]"
    t.like(ok_line, "relay=%s:%d, " % (host, plain.port), "relay= of a next hop in brackets")
    t.like(ok_line, "status=sent (250 2.0.0 Ok: queued as AIO2)", "the accepted one is sent")
    t.like(bad_line, "dsn=5.1.1, status=bounced (host %s said: 550 5.1.1 "
           "<refuse@relay.example>: Recipient address rejected: no such user "
           "(in reply to RCPT TO command))" % host, "the refused one bounces, in Postfix's words")
    t.like(later_line, "dsn=4.2.0, status=deferred (host %s said: 450 4.2.0 "
           "<later@relay.example>: Recipient address rejected: greylisted "
           "(in reply to RCPT TO command))" % host, "the 450 one is deferred")
    t.ok(len(plain_h.messages) == 2 and plain_h.messages[1].rcpt_tos == ["ok@relay.example"],
         "the server got the message once, for the accepted recipient")

    # DSN parameters: not passed to a server that does not offer DSN (aiosmtpd would answer
    # 555 to them), passed on to one that does, all in one pipelined group.
    qid = send(i, "sender@mx.test.example", ["dsn@relay.example"],
               mail_opts=("RET=HDRS", "ENVID=env+2Bid"),
               rcpt_opts=("NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;orig@relay.example"))
    t.like(outcome(i, qid, "dsn@relay.example"), "status=sent",
           "DSN not offered: delivered without the parameters")
    opts = " ".join(plain_h.messages[-1].mail_options + plain_h.messages[-1].rcpt_options)
    t.ok("RET=" not in opts and "NOTIFY=" not in opts, "  none of them was sent")
    qid = send(i, "sender@mx.test.example", ["a@pipe.example", "b@pipe.example"],
               mail_opts=("RET=HDRS", "ENVID=env+2Bid"),
               rcpt_opts=("NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;orig@pipe.example"))
    line = outcome(i, qid, "b@pipe.example")
    t.like(line, "status=sent (250 2.0.0 Ok: queued as PIPE1)",
           "PIPELINING: MAIL, RCPTs and DATA went out before any reply was read")
    t.like(outcome(i, qid, "a@pipe.example"), "status=sent", "  both recipients sent")
    mail = [c for c in pipe.commands if c.startswith("MAIL")]
    rcpt = [c for c in pipe.commands if c.startswith("RCPT")]
    t.is_eq(pipe.commands[0], "EHLO client.test.example", "EHLO with smtp_helo_name")
    t.ok(mail and re.fullmatch(r"MAIL FROM:<sender@mx.test.example> SIZE=\d+ RET=HDRS "
                               r"ENVID=env\+2Bid", mail[0]) is not None,
         "DSN offered: MAIL has SIZE, RET and ENVID")
    t.is_eq(rcpt, ["RCPT TO:<a@pipe.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig@pipe.example",
                   "RCPT TO:<b@pipe.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig@pipe.example"],
            "  and each RCPT its NOTIFY and ORCPT")

    # EHLO refused: HELO, and no extension is used; a refused MAIL fails every recipient.
    qid = send(i, "", ["x@helo.example"])
    t.like(outcome(i, qid, "x@helo.example"), "status=sent (250 2.0.0 Ok: queued as HELO1)",
           "EHLO refused with 502: HELO, then the delivery")
    t.ok("HELO client.test.example" in helo.commands and "MAIL FROM:<>" in helo.commands,
         "  HELO with smtp_helo_name, MAIL without SIZE")
    qid = send(i, "refused@mx.test.example", ["y@helo.example", "z@helo.example"])
    for r in ("y@helo.example", "z@helo.example"):
        t.like(outcome(i, qid, r), "dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: "
               "553 5.7.1 <refused@mx.test.example>: Sender address rejected (in reply to "
               "MAIL FROM command))", "MAIL refused: %s bounced with the server's words" % r)

    if sink is not None:
        qid = send(i, "", ["a@sink.example", "b@sink.example", "c@sink.example"])
        for r in ("a@sink.example", "b@sink.example", "c@sink.example"):
            t.like(outcome(i, qid, r), "relay=127.0.0.1[127.0.0.1]:%d, " % sink_port,
                   "Postfix's smtp-sink, pipelined: %s relayed" % r)
        t.like(outcome(i, qid, "c@sink.example"), "dsn=2.0.0, status=sent (250 2.0.0 Ok",
               "  status=sent with smtp-sink's words")
    else:
        t.diag("smtp-sink is not installed: no test against it")

    # CHUNKING: one BDAT LAST with the content as it is, pipelined after the envelope.
    body = "Subject: chunks\r\n\r\n.a line that starts with a dot\r\n.\r\nlast line"
    qid = send(i, "", ["a@chunk.example", "refuse@chunk.example"], body=body)
    t.like(outcome(i, qid, "a@chunk.example"), "status=sent (250 2.0.0 Ok: ",
           "CHUNKING offered: sent")
    t.like(outcome(i, qid, "refuse@chunk.example"), "status=bounced (host 127.0.0.1[127.0.0.1] "
           "said: 550 5.1.1 no such user (in reply to RCPT TO command))",
           "  a refused recipient bounces")
    cmds = [c.split()[0] for c in chunking.commands]
    t.is_eq(cmds[1:5], ["MAIL", "RCPT", "RCPT", "BDAT"], "  MAIL, RCPT, one BDAT and no DATA")
    got = chunking.data[-1] if chunking.data else b""
    t.ok(got.endswith(b"\r\n.a line that starts with a dot\r\n.\r\nlast line\r\n"),
         "  the content as it is: no dot doubled, no dot line at the end")
    t.like(chunking.commands[4], "BDAT %d LAST" % len(got), "  BDAT n LAST with n its size")

    # A large message streams from the queue file: smtp-out's peak memory grows by far less
    # than the message, through DATA (dots doubled) and through BDAT alike.
    line = "".join(chr(33 + (n % 90)) for n in range(76))
    big = "Subject: big\r\n\r\n" + "".join(("." if n % 7 == 0 else "") + line + "\r\n"
                                          for n in range(100000))
    before = smtp_out_peaks(i)
    qid = send(i, "", ["big@relay.example"], body=big)
    t.like(outcome(i, qid, "big@relay.example"), "status=sent", "a %d MB message: sent"
           % (len(big) >> 20))
    got = plain_h.messages[-1].content if plain_h.messages else b""
    t.ok(got.endswith(big.split("\r\n\r\n", 1)[1].encode()), "  and it arrives whole")
    qid = send(i, "", ["big@chunk.example"], body=big)
    t.like(outcome(i, qid, "big@chunk.example"), "status=sent", "  through BDAT too")
    t.ok(chunking.data and chunking.data[-1].endswith(big.split("\r\n\r\n", 1)[1].encode()),
         "  whole, without doubled dots")
    after = smtp_out_peaks(i)
    grown = [after[p] - before[p] for p in after if p in before]
    if grown:
        # Held whole, the message alone would add its size; under ASan, the streaming
        # version adds about 2 MiB, without it about 0.3.
        t.ok(max(grown) < len(big) >> 11, "  smtp-out's peak memory grew by %d KiB for a %d "
             "KiB message (less than half)" % (max(grown), len(big) >> 10))
    else:
        t.diag("smtp-out was restarted between the measures: peak memory not compared")

    # BDAT refused before the server read the chunk (a large one, still streaming): the
    # connection is closed, no RSET or QUIT sent as if it were more of the chunk.
    qid = send(i, "", ["x@early.example"], body=big)
    t.like(outcome(i, qid, "x@early.example"), "dsn=5.6.0, status=bounced (host 127.0.0.1"
           "[127.0.0.1] said: 554 5.6.0 refused before reading it", "BDAT refused early: bounced")
    early.closed.wait(30)
    rest = early.data[-1] if early.data else b""
    t.ok(early.closed.is_set() and b"RSET\r\n" not in rest and
         b"QUIT\r\n" not in rest,
         "  the connection closed without a command inside the chunk")

    # BDAT pipelined with the envelope, to a server that answers MAIL only once it has read
    # the chunk, taking 5 s for it: smtp_mail_timeout (1 s on this transport) does not cut
    # the content short; smtp_data_done_timeout is the limit once it is all out.
    slow = "Subject: slow\r\n\r\n" + (line + "\r\n") * 40000
    qid = send(i, "", ["x@slowchunk.example"], body=slow)
    t.like(outcome(i, qid, "x@slowchunk.example"), "status=sent",
           "BDAT read slowly, envelope answered after it: sent (no MAIL FROM timeout)")

    # SIZE: a message larger than the server's limit fails without being sent.
    big = "Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100
    qid = send(i, "", ["big@small.example"], body=big)
    line = outcome(i, qid, "big@small.example")
    t.like(line, "dsn=5.3.4, status=bounced (message size", "too big for SIZE: bounced 5.3.4")
    t.like(line, "exceeds size limit 1000 of server 127.0.0.1[127.0.0.1])", "  in Postfix's words")
    t.is_eq(len(small_h.messages), 0, "  and never sent")

    # A server that is down: deferred, relay=none.
    qid = send(i, "", ["x@down.example"])
    line = outcome(i, qid, "x@down.example")
    t.like(line, "relay=none, ", "nothing listens: relay=none")
    t.like(line, "dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:%d: "
           "Connection refused)" % down, "  deferred: connect to ...: Connection refused")

    # Hostile servers: the delivery defers, the agent survives.
    qid = send(i, "", ["x@endless.example"])
    line = outcome(i, qid, "x@endless.example")
    t.like(line, "status=deferred (protocol error with 127.0.0.1[127.0.0.1] while receiving "
           "the initial server greeting: reply of more than 100 lines)",
           "an endless multi-line reply: deferred at the line limit")
    t.ok(endless.closed.wait(10), "  and the connection is closed")
    qid = send(i, "", ["x@longline.example"])
    t.like(outcome(i, qid, "x@longline.example"),
           "status=deferred (protocol error with 127.0.0.1[127.0.0.1] while receiving the "
           "initial server greeting: reply line longer than 2048 octets)",
           "a 1 MiB line: deferred at the line limit")
    qid = send(i, "", ["x@stall.example"])
    t.like(outcome(i, qid, "x@stall.example"),
           "status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while sending "
           "end of data -- message may be sent more than once)",
           "a server that stalls after DATA: deferred at smtp_data_done_timeout")
    t.ok(stall.closed.wait(10) and len(stall.data) == 1, "  after the content went out")

    # No name server in smtp_dns_resolv_conf (the test instance's default): an MX lookup
    # asks nobody, not even this machine's port 53 (libunbound's 0.0.0.0 would), and the
    # mail waits.
    port53 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        port53.bind(("127.0.0.1", 53))
    except OSError:
        port53.close()
        port53 = None
    qid = send(i, "", ["x@nodns.example"])
    t.like(outcome(i, qid, "x@nodns.example"),
           "dsn=4.4.3, status=deferred (Host or domain name not found. Name service error "
           "for name=nodns.example type=MX: Host not found, try again)",
           "no name server: the MX lookup fails at once and the mail is deferred")
    t.like(i.log(), "no usable nameserver line; only /etc/hosts names resolve",
           "  and smtp-out said why when it started")
    if port53 is not None:
        port53.setblocking(False)
        try:
            query = port53.recv(512)
        except BlockingIOError:
            query = None
        t.ok(query is None, "  no DNS query reached 127.0.0.1:53")
        port53.close()
    else:
        t.diag("127.0.0.1:53 is in use: not watched")

    # Still the same agent: nothing crashed along the way.
    log = i.log()
    t.ok("panic" not in log and "fatal" not in log and "signal" not in log.lower(),
         "no panic, fatal error or crash in the log")
    qid = send(i, "", ["after@relay.example"])
    t.like(outcome(i, qid, "after@relay.example"), "status=sent",
           "a delivery after the hostile ones works")

    # Debian's pflogsumm reads smtp-out's lines as Postfix's: its counts are the log's.
    log = i.log()
    r = subprocess.run(["pflogsumm", "--syslog-name=postern", i.logfile],
                       capture_output=True, text=True, timeout=60)
    counts = {"delivered": log.count("status=sent"), "bounced": log.count("status=bounced")}
    for what, n in counts.items():
        t.ok(re.search(r"^\s*%d\s+%s$" % (n, what), r.stdout, re.M),
             "pflogsumm counts %d %s, as the log says" % (n, what))
    t.ok(re.search(r"^\s*\d+\s+deferred\s+\(\s*%d\s+deferrals\)" % log.count("status=deferred"),
                   r.stdout, re.M), "and every deferral")
    t.ok(re.search(r"^\s*\d+\s+\S+\s+\d+\s+[\d.]+ s\s+[\d.]+ s\s+relay\.example$", r.stdout, re.M),
         "the destinations appear in its delivery summary")
finally:
    i.cleanup()
    plain.stop()
    small.stop()
    if sink is not None:
        sink.kill()
        sink.wait()
t.done()
