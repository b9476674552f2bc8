#!/usr/bin/python3
"""bounce.t - notices to senders (doc/bounce.md): a recipient that fails gives its sender
exactly one RFC 3464 report, read here with Python's email package; RET, ORCPT, ENVID and
NOTIFY are honoured; null-sender mail never bounces to a sender, a failed notice goes to
2bounce_notice_recipient once and a failed double bounce is dropped; kill -9 of qmgr and
of the bounce agent in a stream of failures gives neither zero notices nor two.

The senders are virtual mailboxes under the test's root (snd.test); the failing
recipients are local users that do not exist (local_recipient_maps is empty, so smtpd
takes them and local refuses them with 5.1.1)."""
import email
import email.policy
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, ensure_user, OWNER, maildir_messages, wait_for  # noqa: E402
from outbound import send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
if os.geteuid() != 0 or not ensure_user(OWNER):
    t.skip_all("needs root (the virtual mailboxes belong to the test user)")

SERVICES = ("qmgr unix - - n - 1 qmgr\n"
            "local unix - n n - - local\n"
            "virtual unix - n n - - local\n"
            "bounce unix - - n - 0 bounce\n")


def make(main="", services=SERVICES):
    import pwd
    owner = pwd.getpwnam(OWNER)
    i = Instance(services=services, main="local_recipient_maps =\n"
                 "virtual_mailbox_domains = snd.test\n"
                 "virtual_mailbox_base = VBASE\n"
                 "virtual_mailbox_maps = texthash:VMAPS\n"
                 "virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n"
                 "queue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n"
                 % (owner.pw_uid, owner.pw_gid) + main)
    vbase = os.path.join(i.root, "vmail")
    os.mkdir(vbase)
    os.chown(vbase, owner.pw_uid, owner.pw_gid)
    vmaps = os.path.join(i.etc, "vmailbox")
    with open(vmaps, "w") as f:
        for user in ("alice", "bob", "postmaster"):
            f.write("%s@snd.test %s/Maildir/\n" % (user, user))
    main_cf = os.path.join(i.etc, "main.cf")
    text = open(main_cf).read().replace("VBASE", vbase).replace("VMAPS", vmaps)
    with open(main_cf, "w") as f:
        f.write(text)
    i.vbase = vbase
    return i


def box(i, user):
    return maildir_messages(os.path.join(i.vbase, user, "Maildir"))


def idle(i):
    """Nothing committed waits (uncommitted files that a killed qmgr left in incoming/ stay
    there for a few minutes, for queue_status: doc/queue.md)."""
    return not i.queue_files("active", "deferred")


def report(msg):
    """(human text, per-message fields, [per-recipient fields], returned part)"""
    parts = list(msg.iter_parts())
    status = parts[1].get_payload()
    return parts[0].get_content(), status[0], status[1:], parts[2]


i = make()
t.ok(i.start(), "an instance with qmgr, local, virtual and bounce starts")

# Two failing recipients of one message: one notice about both.
qid = send(i, "alice@snd.test", ["nosuch1@test.example", "nosuch2@test.example"],
           mail_opts=("RET=FULL", "ENVID=env+2Bid"),
           rcpt_opts=("NOTIFY=FAILURE", "ORCPT=rfc822;orig+2Bx@test.example"))
t.ok(qid and wait_for(lambda: len(box(i, "alice")) == 1 and idle(i), 20),
     "two failed recipients: one notice in the sender's Maildir, the queue empty")
notice = email.message_from_bytes(list(box(i, "alice").values())[0], policy=email.policy.default)
t.is_eq(notice.get_content_type(), "multipart/report", "a multipart/report")
t.is_eq(notice.get_param("report-type"), "delivery-status", "report-type=delivery-status")
t.is_eq(notice["To"], "alice@snd.test", "to the sender")
t.like(notice["From"], "MAILER-DAEMON@mx.test.example", "from MAILER-DAEMON")
t.is_eq(notice["Auto-Submitted"], "auto-replied", "Auto-Submitted: auto-replied")
t.ok("Return-Path: <>" in list(box(i, "alice").values())[0].decode(), "from the null sender")
human, per_msg, per_rcpt, returned = report(notice)
t.like(human, "This is the mail system at host mx.test.example", "the human part names the host")
t.like(human, "<nosuch1@test.example>: unknown user", "and each recipient with its reason")
t.is_eq(per_msg["Reporting-MTA"], "dns; mx.test.example", "Reporting-MTA")
t.is_eq(per_msg["X-Postern-Queue-ID"], qid, "the failed message's queue ID")
t.is_eq(per_msg["Original-Envelope-Id"], "env+id", "Original-Envelope-Id: ENVID, xtext decoded")
t.ok(per_msg["Arrival-Date"] and email.utils.parsedate_to_datetime(per_msg["Arrival-Date"]),
     "Arrival-Date, an RFC 5322 date")
t.is_eq(len(per_rcpt), 2, "two recipient groups")
t.is_eq([r["Final-Recipient"] for r in per_rcpt],
        ["rfc822; nosuch1@test.example", "rfc822; nosuch2@test.example"], "Final-Recipient")
t.is_eq(per_rcpt[0]["Original-Recipient"], "rfc822; orig+x@test.example",
        "Original-Recipient from ORCPT, xtext decoded")
t.is_eq([r["Action"] for r in per_rcpt], ["failed", "failed"], "Action: failed")
t.is_eq([r["Status"] for r in per_rcpt], ["5.1.1", "5.1.1"], "Status: 5.1.1")
t.like(per_rcpt[0]["Diagnostic-Code"], "X-Postern; unknown user", "Diagnostic-Code")
t.is_eq(returned.get_content_type(), "message/rfc822", "RET=FULL: the message comes back")
t.like(returned.as_string(), "the body text", "  with its body")
log = i.log()
t.ok(log.count("%s: sender non-delivery notification: " % qid) == 1,
     "logged once: QID: sender non-delivery notification: NEWQID")

# RET=HDRS: the header only.
before = set(box(i, "alice"))
qid = send(i, "alice@snd.test", ["nosuch3@test.example"], mail_opts=("RET=HDRS",))
t.ok(wait_for(lambda: len(box(i, "alice")) == 2 and idle(i), 20), "RET=HDRS: a notice")
new = [v for k, v in box(i, "alice").items() if k not in before][0]
returned = report(email.message_from_bytes(new, policy=email.policy.default))[3]
t.is_eq(returned.get_content_type(), "text/rfc822-headers", "RET=HDRS: text/rfc822-headers")
t.ok(b"Subject: test" in new and b"the body text" not in new, "  the header, not the body")

# NOTIFY=NEVER: nothing; NOTIFY=SUCCESS: a delivered report.
qid = send(i, "alice@snd.test", ["nosuch4@test.example"], rcpt_opts=("NOTIFY=NEVER",))
t.ok(wait_for(lambda: "%s: removed" % qid in i.log(), 20), "NOTIFY=NEVER: the message is removed")
t.ok("%s: sender non-delivery" % qid not in i.log() and len(box(i, "alice")) == 2,
     "  and no notice is sent")
qid = send(i, "alice@snd.test", ["bob@snd.test"], rcpt_opts=("NOTIFY=SUCCESS",))
t.ok(wait_for(lambda: len(box(i, "alice")) == 3 and idle(i), 20) and len(box(i, "bob")) == 1,
     "NOTIFY=SUCCESS: bob has the message, alice a report")
t.ok("%s: sender delivery status notification: " % qid in i.log(),
     "logged: sender delivery status notification")
new = [v for v in box(i, "alice").values() if b"Successful Mail Delivery" in v]
human, per_msg, per_rcpt, returned = report(
    email.message_from_bytes(new[0], policy=email.policy.default))
t.is_eq((per_rcpt[0]["Action"], per_rcpt[0]["Status"]), ("delivered", "2.0.0"),
        "Action: delivered, Status: 2.0.0")
t.is_eq(returned.get_content_type(), "text/rfc822-headers", "  with the header only")

# Null sender: never a notice to anybody (notify_classes has no 2bounce by default).
qid = send(i, "", ["nosuch5@test.example"])
t.ok(wait_for(lambda: "%s: removed" % qid in i.log(), 20), "null sender: failed and removed")
t.ok("%s: sender non-delivery" % qid not in i.log() and
     "%s: postmaster non-delivery" % qid not in i.log(), "  without a notice")
i.stop()

# Failures of local delivery, one notice each: a mailbox over mailbox_size_limit, an alias
# loop, an alias to a command that says "no such user".
lim = make("mailbox_size_limit = 2000\nalias_maps = texthash:ALIASES\n")
aliases = os.path.join(lim.etc, "aliases")
with open(aliases, "w") as f:
    f.write("loop1 loop2\nloop2 loop1\nnouser \"|exit 67\"\n")
main_cf = os.path.join(lim.etc, "main.cf")
text = open(main_cf).read().replace("ALIASES", aliases)
with open(main_cf, "w") as f:
    f.write(text)
t.ok(lim.start(), "an instance with mailbox_size_limit = 2000 and aliases")
send(lim, "alice@snd.test", ["bob@snd.test"], mail_opts=("RET=HDRS",),
     body="Subject: big\r\n\r\n" + ("y" * 70 + "\r\n") * 40)
send(lim, "alice@snd.test", ["loop1@test.example"])
send(lim, "alice@snd.test", ["nouser@test.example"])
t.ok(wait_for(lambda: len(box(lim, "alice")) == 3 and idle(lim), 20),
     "three failures, three notices")
codes = {}
for raw in box(lim, "alice").values():
    r = report(email.message_from_bytes(raw, policy=email.policy.default))[2][0]
    codes[r["Final-Recipient"]] = (r["Status"], r["Diagnostic-Code"])
t.is_eq(codes.get("rfc822; bob@snd.test", ("",))[0], "5.2.2", "over the size limit: 5.2.2")
t.like(codes.get("rfc822; bob@snd.test", ("", ""))[1], "mailbox_size_limit", "  and says why")
t.ok(len(box(lim, "bob")) == 0, "  and bob's mailbox has nothing")
t.ok(any(k.startswith("rfc822; loop") for k in codes), "the alias loop: a notice")
t.like(codes.get("rfc822; loop1@test.example", ("", ""))[1], "loop",
       "  which names the loop")
t.like(codes.get("rfc822; nouser@test.example", ("", ""))[1], "status 67",
       "the command's exit status 67: a notice with it")
lim.cleanup()

# bounce_template_file: a Postfix template file gives the text, the subject and the From.
tpl = make("bounce_template_file = TEMPLATES\n")
templates = os.path.join(tpl.etc, "bounce.cf")
with open(templates, "w") as f:
    f.write("# notices for this site\n\n"
            "failure_template = <<EOF\n"
            "Charset: us-ascii\n"
            "From: MAILER-DAEMON (Returns desk)\n"
            "Subject: Returned: your mail\n"
            "Postmaster-Subject: Postmaster copy\n"
            "\n"
            "Hello from $myhostname. We keep mail for $maximal_queue_lifetime_days days\n"
            "(${bounce_queue_lifetime_hours} hours for notices).\n"
            "EOF\n")
main_cf = os.path.join(tpl.etc, "main.cf")
text = open(main_cf).read().replace("TEMPLATES", templates)
with open(main_cf, "w") as f:
    f.write(text)
t.ok(tpl.start(), "an instance with bounce_template_file")
send(tpl, "alice@snd.test", ["nosuch@test.example"])
t.ok(wait_for(lambda: len(box(tpl, "alice")) == 1 and idle(tpl), 20), "a notice")
notice = email.message_from_bytes(list(box(tpl, "alice").values())[0], policy=email.policy.default)
t.is_eq(notice["Subject"], "Returned: your mail", "the template's Subject")
t.ok(b"\nFrom: MAILER-DAEMON@mx.test.example (Returns desk)\n" in
     list(box(tpl, "alice").values())[0], "the template's From, qualified")
human = report(notice)[0]
t.like(human, "Hello from mx.test.example. We keep mail for 5 days\n(120 hours for notices).",
       "the template's text, $name and $name_days expanded")
t.like(human, "<nosuch@test.example>: unknown user", "then the recipients")
tpl.stop()
with open(templates, "w") as f:
    f.write("failure_template = <<EOF\nSubject: x\nBogus: y\n\ntext\nEOF\n")
t.ok(tpl.start(), "restarted with a template file that has an unknown header")
send(tpl, "alice@snd.test", ["nosuch@test.example"])
t.ok(wait_for(lambda: len(box(tpl, "alice")) == 2 and idle(tpl), 20), "the notice still goes")
t.like(tpl.log(), "bounce_template_file %s: line 3: unknown template header" % templates,
       "  and the log says what is wrong with the file")
t.ok(any(b"Undelivered Mail Returned to Sender" in v for v in box(tpl, "alice").values()),
     "  with the built-in text")
tpl.cleanup()

# bounce_size_limit: a larger message comes back as its header only.
big = make("bounce_size_limit = 1000\n")
t.ok(big.start(), "an instance with bounce_size_limit = 1000")
send(big, "alice@snd.test", ["nosuch@test.example"],
     body="Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100)
t.ok(wait_for(lambda: len(box(big, "alice")) == 1 and idle(big), 20), "a notice")
returned = report(email.message_from_bytes(list(box(big, "alice").values())[0],
                                           policy=email.policy.default))[3]
t.is_eq(returned.get_content_type(), "text/rfc822-headers", "over the limit: the header only")
big.cleanup()

# A notice that fails goes to 2bounce_notice_recipient once; a double bounce that fails
# is dropped.
two = make("notify_classes = 2bounce\n2bounce_notice_recipient = postmaster@snd.test\n")
t.ok(two.start(), "an instance with notify_classes = 2bounce")
qid = send(two, "ghost@snd.test", ["nosuch@test.example"])
t.ok(wait_for(lambda: len(box(two, "postmaster")) == 1 and idle(two), 20),
     "the notice to a sender that does not exist comes to the postmaster")
t.ok("postmaster non-delivery notification" in two.log(), "logged: postmaster non-delivery")
pm = email.message_from_bytes(list(box(two, "postmaster").values())[0],
                              policy=email.policy.default)
t.is_eq(report(pm)[2][0]["Final-Recipient"], "rfc822; ghost@snd.test",
        "it reports the sender that failed")
two.stop()
with open(os.path.join(two.etc, "main.cf"), "a") as f:
    f.write("2bounce_notice_recipient = nobody@snd.test\n")
t.ok(two.start(), "restarted with a 2bounce_notice_recipient that does not exist")
qid = send(two, "ghost@snd.test", ["nosuch@test.example"])
t.ok(wait_for(lambda: idle(two) and two.log().count("to=<nobody@snd.test>") == 1, 20),
     "the double bounce fails once and the queue is empty")
t.is_eq(len(box(two, "postmaster")), 1, "nothing more for anyone")
two.cleanup()

# delay_warning_time: one warning per recipient still deferred, however often it is tried;
# none when NOTIFY leaves DELAY out.
slow = make("defer_transports = local\ndelay_warning_time = 1s\nmaximal_queue_lifetime = 12s\n")
t.ok(slow.start(), "an instance with delay_warning_time = 1s and local deferred")
qid = send(slow, "alice@snd.test", ["late@test.example"])
quiet = send(slow, "alice@snd.test", ["late2@test.example"], rcpt_opts=("NOTIFY=FAILURE",))


def subjects(i, user):
    return [email.message_from_bytes(v, policy=email.policy.default)["Subject"]
            for v in box(i, user).values()]


DELAYED = "Delayed Mail (still being retried)"
t.ok(wait_for(lambda: DELAYED in subjects(slow, "alice"), 20), "a delay warning arrives")
t.ok(wait_for(lambda: slow.log().count("%s: to=<late@test.example>" % qid) >= 5, 30),
     "the message is tried again and again")
t.is_eq(subjects(slow, "alice").count(DELAYED), 1, "and the warning came once")
t.ok("%s: sender delay notification: " % qid in slow.log(), "logged: sender delay notification")
t.ok("%s: sender delay" % quiet not in slow.log(), "NOTIFY=FAILURE: no warning")
t.ok(wait_for(lambda: subjects(slow, "alice").count("Undelivered Mail Returned to Sender") == 2
              and idle(slow), 30),
     "at maximal_queue_lifetime both fail, and each gives its failure notice, the warned one too")
warning = [email.message_from_bytes(v, policy=email.policy.default)
           for v in box(slow, "alice").values() if DELAYED.encode() in v][0]
human, per_msg, per_rcpt, returned = report(warning)
t.is_eq(warning["Subject"], "Delayed Mail (still being retried)", "Subject: Delayed Mail")
t.is_eq((per_rcpt[0]["Action"], per_rcpt[0]["Status"]), ("delayed", "4.3.2"),
        "Action: delayed, Status: 4.3.2")
t.ok(per_rcpt[0]["Will-Retry-Until"] is not None, "Will-Retry-Until")
t.is_eq(returned.get_content_type(), "text/rfc822-headers", "the header only")
slow.cleanup()

# notify_classes = bounce, delay: the postmaster gets a copy of each failure notice and
# delay warning, with the header of the message only.
pm = make("notify_classes = bounce, delay\nbounce_notice_recipient = postmaster@snd.test\n"
          "delay_notice_recipient = bob@snd.test\ndelay_warning_time = 1s\n"
          "transport_maps = inline:{slow.test=slow}\ndefer_transports = slow\n")
t.ok(pm.start(), "an instance with notify_classes = bounce, delay")
qid = send(pm, "alice@snd.test", ["nosuch@test.example"])
late = send(pm, "alice@snd.test", ["someone@slow.test"])
t.ok(wait_for(lambda: len(box(pm, "postmaster")) == 1 and len(box(pm, "bob")) == 1 and
              len(box(pm, "alice")) == 2, 20),
     "alice has her notice and warning, the postmaster and bob their copies")
copy = email.message_from_bytes(list(box(pm, "postmaster").values())[0],
                                policy=email.policy.default)
t.is_eq(copy["Subject"], "Postmaster Copy: Undelivered Mail", "the copy's subject")
t.is_eq(report(copy)[3].get_content_type(), "text/rfc822-headers", "  with the header only")
t.like(pm.log(), "%s: postmaster copy of " % qid, "logged: postmaster copy")
warn = email.message_from_bytes(list(box(pm, "bob").values())[0], policy=email.policy.default)
t.is_eq(warn["Subject"], "Postmaster Warning: Delayed Mail", "the delay copy's subject")
pm.cleanup()

# NOTIFY=SUCCESS and a qmgr that dies after local delivered (the slot says so) but before
# it read local's reply: the restarted qmgr still owes the success notice.
gate = make("alias_maps = texthash:ALIASES\n")
gates = os.path.join(gate.root, "gates")
os.mkdir(gates)
os.chmod(gates, 0o1777)
with open(os.path.join(gate.etc, "aliases"), "w") as f:
    f.write("held \"|touch %s/started; while [ ! -e %s/go ]; do sleep 0.05; done\"\n"
            % (gates, gates))
main_cf = os.path.join(gate.etc, "main.cf")
text = open(main_cf).read().replace("ALIASES", os.path.join(gate.etc, "aliases"))
with open(main_cf, "w") as f:
    f.write(text)
t.ok(gate.start(), "an instance with an alias command that waits for a go")
qid = send(gate, "alice@snd.test", ["held@test.example"], rcpt_opts=("NOTIFY=SUCCESS",))
t.ok(wait_for(lambda: os.path.exists(os.path.join(gates, "started")), 20), "the command runs")
qmgr = gate.program_pids("qmgr")
for p in qmgr:
    os.kill(p, signal.SIGSTOP)


def slot_state(i, qid):
    """The first recipient's state byte in active/QID (a 'Q' record of 232 bytes)."""
    try:
        data = open(os.path.join(i.queue, "active", qid), "rb").read()
    except OSError:
        return None
    at = data.find(b"Q\x00\x00\x00\xe8")
    return data[at + 5:at + 6] if at >= 0 else None


open(os.path.join(gates, "go"), "w").close()
t.ok(wait_for(lambda: slot_state(gate, qid) == b"S", 20),
     "local marks the recipient delivered with a success notice owed ('S')")
for p in qmgr:
    os.kill(p, signal.SIGKILL)
t.ok(wait_for(lambda: len(box(gate, "alice")) == 1 and idle(gate), 30),
     "after kill -9 of qmgr, the success notice comes")
t.ok(wait_for(lambda: "%s: sender delivery status notification" % qid in gate.log(), 10),
     "  from the restarted qmgr's request")
gate.cleanup()

# No bounce service: the notice cannot be written, and the message waits for it; after
# maximal_queue_lifetime plus bounce_queue_lifetime it is dropped, loudly, not kept forever.
nob = make("maximal_queue_lifetime = 0\nbounce_queue_lifetime = 2s\n",
           services=SERVICES.replace("bounce unix - - n - 0 bounce\n", ""))
t.ok(nob.start(), "an instance without the bounce service")
qid = send(nob, "alice@snd.test", ["nosuch@test.example"])
t.ok(wait_for(lambda: "%s: failure notice about <nosuch@test.example> not written" % qid in
              nob.log(), 20), "the notice cannot be written: logged")
t.ok(qid in nob.queue_files("deferred", "active"), "  and the message waits for it")
t.ok(wait_for(lambda: "could not be written in 2 seconds; dropped" in nob.log() and idle(nob), 20),
     "after the lifetimes the notice is dropped, with a warning, and the queue is empty")
nob.cleanup()

# A remote server's refusal (smtp-out to aiosmtpd): Remote-MTA and an smtp Diagnostic-Code.
try:
    from aiosmtpd.controller import Controller
except ImportError:
    Controller = None


class Remote:
    """aiosmtpd, which offers no DSN: refuses nobody@, takes everyone else"""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as AIO1"


def notice_with(i, user, subject):
    """The notice in user's Maildir whose Subject is subject, or None"""
    for raw in box(i, user).values():
        m = email.message_from_bytes(raw, policy=email.policy.default)
        if m["Subject"] == subject:
            return m
    return None


if Controller:
    from instance import free_port
    remote = Controller(Remote(), hostname="127.0.0.1", port=free_port())
    remote.start()
    # The next hop that offers DSN: a second postern, which keeps what it takes queued.
    hop = Instance(services="qmgr unix - - n - 1 qmgr\n",
                   main="mydestination = hop.example\nlocal_recipient_maps =\n")
    t.ok(hop.start(), "a second postern as a next hop that offers DSN")
    far = make("transport_maps = inline:{remote.example=smtp:[127.0.0.1]:%d, "
               "hop.example=smtp:[127.0.0.1]:%d}\n" % (remote.port, hop.port),
               services=SERVICES + "smtp unix - - n - - smtp-out\n")
    t.ok(far.start(), "an instance with smtp-out to both")
    send(far, "alice@snd.test", ["nobody@remote.example"])
    t.ok(wait_for(lambda: len(box(far, "alice")) == 1 and idle(far), 30), "a notice")
    r = report(email.message_from_bytes(list(box(far, "alice").values())[0],
                                        policy=email.policy.default))[2][0]
    t.is_eq(r["Remote-MTA"], "dns; 127.0.0.1", "Remote-MTA names the server")
    t.is_eq(r["Diagnostic-Code"],
            "smtp; 550 5.1.1 <nobody@remote.example>: Recipient address rejected: no such user",
            "Diagnostic-Code: smtp; the server's reply")
    t.is_eq(r["Status"], "5.1.1", "Status from the server's enhanced code")

    # NOTIFY=SUCCESS through a server without DSN: the notice comes from here, "relayed".
    qid = send(far, "alice@snd.test", ["taken@remote.example"], rcpt_opts=("NOTIFY=SUCCESS",))
    subject = "Successful Mail Delivery Report"
    t.ok(wait_for(lambda: notice_with(far, "alice", subject) and idle(far), 30),
         "NOTIFY=SUCCESS relayed to a server without DSN: a success notice")
    human, _, rcpts, _ = report(notice_with(far, "alice", subject))
    t.is_eq([(r["Action"], r["Status"]) for r in rcpts], [("relayed", "2.0.0")],
            "  Action: relayed (RFC 3464), Status 2.0.0")
    t.like(human, "<taken@remote.example>: relayed: 250 2.0.0 Ok: queued as AIO1",
           "  and the text for people says so, with the server's reply")
    t.like(far.log(), "%s: sender delivery status notification: " % qid, "  logged as Postfix")

    # NOTIFY=SUCCESS through a server with DSN: NOTIFY goes with it, no notice from here.
    qid = send(far, "alice@snd.test", ["x@hop.example"], rcpt_opts=("NOTIFY=SUCCESS",))
    line = wait_for(lambda: [l for l in far.log().splitlines()
                             if "%s: to=<x@hop.example>" % qid in l], 30)
    there = re.search(r"queued as (\w+)", line[-1] if line else "")
    t.ok(there, "NOTIFY=SUCCESS relayed to a server with DSN: sent")
    shown = hop.postern("queue", "show", "-e", there.group(1) if there else "none").stdout
    t.like(shown, "dsn_notify: SUCCESS", "  the next hop holds the message with NOTIFY=SUCCESS")
    t.ok(wait_for(lambda: idle(far), 30) and
         "%s: sender delivery status notification" % qid not in far.log(),
         "  and no success notice was sent from here: the next hop reports")
    # A notice that returns 8-bit content is 8BITMIME content too, and says so on its way out.
    qid = send(far, "eight@hop.example", ["nosuch8@test.example"], mail_opts=("BODY=8BITMIME",),
               body="Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n".encode("latin-1"))
    line = wait_for(lambda: [l for l in far.log().splitlines()
                             if "to=<eight@hop.example>" in l and "status=sent" in l], 30)
    there = re.search(r"queued as (\w+)", line[-1] if line else "")
    t.ok(there, "a notice for an 8BITMIME message goes to the next hop")
    shown = hop.postern("queue", "show", there.group(1) if there else "none").stdout
    t.like(shown, "body_type: 8BITMIME", "  declared BODY=8BITMIME there")
    t.like(shown, "na\xefve", "  with the returned 8-bit content")
    hop.cleanup()
    far.cleanup()
    remote.stop()

# kill -9 of qmgr and of the bounce agent while failures stream in: one notice each.
chaos = make()
t.ok(chaos.start(), "an instance for kill -9")
sent = []
for n in range(40):
    q = send(chaos, "alice@snd.test", ["gone%d@test.example" % n])
    sent.append(q)
    if n % 4 == 1:
        for p in chaos.service_pids("bounce") + (chaos.service_pids("qmgr") if n % 8 == 1 else []):
            os.kill(p, signal.SIGKILL)
t.ok(all(sent), "40 messages accepted while qmgr and bounce were killed")
t.ok(wait_for(lambda: idle(chaos) and len(box(chaos, "alice")) >= 40, 90),
     "every message gave its notice and the queue is empty")
ids = []
for raw in box(chaos, "alice").values():
    m = email.message_from_bytes(raw, policy=email.policy.default)
    ids.append(report(m)[1]["X-Postern-Queue-ID"])
if not t.is_eq(sorted(ids), sorted(sent), "exactly one notice per message: never zero, never two"):
    import collections
    c = collections.Counter(ids)
    t.diag("twice: %s" % [k for k, v in c.items() if v > 1])
    t.diag("never: %s" % [k for k in sent if k not in c])
    t.diag("queue: %s" % chaos.queue_files())
    for k in [k for k, v in c.items() if v > 1] + [k for k in sent if k not in c]:
        t.diag("\n".join(l for l in chaos.log().splitlines() if k in l))
if not os.environ.get("KEEP"):
    chaos.cleanup()
i.cleanup()
sys.exit(t.done())
