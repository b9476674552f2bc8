#!/usr/bin/python3
"""smtp-out-8bit.t - 8-bit content on the way out (RFC 6152, doc/smtp-out.md).

The client's BODY= is kept in the queue file and passed on to a next hop that offers
8BITMIME (aiosmtpd). A next hop that does not (a scripted server here) gets 7-bit content
as it is, and never 8-bit content: that is converted to quoted-printable (Python's email
package reads it back), or, where it cannot be (an 8-bit header) or
disable_mime_output_conversion says not to, fails with 5.6.3 before MAIL FROM. A multipart
without MIME-Version is converted part by part (review-3 M3), and a message of 900 KB is
checked in steps (H2: smtp-out -v says how many) and arrives whole."""
import email
import re
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
NOVER = ("Subject: no version\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
         "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
         "\r\ncaf\u00e9\r\n--b--\r\n").encode()
LONG = "".join(("d\u00e9j\u00e0 vu %04d " % n) * 60 + "\r\n" for n in range(1000))
BIG = ("Subject: long lines\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" + LONG).encode()


def parsed(raw):
    return email.message_from_bytes(raw.replace(b"\r\n..", b"\r\n."), policy=email.policy.default)


def text_of(part):
    """The decoded text of a part, or None when it cannot be decoded (a garbled header)."""
    try:
        return part.get_content().replace("\r\n", "\n")
    except (LookupError, KeyError, ValueError):
        return None

eight, eight_h = aiosmtpd_server()
seven = Seven("seven")
i = Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - - smtp-out\n"
             "strict unix - - n - - smtp-out -o disable_mime_output_conversion=yes\n"
             "verbose unix - - n - - smtp-out -v\n",
             main="transport_maps = inline:{ eight.example=smtp:[127.0.0.1]:%d, "
                  "seven.example=smtp:[127.0.0.1]:%d, strict.example=strict:[127.0.0.1]:%d, "
                  "verbose.example=verbose:[127.0.0.1]:%d }\n"
                  % (eight.port, seven.port, seven.port, seven.port))
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

    qid = send(i, "", ["g@seven.example"], NOVER, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "g@seven.example"), "status=sent (250 2.0.0 Ok: queued as SEVEN)",
           "a multipart without MIME-Version to a server without 8BITMIME: converted and sent")
    got = seven.data[-1] if seven.data else b""
    t.ok(got and max(got) < 0x80, "  the server got 7-bit content only")
    msg = parsed(got)
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    t.ok(msg["MIME-Version"] == "1.0" and msg["Content-Transfer-Encoding"] is None,
         "  MIME-Version added, and no encoding on the multipart")
    t.ok(len(parts) == 1 and parts[0]["Content-Transfer-Encoding"] == "quoted-printable",
         "  its one part is quoted-printable")
    t.is_eq(text_of(parts[0]) if parts else None, "caf\u00e9",
            "  and decodes to the text that was sent")

    qid = send(i, "", ["h@verbose.example"], BIG, mail_opts=("BODY=8BITMIME",))
    t.like(outcome(i, qid, "h@verbose.example"), "status=sent (250 2.0.0 Ok: queued as SEVEN)",
           "%d KB of 8-bit lines: converted and sent" % (len(BIG) // 1000))
    got = seven.data[-1] if seven.data else b""
    t.ok(got and max(got) < 0x80 and max(len(x) for x in got.split(b"\r\n")) <= 76,
         "  the server got 7-bit lines of at most 76 characters")
    t.is_eq(text_of(parsed(got)) if got else None,
            LONG.replace("\r\n", "\n"), "  and they decode to the lines that were sent")
    steps = re.findall(r"%s: 8-bit check of (\d+) octets in (\d+) steps" % qid, i.log())
    t.ok(steps and int(steps[0][1]) >= 3,
         "  the 8-bit check read the message in steps of 256 KiB, not in one go: %s" % steps)
finally:
    if os.environ.get("KEEP_LOG"):
        print(i.log(), file=open(os.environ["KEEP_LOG"], "w"))
    i.cleanup()
    eight.stop()
sys.exit(t.done())
