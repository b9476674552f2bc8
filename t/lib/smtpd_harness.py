"""smtpd_harness.py - a real postern instance (master, qmgr, smtpd services) for the smtpd
tests, and a raw SMTP client that reads whole replies."""
import os
import pwd
import smtplib
import socket
import subprocess
import time

from instance import ensure_user, free_port, no_nameserver, read_text, wait_for  # noqa: F401 (tests import some)

BUILD = os.environ["BUILD"]
POSTERN = os.path.join(BUILD, "bin", "postern")
QUEUE_CAT = os.path.join(BUILD, "t", "bin", "queue_cat")
TEST_USER = "postern-test"
TLS_USER = "postern-test-tls"



def owner():
    """The unprivileged mail_owner: a test user when root, else the invoking user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return ensure_user(TEST_USER)


def tls_owner():
    """tlsproxy's own user: a second test user when root, else the invoking user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return ensure_user(TLS_USER)



class Instance:
    """A configuration under root/, started with `postern start`. services maps a name to
    the -o options of one smtpd listener on its own port, or to (program, options) for
    another program there (submission); extra_master is added to master.cf as it is."""

    def __init__(self, root, main_extra="", services=None, qmgr=True, queue=None, anvil=False,
                 extra_master=""):
        self.root = root
        os.makedirs(root, exist_ok=True)
        # The master works in private/ as mail_owner, who must reach it: as for any queue,
        # every directory above it is searchable (a test's temporary directory is not).
        for d in (os.path.dirname(root), root):
            os.chmod(d, 0o755)
        self.cfg = os.path.join(root, "etc")
        self.queue = queue or os.path.join(root, "queue")
        self.log = os.path.join(root, "maillog")
        self.user = owner()
        os.mkdir(self.cfg)
        self.ports = {}
        with open(os.path.join(self.cfg, "main.cf"), "w") as f:
            f.write("queue_directory = %s\ndaemon_directory = %s/bin\nmail_owner = %s\n"
                    "maillog_file = %s\nsmtpd_peername_lookup = no\ndefer_transports = local\n"
                    "myhostname = mx.example.org\nmydomain = example.org\n"
                    "stop_timeout = 5s\ntls_owner = %s\n"
                    "smtp_dns_resolv_conf = %s\nsmtpd_dns_resolv_conf = %s\n%s"
                    % (self.queue, BUILD, self.user.pw_name, self.log, tls_owner().pw_name,
                       no_nameserver(root), no_nameserver(root), main_extra))
        with open(os.path.join(self.cfg, "master.cf"), "w") as f:
            for name, opts in (services or {"main": ""}).items():
                program, opts = opts if isinstance(opts, tuple) else ("smtpd", opts)
                port = free_port()
                self.ports[name] = port
                f.write("127.0.0.1:%d inet n - n - - %s %s\n" % (port, program, opts))
            if qmgr:
                f.write("qmgr unix - - n - 1 qmgr\n")
            if anvil:
                f.write("anvil unix - - n - 1 anvil\n")
            f.write(extra_master)

    def postern(self, *args):
        return subprocess.run([POSTERN] + list(args) + ["-c", self.cfg], capture_output=True,
                              text=True, timeout=60)

    def start(self):
        r = self.postern("start")
        if r.returncode != 0:
            return r.stderr
        for port in self.ports.values():
            if not wait_for(lambda: self.can_connect(port), 10):
                return "port %d does not answer" % port
        return None

    def stop(self):
        self.postern("stop")

    def can_connect(self, port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    COMMITTED = ("active", "deferred")

    def files(self, state=None):
        """Queue IDs in one state, or committed (active/ or deferred/: qmgr moves a file on
        to deferred/ once its delivery is put off, as defer_transports does here)."""
        found = set()
        for st in (state,) if state else self.COMMITTED:
            d = os.path.join(self.queue, st)
            found.update(os.listdir(d) if os.path.isdir(d) else [])
        return sorted(found)

    def cat(self, qid, state=None):
        """(envelope lines, content bytes) of a queue file, wherever it is committed."""
        out = b""
        for _ in range(20):
            for st in (state,) if state else self.COMMITTED:
                path = os.path.join(self.queue, st, qid)
                r = subprocess.run([QUEUE_CAT, path], capture_output=True, timeout=10)
                out = r.stdout if r.returncode == 0 else b""
                if out:
                    break
            if out:
                break
            time.sleep(0.05)
        head, _, body = out.partition(b"\n\n")
        return head.decode(errors="replace").splitlines(), body

    def logtext(self):
        return read_text(self.log)

    def wait_log(self, text, seconds=5):
        return wait_for(lambda: text in self.logtext(), seconds)


class Client:
    """A raw SMTP client: send bytes, read whole (multi-line) replies."""

    def __init__(self, port, timeout=10, source=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self):
        """The next reply as "250 2.1.0 Ok" (lines joined with '|'); "" at EOF."""
        lines = []
        while True:
            line = self.line()
            if not line:
                return "|".join(lines)
            text = line.decode(errors="replace").rstrip("\r\n")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return "|".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def tls(self, context, server_hostname="mx.example.org", session=None):
        """Go on in TLS over the same connection (resuming session, if given); what was read
        ahead of it is returned (it should be nothing)."""
        ahead, self.buf = self.buf, b""
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname,
                                        session=session)
        return ahead

    def closed(self):
        """True when the server closed the connection (EOF with nothing more)."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()


def greet(port, helo="EHLO client.example.net"):
    c = Client(port)
    c.reply()
    c.cmd(helo)
    return c


class NamedSMTP(smtplib.SMTP):
    """smtplib verifies the certificate against the name it connected to: here the server's
    name, mx.example.org, while the connection goes to loopback (no DNS query is made)."""

    def _get_socket(self, host, port, timeout):
        self._host = "mx.example.org"
        return super()._get_socket("127.0.0.1", port, timeout)


class NamedSMTP_SSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        self._host = "mx.example.org"
        return super()._get_socket("127.0.0.1", port, timeout)
