#!/usr/bin/python3
"""smtp-out-8bit.t - 8-bit content on the way out (RFC 6152, doc/smtp-out.md).

The client's BODY= is kept in the queue file and passed on to a next hop that offers
8BITMIME (aiosmtpd). A next hop that does not (a scripted server here) gets 7-bit content
as it is, and never 8-bit content: that fails with 5.6.3 before MAIL FROM, since postern
does not convert it."""
import os
import socket
import smtplib
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, free_port, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


class Recorder:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 2.0.0 Ok: queued as AIO%d" % len(self.messages)


class Seven:
    """An ESMTP server that offers no 8BITMIME; it records the commands of each session."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.sessions = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            with conn, conn.makefile("rb") as f:
                self.sessions.append(self.play(conn, f))

    def play(self, conn, f):
        seen = []
        conn.sendall(b"220 seven ESMTP\r\n")
        for line in f:
            cmd = line.decode("latin-1").rstrip("\r\n")
            seen.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                conn.sendall(b"250-seven\r\n250 SIZE 1000000\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                for body in f:
                    if body == b".\r\n":
                        break
                conn.sendall(b"250 2.0.0 Ok: queued as SEVEN\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                break
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")
        return seen


def send(i, rcpt, body, body_type):
    s = smtplib.SMTP("127.0.0.1", i.port)
    s.ehlo("client.example")
    s.mail("", ["BODY=%s" % body_type])
    code, text = s.rcpt(rcpt)
    assert code == 250, (rcpt, code, text)
    code, reply = s.data(body)
    s.quit()
    return reply.decode().split()[-1] if code == 250 else None


def outcome(i, qid, rcpt):
    found = wait_for(lambda: [line for line in i.log().splitlines()
                              if "%s: to=<%s>" % (qid, rcpt) in line], 30)
    return found[-1] if found else ""


EIGHT = "Subject: caf\u00e9\r\nContent-Type: text/plain; charset=utf-8\r\n" \
        "Content-Transfer-Encoding: 8bit\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
SEVEN = b"Subject: plain\r\n\r\nonly ASCII here\r\n"

eight_h = Recorder()
eight = Controller(eight_h, hostname="127.0.0.1", port=free_port())
eight.start()
seven = Seven()
i = Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - - smtp-out\n",
             main="transport_maps = inline:{ eight.example=smtp:[127.0.0.1]:%d, "
                  "seven.example=smtp:[127.0.0.1]:%d }\n" % (eight.port, seven.port))
try:
    t.ok(i.start(), "an instance with smtp-out")

    qid = send(i, "a@eight.example", EIGHT, "8BITMIME")
    t.like(outcome(i, qid, "a@eight.example"), "status=sent",
           "8-bit content to a server with 8BITMIME: sent")
    got = eight_h.messages[-1] if eight_h.messages else None
    t.ok(got is not None and "BODY=8BITMIME" in got.mail_options,
         "  MAIL FROM carries the client's BODY=8BITMIME")
    t.ok(got is not None and "d\u00e9j\u00e0 vu".encode() in got.original_content,
         "  and the content arrives unchanged")

    qid = send(i, "b@eight.example", SEVEN, "7BIT")
    t.like(outcome(i, qid, "b@eight.example"), "status=sent", "BODY=7BIT: sent")
    got = eight_h.messages[-1] if eight_h.messages else None
    t.ok(got is not None and "BODY=7BIT" in got.mail_options, "  with BODY=7BIT passed on")

    qid = send(i, "c@seven.example", EIGHT, "8BITMIME")
    t.like(outcome(i, qid, "c@seven.example"),
           "dsn=5.6.3, status=bounced (message has 8-bit content, and host "
           "127.0.0.1[127.0.0.1] does not offer 8BITMIME)",
           "8-bit content to a server without 8BITMIME: bounced 5.6.3")
    t.ok(wait_for(lambda: seven.sessions, 10) and
         not [c for c in seven.sessions[-1] if c.startswith(("MAIL", "DATA"))],
         "  nothing of it was sent: no MAIL FROM, no DATA")

    qid = send(i, "d@seven.example", SEVEN, "8BITMIME")
    t.like(outcome(i, qid, "d@seven.example"), "status=sent (250 2.0.0 Ok: queued as SEVEN)",
           "declared 8BITMIME but only 7-bit content: sent to the server without 8BITMIME")
    mail = [c for c in seven.sessions[-1] if c.startswith("MAIL")] if seven.sessions else []
    t.ok(mail and "BODY=" not in mail[0], "  and MAIL FROM has no BODY= it did not offer")
finally:
    i.cleanup()
    eight.stop()
sys.exit(t.done())
