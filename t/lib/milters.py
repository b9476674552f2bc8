"""milters.py - real milters from Debian for the tests, each a private instance in the test's
directory on a loopback port of its own (inet sockets: any user, smtpd's mail_owner too, can
reach them), never a system service, never a DNS query:

    dkim = OpenDKIM(root, "sign", domain="example.test")   # opendkim-genkey makes the key
    dkim.start()                 # true once the milter accepts connections
    dkim.endpoint                # "inet:127.0.0.1:PORT", as smtpd_milters takes it
    dkim.port
    verify = OpenDKIM(root, "verify", keys=[dkim])  # the signer's public key, no DNS
    sa = SpamAssassin(root)      # spamd (the rules Debian ships, local tests only) and
    sa.start()                   # spamass-milter rejecting at score 15 with 5.7.1
    m.stop()                     # the process group, gone (SIGKILL after 3 s)

opendkim's verifier reads the public keys from a file (`TestPublicKeys`, opendkim.conf(5):
"for automated testing"): Debian's opendkim resolves through libunbound, and with
`ResolverConfiguration` forwarding to t/lib/dnsserver.py's unbound it sent no query at all
(strace: no socket), so the key never came from DNS. Every instance started is stopped at
exit even when the test dies."""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess

from instance import free_port, group_alive, wait_for

_running = []


def available():
    """None when every program is installed, else what is missing (tools/setup-deps)."""
    for prog in ("opendkim", "opendkim-genkey", "spamd", "spamc", "spamass-milter"):
        if shutil.which(prog) is None and not os.path.exists("/usr/sbin/" + prog):
            return prog + " not installed (tools/setup-deps installs it)"
    return None


def connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def program(name):
    return shutil.which(name) or "/usr/sbin/" + name


class Daemon:
    """A foreground program in a session of its own, its output in a log file."""

    def __init__(self, root, name):
        self.root, self.name, self.proc = root, name, None
        self.logfile = os.path.join(root, name + ".log")

    def spawn(self, argv, env=None):
        self.out = open(os.path.join(self.root, self.name + ".out"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        _running.append(self)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            # libmilter waits for its sessions to end; spamd's children follow their parent
            if not wait_for(lambda: not group_alive(pgid), 3):
                os.killpg(pgid, signal.SIGKILL)
                wait_for(lambda: not group_alive(pgid), 10)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.out.close()
        self.proc = None
        if self in _running:
            _running.remove(self)

    def output(self):
        try:
            with open(os.path.join(self.root, self.name + ".out"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no output)"


class OpenDKIM(Daemon):
    """opendkim in sign mode (a new 1024-bit key for selector sel of domain, clients from
    127.0.0.1 and 192.0.2.0/24, or those of internal, are internal and get signed, as do
    clients the MTA says authenticated with {auth_type}), or verify mode (the public keys of
    the signers in keys). canon: opendkim's Canonicalization."""

    def __init__(self, root, mode, domain="example.test", selector="sel", keys=(),
                 canon="simple/simple", name=None, internal="127.0.0.1,192.0.2.0/24"):
        Daemon.__init__(self, root, name or "opendkim-" + mode)
        self.mode, self.domain, self.selector = mode, domain, selector
        self.port = free_port()
        self.endpoint = "inet:127.0.0.1:%d" % self.port
        conf = ["Mode %s" % mode[0], "Socket inet:%d@127.0.0.1" % self.port,
                "Background no", "Syslog no", "UserID root", "Canonicalization " + canon,
                "PidFile %s/%s.pid" % (root, self.name), "LogResults yes"]
        if mode == "sign":
            keydir = os.path.join(root, self.name + "-key")
            os.mkdir(keydir)
            subprocess.run(["opendkim-genkey", "-b", "1024", "-D", keydir, "-d", domain,
                            "-s", selector], check=True)
            self.keyfile = os.path.join(keydir, selector + ".private")
            conf += ["Domain " + domain, "Selector " + selector, "KeyFile " + self.keyfile,
                     "InternalHosts " + internal]
            with open(os.path.join(keydir, selector + ".txt")) as f:
                self.record = "".join(re.findall(r'"([^"]*)"', f.read()))
        else:
            conf.append("TestPublicKeys " + write(
                os.path.join(root, self.name + ".keys"),
                "".join("%s._domainkey.%s %s\n" % (k.selector, k.domain, k.record)
                        for k in keys)))
        self.conf = write(os.path.join(root, self.name + ".conf"), "\n".join(conf) + "\n")

    def start(self):
        self.spawn([program("opendkim"), "-f", "-x", self.conf])
        return bool(wait_for(lambda: not self.alive() or connectable(self.port), 30)) and \
            self.alive()


SA_LOCAL_CF = """# t/lib/milters.py: SpamAssassin with the rules Debian ships, no network at all
dns_available no
skip_rbl_checks 1
use_bayes 0
bayes_auto_learn 0
"""


class SpamAssassin(Daemon):
    """spamd (the rules of Debian's package in /usr/share/spamassassin, the .pre files of
    /etc/spamassassin, local tests only, one child, user nobody with a home of its own) and
    spamass-milter on its own port, rejecting a score of `reject` or more with 550 5.7.1.
    spamd takes about 2 s to start here, its first scan 1-4 s: start it once per test file."""

    def __init__(self, root, reject=15):
        Daemon.__init__(self, root, "spamass-milter")
        self.spamd = Daemon(root, "spamd")
        self.spamd_port, self.port = free_port(), free_port()
        self.endpoint = "inet:127.0.0.1:%d" % self.port
        self.reject = reject
        self.site = os.path.join(root, "spamassassin")
        self.home = os.path.join(root, "spamd-home")
        os.makedirs(self.site)
        os.makedirs(self.home)
        shutil.chown(self.home, "nobody")
        os.chmod(root, 0o755)  # nobody's children reach their home below it
        for pre in os.listdir("/etc/spamassassin"):
            if pre.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", pre), self.site)
        write(os.path.join(self.site, "local.cf"), SA_LOCAL_CF)

    def spamd_ready(self):
        r = subprocess.run(["spamc", "-K", "-d", "127.0.0.1", "-p", str(self.spamd_port)],
                           capture_output=True)
        return r.returncode == 0

    def start(self):
        env = dict(os.environ, TMPDIR=self.home)
        self.spamd.spawn([program("spamd"), "-L", "--listen", "127.0.0.1", "--port",
                          str(self.spamd_port), "--max-children", "1", "--min-children", "1",
                          "-u", "nobody", "-H", self.home, "--nouser-config",
                          "--siteconfigpath", self.site, "--configpath",
                          "/usr/share/spamassassin", "-s", self.spamd.logfile,
                          "--pidfile", os.path.join(self.root, "spamd.pid")], env=env)
        if not wait_for(lambda: not self.spamd.alive() or self.spamd_ready(), 90, 0.2) or \
                not self.spamd.alive():
            return False
        self.spawn([program("spamass-milter"), "-p", "inet:%d@127.0.0.1" % self.port,
                    "-r", str(self.reject), "--", "-d", "127.0.0.1", "-p",
                    str(self.spamd_port)])
        return bool(wait_for(lambda: not self.alive() or connectable(self.port), 30)) and \
            self.alive()

    def stop(self):
        Daemon.stop(self)
        self.spamd.stop()


def stop_all():
    for d in list(_running):
        d.stop()


atexit.register(stop_all)


# A milter_header_checks table (pcre) for the tests of each action on the headers test_milter
# adds: smtpd's (t/smtpd-milter.t) and pickup's (t/pickup-milter.t).
HEADER_CHECKS = ("/^X-Spam-Flag: YES/ REJECT 5.7.1 spam, says the milter\n"
                 "/^Subject: changed/ reject\n"
                 "/^X-Temp:/ REJECT 4.7.0 later\n"
                 "/^X-Drop:/ IGNORE\n/^X-Hold:/ HOLD held by header\n/^X-Discard:/ DISCARD\n"
                 "/^X-Warn:/ WARN noted\n/^X-Info:/ INFO traced\n"
                 "/^X-Filter:/ FILTER smtp:[127.0.0.1]:10025\n")


class TestMilter(Daemon):
    """t/bin/test_milter on a loopback port, told its rules (-a STAGE=ACTION ...); what it
    saw is its log, one line per event: "stage argument\tmacro=value..."."""

    def __init__(self, root, port, args):
        TestMilter.runs = getattr(TestMilter, "runs", 0) + 1
        Daemon.__init__(self, root, "test_milter%d" % TestMilter.runs)
        self.port, self.args = port, args
        self.endpoint = "inet:127.0.0.1:%d" % port

    def start(self):
        bindir = os.path.join(os.environ["BUILD"], "t", "bin")
        self.spawn([os.path.join(bindir, "test_milter"), "-s", "inet:%d@127.0.0.1" % self.port,
                    "-l", self.logfile] + self.args)
        return wait_for(lambda: "ready" in self.text(), 30)

    def text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def lines(self, stage):
        return [x for x in self.text().splitlines() if x.startswith(stage + " ")]
