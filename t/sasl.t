#!/usr/bin/python3
"""sasl.t - the SASL server (lib/mail/sasl_*.c) against real backends, through
t/bin/sasl_try: Cyrus SASL with a sasldb made by saslpasswd2, and a real Dovecot auth
process (as root). For each: PLAIN and LOGIN succeed, a wrong password and an unknown user
fail, bad base64 is bad data and never reaches the backend, an authorization identity other
than the login fails, an unknown mechanism is unsupported, and the security options choose
the mechanisms offered with and without TLS."""
import base64
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from dovecot import Dovecot  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
BUILD = os.environ.get("BUILD", "build")
TRY = os.path.join(os.path.abspath(BUILD), "t", "bin", "sasl_try")


def b64(data):
    return base64.b64encode(data).decode()


def plain(authz, authc, password):
    return b64(b"%s\0%s\0%s" % (authz.encode(), authc.encode(), password.encode()))


def sasl_try(main_cf, *args):
    """sasl_try's output lines; a failed run or a time-out is a line saying so"""
    try:
        r = subprocess.run([TRY, "-c", main_cf] + list(args), capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return ["sasl_try did not finish"]
    lines = r.stdout.splitlines()
    if r.returncode != 0:
        t.diag("sasl_try %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr))
        lines.append("exit %d" % r.returncode)
    return lines


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main_cf(root, name, settings):
    return write(os.path.join(root, name), "queue_directory = %s\nmyhostname = mail.example.org\n"
                 "%s\n" % (root, settings))


def exchanges(label, cf, user, realm_user):
    """The cases both backends must get right; user logs in as realm_user"""
    good, bad = plain("", user, "secret"), plain("", user, "wrong")
    t.is_eq(sasl_try(cf, "-a", "PLAIN", "-i", good), ["ok " + realm_user],
            "%s: PLAIN with an initial response succeeds" % label)
    t.is_eq(sasl_try(cf, "-a", "plain", good), ["challenge ", "ok " + realm_user],
            "%s: PLAIN (named in lower case) without one gets an empty challenge first" % label)
    t.is_eq(sasl_try(cf, "-a", "LOGIN", b64(user.encode()), b64(b"secret")),
            ["challenge " + b64(b"Username:"), "challenge " + b64(b"Password:"),
             "ok " + realm_user], "%s: LOGIN succeeds" % label)
    t.is_eq(sasl_try(cf, "-a", "LOGIN", "-i", b64(user.encode()), b64(b"secret")),
            ["challenge " + b64(b"Password:"), "ok " + realm_user],
            "%s: LOGIN with the user name as initial response succeeds" % label)
    out = sasl_try(cf, "-a", "PLAIN", "-i", bad)
    t.ok(len(out) == 1 and out[0].startswith("fail ") and out[0].endswith("(tried %s)" % user),
         "%s: a wrong password fails, naming the user tried" % label) or t.diag(out)
    out = sasl_try(cf, "-a", "LOGIN", b64(user.encode()), b64(b"wrong"))
    t.ok(len(out) == 3 and out[2].startswith("fail ") and out[2].endswith("(tried %s)" % user),
         "%s: so does a wrong password with LOGIN" % label) or t.diag(out)
    out = sasl_try(cf, "-a", "PLAIN", "-i", plain("", "nobody", "secret"))
    t.ok(len(out) == 1 and out[0].startswith("fail ") and out[0].endswith("(tried nobody)"),
         "%s: an unknown user fails" % label) or t.diag(out)
    out = sasl_try(cf, "-a", "PLAIN", "-i", plain("bob", user, "secret"))
    t.ok(len(out) == 1 and out[0].startswith("fail "),
         "%s: an authorization identity other than the login fails" % label) or t.diag(out)
    t.is_eq(sasl_try(cf, "-a", "PLAIN", "-i", plain(user, user, "secret")), ["ok " + realm_user],
            "%s: the login itself as authorization identity succeeds" % label)
    t.is_eq(sasl_try(cf, "-a", "PLAIN", "-i", good[:-1]),
            ["bad_data malformed base64 in the client's response"],
            "%s: an initial response with its padding cut is bad data" % label)
    t.is_eq(sasl_try(cf, "-a", "PLAIN", good[:8] + "\t" + good[8:]),
            ["challenge ", "bad_data malformed base64 in the client's response"],
            "%s: a response with a tab in it is bad data" % label)
    out = sasl_try(cf, "-a", "PLAIN", "-i", "=")
    t.ok(len(out) == 1 and out[0].startswith("fail "),
         "%s: an empty initial response (\"=\") reaches the backend, which fails it" % label) \
        or t.diag(out)
    out = sasl_try(cf, "-a", "PLAIN", "-i", "A" * 12292)
    t.ok(out == ["fail response too long (tried nobody)"], "%s: a response over 12288 characters fails" % label) \
        or t.diag(out)
    t.is_eq(sasl_try(cf, "-a", "CRAM-MD6"), ["unsupported"],
            "%s: an unknown mechanism is unsupported at once" % label)
    t.is_eq(sasl_try(cf, "-a", "PLAIN\tresp=x"), ["unsupported"],
            "%s: a mechanism name with a tab is unsupported" % label)
    t.is_eq(sorted(sasl_try(cf, "-n", "8", "-C", "-a", "PLAIN", "-i", good)),
            ["%d: ok %s" % (i, realm_user) for i in range(8)],
            "%s: eight exchanges at once, after one freed while it ran, all succeed" % label)


def cyrus(root):
    sasldb = os.path.join(root, "sasldb")
    r = subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", "example.org", "alice"],
                       input="secret", capture_output=True, text=True)
    if not t.ok(r.returncode == 0, "saslpasswd2 makes a sasldb"):
        t.diag(r.stderr)
        return
    for app, mechs in (("smtpd", "PLAIN LOGIN"), ("wide", "PLAIN LOGIN CRAM-MD5 ANONYMOUS")):
        write(os.path.join(root, app + ".conf"),
              "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\n"
              "mech_list: %s\n" % (sasldb, mechs))
    base = ("smtpd_sasl_type = cyrus\ncyrus_sasl_config_path = %s\n"
            "smtpd_sasl_local_domain = example.org\n" % root)
    cf = main_cf(root, "cyrus.cf", base + "smtpd_sasl_path = smtpd\n")
    t.is_eq(sasl_try(cf, "-m"), ["mechs: PLAIN LOGIN", "mechs-tls: PLAIN LOGIN"],
            "cyrus: smtpd.conf's mech_list is offered with and without TLS")
    exchanges("cyrus", cf, "alice", "alice@example.org")

    strict = main_cf(root, "strict.cf", base + "smtpd_sasl_path = smtpd\n"
                     "smtpd_sasl_security_options = noanonymous, noplaintext\n"
                     "smtpd_sasl_tls_security_options = noanonymous\n")
    t.is_eq(sasl_try(strict, "-m"), ["mechs: ", "mechs-tls: PLAIN LOGIN"],
            "cyrus: noplaintext without TLS leaves nothing of PLAIN LOGIN; TLS gets both")
    t.is_eq(sasl_try(strict, "-a", "PLAIN", "-i", plain("", "alice", "secret")), ["unsupported"],
            "cyrus: PLAIN is refused without TLS")
    t.is_eq(sasl_try(strict, "-t", "-a", "PLAIN", "-i", plain("", "alice", "secret")),
            ["ok alice@example.org"], "cyrus: and works with TLS")
    wide = main_cf(root, "wide.cf", base + "smtpd_sasl_path = wide\n"
                   "smtpd_sasl_security_options = noanonymous, noplaintext\n"
                   "smtpd_sasl_tls_security_options = noanonymous\n")
    out = sasl_try(wide, "-m")
    t.ok(len(out) == 2 and sorted(out[0].split()[1:]) == ["CRAM-MD5"] and
         sorted(out[1].split()[1:]) == ["CRAM-MD5", "LOGIN", "PLAIN"],
         "cyrus: of four mechanisms, noplaintext keeps CRAM-MD5 and noanonymous drops ANONYMOUS")\
        or t.diag(out)
    out = sasl_try(main_cf(root, "open.cf", base + "smtpd_sasl_path = wide\n"
                           "smtpd_sasl_security_options =\n"), "-m")
    t.ok(len(out) == 2 and "ANONYMOUS" in out[0].split(),
         "cyrus: with no options at all ANONYMOUS is offered") or t.diag(out)


def dovecot_reconnect(cf, dv):
    """a session whose connection breaks gets TEMP; later ones reconnect"""
    p = subprocess.Popen([TRY, "-c", cf, "-p", "-r", "3", "-a", "LOGIN", b64(b"alice"),
                          b64(b"secret")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)

    def step(go=True):
        if go:
            p.stdin.write("go\n")
            p.stdin.flush()
        return p.stdout.readline().rstrip("\n")

    try:
        t.is_eq(step(False), "challenge " + b64(b"Username:"), "dovecot: a LOGIN starts")
        dv.stop()
        out = step()
        t.ok(out.startswith("temp Dovecot auth "),
             "dovecot: stopped under a session, its next step is TEMP") or t.diag(out)
        out = step()
        t.ok(out.startswith("temp ") and "connect to Dovecot auth" in out,
             "dovecot: while it is down, a mechanism offered before is TEMP, not unsupported")\
            or t.diag(out)
        if not t.ok(dv.start(t.diag), "dovecot starts again"):
            return
        t.is_eq([step(), step(), step()],
                ["challenge " + b64(b"Username:"), "challenge " + b64(b"Password:"), "ok alice"],
                "dovecot: the same process connects again and authenticates")
    finally:
        p.stdin.close()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        t.is_eq(p.returncode, 0, "dovecot: sasl_try ends well") or t.diag(p.stderr.read())
        p.stdout.close()
        p.stderr.close()


def dovecot(root):
    if os.geteuid() != 0:
        t.ok(True, "# SKIP dovecot: starting a Dovecot needs root")
        return
    if shutil.which("dovecot") is None:
        t.ok(True, "# SKIP dovecot: not installed (dovecot-core; tools/setup-deps installs it)")
        return
    write(os.path.join(root, "users"), "alice:{PLAIN}secret\n")
    base = "smtpd_sasl_type = dovecot\n"
    cf = main_cf(root, "dovecot.cf", base + "smtpd_sasl_path = auth\n")
    t.is_eq(sasl_try(cf, "-m"), ["mechs: ", "mechs-tls: "],
            "dovecot: not running, nothing is offered")
    t.is_eq(sasl_try(cf, "-a", "PLAIN", "-i", plain("", "alice", "secret")), ["unsupported"],
            "dovecot: and AUTH is unsupported")
    dv = Dovecot(root, "plain login cram-md5 anonymous")
    if not t.ok(dv.start(t.diag), "dovecot starts with a passwd-file and an auth listener"):
        return
    try:
        t.is_eq(sasl_try(cf, "-m"), ["mechs: PLAIN LOGIN CRAM-MD5", "mechs-tls: PLAIN LOGIN CRAM-MD5"],
                "dovecot: its MECH lines less ANONYMOUS (noanonymous) are offered")
        exchanges("dovecot", cf, "alice", "alice")
        absolute = main_cf(root, "absolute.cf", base + "smtpd_sasl_path = %s/auth\n"
                           "queue_directory = /nonexistent\n" % root)
        t.is_eq(sasl_try(absolute, "-t", "-a", "PLAIN", "-i", plain("", "alice", "secret")),
                ["ok alice"], "dovecot: an absolute smtpd_sasl_path, a TLS session")
        strict = main_cf(root, "strict.cf", base + "smtpd_sasl_path = auth\n"
                         "smtpd_sasl_security_options = noanonymous, noplaintext\n"
                         "smtpd_sasl_tls_security_options = noanonymous\n")
        t.is_eq(sasl_try(strict, "-m"), ["mechs: CRAM-MD5", "mechs-tls: PLAIN LOGIN CRAM-MD5"],
                "dovecot: noplaintext without TLS keeps CRAM-MD5 only; TLS gets all three")
        t.is_eq(sasl_try(strict, "-a", "LOGIN"), ["unsupported"],
                "dovecot: LOGIN is refused without TLS")
        t.is_eq(sasl_try(strict, "-t", "-a", "LOGIN", b64(b"alice"), b64(b"secret")),
                ["challenge " + b64(b"Username:"), "challenge " + b64(b"Password:"), "ok alice"],
                "dovecot: and works with TLS")
        out = sasl_try(main_cf(root, "open.cf", base + "smtpd_sasl_path = auth\n"
                               "smtpd_sasl_security_options =\n"), "-m")
        t.is_eq(out[0], "mechs: PLAIN LOGIN CRAM-MD5 ANONYMOUS",
                "dovecot: with no options at all ANONYMOUS is offered")
        dovecot_reconnect(cf, dv)
    finally:
        dv.stop()
    log = dv.log()
    t.ok("BUG" not in log and "Error" not in log,
         "dovecot: logged no protocol error of ours (cancels included)") or t.diag(log)


with tempfile.TemporaryDirectory() as tmp:
    os.chmod(tmp, 0o755)
    cyrus_dir = os.path.join(tmp, "cyrus")
    os.mkdir(cyrus_dir)
    cyrus(cyrus_dir)
    dovecot_dir = os.path.join(tmp, "dovecot")
    os.mkdir(dovecot_dir)
    dovecot(dovecot_dir)
sys.exit(t.done())
