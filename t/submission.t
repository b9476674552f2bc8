#!/usr/bin/python3
"""submission.t - the submission program on 587 (STARTTLS required) and 465 (TLS from the
first byte), AUTH required before MAIL in both, against a real Cyrus SASL sasldb: every
case of RFC 4954 (initial response and 334 forms, "*", bad base64, a second AUTH, a wrong
password and an unknown user answered alike, a foreign authorization identity), relay for
the authenticated only, the brute-force limit, the log lines fail2ban reads, swaks and
smtplib as clients, and no AUTH on the MX role unless configured."""
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from dovecot import Dovecot  # noqa: E402
from instance import fail2ban_regex  # noqa: E402
from sasldb import LOGIN, PASSWORD, REALM, b64, make_sasldb, plain  # noqa: E402
from smtpd_harness import (Client, Instance, NamedSMTP_SSL, greet, owner,  # noqa: E402
                           tls_owner, wait_for)
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402

t = TAP()


def tls_session(inst, ca, name="sub"):
    c = greet(inst.ports[name])
    c.cmd("STARTTLS")
    c.tls(ssl.create_default_context(cafile=ca))
    c.cmd("EHLO client.example.net")
    return c


def check_plaintext_587(inst):
    c = Client(inst.ports["sub"])
    c.reply()
    ehlo = c.cmd("EHLO client.example.net")
    t.ok("STARTTLS" in ehlo and "AUTH" not in ehlo,
         "587 in plaintext: STARTTLS offered, AUTH not")
    t.is_eq(c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD)),
            "530 5.7.0 Must issue a STARTTLS command first", "587: AUTH before TLS is refused")
    t.is_eq(c.cmd("MAIL FROM:<%s>" % LOGIN), "530 5.7.0 Must issue a STARTTLS command first",
            "587: MAIL before TLS is refused")
    c.close()


def check_auth_cases(inst, ca):
    c = tls_session(inst, ca)
    t.is_eq(c.cmd("MAIL FROM:<%s>" % LOGIN), "530 5.7.0 Authentication required",
            "inside TLS, MAIL before AUTH is refused")
    t.is_eq(c.cmd("AUTH CRAM-SHA9"), "504 5.5.4 Unsupported authentication mechanism",
            "an unknown mechanism: 504")
    t.is_eq(c.cmd("AUTH PLAIN !!notbase64"), "501 5.5.2 Cannot decode response",
            "an initial response that is not base64: 501 5.5.2")
    t.is_eq(c.cmd("AUTH PLAIN"), "334 ", "AUTH PLAIN without initial response: 334")
    t.is_eq(c.cmd("*"), "501 5.0.0 Authentication aborted", "* cancels: 501")
    wrong = c.cmd("AUTH PLAIN " + plain("", LOGIN, "wrong"))
    t.is_eq(wrong, "535 5.7.8 Error: authentication failed: authentication failure",
            "a wrong password: 535 5.7.8")
    unknown = c.cmd("AUTH PLAIN " + plain("", "mallory@" + REALM, PASSWORD))
    t.is_eq(unknown, wrong, "an unknown user gets the very same reply")
    t.like(c.cmd("AUTH PLAIN " + plain("bob@" + REALM, LOGIN, PASSWORD)), "535 5.7.8",
           "authorizing as someone else is refused")
    long_try = c.cmd("AUTH PLAIN " + plain("", LOGIN, "x" * 6000))
    t.like(long_try, "535 5.7.8", "an AUTH line of 8,000 octets is taken (RFC 4954: up to 12,288)")
    t.is_eq(c.cmd("NOOP " + "x" * 600), "500 5.5.0 Error: command line too long",
            "other commands stay within 512 octets")
    c.cmd("AUTH PLAIN")
    t.is_eq(c.cmd("A" * 13000), "500 5.5.6 Authentication Exchange line is too long",
            "an answer to 334 over 12,288 octets: 500 5.5.6")
    t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "and the exchange is over: the next line is a command")
    t.is_eq(c.cmd("AUTH LOGIN"), "334 " + b64("Username:"), "AUTH LOGIN: 334 Username:")
    t.is_eq(c.cmd(b64(LOGIN)), "334 " + b64("Password:"), "334 Password:")
    t.is_eq(c.cmd(b64(PASSWORD)), "235 2.7.0 Authentication successful", "then 235")
    t.like(c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD)), "503 5.5.1",
           "a second AUTH after success: 503")
    t.like(c.cmd("MAIL FROM:<%s> AUTH=foo+0Abar" % LOGIN), "501",
           "AUTH= that decodes to a line break is refused")
    t.is_eq(c.cmd("MAIL FROM:<%s> AUTH=<>" % LOGIN), "250 2.1.0 Ok", "MAIL with AUTH=<>")
    t.is_eq(c.cmd("RCPT TO:<friend@remote.example>"), "250 2.1.5 Ok",
            "an authenticated client may relay")
    c.cmd("DATA")
    c.send(b"Subject: bare LF\r\n\r\nbody\n.\nMAIL FROM:<x@example.net>\r\n.\r\n")
    t.like(c.reply(), "521 5.5.2", "bare LF inside authenticated DATA: refused, no second message")
    c.close()
    t.ok(inst.wait_log("SASL PLAIN authentication failed: "), "failures are logged as Postfix does")
    t.ok(inst.wait_log(" starttls=1 auth=1/"), "the disconnect line counts starttls and auth")


def check_brute_force(inst, ca):
    c = tls_session(inst, ca, "sub3")
    replies = [c.cmd("AUTH PLAIN " + plain("", LOGIN, "guess%d" % i)) for i in range(3)]
    t.ok(all(r.startswith("535 5.7.8") for r in replies), "three guesses, three 535s")
    t.like(c.reply(), "421 4.7.0", "after smtpd_hard_error_limit failures: 421")
    t.ok(c.closed(), "and the session ends")


def check_clients(inst, ca):
    before = inst.files()
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % inst.ports["sub"], "--tls",
                        "--auth", "PLAIN", "--auth-user", LOGIN, "--auth-password", PASSWORD,
                        "--from", LOGIN, "--to", "friend@remote.example",
                        "--header", "Subject: swaks"], capture_output=True, text=True, timeout=60)
    t.ok("250 2.0.0 Ok: queued" in r.stdout, "swaks --tls --auth on 587: queued")
    if "queued" not in r.stdout:
        t.diag(r.stdout[-1500:] + r.stderr[-1500:])
    try:
        s = NamedSMTP_SSL("mx.example.org", inst.ports["subs"], timeout=30,
                          context=ssl.create_default_context(cafile=ca))
        s.login(LOGIN, PASSWORD)
        refused = s.sendmail(LOGIN, ["friend@remote.example"], b"Subject: 465\r\n\r\nvia SMTP_SSL\r\n")
        s.quit()
    except (smtplib.SMTPException, OSError) as e:
        refused = str(e)
    t.is_eq(refused, {}, "smtplib SMTP_SSL login and sendmail on 465")
    got = wait_for(lambda: [f for f in inst.files() if f not in before], 10)
    t.is_eq(len(got or []), 2, "both messages are queued")
    head, body = inst.cat(got[-1]) if got else ([], b"")
    t.like(body.decode(errors="replace"), "with ESMTPSA id", "Received says ESMTPSA")
    t.ok(inst.wait_log("client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=" + LOGIN),
         "the client= line names the SASL method and user")


def check_fixups(inst, ca):
    """RFC 6409 8: Date: and Message-ID: are added when missing, never doubled or changed."""
    before = inst.files()
    c = tls_session(inst, ca)
    c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD))
    for content in (b"Subject: bare\r\n\r\nno date, no id\r\n",
                    b"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <keep@example.org>\r\n"
                    b"Subject: complete\r\n\r\nbody\r\n"):
        c.cmd("MAIL FROM:<%s>" % LOGIN)
        c.cmd("RCPT TO:<friend@remote.example>")
        c.cmd("DATA")
        c.send(content + b".\r\n")
        c.reply()
    c.close()
    got = wait_for(lambda: len([f for f in inst.files() if f not in before]) == 2 and
                   [f for f in inst.files() if f not in before], 10) or []
    heads = {}
    for qid in got:
        body = inst.cat(qid)[1].decode(errors="replace")
        header = body.split("\r\n\r\n")[0]
        heads["bare" if "Subject: bare" in header else "complete"] = header
    bare, complete = heads.get("bare", ""), heads.get("complete", "")
    t.ok(bare.count("\r\nDate: ") == 1 and bare.count("\r\nMessage-ID: <") == 1,
         "a message without Date: and Message-ID: gets one of each")
    t.ok(complete.count("Date:") == 1 and "Date: Thu, 1 Jan 2026 00:00:00 +0000" in complete and
         complete.count("Message-ID:") == 1 and "<keep@example.org>" in complete,
         "a message with both keeps them as they are")


def check_dovecot(inst, ca, dv):
    """smtpd_sasl_type = dovecot, as docker-mailserver configures it, against a real Dovecot"""
    if dv is None:
        t.ok(True, "# SKIP dovecot: needs root and dovecot-core")
        return
    c = tls_session(inst, ca, "subdv")
    ehlo = c.cmd("EHLO client.example.net")
    t.like(ehlo, "250-AUTH PLAIN LOGIN", "dovecot: its mechanisms are offered inside TLS")
    t.like(c.cmd("AUTH PLAIN " + plain("", "carol", "wrong")), "535 5.7.8",
           "dovecot: a wrong password is 535")
    t.is_eq(c.cmd("AUTH PLAIN " + plain("", "carol", "dovecot-secret")),
            "235 2.7.0 Authentication successful", "dovecot: the right one is 235")
    t.is_eq(c.cmd("MAIL FROM:<carol@example.org>"), "250 2.1.0 Ok", "and MAIL is taken")
    c.close()


def check_binding(inst, ca):
    """smtpd_sender_login_maps with reject_sender_login_mismatch, and reject_unlisted_sender"""
    c = tls_session(inst, ca, "bind")
    c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD))
    tries = [("alice@example.org", "250 2.1.5 Ok", "the login's own address"),
             ("team@example.org", "250 2.1.5 Ok", "an address it shares"),
             ("bob@example.org", "553 5.7.1 <bob@example.org>: Sender address rejected: "
              "not owned by user " + LOGIN, "another's address: 553, not owned by user"),
             ("ghost@virt.example", "550 5.1.0 <ghost@virt.example>: Sender address rejected: "
              "User unknown in virtual mailbox table", "reject_unlisted_sender: an unknown "
              "address of our own domain")]
    for sender, want, name in tries:
        c.cmd("MAIL FROM:<%s>" % sender)
        t.is_eq(c.cmd("RCPT TO:<friend@remote.example>"), want, name)
        c.cmd("RSET")
    c.close()


def check_auth_rate(inst, ca):
    """smtpd_client_auth_rate_limit: AUTH commands counted per client by anvil, across sessions"""
    replies = []
    for _ in range(2):
        c = tls_session(inst, ca, "rate")
        replies += [c.cmd("AUTH PLAIN " + plain("", LOGIN, "guess")) for _ in range(2)]
        c.close()
    t.ok(replies[:2] == ["535 5.7.8 Error: authentication failed: authentication failure"] * 2,
         "two AUTH commands within the limit are tried")
    t.is_eq(replies[2:], ["503 5.7.0 Error: too many AUTH commands from 127.0.0.1"] * 2,
            "past smtpd_client_auth_rate_limit, in a new session too: 503 5.7.0")
    t.ok(inst.wait_log("AUTH command rate limit exceeded: 3 from unknown[127.0.0.1]"),
         "and the log says so")


def check_qualify(inst, ca):
    """RFC 6409 8: an address without a domain is completed with $myorigin on submission, and
    refused on the MX (RFC 5321)"""
    before = inst.files()
    c = tls_session(inst, ca)
    c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD))
    t.is_eq(c.cmd("MAIL FROM:<alice>"), "250 2.1.0 Ok", "submission: MAIL FROM:<alice> is taken")
    t.is_eq(c.cmd("RCPT TO:<friend@remote.example>"), "250 2.1.5 Ok", "and a recipient")
    c.cmd("DATA")
    c.send(b"Subject: bare sender\r\n\r\nx\r\n.\r\n")
    c.reply()
    c.close()
    got = wait_for(lambda: [f for f in inst.files() if f not in before], 10) or []
    head = inst.cat(got[0])[0] if got else []
    t.ok(any("alice@mx.example.org" in line for line in head),
         "the sender is stored as alice@$myorigin") or t.diag(head)
    c = Client(inst.ports["mx"])
    c.reply()
    c.cmd("EHLO client.example.net")
    t.like(c.cmd("MAIL FROM:<alice>"), "501", "25: an address without a domain is a syntax error")
    c.close()


def check_mx_auth(inst, ca):
    """AUTH on the MX where the admin turned it on: a login made before STARTTLS is forgotten
    with everything else the client said (RFC 3207 4.2)"""
    c = Client(inst.ports["mxauth"])
    c.reply()
    t.like(c.cmd("EHLO client.example.net"), "250-AUTH PLAIN LOGIN",
           "25 with smtpd_sasl_auth_enable: AUTH is offered")
    t.is_eq(c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD)), "235 2.7.0 Authentication successful",
            "a login in plaintext")
    c.cmd("STARTTLS")
    c.tls(ssl.create_default_context(cafile=ca))
    t.like(c.cmd("EHLO client.example.net"), "250-AUTH", "after STARTTLS AUTH is offered again")
    c.cmd("MAIL FROM:<%s>" % LOGIN)
    t.like(c.cmd("RCPT TO:<friend@remote.example>"), "454 4.7.1",
           "and the earlier login no longer permits relaying")
    c.close()


def check_mx(inst):
    c = Client(inst.ports["mx"])
    c.reply()
    t.ok("AUTH" not in c.cmd("EHLO client.example.net"), "25: AUTH is not offered on the MX")
    t.is_eq(c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD)),
            "503 5.5.1 Error: authentication not enabled", "25: AUTH is refused there")
    c.cmd("MAIL FROM:<%s>" % LOGIN)
    t.like(c.cmd("RCPT TO:<friend@remote.example>"), "454 4.7.1",
           "25: relaying is refused to the unauthenticated")
    c.close()


def main(root):
    cadir = TestCA(os.path.join(root, "ca"))
    cadir.give_key(tls_owner())
    sasl_dir = make_sasldb(os.path.join(root, "sasl"), owner())
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\nmynetworks =\n"
               "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
               "cyrus_sasl_config_path = %s\nsmtpd_sasl_local_domain =\n"
               % (cadir.cert, cadir.key, sasl_dir))
    dv = None
    if os.geteuid() == 0 and shutil.which("dovecot"):
        dvdir = os.path.join(root, "dovecot")
        os.makedirs(dvdir)
        with open(os.path.join(dvdir, "users"), "w") as f:
            f.write("carol:{PLAIN}dovecot-secret\n")
        dv = Dovecot(dvdir, "plain login")
        if not dv.start(t.diag):
            dv = None
    with open(os.path.join(root, "logins"), "w") as f:
        f.write("alice@example.org %s\nteam@example.org bob@example.org, %s\n"
                "bob@example.org bob@example.org\n" % (LOGIN, LOGIN))
    with open(os.path.join(root, "vmailbox"), "w") as f:
        f.write("real@virt.example virt.example/real/\n")
    bind = ("-o smtpd_sender_login_maps=texthash:%s/logins -o virtual_mailbox_domains=virt.example"
            " -o virtual_mailbox_maps=texthash:%s/vmailbox -o smtpd_sender_restrictions="
            "reject_unlisted_sender,reject_sender_login_mismatch" % (root, root))
    inst = Instance(root, main_cf,
                    anvil=True,
                    services={"bind": ("submission", bind),
                              "rate": ("submission", "-o smtpd_client_auth_rate_limit=2"),
                              "subdv": ("submission", "-o smtpd_sasl_type=dovecot "
                                                      "-o smtpd_sasl_path=%s/dovecot/auth" % root),
                              "sub": ("submission", ""),
                              "sub3": ("submission", "-o smtpd_hard_error_limit=3"),
                              "subs": ("submission", "-o smtpd_tls_wrappermode=yes"),
                              "mx": "-o smtpd_tls_security_level=may",
                              "mxauth": "-o smtpd_tls_security_level=may "
                                        "-o smtpd_sasl_auth_enable=yes"},
                    extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    t.ok(err is None, "postern starts with submission on 587 and 465")
    if err:
        t.diag(err)
        return
    try:
        check_plaintext_587(inst)
        check_auth_cases(inst, cadir.ca)
        check_brute_force(inst, cadir.ca)
        check_clients(inst, cadir.ca)
        check_fixups(inst, cadir.ca)
        check_dovecot(inst, cadir.ca, dv)
        check_binding(inst, cadir.ca)
        check_auth_rate(inst, cadir.ca)
        check_qualify(inst, cadir.ca)
        check_mx_auth(inst, cadir.ca)
        check_mx(inst)
        rc, out = fail2ban_regex(inst.log, "postern[mode=auth]")
        t.like(out, "Failregex: 10 total", "fail2ban's postfix-sasl rules match each failed AUTH")
        if "Failregex: 10 total" not in out:
            t.diag(out[-2000:])
    finally:
        if t.failed:
            t.diag(inst.logtext()[-4000:])
        inst.stop()
        if dv is not None:
            dv.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
