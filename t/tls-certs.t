#!/usr/bin/python3
"""tls-certs.t - what tlsproxy presents and asks for: smtpd_tls_chain_files with an RSA and
an ECDSA key (each client gets the one it can use), tls_server_sni_maps (the certificate of
the name a client asks for), client certificates with smtpd_tls_ask_ccert (Trusted,
Untrusted, Anonymous in the log; the Received header names the client's CN)."""
import os
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Instance, greet, tls_owner, wait_for  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA, make_cert  # noqa: E402

t = TAP()


def chain_file(d, key, crt, name, owner):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(open(key).read() + open(crt).read())
    os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(path, 0o600)
    return path


def der(crt):
    return ssl.PEM_cert_to_DER_cert(open(crt).read())


def handshake(port, ctx, name="mx.example.org"):
    """(server certificate DER, client) after STARTTLS and EHLO."""
    c = greet(port)
    c.cmd("STARTTLS")
    c.tls(ctx, server_hostname=name)
    c.cmd("EHLO client.example.net")
    return c.sock.getpeercert(binary_form=True), c


def client_ctx(ca, cert=None, key=None, ecdsa=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if ecdsa is not None:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256" if ecdsa else "ECDHE-RSA-AES128-GCM-SHA256")
    return ctx


def main(root):
    owner = tls_owner()
    ca = TestCA(os.path.join(root, "ca"))
    d = ca.dir
    rsa = chain_file(d, ca.key, ca.cert, "rsa.pem", owner)
    ec_key, ec_crt = make_cert(d, ca.ca_key, ca.ca, "mx.example.org", kind="ec", prefix="ec")
    ecdsa = chain_file(d, ec_key, ec_crt, "ecdsa.pem", owner)
    o_key, o_crt = make_cert(d, ca.ca_key, ca.ca, "other.example.org", prefix="other")
    other = chain_file(d, o_key, o_crt, "other.pem", owner)
    c_key, c_crt = make_cert(d, ca.ca_key, ca.ca, "client.example.net", prefix="client")
    u_key, u_crt = make_cert(os.path.join(d, "other"), os.path.join(d, "other", "ca.key"),
                             ca.other_ca, "stranger.example.net", prefix="stranger")
    sni = os.path.join(root, "sni")
    with open(sni, "w") as f:
        f.write("other.example.org %s\n" % other)
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\n"
               "smtpd_tls_chain_files = %s, %s\ntls_server_sni_maps = texthash:%s\n"
               "smtpd_tls_ask_ccert = yes\nsmtpd_tls_CAfile = %s\nsmtpd_tls_loglevel = 2\n"
               "smtpd_tls_received_header = yes\n" % (rsa, ecdsa, sni, ca.ca))
    inst = Instance(root, main_cf, services={"may": "-o smtpd_tls_security_level=may"},
                    extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    t.ok(err is None, "postern starts with two chain files, SNI and client certificates")
    if err:
        t.diag(err)
        return
    port = inst.ports["may"]
    try:
        got, c = handshake(port, client_ctx(ca.ca, ecdsa=True))
        c.close()
        t.ok(got == der(ec_crt), "a client that can only use ECDSA gets the ECDSA certificate")
        got, c = handshake(port, client_ctx(ca.ca, ecdsa=False))
        c.close()
        t.ok(got == der(ca.cert), "a client that can only use RSA gets the RSA certificate")
        got, c = handshake(port, client_ctx(ca.ca), name="other.example.org")
        c.close()
        t.ok(got == der(o_crt), "SNI other.example.org: that name's certificate (verified)")
        unverified = client_ctx(ca.ca)
        unverified.check_hostname = False
        got, c = handshake(port, unverified, name="unlisted.example.org")
        c.close()
        t.ok(got in (der(ca.cert), der(ec_crt)), "any other name: the default certificate")

        got, c = handshake(port, client_ctx(ca.ca, c_crt, c_key))
        before = inst.files()
        c.cmd("MAIL FROM:<a@example.net>")
        c.cmd("RCPT TO:<root@example.org>")
        c.cmd("DATA")
        c.send(b"Subject: cert\r\n\r\nx\r\n.\r\n")
        c.reply()
        c.close()
        t.ok(inst.wait_log("Trusted TLS connection established from unknown[127.0.0.1]"),
             "a client certificate from smtpd_tls_CAfile: Trusted")
        new = wait_for(lambda: [f for f in inst.files() if f not in before], 10)
        body = inst.cat(new[0])[1].decode(errors="replace") if new else ""
        t.like(body, '(Client CN "client.example.net", Issuer "Postern Test CA" (verified OK))',
               "the Received header names the verified client")
        got, c = handshake(port, client_ctx(ca.ca, c_crt, c_key), name="other.example.org")
        c.close()
        t.ok(got == der(o_crt) and wait_for(lambda: inst.logtext().count(
            "Trusted TLS connection established from unknown[127.0.0.1]") == 2, 10),
             "SNI to another certificate: the client certificate is still asked for and Trusted")
        got, c = handshake(port, client_ctx(ca.ca, u_crt, u_key))
        c.close()
        t.ok(inst.wait_log("Untrusted TLS connection established from unknown[127.0.0.1]"),
             "a certificate from another CA: Untrusted, and the session goes on")
        t.ok("Anonymous TLS connection established" in inst.logtext(),
             "without a certificate: Anonymous")
        t.ok("tlsproxy[" in inst.logtext() and "SSL_accept:SSLv3/TLS write server hello" in
             inst.logtext(), "smtpd_tls_loglevel 2: tlsproxy logs each handshake step")
    finally:
        if t.failed:
            t.diag(inst.logtext()[-3000:])
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
