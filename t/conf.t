#!/usr/bin/python3
"""conf.t - `postern conf` on a main.cf and master.cf written the way docker-mailserver writes
its own: user-defined parameters used from master.cf, $name chains, continuation lines."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tap import TAP  # noqa: E402

POSTERN = os.path.join(os.environ["BUILD"], "bin", "postern")

MAIN_CF = """\
# docker-mailserver style main.cf
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no

# Basic configuration
myhostname = mail.example.com
mydomain = example.com
alias_maps = hash:/etc/aliases
mydestination = $myhostname, localhost.$mydomain, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::1]/128
  [fe80::]/64
recipient_delimiter = +
inet_interfaces = all

smtpd_sender_restrictions = $dms_smtpd_sender_restrictions
# Custom defined parameters for DMS:
dms_smtpd_sender_restrictions = permit_sasl_authenticated, permit_mynetworks,
    reject_unknown_sender_domain, reject_sender_login_mismatch
# Submission ports 587 and 465 with SPOOF_PROTECTION=1
mua_sender_restrictions = reject_authenticated_sender_login_mismatch,
    $dms_smtpd_sender_restrictions

dkim_milter = inet:localhost:8891
dmarc_milter = inet:localhost:8893
smtpd_milters = $dkim_milter,$dmarc_milter
non_smtpd_milters = $dkim_milter
myhostnam = typo.example.com
"""

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o { smtpd_discard_ehlo_keywords = silent-discard, dsn }
127.0.0.1:10025 inet n - n - 4 smtpd -o content_filter=
qmgr      unix  n       -       n       300     1       qmgr
"""

NONDEFAULT = """\
alias_maps = hash:/etc/aliases
append_dot_mydomain = no
biff = no
dkim_milter = inet:localhost:8891
dmarc_milter = inet:localhost:8893
dms_smtpd_sender_restrictions = permit_sasl_authenticated, permit_mynetworks, \
reject_unknown_sender_domain, reject_sender_login_mismatch
inet_interfaces = all
mua_sender_restrictions = reject_authenticated_sender_login_mismatch, \
$dms_smtpd_sender_restrictions
mydestination = $myhostname, localhost.$mydomain, localhost
mydomain = example.com
myhostnam = typo.example.com
myhostname = mail.example.com
mynetworks = 127.0.0.0/8 [::1]/128 [fe80::]/64
non_smtpd_milters = $dkim_milter
recipient_delimiter = +
relayhost =
smtpd_banner = $myhostname ESMTP
smtpd_milters = $dkim_milter,$dmarc_milter
smtpd_sender_restrictions = $dms_smtpd_sender_restrictions
"""

MASTER_M = """\
smtp       inet  n       -       n       -       -       smtpd
submission inet  n       -       n       -       -       smtpd -o syslog_name=postfix/submission \
-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes \
-o smtpd_client_restrictions=permit_sasl_authenticated,reject \
-o smtpd_sender_restrictions=$mua_sender_restrictions \
-o { smtpd_discard_ehlo_keywords = silent-discard, dsn }
127.0.0.1:10025 inet  n       -       n       -       4       smtpd -o content_filter=
qmgr       unix  n       -       n       300     1       qmgr
"""


def postern(*args):
    r = subprocess.run([POSTERN, "conf", "-c", DIR] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


t = TAP()
with tempfile.TemporaryDirectory() as DIR:
    with open(os.path.join(DIR, "main.cf"), "w") as f:
        f.write(MAIN_CF)
    with open(os.path.join(DIR, "master.cf"), "w") as f:
        f.write(MASTER_CF)

    rc, out, err = postern("-n")
    t.is_eq(rc, 0, "-n exits 0")
    t.is_eq(out, NONDEFAULT, "-n prints the main.cf values, normalised and sorted")
    t.ok("main.cf, line 29: unused parameter: myhostnam=typo.example.com" in err,
         "a typo is warned about with file and line")
    for used in ("dms_smtpd_sender_restrictions", "mua_sender_restrictions", "dkim_milter"):
        t.ok("unused parameter: " + used not in err, "user-defined %s is not unused" % used)

    rc, out, _ = postern("-x", "mua_sender_restrictions", "smtpd_milters", "mydestination")
    t.is_eq(out, "mua_sender_restrictions = reject_authenticated_sender_login_mismatch, "
            "permit_sasl_authenticated, permit_mynetworks, reject_unknown_sender_domain, "
            "reject_sender_login_mismatch\n"
            "smtpd_milters = inet:localhost:8891,inet:localhost:8893\n"
            "mydestination = mail.example.com, localhost.example.com, localhost\n",
            "-x expands $name chains")
    rc, out, _ = postern("-h", "myorigin")
    t.is_eq(out, "$myhostname\n", "-h prints the value alone, unexpanded")
    rc, out, _ = postern("-hx", "myorigin")
    t.is_eq(out, "mail.example.com\n", "-hx expands the default")
    rc, out, err = postern("no_such_parameter")
    t.ok(rc != 0 and "no_such_parameter: unknown parameter" in err, "an unknown name is an error")
    rc, out, _ = postern("-d", "message_size_limit", "max_idle")
    t.is_eq(out, "message_size_limit = 10240000\nmax_idle = 100s\n", "-d prints defaults")

    rc, out, _ = postern("-M")
    t.is_eq(out, MASTER_M, "-M prints master.cf entries on one line each")
    rc, out, _ = postern("-M", "submission/inet")
    t.ok(out.startswith("submission inet") and out.count("\n") == 1, "-M service/type selects")
    rc, out, _ = postern("-P", "submission/inet/smtpd_sender_restrictions")
    t.is_eq(out, "submission/inet/smtpd_sender_restrictions = $mua_sender_restrictions\n",
            "-P prints one override")
    rc, out, _ = postern("-P")
    t.is_eq(out.count("\n"), 7, "-P prints every override")
    t.ok("submission/inet/smtpd_discard_ehlo_keywords = silent-discard, dsn\n" in out,
         "an override with spaces keeps them")

    rc, _, _ = postern("relayhost = [smtp.example.net]:587", "dms_smtpd_sender_restrictions=reject",
                       "new_parameter=1")
    t.is_eq(rc, 0, "editing exits 0")
    with open(os.path.join(DIR, "main.cf")) as f:
        edited = f.read()
    want = MAIN_CF.replace("relayhost =\n", "relayhost = [smtp.example.net]:587\n")
    want = want.replace("dms_smtpd_sender_restrictions = permit_sasl_authenticated, "
                        "permit_mynetworks,\n    reject_unknown_sender_domain, "
                        "reject_sender_login_mismatch\n", "dms_smtpd_sender_restrictions = reject\n")
    t.is_eq(edited, want + "new_parameter = 1\n",
            "edits replace entries in place (continuations too), keep comments, append new ones")
    rc, out, _ = postern("-x", "mua_sender_restrictions")
    t.is_eq(out, "mua_sender_restrictions = reject_authenticated_sender_login_mismatch, reject\n",
            "the edit is seen through the $name chain")
    rc, _, _ = postern("-X", "new_parameter", "biff")
    with open(os.path.join(DIR, "main.cf")) as f:
        edited = f.read()
    t.ok("new_parameter" not in edited and "biff" not in edited and "# Basic configuration" in edited,
         "-X removes entries and keeps comments")

    with open(os.path.join(DIR, "main.cf"), "w") as f:
        f.write("# header\n  orphan = 1\n")
    rc, out, err = postern("-n")
    t.ok(rc != 0 and "main.cf, line 2: continuation line without a parameter" in err,
         "a continuation line with nothing before it is refused with file and line")
    with open(os.path.join(DIR, "main.cf"), "w") as f:
        f.write("message_size_limit = lots\n")
    r = subprocess.run([POSTERN, "check", "-c", DIR], capture_output=True, text=True)
    t.ok(r.returncode != 0 and "main.cf, line 1: message_size_limit: bad size value" in r.stderr,
         "a bad typed value names file, line and parameter")
sys.exit(t.done())
