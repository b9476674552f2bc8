"""sasldb.py - a real Cyrus SASL sasldb with one user for the submission tests, and the
AUTH PLAIN answer for it."""
import base64
import os
import subprocess

USER, PASSWORD, REALM = "alice", "correct horse", "example.org"
LOGIN = USER + "@" + REALM


def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain(authz, authc, password):
    return b64("%s\0%s\0%s" % (authz, authc, password))


def make_sasldb(d, owner, users=None, conf_dir=None):
    """A sasldb in d with users (name: password, in REALM; by default USER alone), readable by
    owner only, and the Cyrus SASL application config smtpd.conf naming it in conf_dir (by
    default d too): that directory, for cyrus_sasl_config_path."""
    os.makedirs(d)
    db = os.path.join(d, "sasldb2")
    for name, password in (users or {USER: PASSWORD}).items():
        r = subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", REALM, name],
                           input=password.encode(), capture_output=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("saslpasswd2: %s" % r.stderr.decode())
    os.chown(db, owner.pw_uid, owner.pw_gid)
    os.chmod(db, 0o600)
    conf_dir = conf_dir or d
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\n"
                "mech_list: PLAIN LOGIN\n" % db)
    os.chmod(d, 0o755)
    return conf_dir
