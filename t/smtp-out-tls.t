#!/usr/bin/python3
"""smtp-out-tls.t - TLS in outbound delivery: smtp-out hands the server's socket to tlsproxy
in client mode (doc/smtp-out.md, doc/tls.md).

The receiving servers are real OpenSSL peers on loopback: aiosmtpd with STARTTLS (a
certificate for localhost from the test CA, or from an unrelated CA), aiosmtpd without it,
aiosmtpd with TLS from the first byte (port 465 style), a second postern with STARTTLS (its
Received header says ESMTPS), and scripted servers written here: one sends a forged reply
in the same packet as its 220 to STARTTLS (CVE-2021-38371), one answers STARTTLS with 220 and
then garbage instead of a handshake. MX hosts come from a real DNS server (Debian's unbound,
t/lib/dnsserver.py) for the name checks of verify (the MX host's name) and secure (the
next-hop domain and its subdomains). smtp_tls_security_level is may;
smtp_tls_policy_maps raises it per next hop. Outcomes are read from the log lines qmgr
writes."""
import os
import re
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dnsserver  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from outbound import ScriptedServer, aiosmtpd_server, outcome, send  # noqa: E402
from smtpd_harness import Instance as Receiver  # noqa: E402
from smtpd_harness import tls_owner  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA, make_cert  # noqa: E402

t = TAP()
try:
    import aiosmtpd.controller  # noqa: F401
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


def server_context(key, cert):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class Scripted(ScriptedServer):
    """A server on a raw socket playing one part, once per connection:
    inject - offers STARTTLS and sends a forged 250 in the same packet as its 220; then
             TLS ("-- TLS --" in commands), and a normal conversation inside it
    badtls - offers STARTTLS, answers 220 and sends garbage instead of a handshake; a
             connection without STARTTLS gets a normal conversation
    resume - STARTTLS, then a normal conversation; self.reused says, per connection,
             whether the client resumed an earlier TLS session"""

    def __init__(self, part, ctx=None):
        self.ctx = ctx
        self.sni = []
        self.reused = []
        if ctx is not None:
            ctx.sni_callback = lambda sock, name, c: self.sni.append(name)
        super().__init__(part)

    def transaction(self, conn, f):
        """MAIL, RCPT, DATA, the content, QUIT, one command at a time."""
        while True:
            cmd = self.line(f)
            if cmd.startswith(("MAIL", "RCPT")):
                self.send(conn, "250 2.1.0 Ok\r\n")
            elif cmd == "DATA":
                self.send(conn, "354 go ahead\r\n")
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as %s1\r\n" % self.part.upper())
            elif cmd == "QUIT":
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "502 5.5.1 what?\r\n")

    def play_inject(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250 STARTTLS\r\n")
        if self.line(f) != "STARTTLS":
            return
        # One write: the forged reply is in the same packet as the 220.
        self.send(conn, "220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n")
        tls = self.ctx.wrap_socket(conn, server_side=True)
        self.commands.append("-- TLS --")
        f = tls.makefile("rb")
        self.line(f)
        self.send(tls, "250-scripted inside TLS\r\n250 8BITMIME\r\n")
        self.transaction(tls, f)

    def play_resume(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250 STARTTLS\r\n")
        self.line(f)
        self.send(conn, "220 2.0.0 Ready to start TLS\r\n")
        tls = self.ctx.wrap_socket(conn, server_side=True)
        self.reused.append(tls.session_reused)
        f = tls.makefile("rb")
        self.line(f)
        self.send(tls, "250 scripted inside TLS\r\n")
        self.transaction(tls, f)

    def play_badtls(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250 STARTTLS\r\n")
        if self.line(f) == "STARTTLS":
            self.send(conn, "220 2.0.0 Ready to start TLS\r\n")
            self.send(conn, "this is not a TLS handshake\r\n" * 10)
            return
        self.send(conn, "250 2.1.0 Ok\r\n")
        self.transaction(conn, f)


def check_mx(i, port):
    qid = send(i, "", ["m@vmx.example"])
    t.like(outcome(i, qid, "m@vmx.example"), "relay=mx.vmx.example[127.0.0.1]:%d, " % port,
           "verify, next hop found by MX: delivered to the MX host")
    t.like(i.log(), "Verified TLS connection established to mx.vmx.example[127.0.0.1]:%d: "
           % port, "  Verified: the certificate names the MX host (hostname)")
    qid = send(i, "", ["m@smx.example"])
    t.like(outcome(i, qid, "m@smx.example"), "status=sent", "secure: delivered")
    t.like(i.log(), "Verified TLS connection established to mail.smx.example[127.0.0.1]:%d: "
           % port, "  Verified: mail.smx.example is under the next hop (dot-nexthop)")
    qid = send(i, "", ["m@bad.example"])
    t.like(outcome(i, qid, "m@bad.example"), "dsn=4.7.5, status=deferred (Server certificate "
           "not verified)", "secure: a certificate for the MX host's name alone is not enough")
    t.like(i.log(), "Trusted TLS connection established to mx.vmx.example[127.0.0.1]:%d: "
           % port, "  it was Trusted, not Verified")


def main(root):
    os.chmod(root, 0o755)
    ca = TestCA(os.path.join(root, "ca"), host="localhost")
    mx_key, mx_cert = make_cert(ca.dir, ca.ca_key, ca.ca, "mx.example.org", prefix="mx")
    other = TestCA(os.path.join(root, "other"), host="localhost")
    for d in (ca.dir, other.dir):
        os.chmod(d, 0o755)
    good_ctx = server_context(ca.key, ca.cert)

    tls_srv, tls_h = aiosmtpd_server(tls_context=good_ctx)
    tls2_srv, _ = aiosmtpd_server(tls_context=good_ctx)
    plain_srv, plain_h = aiosmtpd_server()
    untrusted_srv, _ = aiosmtpd_server(tls_context=server_context(other.key, other.cert))
    untrusted2_srv, _ = aiosmtpd_server(tls_context=server_context(other.key, other.cert))
    wrap_srv, wrap_h = aiosmtpd_server(ssl_context=server_context(ca.key, ca.cert))
    inject = Scripted("inject", server_context(ca.key, ca.cert))
    resume = Scripted("resume", server_context(ca.key, ca.cert))
    # MX hosts: one certificate for mx.vmx.example and mail.smx.example, served by one
    # aiosmtpd that all three domains' MX records point at (127.0.0.1).
    mxk, mxc = make_cert(ca.dir, ca.ca_key, ca.ca, "mx.vmx.example", prefix="mxhosts",
                         alt=("mail.smx.example",))
    mx_srv, mx_h = aiosmtpd_server(tls_context=server_context(mxk, mxc))
    os.mkdir(os.path.join(root, "dns"), 0o755)
    dns = dnsserver.Unbound(os.path.join(root, "dns")) if dnsserver.available() else None
    dns_ok = False
    if dns is not None:
        dns_ok = dns.start(["example. static"],
                           ["vmx.example. MX 10 mx.vmx.example.", "mx.vmx.example. A 127.0.0.1",
                            "smx.example. MX 10 mail.smx.example.",
                            "mail.smx.example. A 127.0.0.1",
                            "bad.example. MX 10 mx.vmx.example."], ("mx.vmx.example", 1))
    badtls = Scripted("badtls")

    # The receiving postern: STARTTLS with a certificate for mx.example.org.
    os.chown(mx_key, tls_owner().pw_uid, tls_owner().pw_gid)
    os.chmod(mx_key, 0o600)
    rx = Receiver(os.path.join(root, "rx"),
                  "mydestination = example.org\nlocal_recipient_maps =\n"
                  "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                  "smtpd_tls_received_header = yes\n" % (mx_cert, mx_key),
                  services={"may": "-o smtpd_tls_security_level=may"},
                  extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = rx.start()
    t.ok(err is None, "a receiving postern with STARTTLS starts")

    lh, ip = "[localhost]:%d", "[127.0.0.1]:%d"
    routes = {"tls.example": "smtp:" + ip % tls_srv.port,
              "plain.example": "smtp:" + ip % plain_srv.port,
              "enc.example": "smtp:" + lh % plain_srv.port,
              "untrusted.example": "smtp:" + lh % untrusted_srv.port,
              "verify.example": "smtp:" + lh % tls_srv.port,
              "secure.example": "smtp:" + ip % untrusted_srv.port,
              "nomatch.example": "smtp:" + ip % tls2_srv.port,
              "wrap.example": "relay:" + lh % wrap_srv.port,
              "inject.example": "smtp:" + ip % inject.port,
              "badtls.example": "smtp:" + ip % badtls.port,
              "badenc.example": "smtp:" + lh % badtls.port,
              "resume.example": "nocache:" + lh % resume.port,
              "example.org": "smtp:" + ip % rx.ports["may"],
              "untrusted-may.example": "smtp:" + ip % untrusted2_srv.port,
              "tls12.example": "smtp:" + lh % tls2_srv.port,
              "vmx.example": "smtp:vmx.example:%d" % mx_srv.port,
              "smx.example": "smtp:smx.example:%d" % mx_srv.port,
              "bad.example": "smtp:bad.example:%d" % mx_srv.port}
    policy = os.path.join(root, "tls_policy")
    with open(policy, "w") as f:
        f.write("%s encrypt\n" % (lh % plain_srv.port))
        f.write("%s verify\n" % (lh % untrusted_srv.port))
        f.write("%s verify\n" % (lh % tls_srv.port))
        f.write("%s secure match=localhost\n" % (ip % untrusted_srv.port))
        f.write("%s secure\n" % (ip % tls2_srv.port))
        f.write("%s encrypt\n" % (lh % badtls.port))
        f.write("%s verify\n" % (lh % resume.port))
        f.write("%s may servername=sni.example.net\n" % (ip % inject.port))
        f.write("%s encrypt protocols=<=TLSv1.2 ciphers=high\n" % (lh % tls2_srv.port))
        f.write("vmx.example:%d verify\n" % mx_srv.port)
        f.write("smx.example:%d secure\n" % mx_srv.port)
        f.write("bad.example:%d secure\n" % mx_srv.port)
    transport = ", ".join("%s=%s" % kv for kv in routes.items())
    # inet_protocols = ipv4: localhost is also ::1, where nothing listens; a failure at
    # 127.0.0.1 would move on to it and end with "Connection refused".
    i = Instance(services="qmgr unix - - n - 1 qmgr\n"
                          "local unix - n n - - local\n"
                          "bounce unix - - n - 0 bounce\n"
                          "smtp unix - - n - - smtp-out\n"
                          "relay unix - - n - - smtp-out -o smtp_tls_wrappermode=yes\n"
                          "tlsproxy unix - - n - 1 tlsproxy\n"
                          "nocache unix - - n - - smtp-out -o smtp_connection_cache_on_demand=no\n",
                 main="transport_maps = inline:{ %s }\n" % transport +
                      "smtp_helo_name = client.test.example\n"
                      "smtp_helo_timeout = 10s\nsmtp_connect_timeout = 10s\n"
                      "tls_owner = %s\n" % tls_owner().pw_name +
                      "inet_protocols = ipv4\n"
                      "smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n"
                      "smtp_tls_CAfile = %s\n" % ca.ca +
                      "smtp_tls_policy_maps = texthash:%s\n" % policy +
                      ("smtp_dns_resolv_conf = %s\n" % dns.resolv_conf if dns else ""))
    try:
        t.ok(i.start(), "an instance with smtp-out and tlsproxy starts")

        # may, and the server offers STARTTLS: TLS, and the log line says how far it was
        # trusted (the name is not checked at may: Trusted, not Verified).
        qid = send(i, "", ["a@tls.example"])
        t.like(outcome(i, qid, "a@tls.example"), "status=sent (250 2.0.0 Ok: queued as AIO1)",
               "may, STARTTLS offered: delivered")
        t.ok(wait_for(lambda: "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:%d: "
                      "TLSv1.3 with cipher " % tls_srv.port in i.log(), 5),
             "  over TLS: Trusted TLS connection established to host[addr]:port: TLSv1.3 ...")
        t.ok(re.search(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                       r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\) key-exchange \S+ "
                       r"server-signature \S+ \(\d+ bits\) server-digest " % tls_srv.port, i.log()),
             "  with key exchange and the server's signature, as Postfix logs")

        # may without STARTTLS: plaintext.
        qid = send(i, "", ["b@plain.example"])
        t.like(outcome(i, qid, "b@plain.example"), "status=sent", "may, no STARTTLS: plaintext")

        # encrypt (policy map) without STARTTLS: deferred.
        qid = send(i, "", ["c@enc.example"])
        t.like(outcome(i, qid, "c@enc.example"), "dsn=4.7.4, status=deferred (TLS is required, "
               "but was not offered by host localhost[127.0.0.1])",
               "encrypt from smtp_tls_policy_maps, no STARTTLS: deferred 4.7.4")
        t.is_eq(len(plain_h.messages), 1, "  and nothing was sent in plaintext")

        # verify: a certificate from an unrelated CA is not trusted.
        qid = send(i, "", ["d@untrusted.example"])
        t.like(outcome(i, qid, "d@untrusted.example"),
               "dsn=4.7.5, status=deferred (Server certificate not trusted)",
               "verify, certificate from another CA: deferred 4.7.5")
        t.like(i.log(), "server certificate verification failed for localhost[127.0.0.1]:%d: "
               "certificate verification failed: " % untrusted_srv.port, "  the log says why")

        # verify with the right CA, the name matching the host name: delivered.
        qid = send(i, "", ["e@verify.example"])
        t.like(outcome(i, qid, "e@verify.example"), "status=sent", "verify, right CA: delivered")
        t.like(i.log(), "Verified TLS connection established to localhost[127.0.0.1]:%d: TLSv1."
               % tls_srv.port, "  Verified TLS connection established")

        # secure: the name must match; match= in the policy entry does not save a bad chain,
        # and a trusted certificate that matches none of the names is not verified.
        qid = send(i, "", ["f@secure.example"])
        t.like(outcome(i, qid, "f@secure.example"),
               "dsn=4.7.5, status=deferred (Server certificate not trusted)",
               "secure, untrusted chain: deferred")
        qid = send(i, "", ["g@nomatch.example"])
        t.like(outcome(i, qid, "g@nomatch.example"),
               "dsn=4.7.5, status=deferred (Server certificate not verified)",
               "secure, next hop 127.0.0.1 not in the certificate: deferred, not verified")

        # may takes what it gets: an untrusted certificate is logged as such.
        qid = send(i, "", ["u@untrusted-may.example"])
        t.like(outcome(i, qid, "u@untrusted-may.example"), "status=sent",
               "may, certificate from another CA: delivered all the same")
        t.like(i.log(), "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%d: TLSv1."
               % untrusted2_srv.port, "  Untrusted TLS connection established")

        # protocols= and ciphers= of a policy entry.
        qid = send(i, "", ["p@tls12.example"])
        t.like(outcome(i, qid, "p@tls12.example"), "status=sent",
               "policy entry with protocols=<=TLSv1.2 ciphers=high: delivered")
        t.ok(re.search(r"Trusted TLS connection established to localhost\[127\.0\.0\.1\]:%d: "
                       r"TLSv1\.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 " % tls2_srv.port,
                       i.log()), "  over TLSv1.2, with a cipher of the high grade")

        # Wrapper mode (a relay on 465): TLS before the greeting.
        qid = send(i, "", ["h@wrap.example"])
        t.like(outcome(i, qid, "h@wrap.example"), "status=sent",
               "smtp_tls_wrappermode: delivered to an implicit-TLS server")
        t.ok(len(wrap_h.messages) == 1, "  which has the message")
        t.like(i.log(), "TLS connection established to localhost[127.0.0.1]:%d:" % wrap_srv.port,
               "  over TLS from the first byte")

        # CVE-2021-38371: a forged reply after the 220 to STARTTLS is never read as one.
        qid = send(i, "", ["i@inject.example"])
        t.like(outcome(i, qid, "i@inject.example"), "status=sent (250 2.0.0 Ok: queued as INJECT1)",
               "bytes after the 220 to STARTTLS are dropped; delivered over TLS")
        before, _, inside = "\n".join(inject.commands).partition("-- TLS --\n")
        t.ok(inside.startswith("EHLO client.test.example\nMAIL FROM:<>"),
             "  a fresh EHLO inside TLS, then MAIL (got %r)" % inside[:60])
        t.ok("MAIL" not in before, "  and no MAIL before TLS")
        t.is_eq(inject.sni, ["sni.example.net"], "servername= of a policy entry: sent as SNI")

        # may: a handshake that fails is retried in plaintext; encrypt defers instead.
        qid = send(i, "", ["j@badtls.example"])
        t.like(outcome(i, qid, "j@badtls.example"), "status=sent (250 2.0.0 Ok: queued as BADTLS1)",
               "may, failed handshake: retried and delivered in plaintext")
        t.like(i.log(), "SSL_connect error to 127.0.0.1[127.0.0.1]:%d: " % badtls.port,
               "  the log has the handshake failure")
        qid = send(i, "", ["k@badenc.example"])
        t.like(outcome(i, qid, "k@badenc.example"), "dsn=4.7.5, status=deferred (Cannot start "
               "TLS: handshake failure)", "encrypt, failed handshake: deferred 4.7.5")

        # A new connection to a server resumes the TLS session of the one before (tlsproxy's
        # client session cache, per process: this instance runs one tlsproxy), and the
        # resumed session is as Verified as the first.
        for n, rcpt in enumerate(["r1@resume.example", "r2@resume.example"]):
            qid = send(i, "", [rcpt])
            t.like(outcome(i, qid, rcpt), "status=sent", "verify, connection %d: sent" % (n + 1))
        t.is_eq(resume.reused, [False, True],
                "  the second connection resumed the first one's TLS session")
        t.is_eq(i.log().count("Verified TLS connection established to localhost[127.0.0.1]:%d"
                              % resume.port), 2, "  and both were Verified")

        # MX hosts: verify matches the MX host's name, secure the next-hop domain and its
        # subdomains (not the MX host's name).
        if dns is None or not dns_ok:
            t.ok(True, "# SKIP MX hosts: needs unbound (Debian package unbound)")
        else:
            check_mx(i, mx_srv.port)

        # A second postern: it records ESMTPS and the cipher in its Received header.
        before = rx.files() if err is None else []
        qid = send(i, "", ["root@example.org"])
        t.like(outcome(i, qid, "root@example.org"), "status=sent",
               "to a postern with STARTTLS: delivered")
        got = wait_for(lambda: [q for q in rx.files() if q not in before], 10)
        head, body = rx.cat(got[0]) if got else ([], b"")
        received = body.split(b"\r\n\r\n")[0].decode(errors="replace")
        t.like(received, "with ESMTPS id", "  its Received header says ESMTPS")
        t.like(received, "(using TLSv1.3 with cipher", "  with the protocol and cipher")

        log = i.log()
        t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
    finally:
        if t.failed:
            t.diag(i.log()[-4000:])
        i.cleanup()
        rx.stop()
        for s in (tls_srv, tls2_srv, plain_srv, untrusted_srv, untrusted2_srv, wrap_srv, mx_srv):
            s.stop()
        if dns is not None:
            dns.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
