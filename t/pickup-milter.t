#!/usr/bin/python3
"""pickup-milter.t - non_smtpd_milters: mail from the sendmail command shown to milters as if
it came over ESMTP from localhost [127.0.0.1] (t/bin/test_milter records what it saw), each
milter seeing the edits of the ones before; the verdicts as they must be for mail whose
sender has gone: reject bounces, tempfail and a dead milter keep the maildrop file for a
later scan, discard drops, quarantine holds; milter_header_checks on the headers milters add
or change, each action as pickup's verdicts have it (a table that cannot be read: later)."""
import email
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import BUILD, Instance, free_port, maildir_messages, wait_for  # noqa: E402
from milters import HEADER_CHECKS, TestMilter  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
DOMAIN = "virt.test"
BOXES = ("alice", "bob")
PORT_A, PORT_B = free_port(), free_port()
top = tempfile.mkdtemp(prefix="pickup-milter.", dir="/var/tmp")
os.chmod(top, 0o755)
vmail = os.path.join(top, "vmail")
os.mkdir(vmail)
os.chown(vmail, 5000, 5000)
HBC = os.path.join(top, "milter_header_checks.pcre")
with open(HBC, "w") as f:
    f.write(HEADER_CHECKS)
boxes = ", ".join("%s@%s=%s/Maildir/" % (b, DOMAIN, b) for b in BOXES)
MAIN = """myorigin = %s
virtual_mailbox_domains = %s
virtual_mailbox_base = %s
virtual_mailbox_maps = inline:{%s}
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
non_smtpd_milters = inet:127.0.0.1:%d, {inet:127.0.0.1:%d, default_action=accept}
milter_command_timeout = 5s
milter_content_timeout = 5s
milter_header_checks = pcre:%s
"""
SERVICES = """qmgr unix - - n - 1 qmgr
local unix - n n - - local
virtual unix - n n - - local
bounce unix - - n - 0 bounce
pickup fifo n - n 60 1 pickup
"""
inst = Instance(main=MAIN % (DOMAIN, DOMAIN, vmail, boxes, PORT_A, PORT_B, HBC),
                services=SERVICES)


def box(name):
    return maildir_messages(os.path.join(vmail, name, "Maildir"))


def first(name):
    """The first message in a mailbox, or b"" when it has none."""
    msgs = list(box(name).values())
    return msgs[0] if msgs else b""


def clear():
    for b in BOXES:
        d = os.path.join(vmail, b, "Maildir", "new")
        if os.path.isdir(d):
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))


def send(subject, rcpt="bob@virt.test", sender="alice@virt.test", inst=inst, extra=""):
    msg = "From: %s\nTo: %s\n%sSubject: %s\n\nhello from cron\n" % (sender, rcpt, extra, subject)
    r = subprocess.run([os.path.join(BUILD, "bin", "sendmail"), "-f", sender, "-i", rcpt],
                       input=msg.encode(), capture_output=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "MAIL_CONFIG": inst.etc, "HOME": "/"})
    return r.returncode == 0


def maildrop(inst=inst):
    return os.listdir(os.path.join(inst.queue, "maildrop"))


def delivered(name, count=1):
    return wait_for(lambda: len(box(name)) >= count, 15)


def with_milters(args_a, args_b, fn):
    a, b = TestMilter(top, PORT_A, args_a), TestMilter(top, PORT_B, args_b)
    try:
        if not (a.start() and b.start()):
            t.bail_out("test_milter does not start")
        fn(a, b)
    finally:
        a.stop()
        b.stop()
        clear()


if not inst.start():
    t.bail_out("postern does not start")


def stages(a, b):
    t.ok(send("stages"), "sendmail takes the message")
    t.ok(delivered("bob"), "delivered through two milters")
    conn = a.lines("connect")[0]
    t.like(conn, "connect localhost", "connect: localhost")
    t.like(conn, "{client_addr}=127.0.0.1", "{client_addr} 127.0.0.1")
    t.like(conn, "{daemon_name}=", "{daemon_name} sent")
    t.like(a.lines("helo")[0], "helo localhost", "HELO localhost")
    t.like(a.lines("mail")[0], "<alice@virt.test>", "MAIL: the sender")
    t.like(a.lines("mail")[0], "{mail_addr}=alice@virt.test", "{mail_addr}")
    t.like(a.lines("rcpt")[0], "{rcpt_addr}=bob@virt.test", "RCPT: {rcpt_addr}")
    t.like(a.lines("mail")[0], "{mail_host}=virt.test\t{mail_mailer}=virtual",
           "{mail_host} and {mail_mailer}: the sender's next hop and transport, as resolved")
    t.like(a.lines("rcpt")[0], "{rcpt_host}=virt.test\t{rcpt_mailer}=virtual",
           "{rcpt_host} and {rcpt_mailer}: the recipient's")
    heads = [x.split("\t")[0] for x in a.lines("header")]
    t.ok(any(h.startswith("header Subject:stages") for h in heads), "the Subject header")
    t.ok(not any(h.startswith("header Received:") for h in heads), "pickup's Received hidden")
    qid = a.lines("eom")[0].split("i=")[1].split("\t")[0] if "i=" in a.lines("eom")[0] else ""
    t.ok(qid != "", "EOM: i is the queue ID")
    t.ok(any(h.startswith("header X-A:added by a") for h in
             [x.split("\t")[0] for x in b.lines("header")]),
         "the second milter sees the header the first added")
    msg = email.message_from_bytes(list(box("bob").values())[0])
    t.is_eq((msg["X-A"], msg["X-B"]), ("added by a", "added by b"), "both edits delivered")
    t.ok(inst.log().count("milter edits applied") == 2, "each milter's edits applied in turn")
with_milters(["-a", "eom=addheader:X-A:added by a"], ["-a", "eom=addheader:X-B:added by b"],
             stages)


def reject(a, b):
    t.ok(send("spam"), "sendmail takes it (the milter judges later)")
    t.ok(delivered("alice"), "a reject bounces to the sender")
    bounce = list(box("alice").values())[0].decode(errors="replace")
    t.like(bounce, "<bob@virt.test>: no thanks", "with the milter's text")
    t.like(bounce, "Status: 5.7.1", "and its status code")
    t.is_eq(len(box("bob")), 0, "and the recipient gets nothing")
    t.like(inst.log(), "milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 no thanks",
           "logged as milter-reject")
    t.is_eq(b.lines("connect"), [], "the second milter never saw it")
with_milters(["-a", "eom=reply:550:5.7.1:no thanks"], [], reject)


def tempfail_then_ok(a, b):
    t.ok(send("later"), "sendmail takes it")
    t.ok(wait_for(lambda: "4.7.1 Service unavailable" in inst.log(), 15), "tempfail logged")
    t.is_eq(len(maildrop()), 1, "the maildrop file stays")
    t.is_eq(len(box("bob")), 0, "nothing delivered")
with_milters(["-a", "eom=tempfail"], [], tempfail_then_ok)


def retried(a, b):
    t.ok(send("next"), "the next submission wakes pickup")
    t.ok(delivered("bob", 2), "and the kept message goes through with it")
    t.is_eq(maildrop(), [], "maildrop/ is empty")
with_milters([], [], retried)


def discard(a, b):
    before = inst.log().count("milter-discard")
    t.ok(send("drop"), "sendmail takes it")
    t.ok(wait_for(lambda: inst.log().count("milter-discard") > before, 15), "discard logged")
    t.ok(wait_for(lambda: maildrop() == [], 10), "the maildrop file is gone")
    t.is_eq(len(box("bob")) + len(box("alice")), 0, "and nothing is delivered")
with_milters(["-a", "data=discard"], [], discard)


def quarantine(a, b):
    t.ok(send("held"), "sendmail takes it")
    held = os.path.join(inst.queue, "hold")
    t.ok(wait_for(lambda: len(os.listdir(held)) == 1, 15), "quarantine: the message is held")
    t.is_eq(len(box("bob")), 0, "not delivered")
    inst.postern("queue", "delete", "ALL", "hold")
with_milters(["-a", "eom=quarantine:suspect"], [], quarantine)


def dead_milter():
    t.ok(send("nobody home"), "sendmail takes it with no milter running")
    t.ok(wait_for(lambda: "default_action=tempfail for maildrop/" in inst.log(), 15),
         "the first milter's default_action (tempfail) logged")
    t.is_eq(len(maildrop()), 1, "the message waits in maildrop/")
    a = TestMilter(top, PORT_A, [])
    try:
        a.start()
        t.ok(send("milter back"), "with the milter back, a submission")
        t.ok(delivered("bob", 2), "delivers both: the second milter, down, is default accept")
    finally:
        a.stop()
        clear()
dead_milter()


# milter_header_checks: each header a milter adds or changes, looked up; the action taken as
# pickup takes a milter's verdict.
LOGGED = " from localhost[127.0.0.1]; from=<alice@virt.test> to=<bob@virt.test>"


def hbc_reject(a, b):
    t.ok(send("flagged"), "sendmail takes it")
    t.ok(delivered("alice"), "milter_header_checks REJECT: bounced to the sender")
    bounce = first("alice").decode(errors="replace")
    t.like(bounce, "<bob@virt.test>: spam, says the milter", "with the table's text")
    t.like(bounce, "Status: 5.7.1", "and its code")
    t.is_eq(len(box("bob")), 0, "REJECT: the recipient gets nothing")
    t.like(inst.log(), ": milter-header-reject: header X-Spam-Flag: YES" + LOGGED +
           ": 5.7.1 spam, says the milter", "REJECT: logged as Postfix's cleanup logs it")
    t.is_eq(b.lines("connect"), [], "REJECT: the second milter never saw it")
with_milters(["-a", "eom=addheader:X-Spam-Flag:YES"], [], hbc_reject)


def hbc_change(a, b):
    t.ok(send("plain"), "sendmail takes it")
    t.ok(delivered("alice"), "a changed header is checked too: bounced")
    t.like(first("alice").decode(errors="replace"),
           "Message content rejected", "with REJECT's default text")
with_milters(["-a", "eom=chgheader:1:Subject:changed"], [], hbc_change)


def hbc_temp(a, b):
    t.ok(send("temp"), "sendmail takes it")
    t.ok(wait_for(lambda: "milter_header_checks: 4.7.0 later: the message waits in maildrop/"
                  in inst.log(), 15), "a 4.x.x REJECT: logged")
    t.is_eq(len(maildrop()), 1, "a 4.x.x REJECT: the maildrop file stays")
    t.is_eq(len(box("bob")) + len(box("alice")), 0, "nothing delivered, nothing bounced")
with_milters(["-a", "eom=addheader:X-Temp:x"], [], hbc_temp)
with_milters([], [], retried)


def hbc_ignore_warn(a, b):
    t.ok(send("noted"), "sendmail takes it")
    t.ok(delivered("bob"), "IGNORE, WARN, INFO: delivered")
    msg = email.message_from_bytes(first("bob"))
    t.is_eq(msg["X-Drop"], None, "IGNORE: that header is not added")
    t.is_eq((msg["X-Warn"], msg["X-Info"]), ("w", "i"), "WARN, INFO: the headers are added")
    log = inst.log()
    t.like(log, ": milter-header-warning: header X-Warn: w" + LOGGED + ": noted", "WARN: logged")
    t.like(log, ": milter-header-info: header X-Info: i" + LOGGED + ": traced", "INFO: logged")
    t.ok(": milter-header-ignore" not in log and "header X-Drop" not in log, "IGNORE: silent")
with_milters(["-a", "eom=addheader:X-Drop:d", "-a", "eom=addheader:X-Warn:w",
              "-a", "eom=addheader:X-Info:i"], [], hbc_ignore_warn)


def hbc_hold(a, b):
    t.ok(send("hold me"), "sendmail takes it")
    held = os.path.join(inst.queue, "hold")
    t.ok(wait_for(lambda: len(os.listdir(held)) == 1, 15), "HOLD: the message is in hold/")
    t.is_eq(len(box("bob")), 0, "HOLD: not delivered")
    t.like(inst.log(), ": milter-header-hold: header X-Hold: h" + LOGGED + ": held by header",
           "HOLD: logged")
    inst.postern("queue", "delete", "ALL", "hold")
with_milters(["-a", "eom=addheader:X-Hold:h"], [], hbc_hold)


def hbc_discard(a, b):
    t.ok(send("discard me"), "sendmail takes it")
    t.ok(wait_for(lambda: ": milter-header-discard: header X-Discard: x" + LOGGED in inst.log(),
                  15), "DISCARD: logged")
    t.ok(wait_for(lambda: maildrop() == [], 10), "DISCARD: the maildrop file is gone")
    t.is_eq(os.listdir(os.path.join(inst.queue, "hold")), [], "DISCARD: nothing held")
    t.is_eq(len(box("bob")) + len(box("alice")), 0, "DISCARD: nothing delivered or bounced")
with_milters(["-a", "eom=addheader:X-Discard:x"], [], hbc_discard)



# A header field is shown to milters whole or not at all: sendmail keeps lines of any length,
# and a HEADER packet over 64 KiB is more than a milter takes.
def long_headers(a, b):
    big = "y" * 60000
    t.ok(send("big", extra="X-Big: %s\n" % big), "sendmail takes a 60 KB header line")
    t.ok(delivered("bob"), "delivered")
    heads = [x.split("\t")[0] for x in a.lines("header")]
    t.ok(any(h.startswith("header X-Big:yyyy") for h in heads) and
         any(h.startswith("header Subject:big") for h in heads),
         "the milter saw it, and the header after it")
    msg = email.message_from_bytes(first("bob"))
    t.is_eq(len(msg["X-Big"] or ""), len(big), "and it is delivered whole")
    before = len(a.lines("header"))
    t.ok(send("long", extra="X-Long: %s\n" % ("z" * 100000)), "sendmail takes a 100 KB one")
    t.ok(wait_for(lambda: "header X-Long: a field of 65535 octets or more cannot be sent to a "
                  "milter whole; default_action=tempfail for maildrop/" in inst.log(), 15),
         "the milter is not shown it cut: its default action (tempfail), said why")
    t.ok(not any("X-Long" in x or "Subject:long" in x for x in a.lines("header")[before:]),
         "no part of it reached the milter")
    t.is_eq(len(maildrop()), 1, "the message waits in maildrop/")
    t.is_eq(len(box("bob")), 1, "nothing more delivered")
    for name in maildrop():
        os.unlink(os.path.join(inst.queue, "maildrop", name))
with_milters([], [], long_headers)

inst.cleanup()

# A milter_header_checks table that cannot be read when pickup starts: a message whose
# milter adds a header waits in maildrop/ (never queued unchecked) until the table is there.
LATE = os.path.join(top, "late.pcre")
inst = Instance(main=MAIN % (DOMAIN, DOMAIN, vmail, boxes, PORT_A, PORT_B, LATE),
                services=SERVICES)
if not inst.start():
    t.bail_out("postern does not start")


def hbc_broken(a, b):
    t.ok(send("unchecked", inst=inst), "sendmail takes it")
    t.ok(wait_for(lambda: "milter_header_checks: 4.3.0 Temporary lookup failure: the message "
                  "waits in maildrop/" in inst.log(), 15), "a table that cannot be read: logged")
    t.is_eq(len(maildrop(inst)), 1, "and the maildrop file stays")
    t.is_eq(len(box("bob")), 0, "nothing delivered")
    with open(LATE, "w") as f:
        f.write("/^X-Late:/ WARN late\n")
    t.ok(send("table back", inst=inst), "the table built, a submission")
    t.ok(delivered("bob", 2), "delivers both")
    t.like(inst.log(), "milter_header_checks: now open", "the table is opened again")
with_milters(["-a", "eom=addheader:X-Any:x"], [], hbc_broken)

inst.cleanup()
shutil.rmtree(top, ignore_errors=True)
t.done()
