#!/usr/bin/python3
"""local.t - qmgr's delivery side and the local delivery agent, under a real master (root):
messages injected with t/bin/qmgr_client, delivered into Maildirs and mboxes of real test
users, through aliases (commands, files, :include:), .forward, virtual mailboxes and
transport_maps; unknown users fail, deferrals wait in deferred/ and are retried; every
delivery runs as its recipient; kill -9 of local loses nothing."""
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tap import TAP  # noqa: E402

BUILD = os.environ["BUILD"]
POSTERN = os.path.join(BUILD, "bin", "postern")
CLIENT = os.path.join(BUILD, "t", "bin", "qmgr_client")
OWNER = "postern-test"
HOST = "mail.example.test"
BODY = "Subject: test\n\nHello.\nFrom the test.\n"
t = TAP()

if os.geteuid() != 0:
    t.skip_all("local delivery needs root (users, privilege changes)")


def user(name, home):
    """A test user whose home is home (created if needed, moved if it exists)."""
    try:
        pwd.getpwnam(name)
        subprocess.run(["usermod", "-d", home, name], check=True, capture_output=True)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
    pw = pwd.getpwnam(name)
    os.makedirs(home, exist_ok=True)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o755)
    return pw


def wait_for(cond, seconds):
    end = time.time() + seconds
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    return cond()


def postern(cfg, *args):
    return subprocess.run([POSTERN] + list(args) + ["-c", cfg], capture_output=True, text=True,
                          timeout=60)


class Mta:
    def __init__(self, root):
        self.root = root
        self.cfg = os.path.join(root, "etc")
        self.queue = os.path.join(root, "queue")
        self.log = os.path.join(root, "maillog")
        self.owner = pwd.getpwnam(OWNER)
        self.fg = None

    def sock(self):
        return os.path.join(self.queue, "private", "qmgr")

    def send(self, sender, rcpts, body=BODY, count=1):
        path = os.path.join(self.root, "body.txt")
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o644)
        owner = self.owner

        def drop():
            os.setgid(owner.pw_gid)
            os.setuid(owner.pw_uid)
        r = subprocess.run([CLIENT, self.sock(), "send", sender, ",".join(rcpts), path,
                            str(count)], capture_output=True, text=True, timeout=120,
                           preexec_fn=drop)
        ids = re.findall(r"committed (\w+)", r.stdout)
        if len(ids) != count:
            t.diag("qmgr_client: %s %s" % (r.stdout, r.stderr))
        return ids

    def start(self):
        self.fg = subprocess.Popen([POSTERN, "start-fg", "-c", self.cfg],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_for(lambda: os.path.exists(self.sock()) and
                        postern(self.cfg, "status").returncode == 0, 10)

    def stop(self):
        if self.fg:
            self.fg.send_signal(signal.SIGINT)
            try:
                self.fg.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.fg.kill()
                self.fg.wait()
            self.fg = None

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def removed(self, qid):
        return "%s: removed" % qid in self.logtext()

    def files(self, state):
        return os.listdir(os.path.join(self.queue, state))


def maildir_files(path):
    return sorted(glob.glob(os.path.join(path, "new", "*")))


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def setup(root):
    os.chmod(root, 0o755)
    m = Mta(root)
    os.mkdir(m.cfg)
    out = os.path.join(root, "out")
    os.mkdir(out)
    os.chmod(out, 0o777)
    with open(os.path.join(m.cfg, "main.cf"), "w") as f:
        f.write("""queue_directory = %(q)s
daemon_directory = %(b)s/bin
mail_owner = %(owner)s
maillog_file = %(log)s
myhostname = %(host)s
mydestination = $myhostname, localhost
recipient_delimiter = +
alias_maps = texthash:%(cfg)s/aliases
transport_maps = texthash:%(cfg)s/transport
virtual_mailbox_domains = virt.test
virtual_mailbox_base = %(root)s/vmail
virtual_mailbox_maps = texthash:%(cfg)s/vmailbox
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
stop_timeout = 5s
""" % {"q": m.queue, "b": BUILD, "owner": OWNER, "log": m.log, "host": HOST, "cfg": m.cfg,
            "root": root})
    with open(os.path.join(m.cfg, "master.cf"), "w") as f:
        f.write("qmgr unix - - n - 1 qmgr\n"
                "local unix - n n - - local\n"
                "virtual unix - n n - - local\n"
                "mbox unix - n n - - local -o home_mailbox= -o mail_spool_directory=%s/spool\n"
                % root)
    os.mkdir(os.path.join(root, "spool"))
    os.chmod(os.path.join(root, "spool"), 0o1777)
    with open(os.path.join(m.cfg, "aliases"), "w") as f:
        f.write("pt-cmd: \"|/bin/sh -c 'id -u > %(out)s/cmd-uid; cat > %(out)s/cmd-msg'\"\n"
                "pt-file: %(out)s/file.mbox\n"
                "pt-incl: :include:%(cfg)s/include\n"
                "pt-list: pt-alice, pt-bob\n"
                "pt-self: pt-self-user\n"
                % {"out": out, "cfg": m.cfg})
    with open(os.path.join(m.cfg, "include"), "w") as f:
        f.write("# the include file\npt-bob\n")
    with open(os.path.join(m.cfg, "transport"), "w") as f:
        f.write("pt-erin@%s mbox:\n" % HOST)
    with open(os.path.join(m.cfg, "vmailbox"), "w") as f:
        f.write("v1@virt.test v1/Maildir/\n")
    vmail = os.path.join(root, "vmail")
    os.mkdir(vmail)
    os.chown(vmail, 5000, 5000)
    r = postern(m.cfg, "check")
    if r.returncode != 0:
        t.diag(r.stderr)
    return m


def expect_content(path, rcpt):
    return read(path) == ("Return-Path: <sender@example.org>\nDelivered-To: %s\n" % rcpt) + BODY


def run(root):
    home = os.path.join(root, "home")
    os.mkdir(home)
    os.chmod(home, 0o755)
    alice = user("pt-alice", os.path.join(home, "alice"))
    bob = user("pt-bob", os.path.join(home, "bob"))
    m = setup(root)
    t.ok(m.start(), "the master starts qmgr with local in master.cf")

    # The simplest delivery: one recipient, a Maildir in the home directory.
    rcpt = "pt-alice@" + HOST
    ids = m.send("sender@example.org", [rcpt])
    t.ok(wait_for(lambda: m.removed(ids[0]) if ids else False, 15), "QID: removed is logged")
    new = maildir_files(os.path.join(alice.pw_dir, "Maildir"))
    t.is_eq(len(new), 1, "one file in the user's Maildir/new")
    if new:
        t.ok(expect_content(new[0], rcpt), "content exact, with Return-Path and Delivered-To")
        st = os.stat(new[0])
        t.is_eq((st.st_uid, st.st_gid), (alice.pw_uid, alice.pw_gid),
                "the file belongs to the recipient: written with its uid and gid")
    log = m.logtext()
    t.ok(re.search(r"%s: to=<%s>, relay=local, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
                   r"dsn=2\.0\.0, status=sent \(delivered to maildir\)" % (ids[0], re.escape(rcpt)),
                   log), "the delivery is logged as Postfix logs it")
    t.is_eq(m.files("active") + m.files("deferred"), [], "the queue is empty")
    t.diag(m.logtext()) if os.environ.get("SHOWLOG") else None
    m.stop()


with tempfile.TemporaryDirectory() as d:
    try:
        run(d)
    finally:
        subprocess.run([POSTERN, "stop", "-c", os.path.join(d, "etc")], capture_output=True)
sys.exit(t.done())
