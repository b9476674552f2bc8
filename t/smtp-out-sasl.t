#!/usr/bin/python3
"""smtp-out-sasl.t - client SASL in outbound delivery: smtp-out authenticates to relay hosts
on 587 (STARTTLS) and 465 (TLS from the first byte) with Cyrus SASL's client library
(doc/smtp-out.md, man/smtp-out.8).

The relays are real servers on loopback: a second postern's submission service with a
Cyrus sasldb, and (as root) a private instance of Debian's Postfix with smtpd_sasl_type =
cyrus and a sasldb of its own, started with `postfix -c DIR start` from a configuration
directory under this test's temporary directory and stopped however the test ends. Right
credentials deliver, wrong ones defer with the server's words. Recording proxies in front
of the relays keep every byte smtp-out sends, to check that no credential crosses before
TLS; a scripted server offering AUTH without STARTTLS checks that with the default security
options no AUTH is sent at all (and that noanonymous alone lets PLAIN through in the clear,
as main.cf then asks). sender_dependent_relayhost_maps and
smtp_sender_dependent_authentication choose the relay and the credentials by sender. The
password table is root's, mode 0600: smtp-out reads it before it drops privileges."""
import base64
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, free_port, read_text, uids, wait_for  # noqa: E402
from outbound import ScriptedServer, outcome, send  # noqa: E402
from sasldb import make_sasldb  # noqa: E402
from smtpd_harness import Instance as Receiver  # noqa: E402
from smtpd_harness import owner, tls_owner  # noqa: E402
from sockets import accept_each, listener  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402

t = TAP()
REALM = "example.org"
USERS = {"alice": "correct-horse", "bob": "bob-secret", "carol": "carol-pw"}


def login(user):
    return "%s@%s" % (user, REALM)


def secrets(user, password):
    """What must never cross in plaintext: the password, and PLAIN's response in base64."""
    plain = ("%s\0%s\0%s" % (login(user), login(user), password)).encode()
    return [password.encode(), base64.b64encode(plain)]


class Recorder:
    """A TCP proxy on loopback in front of port: keeps every byte each client sent."""

    def __init__(self, port):
        self.port_to = port
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        self.sent = []
        accept_each(self.sock, self.serve)

    def pump(self, src, dst, keep):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if keep is not None:
                    keep.append(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, conn):
        keep = []
        self.sent.append(keep)
        up = socket.create_connection(("127.0.0.1", self.port_to), timeout=30)
        back = threading.Thread(target=self.pump, args=(up, conn, None), daemon=True)
        back.start()
        threading.Thread(target=self.pump, args=(conn, up, keep), daemon=True).start()

    def stream(self, n=-1):
        return b"".join(self.sent[n]) if self.sent else b""


class AuthNoTLS(ScriptedServer):
    """A server that offers AUTH PLAIN LOGIN and no STARTTLS; it takes any credentials."""

    def __init__(self):
        super().__init__("auth")
        self.raw = []

    def play_auth(self, conn, f):
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
        while True:
            cmd = self.line(f)
            if cmd.startswith("AUTH"):
                self.send(conn, "235 2.7.0 Authentication successful\r\n")
            elif cmd.startswith(("MAIL", "RCPT")):
                self.send(conn, "250 2.1.0 Ok\r\n")
            elif cmd == "DATA":
                self.send(conn, "354 go ahead\r\n")
                self.data.append(self.content(f))
                self.send(conn, "250 2.0.0 Ok: queued as AUTH1\r\n")
            elif cmd == "QUIT":
                self.send(conn, "221 2.0.0 Bye\r\n")
                return
            else:
                self.send(conn, "502 5.5.1 what?\r\n")


class PrivatePostfix:
    """Debian's Postfix from a configuration directory of its own under d (as bench/mta-postfix
    runs it): smtpd on 587-style (STARTTLS required) and 465-style (wrapper mode) loopback
    ports with AUTH through Cyrus sasldb, no chroot, mail for anywhere discarded, no DNS."""

    def __init__(self, d, cert, key):
        self.d = d
        self.etc = os.path.join(d, "etc")
        self.queue = os.path.join(d, "queue")
        self.log = os.path.join(d, "maillog")
        self.port587, self.port465 = free_port(), free_port()
        self.started = False
        os.makedirs(self.etc)
        os.makedirs(self.queue)
        os.makedirs(os.path.join(d, "data"))
        shutil.chown(os.path.join(d, "data"), "postfix")
        shutil.copy(cert, os.path.join(self.etc, "cert.pem"))
        shutil.copy(key, os.path.join(self.etc, "key.pem"))
        os.chmod(os.path.join(self.etc, "key.pem"), 0o600)
        # Debian's Postfix reads smtpd.conf from $config_directory/sasl whatever
        # cyrus_sasl_config_path says; the database is kept out of the configuration
        # directory, which postfix-script wants owned by root.
        sasl = make_sasldb(os.path.join(d, "sasl"), pwd.getpwnam("postfix"), USERS,
                           os.path.join(self.etc, "sasl"))
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\nqueue_directory = %s\ndata_directory = %s/data\n"
                    "mail_owner = postfix\nsetgid_group = postdrop\n"
                    "myhostname = relay.test.example\nmydomain = test.example\n"
                    "mydestination =\ninet_interfaces = loopback-only\ninet_protocols = ipv4\n"
                    "alias_maps =\nalias_database =\nbiff = no\n"
                    "smtpd_peername_lookup = no\ndisable_dns_lookups = yes\n"
                    "default_transport = discard\nrelay_transport = discard\n"
                    "maillog_file = %s\nmaillog_file_prefixes = %s\n"
                    "smtpd_tls_cert_file = %s/cert.pem\nsmtpd_tls_key_file = %s/key.pem\n"
                    "smtpd_sasl_type = cyrus\nsmtpd_sasl_path = smtpd\n"
                    "cyrus_sasl_config_path = %s\nsmtpd_sasl_auth_enable = yes\n"
                    "smtpd_relay_restrictions = permit_sasl_authenticated, reject\n"
                    % (self.queue, d, self.log, d, self.etc, self.etc, sasl))
        with open("/etc/postfix/master.cf") as src, \
                open(os.path.join(self.etc, "master.cf"), "w") as out:
            for line in src:
                fields = line.split()
                if line.startswith(("#", " ", "\t")) or len(fields) < 8:
                    out.write(line)
                elif fields[1] != "inet":
                    fields[4] = "n"  # no chroot: a private queue has no chroot environment
                    out.write(" ".join(fields) + "\n")
            out.write("127.0.0.1:%d inet n - n - - smtpd\n"
                      "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_auth_only=yes\n"
                      "127.0.0.1:%d inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
                      % (self.port587, self.port465))

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", self.etc] + list(args), capture_output=True,
                              text=True, timeout=60)

    def start(self):
        self.postfix("set-permissions")
        self.started = True  # from here on, stop() runs whatever happens
        r = self.postfix("start")
        if r.returncode != 0:
            return r.stderr + r.stdout
        for port in (self.port587, self.port465):
            if not wait_for(lambda: can_connect(port), 10):
                return "Postfix does not listen on %d" % port
        return None

    def stop(self):
        if not self.started:
            return
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        pid = read_text(pidfile).strip()
        self.postfix("stop")
        if pid.isdigit():
            wait_for(lambda: not os.path.exists("/proc/%s" % pid), 20)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def relayed(log, user, seconds=10):
    """Did the relay log a client that authenticated as user?"""
    return wait_for(lambda: "sasl_username=%s" % login(user) in read_text(log), seconds)


def check_postern_relay(i, rx, p587, p465):
    """(a) and (c): a postern's submission on 587 and 465, through recording proxies."""
    qid = send(i, "", ["a@ok587.example"])
    t.like(outcome(i, qid, "a@ok587.example"), "status=sent (250 2.0.0 Ok: queued as ",
           "587, STARTTLS, right credentials: delivered")
    t.ok(relayed(rx.log, "alice"), "  the relay says the client authenticated as alice")
    wire = p587.stream()
    t.ok(b"STARTTLS\r\n" in wire and b"AUTH" not in wire.split(b"STARTTLS\r\n")[0],
         "  the wire: STARTTLS, and no AUTH before it")
    t.ok(not any(s in wire for s in secrets("alice", USERS["alice"])),
         "  no password and no PLAIN response anywhere in what crossed (all of it after TLS)")

    qid = send(i, "", ["b@ok465.example"])
    t.like(outcome(i, qid, "b@ok465.example"), "status=sent (250 2.0.0 Ok: queued as ",
           "465, TLS from the first byte, right credentials: delivered")
    wire = p465.stream()
    t.ok(wire.startswith(b"\x16\x03") and not any(s in wire for s in secrets("alice",
                                                                              USERS["alice"])),
         "  the wire: a TLS handshake from the first byte, no credential in clear")

    qid = send(i, "", ["c@bad587.example"])
    t.like(outcome(i, qid, "c@bad587.example"),
           "dsn=4.7.8, status=deferred (SASL authentication failed; server "
           "localhost[127.0.0.1] said: 535 5.7.8 Error: authentication failed: ",
           "587, wrong password: deferred with the server's words")
    qid = send(i, "", ["d@bad465.example"])
    t.like(outcome(i, qid, "d@bad465.example"),
           "status=deferred (SASL authentication failed; server localhost[127.0.0.1] said: 535 ",
           "465, wrong password: deferred with the server's words")


def check_no_tls(i, noauth):
    """(c): AUTH offered without STARTTLS."""
    qid = send(i, "", ["e@noauth.example"])
    t.like(outcome(i, qid, "e@noauth.example"),
           "dsn=4.7.0, status=deferred (SASL authentication failed; cannot authenticate to "
           "server 127.0.0.1[127.0.0.1]: no mechanism available)",
           "AUTH without STARTTLS, default security options: deferred, no mechanism available")
    t.ok(not any(c.startswith(("AUTH", "MAIL")) for c in noauth.commands),
         "  neither AUTH nor MAIL was sent (got %r)" % noauth.commands)
    t.like(i.log(), "warning: SASL authentication failure: ", "  Cyrus's reason is logged")
    before = len(noauth.commands)
    qid = send(i, "", ["f@plainok.example"])
    t.like(outcome(i, qid, "f@plainok.example"), "status=sent (250 2.0.0 Ok: queued as AUTH1)",
           "smtp_sasl_security_options = noanonymous: PLAIN without TLS, as configured")
    sent = noauth.commands[before:]
    want = "AUTH PLAIN " + secrets("alice", "plain-pw")[1].decode()
    t.ok(want in sent, "  the capture sees PLAIN's response in the clear (so it would catch one)")


def check_no_auth_offered(i):
    qid = send(i, "", ["g@example.org"])
    t.like(outcome(i, qid, "g@example.org"), "status=sent",
           "credentials configured, server offers no AUTH: delivered without it (as Postfix)")


def check_filter(i, rx):
    """smtp_sasl_mechanism_filter: LOGIN only is used; a filter that leaves nothing means no
    AUTH at all (the submission relay then refuses MAIL)."""
    qid = send(i, "", ["p@login.example"])
    line = outcome(i, qid, "p@login.example")
    t.like(line, "status=sent", "smtp_sasl_mechanism_filter = login: delivered")
    rqid = line.rsplit("queued as ", 1)[-1].rstrip(")")
    t.ok(wait_for(lambda: "%s: client=unknown[127.0.0.1], sasl_method=LOGIN, " % rqid
                  in read_text(rx.log), 10), "  the relay saw AUTH LOGIN")
    qid = send(i, "", ["q@filtered.example"])
    t.like(outcome(i, qid, "q@filtered.example"), "said: 530 5.7.0 Authentication required "
           "(in reply to MAIL FROM command)",
           "a filter that keeps none of the server's mechanisms: no AUTH, the relay refuses MAIL")
    t.like(i.log(), "warning: 127.0.0.1[127.0.0.1] offered no supported AUTH mechanisms: "
           "'PLAIN LOGIN'", "  and the log says why, as Postfix's does")


def check_sender(i, rx, ports):
    """(d): sender_dependent_relayhost_maps and sender-dependent credentials."""
    cases = (("alice@example.org", "alice", ports["sub"]),
             ("bob@bobs.example", "bob", ports["sub2"]),
             ("carol@elsewhere.example", "carol", ports["sub"]))
    for sender, user, port in cases:
        rcpt = "to-%s@world.example" % user
        before = read_text(rx.log).count("sasl_username=%s" % login(user))
        qid = send(i, sender, [rcpt])
        t.like(outcome(i, qid, rcpt), "relay=127.0.0.1[127.0.0.1]:%d, " % port,
               "sender <%s>: the relay its sender_dependent_relayhost_maps entry (or "
               "relayhost) names" % sender)
        t.like(outcome(i, qid, rcpt), "status=sent", "  delivered")
        t.ok(wait_for(lambda: read_text(rx.log).count("sasl_username=%s" % login(user)) > before,
                      10), "  authenticated as %s (by %s)" % (
                 login(user), "the sender's entry" if user != "carol" else "the next hop's entry"))
    # Connection reuse: alice's and carol's connections to the same relay are both kept
    # (smtp_connection_cache_time_limit is long here); each sender's next message takes its
    # own, never the other's: the cache key has the sender's SASL identity.
    for sender, user in (("alice@example.org", "alice"), ("carol@elsewhere.example", "carol")):
        rcpt = "again-%s@world.example" % user
        qid = send(i, sender, [rcpt])
        line = outcome(i, qid, rcpt)
        t.like(line, "relay=127.0.0.1[127.0.0.1]:%d, conn_use=2, " % ports["sub"],
               "sender <%s> again: the kept connection is reused" % sender)
        rqid = line.rsplit("queued as ", 1)[-1].rstrip(")")
        t.ok(wait_for(lambda: "%s: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=%s"
                      % (rqid, login(user)) in read_text(rx.log), 10),
             "  the one authenticated as %s" % login(user))


def check_postfix(i, pf):
    """(b): a real Postfix with Cyrus sasldb on 587 and 465."""
    for rcpt, what in (("h@pf587.example", "587"), ("k@pf465.example", "465")):
        qid = send(i, "", [rcpt])
        t.like(outcome(i, qid, rcpt), "status=sent (250 2.0.0 Ok: ",
               "Postfix on %s, right credentials: delivered" % what)
    t.ok(wait_for(lambda: read_text(pf.log).count("sasl_method=PLAIN, sasl_username=%s"
                                                  % login("alice")) >= 2, 10),
         "  Postfix logs both clients as authenticated with PLAIN")
    for rcpt, what in (("m@pfbad587.example", "587"), ("n@pfbad465.example", "465")):
        qid = send(i, "", [rcpt])
        t.like(outcome(i, qid, rcpt), "status=deferred (SASL authentication failed; server "
               "localhost[127.0.0.1] said: 535 5.7.8 Error: authentication failed: ",
               "Postfix on %s, wrong password: deferred with Postfix's words" % what)


def write_passwords(root, routes_pw):
    path = os.path.join(root, "sasl_passwd")
    with open(path, "w") as f:
        for key, value in routes_pw:
            f.write("%s %s\n" % (key, value))
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def main(root):
    os.chmod(root, 0o755)
    ca = TestCA(os.path.join(root, "ca"), host="localhost")
    os.chmod(ca.dir, 0o755)
    rx_key = os.path.join(root, "rx.key")
    shutil.copy(ca.key, rx_key)
    os.chown(rx_key, tls_owner().pw_uid, tls_owner().pw_gid)
    os.chmod(rx_key, 0o600)
    sasl_dir = make_sasldb(os.path.join(root, "rx-sasl"), owner(), USERS)
    rx = Receiver(os.path.join(root, "rx"),
                  "mydestination = example.org\nlocal_recipient_maps =\nmynetworks =\n"
                  "defer_transports = local, smtp\n"
                  "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                  "cyrus_sasl_config_path = %s\nsmtpd_sasl_local_domain =\n"
                  % (ca.cert, rx_key, sasl_dir),
                  services={"sub": ("submission", ""), "sub2": ("submission", ""),
                            "subs": ("submission", "-o smtpd_tls_wrappermode=yes"),
                            "plain": "-o smtpd_tls_security_level=none"},
                  extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = rx.start()
    t.ok(err is None, "a relay postern with submission on 587 and 465 starts")
    if err:
        t.diag(err)
    p587, p465 = Recorder(rx.ports["sub"]), Recorder(rx.ports["subs"])
    noauth = AuthNoTLS()

    pf = None
    if os.geteuid() == 0 and os.path.exists("/usr/sbin/postfix") and \
            os.path.exists("/etc/postfix/master.cf"):
        pf = PrivatePostfix(os.path.join(root, "postfix"), ca.cert, ca.key)

    ip, lh = "[127.0.0.1]:%d", "[localhost]:%d"
    pfp = (pf.port587, pf.port465) if pf else (9, 9)
    routes = {"ok587.example": "smtp:" + ip % p587.port,
              "ok465.example": "relay:" + ip % p465.port,
              "bad587.example": "smtp:" + lh % rx.ports["sub"],
              "bad465.example": "relay:" + lh % rx.ports["subs"],
              "noauth.example": "smtp:" + ip % noauth.port,
              "plainok.example": "plainauth:" + lh % noauth.port,
              "example.org": "smtp:" + ip % rx.ports["plain"],
              "login.example": "loginonly:" + ip % rx.ports["sub"],
              "filtered.example": "filtered:" + ip % rx.ports["sub"],
              "pf587.example": "smtp:" + ip % pfp[0],
              "pf465.example": "relay:" + ip % pfp[1],
              "pfbad587.example": "smtp:" + lh % pfp[0],
              "pfbad465.example": "relay:" + lh % pfp[1]}
    alice = "%s:%s" % (login("alice"), USERS["alice"])
    wrong = "%s:wrong-password" % login("alice")
    pw = write_passwords(root, [
        (ip % p587.port, alice), (ip % p465.port, alice),
        (lh % rx.ports["sub"], wrong), (lh % rx.ports["subs"], wrong),
        (ip % noauth.port, alice), (lh % noauth.port, "%s:plain-pw" % login("alice")),
        (ip % rx.ports["plain"], alice),
        (ip % pfp[0], alice), (ip % pfp[1], alice), (lh % pfp[0], wrong), (lh % pfp[1], wrong),
        # (d): by sender first, then the next hop
        ("alice@example.org", alice),
        ("@bobs.example", "%s:%s" % (login("bob"), USERS["bob"])),
        (ip % rx.ports["sub"], "%s:%s" % (login("carol"), USERS["carol"]))])
    sender_relay = os.path.join(root, "sender_relay")
    with open(sender_relay, "w") as f:
        f.write("alice@example.org %s\n@bobs.example %s\n"
                % (ip % rx.ports["sub"], ip % rx.ports["sub2"]))
    i = Instance(services="qmgr unix - - n - 1 qmgr\n"
                          "local unix - n n - - local\n"
                          "bounce unix - - n - 0 bounce\n"
                          "smtp unix - - n - - smtp-out\n"
                          "relay unix - - n - - smtp-out -o smtp_tls_wrappermode=yes\n"
                          "plainauth unix - - n - - smtp-out "
                          "-o smtp_sasl_security_options=noanonymous\n"
                          "loginonly unix - - n - - smtp-out "
                          "-o smtp_sasl_mechanism_filter=login\n"
                          "filtered unix - - n - - smtp-out "
                          "-o smtp_sasl_mechanism_filter=cram-md5\n"
                          "tlsproxy unix - - n - 0 tlsproxy\n",
                 main="transport_maps = inline:{ %s }\n"
                      % ", ".join("%s=%s" % kv for kv in routes.items()) +
                      "smtp_helo_name = client.test.example\n"
                      "smtp_helo_timeout = 10s\nsmtp_connect_timeout = 10s\n"
                      "tls_owner = %s\n" % tls_owner().pw_name +
                      "inet_protocols = ipv4\n"
                      "smtp_tls_security_level = may\n"
                      "smtp_connection_cache_time_limit = 60s\n"
                      "smtp_sasl_auth_enable = yes\n"
                      "smtp_sasl_password_maps = texthash:%s\n" % pw +
                      "smtp_sasl_tls_security_options = noanonymous\n"
                      "smtp_sender_dependent_authentication = yes\n"
                      "sender_dependent_relayhost_maps = texthash:%s\n" % sender_relay +
                      "relayhost = %s\n" % (ip % rx.ports["sub"]))
    try:
        t.ok(i.start(), "an instance with smtp-out, SASL and tlsproxy starts")
        check_postern_relay(i, rx, p587, p465)
        if os.geteuid() == 0:
            pids = i.program_pids("smtp-out")
            t.ok(pids and all(uids(p) and uids(p)[1] != 0 for p in pids),
                 "smtp-out runs unprivileged, yet used the root-only 0600 password table")
        check_no_tls(i, noauth)
        check_no_auth_offered(i)
        check_sender(i, rx, rx.ports)
        check_filter(i, rx)
        if pf is None:
            t.ok(True, "# SKIP a real Postfix relay: needs root and Debian's postfix "
                       "(tools/setup-deps)")
        else:
            err = pf.start()
            t.ok(err is None, "a private Postfix with AUTH on 587 and 465 starts")
            if err:
                t.diag(err)
            else:
                check_postfix(i, pf)
        log = i.log()
        t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
        t.ok(USERS["alice"] not in log and "wrong-password" not in log,
             "no password in the sender's log")
    finally:
        if t.failed:
            t.diag(i.log()[-4000:])
            if pf is not None:
                t.diag(read_text(pf.log)[-3000:])
        i.cleanup()
        rx.stop()
        if pf is not None:
            pf.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
