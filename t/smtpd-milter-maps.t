#!/usr/bin/python3
"""smtpd-milter-maps.t - smtpd_milter_maps (Postfix 3.2): a cidr table looked up with the
client's address picks the milters of its session. Two test_milters, A (smtpd_milters) and
B, each add a header of their own, so the delivered message shows which one saw it: a
table that names B (with its own settings), a list of both, DISABLE (no milter, delivered),
a client the table does not know (A), a table that cannot be opened (451 4.3.0 to every
command, nothing queued, a warning, `postern check` names it; built later, it is used) and
a value that does not parse (the same, and smtpd goes on). Loopback only; no timing."""
import email
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, free_port, maildir_messages, wait_for  # noqa: E402
from milters import TestMilter  # noqa: E402
from smtpd_harness import Client  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
DOMAIN = "virt.test"
PORT_A, PORT_B, PORT_DEAD = free_port(), free_port(), free_port()
A, B = "inet:127.0.0.1:%d" % PORT_A, "inet:127.0.0.1:%d" % PORT_B
top = tempfile.mkdtemp(prefix="smtpd-milter-maps.", dir="/var/tmp")
os.chmod(top, 0o755)
vmail = os.path.join(top, "vmail")
os.mkdir(vmail)
os.chown(vmail, 5000, 5000)


def table(name, text):
    path = os.path.join(top, name + ".cidr")
    if text is not None:
        with open(path, "w") as f:
            f.write(text)
    return path


TABLES = {
    "other": "127.0.0.1 { %s, command_timeout=10s, default_action=tempfail }\n" % B,
    "both": "127.0.0.0/8 %s, { inet:127.0.0.1:%d, default_action=accept }, %s\n" % (
        B, PORT_DEAD, A),
    "disable": "127.0.0.1 disable\n",
    "nomatch": "127.0.0.2 %s\n::1 DISABLE\n" % B,
    "missing": None,
    "bad": "127.0.0.1 { %s, default_action=sometimes }\n" % B,
}
ports = {name: free_port() for name in TABLES}
services = "".join("127.0.0.1:%d inet n - n - - smtpd -o smtpd_milter_maps=cidr:%s\n" % (
    ports[name], table(name, text)) for name, text in TABLES.items())
inst = Instance(main="""virtual_mailbox_domains = %s
virtual_mailbox_base = %s
virtual_mailbox_maps = static:box/Maildir/
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
smtpd_milters = %s
milter_command_timeout = 10s
milter_content_timeout = 10s
""" % (DOMAIN, vmail, A), smtpd="smtpd -o smtpd_milters=", services=services + """qmgr unix - - n - 1 qmgr
virtual unix - n n - - local
bounce unix - - n - 0 bounce
""")
a, b = TestMilter(top, PORT_A, ["-a", "eom=addheader:X-A:seen by a"]), \
    TestMilter(top, PORT_B, ["-a", "eom=addheader:X-B:seen by b"])
if not (a.start() and b.start()):
    t.bail_out("test_milter does not start")
if not inst.start():
    t.bail_out("postern does not start")


def box():
    return maildir_messages(os.path.join(vmail, "box", "Maildir"))


def send(service, subject):
    """One message over SMTP to the service's port; the replies."""
    c = Client(ports[service], timeout=30)
    r = [c.reply(), c.cmd("EHLO client.example.net"), c.cmd("MAIL FROM:<alice@example.net>"),
         c.cmd("RCPT TO:<bob@%s>" % DOMAIN), c.cmd("DATA")]
    if r[-1].startswith("354"):
        c.send(b"Subject: %s\r\n\r\nhello\r\n.\r\n" % subject.encode())
        r.append(c.reply())
    r.append(c.cmd("QUIT"))
    c.close()
    return r


def delivered(subject):
    """The message with this subject once delivered, else None."""
    def find():
        for data in box().values():
            m = email.message_from_bytes(data)
            if m["Subject"] == subject:
                return m
        return None
    return find() if wait_for(lambda: find() is not None, 15) else None


def seen(m):
    return len(m.lines("connect"))


def check(service, subject, want, what):
    """Send through service; want: the milters whose headers the delivered message has."""
    before = (seen(a), seen(b))
    r = send(service, subject)
    t.like(r[-2], "250 2.0.0 Ok: queued as", "%s: queued" % what)
    m = delivered(subject)
    t.ok(m is not None, "%s: delivered" % what)
    heads = [name for name, h in (("a", "X-A"), ("b", "X-B")) if m is not None and m[h]]
    t.is_eq(heads, want, "%s: the headers of %s" % (what, " and ".join(want) or "no milter"))
    t.is_eq([seen(a) - before[0], seen(b) - before[1]], [int("a" in want), int("b" in want)],
            "%s: only those milters saw the session" % what)


check("other", "other", ["b"], "the table names B")
t.like(b.lines("connect")[-1], "{client_addr}=127.0.0.1", "B saw the client's connect")
check("both", "both", ["a", "b"],
      "a list of three (a dead one with default_action=accept)")
check("disable", "disable", [], "DISABLE")
check("nomatch", "nomatch", ["a"], "no match: smtpd_milters")
check("other", "other again", ["b"], "the table's list again (parsed once, kept)")


def deferred(service, what):
    before = (seen(a), seen(b), set(inst.queue_files()))
    r = send(service, what)
    t.ok(r[0].startswith("220 "), "%s: the greeting" % what)
    t.is_eq(r[1:5], ["451 4.3.0 Server configuration error"] * 4,
            "%s: 451 4.3.0 to EHLO, MAIL, RCPT and DATA" % what)
    t.ok(r[-1].startswith("221 "), "%s: QUIT still ends the session" % what)
    t.is_eq(sorted(set(inst.queue_files()) - before[2]), [], "%s: nothing queued" % what)
    t.is_eq((seen(a), seen(b)), before[:2], "%s: no milter asked" % what)


deferred("missing", "a table that cannot be opened")
t.ok(wait_for(lambda: "warning: smtpd_milter_maps: lookup of 127.0.0.1: " in inst.log(), 5),
     "a warning names the table and the client")
r = inst.postern("check")
t.ok(wait_for(lambda: "smtpd_milter_maps: open %s" % table("missing", None) in inst.log(), 5),
     "postern check warns about the table")
deferred("bad", "a value that does not parse")
t.ok(wait_for(lambda: "default_action: bad value" in inst.log(), 5),
     "a warning says what is wrong with the value")
deferred("bad", "the same value again")
t.like(inst.log(), 'warning: smtpd_milter_maps: 127.0.0.1: "{ inet:',
       "and names the value")
t.ok("fatal" not in inst.log() and "panic" not in inst.log(), "no daemon died")

table("missing", "127.0.0.1 DISABLE\n")
check("missing", "built later", [], "the table built later is used")
t.ok("smtpd_milter_maps: now open" in inst.log(), "and its reopening logged")

inst.stop()
a.stop()
b.stop()
inst.cleanup()
shutil.rmtree(top, ignore_errors=True)
t.done()
