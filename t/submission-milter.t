#!/usr/bin/python3
"""submission-milter.t - smtpd_milters on the submission program (doc/milter.md): on 587 after
STARTTLS and AUTH, and on 465, the milter (t/bin/test_milter) sees Postfix's default macros of
each stage: the TLS ones at the EHLO inside TLS, {cert_subject} and {cert_issuer} only for a
client certificate that verified (smtpd_tls_ask_ccert, given with -o to one service: openssl
s_client is asked for its certificate there and not on the other), {auth_type} {auth_authen} at MAIL and
{auth_author} from MAIL's AUTH= parameter, {daemon_name} from milter_macro_daemon_name; a
milter's reject at MAIL, RCPT and the end of the message reaches the client and is logged as
Postfix does; and the real opendkim signs what an authenticated user submits (not what the
same client sends to port 25 unauthenticated), and opendkim verifying passes the queued file.
Real TLS, a real Cyrus sasldb, loopback only."""
import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import milters  # noqa: E402
from sasldb import LOGIN, PASSWORD, b64, make_sasldb, plain  # noqa: E402
from smtpd_harness import (Client, Instance, NamedSMTP, free_port, owner,  # noqa: E402
                           tls_owner, wait_for)
from tap import TAP  # noqa: E402
from tlsca import TestCA, make_ca, make_cert  # noqa: E402

t = TAP()
BIN = os.path.join(os.environ["BUILD"], "t", "bin")
PORT = free_port()
MILTER = "-o smtpd_milters=inet:127.0.0.1:%d" % PORT
MESSAGE = b"From: <%s>\r\nTo: <friend@remote.example>\r\nSubject: hi\r\n\r\nhello\r\n.\r\n" % (
    LOGIN.encode())


def fields(line):
    """the macros of one test_milter log line, as a dict"""
    return dict(x.split("=", 1) for x in line.split("\t")[1:])


def matches(got, pattern, name):
    return t.ok(re.fullmatch(pattern, got or ""), name) or t.diag("got: %r" % (got,))


def run_milter(root, args, fn):
    m = milters.TestMilter(root, PORT, args)
    try:
        if not t.ok(m.start(), "test_milter %s starts" % " ".join(args)):
            return None
        return fn(m)
    finally:
        m.stop()


def closed(m):
    return wait_for(lambda: "\nclose" in m.text(), 10)


def starttls(inst, name, ca, cert=None):
    """a session on 587: EHLO, STARTTLS (presenting cert, a (crt, key) pair), EHLO in TLS"""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(*cert)
    c = Client(inst.ports[name], timeout=30)
    c.reply()
    c.cmd("EHLO client.example.net")
    c.cmd("STARTTLS")
    c.tls(ctx)
    c.cmd("EHLO client.example.net")
    return c


def transaction(c, mail="MAIL FROM:<%s>" % LOGIN):
    """MAIL, RCPT, DATA and a message: the replies"""
    r = [c.cmd(mail), c.cmd("RCPT TO:<friend@remote.example>"), c.cmd("DATA")]
    c.send(MESSAGE)
    r.append(c.reply())
    return r


def check_587(inst, ca, root):
    def run(m):
        c = starttls(inst, "sub", ca)
        auth = c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD))
        r = transaction(c, "MAIL FROM:<%s> AUTH=%s" % (LOGIN, LOGIN))
        c.cmd("QUIT")
        c.close()
        t.is_eq(auth, "235 2.7.0 Authentication successful", "587: AUTH after STARTTLS")
        t.like(r[-1], "250 2.0.0 Ok: queued as", "587: the message is queued with the milter")
        t.ok(closed(m), "587: the milter saw the session end")
        # the connect macros, as libmilter keeps them for later stages (the harness's
        # probes of each port at start made sessions of their own)
        conn = fields(m.lines("helo")[0]) if m.lines("helo") else {}
        t.is_eq(conn.get("{daemon_name}"), "mx.example.org",
                "{daemon_name}: milter_macro_daemon_name, $myhostname by default")
        t.is_eq(conn.get("{client_addr}"), "127.0.0.1", "connect: {client_addr}")
        helos = [fields(x) for x in m.lines("helo")]
        t.is_eq(len(helos), 2, "587: the milter saw both EHLOs")
        if len(helos) != 2:
            return
        t.ok("{tls_version}" not in helos[0], "587: no TLS macros at the EHLO before STARTTLS")
        matches(helos[1].get("{tls_version}"), r"TLSv1\.[23]", "587: {tls_version} at the EHLO in TLS")
        matches(helos[1].get("{cipher}"), r"TLS_\w+", "587: {cipher}")
        matches(helos[1].get("{cipher_bits}"), r"128|256", "587: {cipher_bits}")
        t.ok("{cert_subject}" not in helos[1] and "{cert_issuer}" not in helos[1],
             "587: no {cert_subject} or {cert_issuer} without a client certificate")
        mail = fields(m.lines("mail")[0]) if m.lines("mail") else {}
        for name, want in (("{auth_type}", "PLAIN"), ("{auth_authen}", LOGIN),
                           ("{auth_author}", LOGIN), ("{mail_addr}", LOGIN),
                           ("{mail_host}", "mx.example.org"), ("{mail_mailer}", "local")):
            t.is_eq(mail.get(name), want, "587 MAIL: %s=%s (example.org is mydestination: "
                    "local_transport's next hop)" % (name, want))
        data = fields(m.lines("data")[0]) if m.lines("data") else {}
        t.is_eq(data.get("i"), r[-1].split()[-1], "587 DATA: i is the queue ID")
    run_milter(root, [], run)


def check_465(inst, ca, root):
    def run(m):
        c = Client(inst.ports["subs"], timeout=30)
        c.tls(ssl.create_default_context(cafile=ca))
        c.reply()
        c.cmd("EHLO client.example.net")
        c.cmd("AUTH LOGIN")
        c.cmd(b64(LOGIN))
        auth = c.cmd(b64(PASSWORD))
        first = transaction(c, "MAIL FROM:<%s>" % LOGIN)
        second = transaction(c, "MAIL FROM:<%s> AUTH=<>" % LOGIN)
        c.cmd("QUIT")
        c.close()
        t.is_eq(auth, "235 2.7.0 Authentication successful", "465: AUTH LOGIN")
        t.ok(first[-1].startswith("250") and second[-1].startswith("250"),
             "465: two messages queued")
        t.ok(closed(m), "465: the milter saw the session end")
        helos = [fields(x) for x in m.lines("helo")]
        t.is_eq(len(helos), 1, "465: one EHLO")
        matches(helos[0].get("{tls_version}") if helos else "", r"TLSv1\.[23]",
                "465: {tls_version} at the first EHLO")
        t.ok(helos and helos[0].get("{cipher}") and helos[0].get("{cipher_bits}"),
             "465: {cipher} and {cipher_bits} there too")
        mails = [fields(x) for x in m.lines("mail")]
        t.is_eq([x.get("{auth_type}") for x in mails], ["LOGIN", "LOGIN"],
                "465 MAIL: {auth_type} is the mechanism used, LOGIN")
        t.is_eq([x.get("{auth_authen}") for x in mails], [LOGIN, LOGIN],
                "465 MAIL: {auth_authen} is the SASL login")
        t.is_eq([x.get("{auth_author}") for x in mails], [None, None],
                "465 MAIL: no {auth_author} without AUTH= or with AUTH=<>")
    run_milter(root, [], run)


def check_ccert(inst, ca, root, trusted, untrusted):
    def run(m):
        for cert in (trusted, untrusted):
            c = starttls(inst, "subc", ca, cert)
            c.cmd("QUIT")
            c.close()
        t.ok(wait_for(lambda: m.text().count("\nclose") == 2, 10), "two sessions over")
        helos = [fields(x) for x in m.lines("helo") if "{tls_version}" in x]
        t.is_eq(len(helos), 2, "each with an EHLO in TLS")
        if len(helos) != 2:
            return
        t.is_eq((helos[0].get("{cert_subject}"), helos[0].get("{cert_issuer}")),
                ("client.example.net", "Postern Test CA"),
                "a client certificate that verified: {cert_subject} and {cert_issuer}, its CNs")
        t.ok("{cert_subject}" not in helos[1] and "{cert_issuer}" not in helos[1],
             "one from an unknown CA: neither (Postfix gives them for trusted ones only)")
        t.is_eq(helos[0].get("{daemon_name}"), "ORIGINATING",
                "-o milter_macro_daemon_name=ORIGINATING: {daemon_name}")
    run_milter(root, [], run)


def s_client(inst, name, ca, cert):
    """openssl s_client on 587 presenting cert (crt, key): EHLO in TLS, QUIT; its output"""
    r = subprocess.run(["openssl", "s_client", "-ign_eof", "-starttls", "smtp", "-connect",
                        "127.0.0.1:%d" % inst.ports[name], "-CAfile", ca, "-cert", cert[0],
                        "-key", cert[1]], input=b"EHLO client.example.net\r\nQUIT\r\n",
                       capture_output=True, timeout=30)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def check_ccert_per_service(inst, ca, root, trusted):
    """smtpd_tls_ask_ccert given with -o on one service only (main.cf says no): that
    service's handshakes ask for a certificate, the other's do not (Postfix 3.4 and later)"""
    def run(m):
        asked = s_client(inst, "subc", ca, trusted)
        plain = s_client(inst, "sub", ca, trusted)
        t.ok(wait_for(lambda: m.text().count("\nclose") == 2, 10), "two s_client sessions over")
        t.ok(re.search(r"Acceptable client certificate CA names\n[^\n]*Postern Test CA", asked),
             "-o smtpd_tls_ask_ccert=yes: s_client is asked, with smtpd_tls_CAfile's names") or \
            t.diag(asked[-1500:])
        t.like(plain, "No client certificate CA names sent",
               "the service without it: s_client is not asked")
        helos = dict((fields(x).get("{daemon_name}"), fields(x)) for x in m.lines("helo")
                     if "{tls_version}" in x)
        t.is_eq(helos.get("ORIGINATING", {}).get("{cert_subject}"), "client.example.net",
                "the asking service: {cert_subject} of s_client's certificate")
        other = [v for k, v in helos.items() if k != "ORIGINATING"]
        t.ok(other and "{cert_subject}" not in other[0] and "{cert_issuer}" not in other[0],
             "the other: no certificate macros, the certificate was never asked for")
        t.ok(inst.wait_log("Trusted TLS connection established from unknown[127.0.0.1]") and
             inst.wait_log("Anonymous TLS connection established from unknown[127.0.0.1]"),
             "smtpd logs the one Trusted and the other Anonymous")
    run_milter(root, [], run)


def check_rejects(inst, ca, root):
    cases = (("mail=reject", 0, "550 5.7.1 Command rejected",
              "NOQUEUE: milter-reject: MAIL from unknown[127.0.0.1]: 550 5.7.1 Command rejected; "
              "from=<%s> proto=ESMTP helo=<client.example.net>" % LOGIN),
             ("rcpt=reply:554:5.7.0:not you", 1, "554 5.7.0 not you",
              "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.1]: 554 5.7.0 not you; "
              "from=<%s> to=<friend@remote.example> proto=ESMTP helo=<client.example.net>"
              % LOGIN),
             ("eom=reply:550:5.7.1:not signed off", 3, "550 5.7.1 not signed off",
              ": milter-reject: END-OF-MESSAGE from unknown[127.0.0.1]: 5.7.1 not signed off; "
              "from=<%s> to=<friend@remote.example> proto=ESMTP helo=<client.example.net>"
              % LOGIN))
    for rule, at, want, logged in cases:
        def run(m, at=at, want=want, logged=logged):
            before = inst.files()
            c = starttls(inst, "sub", ca)
            c.cmd("AUTH PLAIN " + plain("", LOGIN, PASSWORD))
            if at < 3:
                r = [c.cmd("MAIL FROM:<%s>" % LOGIN), c.cmd("RCPT TO:<friend@remote.example>")]
            else:
                r = transaction(c)
            t.is_eq(r[at], want, "587, milter %s: the client gets %s" % (m.args[1], want))
            t.is_eq(c.cmd("RSET"), "250 2.0.0 Ok", "and the session goes on")
            c.close()
            t.ok(inst.wait_log(logged), "logged: ..." + logged[-60:]) or \
                t.diag([x for x in inst.logtext().splitlines() if "milter-reject" in x][-1:])
            t.is_eq([f for f in inst.files() if f not in before], [], "nothing is queued")
        run_milter(root, ["-a", rule], run)


def dkim_verdict(verifier, content):
    """opendkim (verify)'s Authentication-Results for a queued message, as a second hop"""
    head, _, body = content.decode().partition("\r\n\r\n")
    steps = ["connect:client.test:198.51.100.7", "helo:client.test", "mail:<%s>" % LOGIN,
             "rcpt:<friend@remote.example>", "data"]
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t"):
            steps[-1] += "\r\n" + line
        else:
            steps.append("header:" + line)
    steps += ["eoh", "body:" + body, "eom", "quit"]
    r = subprocess.run([os.path.join(BIN, "milter_drive"), "inet:%d" % verifier.port] + steps,
                       capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def check_dkim(inst, ca, verifier):
    text = "From: <%s>\r\nTo: <root@example.org>\r\nSubject: signed\r\n\r\nHello,\r\n" % LOGIN
    before = inst.files()
    with NamedSMTP("127.0.0.1", inst.ports["subdkim"], "client.example.net", timeout=60) as s:
        s.starttls(context=ssl.create_default_context(cafile=ca))
        s.login(LOGIN, PASSWORD)
        t.is_eq(s.sendmail(LOGIN, ["root@example.org"], text), {},
                "smtplib on 587, STARTTLS and login, with opendkim: taken")
    got = wait_for(lambda: [f for f in inst.files() if f not in before], 10) or []
    body = inst.cat(got[0])[1] if got else b""
    t.like("\r\n" + body.decode(errors="replace"),
           "\r\nDKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.org; s=sel;",
           "opendkim signed it for the sender's domain (the client is not in InternalHosts: "
           "signed because authenticated)")
    t.like(dkim_verdict(verifier, body), "dkim=pass (1024-bit key) header.d=example.org",
           "opendkim (verify) passes the queued message")
    before = inst.files()
    with smtplib.SMTP("127.0.0.1", inst.ports["mxdkim"], "client.example.net", timeout=60) as s:
        s.sendmail(LOGIN, ["root@example.org"], text)
    got = wait_for(lambda: [f for f in inst.files() if f not in before], 10) or []
    body = inst.cat(got[0])[1] if got else b"-"
    t.ok(body and b"DKIM-Signature" not in body,
         "the same mail on port 25, unauthenticated, through the same opendkim: not signed")


def main(root):
    cadir = TestCA(os.path.join(root, "ca"))
    cadir.give_key(tls_owner())
    trusted = make_cert(cadir.dir, cadir.ca_key, cadir.ca, "client.example.net", prefix="client")
    other = os.path.join(root, "other")
    os.makedirs(other)
    okey, ocrt = make_ca(other, "Unknown CA")
    untrusted = make_cert(other, okey, ocrt, "stranger.example.net", prefix="stranger")
    sasl_dir = make_sasldb(os.path.join(root, "sasl"), owner())
    signer = milters.OpenDKIM(root, "sign", domain="example.org", internal="192.0.2.0/24")
    verifier = milters.OpenDKIM(root, "verify", keys=[signer])
    t.ok(signer.start() and verifier.start(), "opendkim sign and verify start") or \
        t.diag(signer.output() + verifier.output())
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\nmynetworks =\n"
               "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
               "cyrus_sasl_config_path = %s\nsmtpd_sasl_local_domain =\n"
               "milter_default_action = tempfail\n"
               "smtpd_tls_CAfile = %s\nsmtpd_tls_loglevel = 1\n"
               % (cadir.cert, cadir.key, sasl_dir, cadir.ca))
    inst = Instance(root, main_cf, services={
        "sub": ("submission", MILTER),
        "subs": ("submission", MILTER + " -o smtpd_tls_wrappermode=yes"),
        "subc": ("submission", MILTER + " -o milter_macro_daemon_name=ORIGINATING"
                 " -o smtpd_tls_ask_ccert=yes"),
        "subdkim": ("submission", "-o smtpd_milters=" + signer.endpoint),
        "mxdkim": "-o smtpd_milters=" + signer.endpoint},
        extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    if not t.ok(err is None, "postern starts with submission and milters"):
        t.diag(err)
        return
    try:
        check_587(inst, cadir.ca, root)
        check_465(inst, cadir.ca, root)
        check_ccert(inst, cadir.ca, root, trusted[::-1], untrusted[::-1])
        check_ccert_per_service(inst, cadir.ca, root, trusted[::-1])
        check_rejects(inst, cadir.ca, root)
        check_dkim(inst, cadir.ca, verifier)
    finally:
        if t.failed:
            t.diag(inst.logtext()[-4000:])
        inst.stop()
        milters.stop_all()


if milters.available():
    t.skip_all(milters.available())
with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
