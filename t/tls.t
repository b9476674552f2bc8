#!/usr/bin/python3
"""tls.t - STARTTLS on 25 (RFC 3207) and TLS from the first byte on 465 (RFC 8314), through
tlsproxy: the handshake with real OpenSSL peers (openssl s_client, Python's ssl with
certificate verification), the session starting over after STARTTLS, the injection of
commands behind STARTTLS (CVE-2011-0411), STARTTLS inside TLS, encrypt refusing MAIL before
TLS, ESMTPS in the Received header, the log line, old protocol versions refused where TLS
is mandatory, and the private key out of reach of the mail_owner daemons."""
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import (Client, Instance, NamedSMTP, NamedSMTP_SSL, greet,  # noqa: E402
                           tls_owner, wait_for)
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402

t = TAP()


def context(ca):
    return ssl.create_default_context(cafile=ca)


def starttls(port, ca):
    """A session in TLS after EHLO, STARTTLS; returns the client and the 220."""
    c = greet(port)
    reply = c.cmd("STARTTLS")
    c.tls(context(ca))
    return c, reply


def s_client(args, data=b"EHLO s-client.example.net\r\nQUIT\r\n"):
    r = subprocess.run(["openssl", "s_client", "-ign_eof"] + args, input=data,
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def check_ehlo(inst, ca):
    c = greet(inst.ports["may"], helo="HELO plain.example.net")
    c.close()
    c = Client(inst.ports["may"])
    c.reply()
    t.like(c.cmd("EHLO client.example.net"), "250-STARTTLS", "may: STARTTLS is offered")
    c.close()
    c = Client(inst.ports["none"])
    c.reply()
    t.ok("STARTTLS" not in c.cmd("EHLO client.example.net"), "none: STARTTLS is not offered")
    t.is_eq(c.cmd("STARTTLS"), "502 5.5.1 Error: command not implemented",
            "none: STARTTLS is refused")
    c.close()


def check_starttls(inst, ca):
    c, reply = starttls(inst.ports["may"], ca)
    t.is_eq(reply, "220 2.0.0 Ready to start TLS", "STARTTLS: 220")
    t.ok(c.sock.version() in ("TLSv1.2", "TLSv1.3"), "the handshake verifies against the CA")
    t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "503 5.5.1 Error: send HELO/EHLO first",
            "after STARTTLS the session starts over: MAIL without EHLO is 503 (RFC 3207 4.2)")
    ehlo = c.cmd("EHLO client.example.net")
    t.ok(ehlo.startswith("250-mx.example.org") and "STARTTLS" not in ehlo,
         "EHLO inside TLS does not offer STARTTLS again")
    t.like(c.cmd("STARTTLS"), "554 5.5.1", "a second STARTTLS is refused with 5xx, never 220")
    t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "and the TLS session goes on")
    c.cmd("QUIT")
    c.close()
    t.ok(inst.wait_log("Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1."),
         "the log says Anonymous TLS connection established, as Postfix does")


def check_wrong_ca(inst, ca_other):
    c = greet(inst.ports["may"])
    c.cmd("STARTTLS")
    try:
        c.tls(context(ca_other))
        failed = False
    except ssl.SSLCertVerificationError:
        failed = True
    t.ok(failed, "against an unrelated CA the certificate does not verify")
    c.close()


def check_injection(inst, ca, port, name):
    c = greet(port)
    c.send(b"STARTTLS\r\nRSET\r\n")
    t.is_eq(c.reply(), "220 2.0.0 Ready to start TLS", "%s: STARTTLS and RSET in one write: 220" % name)
    ahead = b""
    try:
        ahead = c.tls(context(ca))
        after = c.cmd("EHLO after.example.net")
    except (ssl.SSLError, OSError):
        after = "handshake refused"
    t.is_eq(ahead, b"", "%s: nothing follows the 220 in plaintext" % name)
    t.ok(not after.startswith("250 2.0.0"),
         "%s: the injected RSET is never answered (got %r)" % (name, after[:40]))
    c.close()


def check_resumption(inst, ca):
    ctx = context(ca)
    c = greet(inst.ports["may"])
    c.cmd("STARTTLS")
    c.tls(ctx)
    c.cmd("EHLO client.example.net")  # TLS 1.3 tickets come after the handshake
    session = c.sock.session
    c.cmd("QUIT")
    c.close()
    c = greet(inst.ports["may"])
    c.cmd("STARTTLS")
    c.tls(ctx, session=session)
    t.ok(c.sock.session_reused, "a second connection resumes the session (a ticket)")
    t.like(c.cmd("EHLO client.example.net"), "250-mx.example.org", "and talks SMTP")
    c.close()


def check_encrypt(inst, ca):
    c = greet(inst.ports["encrypt"])
    t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "530 5.7.0 Must issue a STARTTLS command first",
            "encrypt: MAIL before STARTTLS gets 530")
    c.close()


def check_message(inst, ca):
    before = inst.files()
    s = NamedSMTP("mx.example.org", inst.ports["may"], timeout=30)
    s.starttls(context=context(ca))
    s.sendmail("sender@example.net", ["root@example.org"], b"Subject: over TLS\r\n\r\nsecret\r\n")
    s.quit()
    got = wait_for(lambda: [f for f in inst.files() if f not in before], 10)
    t.ok(got, "smtplib starttls() and sendmail: queued")
    head, body = inst.cat(got[0]) if got else ([], b"")
    received = body.split(b"\r\n\r\n")[0].decode(errors="replace")
    t.like(received, "with ESMTPS id", "Received says ESMTPS (RFC 3848)")
    t.like(received, "(using TLSv1.", "and records the protocol and cipher")


def check_wrapper(inst, ca):
    s = NamedSMTP_SSL("mx.example.org", inst.ports["wrapper"], timeout=30, context=context(ca))
    code, text = s.ehlo("client.example.net")
    t.is_eq(code, 250, "465: greeting and EHLO inside TLS (smtplib SMTP_SSL)")
    t.ok(b"STARTTLS" not in text, "465: no STARTTLS in the EHLO reply")
    s.quit()
    rc, out = s_client(["-connect", "127.0.0.1:%d" % inst.ports["wrapper"], "-CAfile", ca,
                        "-verify_return_error", "-verify_hostname", "mx.example.org"])
    t.ok(rc == 0 and "Verify return code: 0 (ok)" in out and "250-mx.example.org" in out,
         "465: openssl s_client -connect verifies and talks SMTP")
    rc, out = s_client(["-starttls", "smtp", "-connect", "127.0.0.1:%d" % inst.ports["may"],
                        "-CAfile", ca, "-verify_return_error"])
    t.ok(rc == 0 and "Verify return code: 0 (ok)" in out and "250-mx.example.org" in out,
         "25: openssl s_client -starttls smtp verifies and talks SMTP")


def check_old_protocols(inst, ca):
    for proto in ("-tls1", "-tls1_1"):
        rc, out = s_client(["-connect", "127.0.0.1:%d" % inst.ports["wrapper"], proto,
                            "-cipher", "DEFAULT:@SECLEVEL=0"])
        if "no protocols available" in out or "unknown option" in out:
            t.ok(True, "465 %s: # SKIP the local OpenSSL cannot offer it" % proto)
            continue
        t.ok(rc != 0 and ("alert protocol version" in out or "Cipher is (NONE)" in out),
             "465 %s: refused (minimum TLS 1.2 where TLS is mandatory)" % proto)


def check_key_private(inst, cadir):
    if os.geteuid() != 0:
        t.ok(True, "# SKIP the key's owner is checked as root only")
        return
    owner = inst.user
    r = subprocess.run(["setpriv", "--reuid=%d" % owner.pw_uid, "--regid=%d" % owner.pw_gid,
                        "--clear-groups", "cat", cadir.key], capture_output=True)
    t.ok(r.returncode != 0 and b"Permission denied" in r.stderr,
         "mail_owner (smtpd's user) cannot read the private key")
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    tlsuid = tls_owner().pw_uid
    found = False
    for pid in pids:
        try:
            cmd = open("/proc/%d/cmdline" % pid).read().split("\0")[0]
            status = open("/proc/%d/status" % pid).read()
        except OSError:
            continue
        if cmd.endswith("/tlsproxy") and inst.cfg in open("/proc/%d/cmdline" % pid).read():
            uid = int([ln for ln in status.splitlines() if ln.startswith("Uid:")][0].split()[1])
            found = uid == tlsuid
    t.ok(found, "tlsproxy runs as tls_owner")
    os.chmod(cadir.key, 0o644)
    r = inst.postern("check")
    os.chmod(cadir.key, 0o600)
    t.ok(r.returncode != 0 and "can be read by mail_owner" in r.stderr,
         "postern check names a key that mail_owner could read")


def peer_fingerprint(port, ca):
    c, _ = starttls(port, ca)
    der = c.sock.getpeercert(binary_form=True)
    return c, der


def check_reload(inst, cadir):
    """postern reload: new handshakes get the new certificate, an open session goes on; a
    broken new certificate keeps the old one in service, and the log says why."""
    old_session, first = peer_fingerprint(inst.ports["may"], cadir.ca)
    cadir.renew()
    cadir.give_key(tls_owner())
    t.is_eq(inst.postern("reload").returncode, 0, "postern reload")
    t.ok(inst.wait_log("reload: certificates loaded"), "tlsproxy loads the new certificate")
    c, second = peer_fingerprint(inst.ports["may"], cadir.ca)
    c.close()
    t.ok(second != first, "a new handshake sees the new certificate")
    t.is_eq(old_session.cmd("NOOP"), "250 2.0.0 Ok", "the session opened before goes on")
    old_session.close()
    with open(cadir.cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    t.is_eq(inst.postern("reload").returncode, 0, "postern reload with a broken certificate")
    t.ok(inst.wait_log("reload: keeping the running certificates: cannot load certificate"),
         "tlsproxy keeps the running certificate and logs why")
    c, third = peer_fingerprint(inst.ports["may"], cadir.ca)
    c.close()
    t.ok(third == second, "new handshakes still get the last good certificate")


def check_no_certificate(root):
    """tlsproxy without a usable certificate: STARTTLS gets 454 and the session goes on in
    plaintext; port 465 cannot greet and closes"""
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\n"
               "smtpd_tls_cert_file = %s/missing.pem\n" % root)
    inst = Instance(os.path.join(root, "nocert"), main_cf,
                    services={"may": "-o smtpd_tls_security_level=may",
                              "wrapper": "-o smtpd_tls_wrappermode=yes"},
                    extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    t.ok(err is None, "postern starts with a certificate that cannot be loaded")
    if err:
        t.diag(err)
        return
    try:
        c = greet(inst.ports["may"])
        t.is_eq(c.cmd("STARTTLS"), "454 4.7.0 TLS not available due to local problem",
                "STARTTLS: 454, never a 220 the server cannot keep")
        t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "250 2.1.0 Ok", "and plaintext goes on")
        c.close()
        t.ok(inst.wait_log("TLS not available for unknown[127.0.0.1]: cannot load certificate"),
             "the log says why")
        c = Client(inst.ports["wrapper"])
        t.ok(c.closed(), "465: the connection is closed without a word in plaintext")
        c.close()
    finally:
        inst.stop()


def main(root):
    cadir = TestCA(os.path.join(root, "ca"))
    cadir.give_key(tls_owner())
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\n"
               "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
               "smtpd_tls_loglevel = 1\nsmtpd_tls_received_header = yes\n"
               % (cadir.cert, cadir.key))
    inst = Instance(root, main_cf,
                    services={"may": "-o smtpd_tls_security_level=may",
                              "encrypt": "-o smtpd_tls_security_level=encrypt",
                              "wrapper": "-o smtpd_tls_wrappermode=yes",
                              "none": ""},
                    extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    t.ok(err is None, "postern starts with tlsproxy")
    if err:
        t.diag(err)
        return
    try:
        check_ehlo(inst, cadir.ca)
        check_starttls(inst, cadir.ca)
        check_wrong_ca(inst, cadir.other_ca)
        check_injection(inst, cadir.ca, inst.ports["may"], "25")
        check_encrypt(inst, cadir.ca)
        check_resumption(inst, cadir.ca)
        check_message(inst, cadir.ca)
        check_wrapper(inst, cadir.ca)
        check_old_protocols(inst, cadir.ca)
        check_key_private(inst, cadir)
        check_reload(inst, cadir)
    finally:
        if t.failed:
            t.diag(inst.logtext()[-3000:])
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
with tempfile.TemporaryDirectory() as tmp:
    check_no_certificate(tmp)
sys.exit(t.done())
