#!/usr/bin/python3
"""smtpd-smuggle.t - SMTP smuggling (CVE-2023-51764 and kin): no bare-CR/LF variant of the
end-of-data marker ever ends a message or queues a second one. With
smtpd_forbid_bare_newline = yes (the default) the message is refused with 521 5.5.2 and the
session ends; with = no the bare line ends are stored as CRLF and the "smuggled" commands
stay inside the one message. Also: a bare LF ending a command, and BDAT whose chunk holds
an end-of-data marker."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Instance, greet, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()

VARIANTS = {
    "<LF>.<LF>": b"\n.\n",
    "<CR><LF>.<LF>": b"\r\n.\n",
    "<LF>.<CR><LF>": b"\n.\r\n",
    "<CR>.<CR><LF>": b"\r.\r\n",
    "<CR><LF>.<CR>": b"\r\n.\r",
    "<CR><LF>.<CR>x<CR><LF>": b"\r\n.\rx\r\n",
}
SMUGGLED = (b"MAIL FROM:<smuggler@example.net>\r\nRCPT TO:<root@example.org>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled\r\n")


def new_files(inst, before):
    return [f for f in inst.files() if f not in before]


def attempt(inst, port, marker):
    """Send a message with marker inside; return (reply, new queue files, connection closed)."""
    before = inst.files()
    c = greet(port)
    c.cmd("MAIL FROM:<honest@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    c.cmd("DATA")
    c.send(b"Subject: honest\r\n\r\nbody" + marker + SMUGGLED + b".\r\n")
    reply = c.reply()
    closed = False
    if reply.startswith("521"):
        closed = c.closed()
    else:
        c.cmd("QUIT")
    c.close()
    wait_for(lambda: inst.files("incoming") == [], 3)
    return reply, new_files(inst, before), closed


def main(root):
    inst = Instance(root, "mydestination = example.org\nlocal_recipient_maps =\n",
                    services={"strict": "", "normalize": "-o smtpd_forbid_bare_newline=no"})
    err = inst.start()
    t.ok(err is None, "postern starts")
    if err:
        t.diag(err)
        return
    try:
        for name, marker in VARIANTS.items():
            reply, files, closed = attempt(inst, inst.ports["strict"], marker)
            t.is_eq(reply, "521 5.5.2 Error: bare <CR> or <LF> received",
                    "strict, %s: refused with 521 5.5.2" % name)
            t.ok(closed, "strict, %s: and the session ends" % name)
            t.is_eq(files, [], "strict, %s: nothing is queued" % name)
        for name, marker in VARIANTS.items():
            reply, files, closed = attempt(inst, inst.ports["normalize"], marker)
            t.ok(reply.startswith("250 2.0.0 Ok: queued as"),
                 "normalize, %s: one message is accepted" % name)
            t.is_eq(len(files), 1, "normalize, %s: exactly one file is queued" % name)
            if files:
                _, content = inst.cat(files[0])
                t.ok(b"\r\nMAIL FROM:<smuggler@example.net>\r\n" in content and
                     content.endswith(b"\r\nsmuggled\r\n"),
                     "normalize, %s: the smuggled commands are content of that one" % name)
        c = greet(inst.ports["strict"])
        c.send("NOOP\n")
        t.is_eq(c.reply(), "521 5.5.2 mx.example.org Error: bare <LF> received",
                "a command ended by a bare LF: 521 5.5.2")
        t.ok(c.closed(), "and the session ends")
        c = greet(inst.ports["normalize"])
        t.is_eq(c.cmd("NOOP\r\rx"), "500 5.5.2 Error: bare <CR> or <LF> in command",
                "a bare CR inside a command is refused")
        c.close()

        before = inst.files()
        c = greet(inst.ports["strict"])
        c.cmd("MAIL FROM:<chunk@example.net>")
        c.cmd("RCPT TO:<root@example.org>")
        chunk = b"Subject: c\r\n\r\nx\r\n.\r\n" + SMUGGLED + b".\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        t.ok(c.reply().startswith("250 2.0.0 Ok: queued as"), "BDAT: a chunk holding <CRLF>.<CRLF>")
        got = new_files(inst, before)
        t.is_eq(len(got), 1, "is one message")
        t.ok(got and inst.cat(got[0])[1].endswith(chunk), "with the marker stored as content")
        c.close()
    finally:
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
