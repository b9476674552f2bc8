#!/usr/bin/python3
"""milter-real.t - lib/mail/milter_codec against real milters from Debian (doc/milter.md).

t/bin/milter_drive speaks the MTA side with our codec over loopback TCP to opendkim signing
(it must insert a DKIM-Signature), to opendkim verifying what the signer signed (pass; fail
once the body changed), and to spamass-milter with spamd (GTUBE rejected with 550 5.7.1, a
clean message passed with its X-Spam-Status header). The milters are private instances
(t/lib/milters.py): no system service, no DNS."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import milters  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
missing = milters.available()
if missing:
    t.skip_all(missing)
BIN = os.path.join(os.environ.get("BUILD", "build"), "t", "bin")
tmp = tempfile.mkdtemp(prefix="milter-real.")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
HEADERS = ["header:From: <a@example.test>", "header:To: <r@x.test>",
           "header:Subject: a test", "header:Date: Fri, 04 Dec 2026 15:00:00 +0000",
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
    t.like(out, "tests=GTUBE", "spamd's GTUBE rule hit, with the rules Debian ships")
    rc, out = drive(sa, message("192.0.2.1", HEADERS, "Lunch at noon?\r\n"))
    replies = eom(out)
    t.ok(rc == 0 and any(r.startswith("SMFIR_ADDHEADER X-Spam-Status:No") for r in replies)
         and replies[-1:] == ["SMFIR_CONTINUE"], "a clean message passes, with X-Spam-Status") \
        or t.diag(out)
finally:
    milters.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(t.done())
