#!/usr/bin/python3
"""smtp-out-8bit.t - 8-bit content on the way out (RFC 6152, doc/smtp-out.md).

The client's BODY= is kept in the queue file and passed on to a next hop that offers
8BITMIME (aiosmtpd). A next hop that does not (a scripted server here) gets 7-bit content
as it is, and never 8-bit content: that is converted to quoted-printable (Python's email
package reads it back), or, where it cannot be (an 8-bit header) or
disable_mime_output_conversion says not to, fails with 5.6.3 before MAIL FROM."""
import email
import email.policy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance  # noqa: E402
from outbound import ScriptedServer, aiosmtpd_server, outcome, send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


class Seven(ScriptedServer):
    """An ESMTP server that offers no 8BITMIME; self.commands has what each client sent."""

    def play_seven(self, conn, f):
        self.send(conn, "220 seven ESMTP\r\n")
        while True:
            verb = self.line(f).split(" ")[0].upper()
            if verb == "EHLO":
                self.send(conn, "250-seven\r\n250 SIZE 1000000\r\n")
            elif verb == "DATA":
                self.send(conn, "354 go ahead\r\n")
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as SEVEN\r\n")
            elif verb == "QUIT":
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "250 2.0.0 Ok\r\n")


EIGHT = "Subject: caf\u00e9\r\nContent-Type: text/plain; charset=utf-8\r\n" \
        "Content-Transfer-Encoding: 8bit\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
BODY8 = ("Subject: plain header\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         "d\u00e9j\u00e0 vu\r\n.leading dot\r\n").encode()
SEVEN = b"Subject: plain\r\n\r\nonly ASCII here\r\n"

eight, eight_h = aiosmtpd_server()
seven = Seven("seven")
i = Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - - smtp-out\n"
             "strict unix - - n - - smtp-out -o disable_mime_output_conversion=yes\n",
             main="transport_maps = inline:{ eight.example=smtp:[127.0.0.1]:%d, "
                  "seven.example=smtp:[127.0.0.1]:%d, strict.example=strict:[127.0.0.1]:%d }\n"
                  % (eight.port, seven.port, seven.port))
try:
    t.ok(i.start(), "an instance with smtp-out")

    qid = send(i, "", ["a@eight.example"], EIGHT, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "a@eight.example"), "status=sent",
           "8-bit content to a server with 8BITMIME: sent")
    got = eight_h.messages[-1] if eight_h.messages else None
    t.ok(got is not None and "BODY=8BITMIME" in got.mail_options,
         "  MAIL FROM carries the client's BODY=8BITMIME")
    t.ok(got is not None and "d\u00e9j\u00e0 vu".encode() in got.original_content,
         "  and the content arrives unchanged")

    qid = send(i, "", ["b@eight.example"], SEVEN, mail_opts=("BODY=7BIT",))
    t.like(outcome(i, qid, "b@eight.example"), "status=sent", "BODY=7BIT: sent")
    got = eight_h.messages[-1] if eight_h.messages else None
    t.ok(got is not None and "BODY=7BIT" in got.mail_options, "  with BODY=7BIT passed on")

    before = len(seven.commands)
    qid = send(i, "", ["c@seven.example"], EIGHT, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "c@seven.example"),
           "dsn=5.6.3, status=bounced (message has 8-bit content that is not converted to "
           "7-bit (8-bit bytes in a header), and host 127.0.0.1[127.0.0.1] does not offer "
           "8BITMIME)",
           "an 8-bit header to a server without 8BITMIME: cannot be converted, bounced 5.6.3")
    t.ok(seven.commands[before:] and
         not [c for c in seven.commands[before:] if c.startswith(("MAIL", "DATA"))],
         "  nothing of it was sent: no MAIL FROM, no DATA")

    qid = send(i, "", ["e@seven.example"], BODY8, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "e@seven.example"), "status=sent (250 2.0.0 Ok: queued as SEVEN)",
           "an 8-bit body to a server without 8BITMIME: converted and sent")
    got = seven.data[-1] if seven.data else b""
    t.ok(got and max(got) < 0x80, "  the server got 7-bit content only")
    msg = email.message_from_bytes(got.replace(b"\r\n..", b"\r\n."), policy=email.policy.default)
    t.is_eq(msg["Content-Transfer-Encoding"], "quoted-printable", "  declared quoted-printable")
    t.is_eq(msg.get_content().replace("\r\n", "\n"), "d\u00e9j\u00e0 vu\n.leading dot\n",
            "  and it decodes to the text that was sent")

    qid = send(i, "", ["f@strict.example"], BODY8, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "f@strict.example"), "dsn=5.6.3, status=bounced (message has 8-bit "
           "content that is not converted to 7-bit (disable_mime_output_conversion)",
           "disable_mime_output_conversion = yes: bounced 5.6.3 instead")

    before = len(seven.commands)
    qid = send(i, "", ["d@seven.example"], SEVEN, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "d@seven.example"), "status=sent (250 2.0.0 Ok: queued as SEVEN)",
           "declared 8BITMIME but only 7-bit content: sent to the server without 8BITMIME")
    mail = [c for c in seven.commands[before:] if c.startswith("MAIL")]
    t.ok(mail and "BODY=" not in mail[0], "  and MAIL FROM has no BODY= it did not offer")
finally:
    i.cleanup()
    eight.stop()
sys.exit(t.done())
