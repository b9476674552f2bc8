#!/usr/bin/python3
"""milter-real.t - lib/mail/milter_codec against real milters from Debian (doc/milter.md).

t/bin/milter_drive speaks the MTA side with our codec over loopback TCP to opendkim signing
(it must insert a DKIM-Signature), to opendkim verifying what the signer signed (pass; fail
once the body changed), and to spamass-milter with spamd (GTUBE rejected with 550 5.7.1, a
clean message passed with its X-Spam-Status header). Then end to end: postern's smtpd with
smtpd_milters = spamass-milter rejects GTUBE at the end of DATA with 550 5.7.1 and logs
milter-reject as Postfix does, and queues a clean message; postern with opendkim signing
(simple/simple, its default) delivers a signed message to a Maildir, and opendkim verifying passes the
delivered file; the same for mail from sendmail -t -i through non_smtpd_milters. The milters are private
instances (t/lib/milters.py): no system service, no DNS."""
import email.utils
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import milters  # noqa: E402
from instance import Instance, ensure_user, maildir_messages, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
missing = milters.available()
if missing:
    t.skip_all(missing)
BIN = os.path.join(os.environ.get("BUILD", "build"), "t", "bin")
tmp = tempfile.mkdtemp(prefix="milter-real.")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
HEADERS = ["header:From: <a@example.test>", "header:To: <r@x.test>",
           "header:Subject: a test", "header:Date: " + email.utils.formatdate(usegmt=True),
           "header:Message-ID: <1@example.test>"]


def message(client, headers, body):
    """the steps of one message from client (connect's address) with headers and body"""
    return ["connect:client.test:" + client, "helo:client.test", "mail:<a@example.test>",
            "rcpt:<r@x.test>", "data"] + headers + ["eoh", "body:" + body, "eom", "quit"]


def drive(milter, steps):
    """(exit code, output) of milter_drive's session with that milter"""
    r = subprocess.run([os.path.join(BIN, "milter_drive"), "inet:%d" % milter.port] + steps,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        t.diag(r.stderr)
        t.diag(milter.output())
    return r.returncode, r.stdout


def eom(out):
    """the end-of-message replies, one string each (continuation lines joined)"""
    replies = []
    for line in out.splitlines():
        if line.startswith("eom "):
            replies.append(line[4:])
        elif line.startswith("\t") and replies:
            replies[-1] += "\n" + line
    return replies


def signed_and_verified(inst, maildir, how):
    """the message delivered to maildir carries opendkim's signature, and it verifies"""
    got = wait_for(lambda: maildir_messages(maildir), 20)
    data = list(got.values())[0].decode() if got else ""
    head, _, body = data.partition("\n\n")
    t.like(head, "\nDKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.test;",
           "%s: the delivered message is signed" % how) or t.diag(inst.log()[-2000:])
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += "\r\n" + line
        elif ":" in line:
            fields.append(line)
    rc, out = drive(check, message("198.51.100.7", ["header:" + f for f in fields],
                                   body.replace("\n", "\r\n")))
    t.like(out, "dkim=pass (1024-bit key) header.d=example.test",
           "%s: opendkim (verify) passes the delivered message" % how)


signer = milters.OpenDKIM(tmp, "sign")
verifier = milters.OpenDKIM(tmp, "verify", keys=[signer])
sa = milters.SpamAssassin(tmp)
try:
    t.ok(signer.start(), "opendkim (sign) starts") or t.diag(signer.output())
    t.ok(verifier.start(), "opendkim (verify) starts") or t.diag(verifier.output())

    # Signing: opendkim inserts its header first (index 0), then accepts.
    body = "Hello,\r\nthis is signed.\r\n"
    rc, out = drive(signer, message("192.0.2.1", HEADERS, body))
    replies = eom(out)
    sig = [r for r in replies if r.startswith("SMFIR_INSHEADER 0 DKIM-Signature:")]
    t.ok(rc == 0 and len(sig) == 1, "opendkim signs: INSHEADER 0 DKIM-Signature") or \
        t.diag(out)
    t.ok(rc == 0 and replies[-1:] == ["SMFIR_ACCEPT"], "then accepts")
    value = sig[0].split("DKIM-Signature:", 1)[1] if sig else ""
    t.like(value, "d=example.test; s=sel;", "signed for example.test, selector sel")
    t.like(value, "h=From:To:Subject:Date;", "over the headers the milter saw")

    # A client outside InternalHosts is not signed.
    rc, out = drive(signer, message("198.51.100.7", HEADERS, body))
    t.ok(rc == 0 and "eoh SMFIR_ACCEPT\n" in out and "DKIM-Signature" not in out,
         "an outside client's mail is not signed (accepted at end of headers)") or t.diag(out)

    # Verifying what the signer signed, as a second hop would see it.
    signed = ["header:DKIM-Signature:" + value] + HEADERS
    rc, out = drive(verifier, message("198.51.100.7", signed, body))
    t.like(out, "dkim=pass (1024-bit key) header.d=example.test",
           "opendkim (verify): dkim=pass in Authentication-Results")
    rc, out = drive(verifier, message("198.51.100.7", signed, body + "changed\r\n"))
    t.like(out, 'dkim=fail reason="signature verification failed"',
           "a changed body: dkim=fail")

    # spamass-milter: GTUBE rejected at end of message with its own reply.
    t.ok(sa.start(), "spamd and spamass-milter start") or \
        t.diag(sa.spamd.output() + sa.output())
    rc, out = drive(sa, message("192.0.2.1", HEADERS, "Buy now\r\n%s\r\n" % GTUBE))
    t.ok(rc == 0 and eom(out)[-1:] == ["SMFIR_REPLYCODE 550 5.7.1 Blocked by SpamAssassin"],
         "spamass-milter rejects GTUBE: 550 5.7.1") or t.diag(out)
    # The rules that hit are listed in name order (folded), GTUBE among them.
    t.ok(re.search(r"tests=[A-Z0-9_,\s]*\bGTUBE\b", out),
         "spamd's GTUBE rule hit, with the rules Debian ships") or t.diag(out)
    rc, out = drive(sa, message("192.0.2.1", HEADERS, "Lunch at noon?\r\n"))
    replies = eom(out)
    t.ok(rc == 0 and any(r.startswith("SMFIR_ADDHEADER X-Spam-Status:No") for r in replies)
         and replies[-1:] == ["SMFIR_CONTINUE"], "a clean message passes, with X-Spam-Status") \
        or t.diag(out)

    # End to end: smtpd with spamass-milter (queued mail stays in the queue: no local).
    inst = Instance(main="milter_default_action = tempfail\n",
                    services="qmgr unix - - n - 1 qmgr\n",
                    smtpd="smtpd -o smtpd_milters=" + sa.endpoint)
    try:
        t.ok(inst.start(), "postern with smtpd_milters = spamass-milter starts")
        text = "From: <a@example.test>\r\nTo: <root@test.example>\r\nSubject: %s\r\n\r\n%s\r\n"
        with smtplib.SMTP("127.0.0.1", inst.port, "client.test", timeout=60) as c:
            try:
                c.sendmail("a@example.test", ["root@test.example"], text % ("spam", GTUBE))
                got = (250, b"")
            except smtplib.SMTPDataError as e:
                got = (e.smtp_code, e.smtp_error)
            t.is_eq(got, (550, b"5.7.1 Blocked by SpamAssassin"), "GTUBE: 550 5.7.1 at DATA")
            refused = c.sendmail("a@example.test", ["root@test.example"],
                                 text % ("lunch", "At noon?"))
            t.is_eq(refused, {}, "a clean message is taken in the same session")
        t.ok(wait_for(lambda: "milter-reject: END-OF-MESSAGE from unknown[127.0.0.1]: 5.7.1 "
                      "Blocked by SpamAssassin; from=<a@example.test> to=<root@test.example> "
                      "proto=ESMTP helo=<client.test>" in inst.log(), 10),
             "milter-reject logged as Postfix does") or t.diag(inst.log()[-2000:])
    finally:
        inst.cleanup()

    # End to end: opendkim signs what smtpd takes in; the delivered file verifies.
    # simple/simple, opendkim's default: it signs header values byte for byte, so smtpd must
    # give the milter the space after the colon (it negotiated SMFIP_HDR_LEADSPC).
    relaxed = milters.OpenDKIM(tmp, "sign", canon="simple/simple", name="dkim-e2e")
    check = milters.OpenDKIM(tmp, "verify", keys=[relaxed], name="dkim-e2e-verify")
    t.ok(relaxed.start() and check.start(), "opendkim (simple/simple) sign and verify start")
    inst = Instance(main="milter_default_action = tempfail\nhome_mailbox = Maildir/\n",
                    smtpd="smtpd -o smtpd_milters=" + relaxed.endpoint)
    try:
        user = ensure_user("postern-t-dkim", os.path.join(inst.root, "home"))
        t.ok(inst.start(), "postern with smtpd_milters = opendkim starts")
        maildir = os.path.join(user.pw_dir, "Maildir")
        with smtplib.SMTP("127.0.0.1", inst.port, "client.test", timeout=60) as c:
            c.sendmail("a@example.test", ["postern-t-dkim@test.example"],
                       "From: <a@example.test>\r\nTo: <postern-t-dkim@test.example>\r\n"
                       "Subject: signed\r\n\r\nHello,\r\nthis is signed.\r\n")
        signed_and_verified(inst, maildir, "smtpd")
    finally:
        inst.cleanup()

    # The same for mail from the sendmail command: pickup runs non_smtpd_milters.
    inst = Instance(main="milter_default_action = tempfail\nhome_mailbox = Maildir/\n"
                    "non_smtpd_milters = %s\n" % relaxed.endpoint,
                    services=Instance.DEFAULT_SERVICES + "pickup fifo n - n 60 1 pickup\n")
    try:
        user = ensure_user("postern-t-dkim", os.path.join(inst.root, "home"))
        t.ok(inst.start(), "postern with non_smtpd_milters = opendkim starts")
        r = subprocess.run([os.path.join(os.environ["BUILD"], "bin", "sendmail"), "-t", "-i"],
                           input=b"From: <a@example.test>\nTo: <postern-t-dkim@test.example>\n"
                                 b"Subject: signed\n\nHello,\nthis is signed.\n",
                           env={"PATH": "/usr/bin:/bin", "MAIL_CONFIG": inst.etc, "HOME": "/"},
                           capture_output=True, timeout=30)
        t.is_eq(r.returncode, 0, "sendmail -t -i takes the message")
        signed_and_verified(inst, os.path.join(user.pw_dir, "Maildir"), "sendmail")
    finally:
        inst.cleanup()
finally:
    milters.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(t.done())
