"""tlsca.py - a throw-away certificate authority for the TLS tests: a CA, a server
certificate for a name signed by it, and an unrelated CA that signed nothing of ours.
Everything is made with the openssl command, as an administrator would."""
import os
import subprocess


def _run(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def make_ca(d, name="Postern Test CA"):
    key, crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
         "-days", "30", "-subj", "/CN=" + name)
    return key, crt


def make_cert(d, ca_key, ca_crt, cn, kind="rsa:2048", prefix="server", alt=()):
    """A certificate for cn (also its subjectAltName, with the names of alt) signed by the
    CA: (key, crt) paths."""
    key, csr, crt = (os.path.join(d, prefix + ext) for ext in (".key", ".csr", ".crt"))
    ext = os.path.join(d, prefix + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = %s\nextendedKeyUsage = serverAuth, clientAuth\n"
                % ", ".join("DNS:" + n for n in (cn,) + tuple(alt)))
    if kind.startswith("ec"):
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             key, "-out", csr, "-subj", "/CN=" + cn)
    else:
        _run("req", "-newkey", kind, "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    _run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "30", "-extfile", ext)
    return key, crt


class TestCA:
    """ca.crt, server.key/server.crt for host in d; other/ca.crt unrelated."""

    def __init__(self, d, host="mx.example.org"):
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.host = host
        self.ca_key, self.ca = make_ca(d)
        self.key, self.cert = make_cert(d, self.ca_key, self.ca, host)
        other = os.path.join(d, "other")
        os.makedirs(other, exist_ok=True)
        _, self.other_ca = make_ca(other, "Unrelated CA")

    def renew(self):
        """A new key and certificate for the same name, in the same files."""
        self.key, self.cert = make_cert(self.dir, self.ca_key, self.ca, self.host)

    def give_key(self, user):
        """The key belongs to tlsproxy's user alone (0600), as in production."""
        os.chown(self.key, user.pw_uid, user.pw_gid)
        os.chmod(self.key, 0o600)
        for p in (self.cert, self.ca):
            os.chmod(p, 0o644)
