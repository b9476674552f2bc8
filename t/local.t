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
from instance import move_home, read_text, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

BUILD = os.environ["BUILD"]
POSTERN = os.path.join(BUILD, "bin", "postern")
CLIENT = os.path.join(BUILD, "t", "bin", "qmgr_client")
OWNER = "postern-test"
HOST = "mail.example.test"
BODY = "Subject: test\n\nHello.\nFrom the test.\n"
MBOX_BODY = BODY.replace("\nFrom ", "\n>From ")  # mboxrd quoting
t = TAP()

if os.geteuid() != 0:
    t.skip_all("local delivery needs root (users, privilege changes)")


def user(name, home):
    """A test user whose home is home (created if needed, moved if it exists)."""
    try:
        pwd.getpwnam(name)
        move_home(name, home)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
    pw = pwd.getpwnam(name)
    os.makedirs(home, exist_ok=True)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o755)
    return pw



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
        return read_text(self.log)

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
virtual_alias_domains = virt-alias.test
virtual_alias_maps = texthash:%(cfg)s/virtual
defer_transports = slow
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
stop_timeout = 5s
""" % {"q": m.queue, "b": BUILD, "owner": OWNER, "log": m.log, "host": HOST, "cfg": m.cfg,
            "root": root})
    with open(os.path.join(m.cfg, "master.cf"), "w") as f:
        # Tiny limits: the rest waits in active/ (the backlog path is exercised), at most 5
        # requests per transport are in flight.
        f.write("qmgr unix - - n - 1 qmgr -o qmgr_message_active_limit=3 "
                "-o default_process_limit=5\n"
                "local unix - n n - - local\n"
                "virtual unix - n n - - local\n"
                "bounce unix - - n - 0 bounce\n"
                "mbox unix - n n - - local -o home_mailbox= -o mail_spool_directory=%s/spool\n"
                % root)
    os.mkdir(os.path.join(root, "spool"))
    os.chmod(os.path.join(root, "spool"), 0o1777)
    with open(os.path.join(m.cfg, "aliases"), "w") as f:
        f.write("pt-cmd \"|/bin/sh -c 'id -u > %(out)s/cmd-uid; ls -l /proc/$$/fd > %(out)s/cmd-fds;"
                " cat > %(out)s/cmd-msg'\"\n"
                "pt-file %(out)s/file.mbox\n"
                "pt-incl :include:%(cfg)s/include\n"
                "pt-list pt-alice, pt-bob\n"
                "pt-remote far@remote.example\n"
                "pt-inclcmd :include:%(cfg)s/include-cmd\n"
                % {"out": out, "cfg": m.cfg})
    with open(os.path.join(m.cfg, "include"), "w") as f:
        f.write("# the include file\npt-bob\n")
    with open(os.path.join(m.cfg, "include-cmd"), "w") as f:
        f.write("|/bin/true\n")
    with open(os.path.join(m.cfg, "transport"), "w") as f:
        f.write("pt-erin@%s mbox:\npt-slow@%s slow:\n" % (HOST, HOST))
    with open(os.path.join(m.cfg, "virtual"), "w") as f:
        f.write("team@virt-alias.test pt-alice@%s, pt-bob@%s\n" % (HOST, HOST))
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
    spare = [os.stat(os.path.join(m.queue, "spare", f)) for f in m.files("spare")]
    t.ok(len(spare) == 1 and spare[0].st_size == 0,
         "the finished message left one empty file in spare/ for reuse")
    worker_cases(m, alice, rcpt)
    again = [os.stat(os.path.join(m.queue, "spare", f)).st_ino for f in m.files("spare")]
    t.is_eq(again, [spare[0].st_ino] if spare else [None],
            "the next message was written into that file and left it again")

    more_cases(m, root, alice, bob)
    t.diag(m.logtext()) if os.environ.get("SHOWLOG") else None
    t.diag(m.logtext()) if os.environ.get("SHOWLOG") else None
    m.stop()


def proc_ids(pid, key):
    """The real, effective, saved and filesystem ids of a process (key Uid or Gid)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


def worker_cases(m, alice, rcpt):
    """The delivery process that wrote alice's mail stays for the next message to her: it
    runs as alice for good, holds no descriptor of local's, and one that is killed while
    idle is replaced without losing a message."""
    workers = [pid for pid in local_pids(m) if proc_ids(pid, "Uid")[:1] == [alice.pw_uid]]
    t.is_eq(len(workers), 1, "one delivery process for the user is kept")
    if not workers:
        return
    pid = workers[0]
    t.is_eq(proc_ids(pid, "Uid"), [alice.pw_uid] * 4, "its real, effective, saved and fs uid")
    t.is_eq(proc_ids(pid, "Gid"), [alice.pw_gid] * 4, "its real, effective, saved and fs gid")
    with open("/proc/%d/status" % pid) as f:
        groups = [line.split()[1:] for line in f if line.startswith("Groups:")]
    t.is_eq(groups, [[str(alice.pw_gid)]], "its only supplementary group is the user's")
    t.is_eq(sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid)), [0, 1, 2, 3],
            "it holds stdin, stdout, stderr and its socket to local, nothing else")
    os.kill(pid, signal.SIGKILL)
    ids = m.send("sender@example.org", [rcpt])
    t.ok(delivered(m, ids), "after kill -9 of the idle delivery process, the next message "
         "to the user is delivered")
    t.ok(len(maildir_files(os.path.join(alice.pw_dir, "Maildir"))) == 2
         and "delivery process died" not in m.logtext(), "by a new one, without a deferral")
    # The Maildir of the later cases holds only their messages.
    for path in maildir_files(os.path.join(alice.pw_dir, "Maildir")):
        os.unlink(path)


def delivered(m, ids, seconds=20):
    return wait_for(lambda: all(m.removed(i) for i in ids), seconds) if ids else False


def status_line(m, qid, rcpt):
    found = re.search(r"%s: to=<%s>[^\n]*" % (qid, re.escape(rcpt)), m.logtext())
    return found.group(0) if found else ""


def more_cases(m, root, alice, bob):
    out = os.path.join(root, "out")
    bob_md = os.path.join(bob.pw_dir, "Maildir")

    # mbox, chosen by transport_maps (the "mbox" service is local with home_mailbox empty)
    erin = user("pt-erin", os.path.join(root, "home", "erin"))
    ids = m.send("sender@example.org", ["pt-erin@" + HOST])
    t.ok(delivered(m, ids), "mbox delivery through transport_maps ends with removed")
    box = os.path.join(root, "spool", "pt-erin")
    text = read(box) if os.path.exists(box) else ""
    if os.environ.get("SHOWLOG"):
        t.diag(repr(text))
    t.ok(text.startswith("From sender@example.org ") and
         "Return-Path: <sender@example.org>\nDelivered-To: pt-erin@%s\n" % HOST in text and
         text.endswith(MBOX_BODY + "\n"),
         "the mbox holds From_, the added headers and the body, From quoted")
    t.is_eq(os.stat(box).st_uid if text else -1, erin.pw_uid, "the mbox belongs to the user")
    t.ok("relay=mbox" in status_line(m, ids[0], "pt-erin@" + HOST) and
         "status=sent (delivered to mailbox)" in status_line(m, ids[0], "pt-erin@" + HOST),
         "logged with relay=mbox, status=sent")

    # 100 recipients in one message (address extensions: 100 deliveries to one Maildir)
    before = len(maildir_files(os.path.join(alice.pw_dir, "Maildir")))
    rcpts = ["pt-alice+%d@%s" % (i, HOST) for i in range(100)]
    ids = m.send("sender@example.org", rcpts)
    t.ok(delivered(m, ids, 60), "a message with 100 recipients is delivered and removed")
    t.is_eq(len(maildir_files(os.path.join(alice.pw_dir, "Maildir"))) - before, 100,
            "100 files in the Maildir")
    t.is_eq(len(re.findall(r"%s: to=<pt-alice\+\d+@[^>]*>.*status=sent" % ids[0], m.logtext())),
            100, "100 status=sent lines")

    # alias to a command: runs as default_privs (the alias table belongs to root), never root
    ids = m.send("sender@example.org", ["pt-cmd@" + HOST])
    t.ok(delivered(m, ids), "alias to a command: delivered")
    nobody = pwd.getpwnam("nobody")
    uid = read(os.path.join(out, "cmd-uid")).strip() if os.path.exists(
        os.path.join(out, "cmd-uid")) else ""
    t.is_eq(uid, str(nobody.pw_uid), "the command ran as default_privs (nobody), not root")
    t.ok(os.path.exists(os.path.join(out, "cmd-msg")) and
         read(os.path.join(out, "cmd-msg")).endswith(BODY), "the command got the message")
    t.ok("status=sent (delivered to command: " in status_line(m, ids[0], "pt-cmd@" + HOST),
         "logged as delivered to command")
    fds = read(os.path.join(out, "cmd-fds")) if os.path.exists(
        os.path.join(out, "cmd-fds")) else "socket:"
    t.ok("socket:" not in fds and "memfd:" not in fds and m.queue not in fds,
         "the command inherits no socket, queue file or message copy of local's")
    ids = m.send("sender@example.org", ["pt-inclcmd@" + HOST])
    t.ok(delivered(m, ids) and "dsn=5.7.1, status=bounced (mail to command is restricted)" in
         status_line(m, ids[0], "pt-inclcmd@" + HOST),
         "a command in an :include: file bounces: allow_mail_to_commands = alias, forward")

    # Delivered-To for the recipient already in the message: a loop
    ids = m.send("sender@example.org", ["pt-alice@" + HOST],
                 body="Delivered-To: pt-alice@%s\n" % HOST + BODY)
    t.ok(delivered(m, ids) and "dsn=5.4.6, status=bounced (mail forwarding loop for pt-alice@" in
         status_line(m, ids[0], "pt-alice@" + HOST), "a Delivered-To loop bounces with 5.4.6")

    # alias to a file, :include:, a list of users
    ids = m.send("sender@example.org", ["pt-file@" + HOST])
    t.ok(delivered(m, ids), "alias to a file: delivered")
    path = os.path.join(out, "file.mbox")
    t.ok(os.path.exists(path) and MBOX_BODY in read(path) and
         os.stat(path).st_uid == nobody.pw_uid,
         "the file holds the message and was written as default_privs")
    before = len(maildir_files(bob_md))
    ids = m.send("sender@example.org", ["pt-incl@" + HOST])
    t.ok(delivered(m, ids), "alias to an :include: file: delivered")
    t.is_eq(len(maildir_files(bob_md)) - before, 1, "the user named in the include file got it")
    before_a = len(maildir_files(os.path.join(alice.pw_dir, "Maildir")))
    before = len(maildir_files(bob_md))
    ids = m.send("sender@example.org", ["pt-list@" + HOST])
    t.ok(delivered(m, ids), "alias to two users: delivered")
    t.ok(len(maildir_files(bob_md)) - before == 1 and
         len(maildir_files(os.path.join(alice.pw_dir, "Maildir"))) - before_a == 1,
         "each user got one copy")

    # alias to a remote address: forwarded as a new message through qmgr
    ids = m.send("sender@example.org", ["pt-remote@" + HOST])
    t.ok(delivered(m, ids), "alias to a remote address: the original is done")
    fwd_line = status_line(m, ids[0], "pt-remote@" + HOST)
    new = re.search(r"status=sent \(forwarded as (\w+)\)", fwd_line)
    t.ok(new, "logged status=sent (forwarded as QID)")
    new_id = new.group(1) if new else "none"
    t.ok(wait_for(lambda: "status=deferred" in status_line(m, new_id, "far@remote.example"), 15),
         "the new message is queued for the remote address (deferred: no smtp service)")
    t.ok("orig_to=<pt-remote@%s>" % HOST in status_line(m, new_id, "far@remote.example"),
         "with the local recipient as its original recipient")

    # .forward: carol forwards to bob
    carol = user("pt-carol", os.path.join(root, "home", "carol"))
    fwd = os.path.join(carol.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("pt-bob\n")
    os.chown(fwd, carol.pw_uid, carol.pw_gid)
    before = len(maildir_files(bob_md))
    ids = m.send("sender@example.org", ["pt-carol@" + HOST])
    t.ok(delivered(m, ids), ".forward: delivered")
    t.is_eq(len(maildir_files(bob_md)) - before, 1, ".forward sends carol's mail to bob")
    t.ok(not os.path.exists(os.path.join(carol.pw_dir, "Maildir")), "and not into carol's own")
    with open(fwd, "w") as f:
        f.write("\"|id -u > %s/fwd-uid\"\n" % out)
    ids = m.send("sender@example.org", ["pt-carol@" + HOST])
    t.ok(delivered(m, ids), ".forward to a command: delivered")
    path = os.path.join(out, "fwd-uid")
    t.is_eq(read(path).strip() if os.path.exists(path) else "", str(carol.pw_uid),
            "the .forward command ran as the user")
    os.chmod(fwd, 0o666)
    ids = m.send("sender@example.org", ["pt-carol@" + HOST])
    t.ok(delivered(m, ids), "a world-writable .forward is ignored")
    t.is_eq(len(maildir_files(os.path.join(carol.pw_dir, "Maildir"))), 1,
            "the mail goes into carol's own Maildir")

    # virtual mailbox with a static uid
    ids = m.send("sender@example.org", ["v1@virt.test"])
    t.ok(delivered(m, ids), "virtual mailbox: delivered")
    vnew = maildir_files(os.path.join(root, "vmail", "v1", "Maildir"))
    t.ok(len(vnew) == 1 and os.stat(vnew[0]).st_uid == 5000 and expect_content(vnew[0],
                                                                                 "v1@virt.test"),
         "in virtual_mailbox_base/v1/Maildir, owned by uid 5000, exact content")
    t.ok("relay=virtual" in status_line(m, ids[0], "v1@virt.test"), "logged with relay=virtual")
    ids = m.send("sender@example.org", ["v2@virt.test"])
    t.ok(delivered(m, ids), "unknown virtual user: removed")
    t.ok("dsn=5.1.1, status=bounced" in status_line(m, ids[0], "v2@virt.test"),
         "unknown virtual user: 5.1.1 bounced")

    # unknown user
    ids = m.send("sender@example.org", ["nosuchuser@" + HOST])
    t.ok(delivered(m, ids), "unknown user: the file is removed")
    line = status_line(m, ids[0], "nosuchuser@" + HOST)
    t.ok("dsn=5.1.1, status=bounced (unknown user: \"nosuchuser\")" in line,
         "unknown user: logged status=bounced with 5.1.1")

    # a transport without a service: deferred, in deferred/
    ids = m.send("sender@example.org", ["someone@remote.example"])
    t.ok(wait_for(lambda: ids and ids[0] in m.files("deferred"), 15),
         "mail for a transport that is not running waits in deferred/")
    line = status_line(m, ids[0], "someone@remote.example")
    t.ok("relay=none" in line and "status=deferred (mail transport unavailable" in line,
         "logged status=deferred (mail transport unavailable ...)")

    # a deferral that clears: dave's home is not his (Maildir cannot be created)
    dave = user("pt-dave", os.path.join(root, "home", "dave"))
    os.chown(dave.pw_dir, 0, 0)
    ids = m.send("sender@example.org", ["pt-dave@" + HOST])
    t.ok(wait_for(lambda: ids and "status=deferred" in status_line(m, ids[0], "pt-dave@" + HOST),
                  15), "an unwritable mailbox defers: status=deferred logged")
    t.ok(wait_for(lambda: ids[0] in m.files("deferred"), 5), "the message waits in deferred/")
    def next_try():
        try:
            return os.stat(os.path.join(m.queue, "deferred", ids[0])).st_mtime
        except OSError:  # back in active/ for its retry already
            return None
    seen = wait_for(next_try, 5)
    t.ok(seen is not None and seen > time.time() - 1,
         "its modification time is the next try, in the future")
    os.chown(dave.pw_dir, dave.pw_uid, dave.pw_gid)
    t.ok(delivered(m, ids, 20), "after the condition clears, the retry delivers it")
    t.ok(m.logtext().count("%s: from=<sender@example.org>, size=" % ids[0]) >= 2,
         "each activation is logged (queue active), the first at the commit")
    t.is_eq(len(maildir_files(os.path.join(dave.pw_dir, "Maildir"))), 1, "dave has his mail")

    # virtual alias expansion: the file is rewritten with the expanded recipients
    before_a = len(maildir_files(os.path.join(alice.pw_dir, "Maildir")))
    before = len(maildir_files(bob_md))
    ids = m.send("sender@example.org", ["team@virt-alias.test"])
    t.ok(delivered(m, ids), "virtual alias to two users: delivered and removed")
    t.ok(len(maildir_files(bob_md)) - before == 1 and
         len(maildir_files(os.path.join(alice.pw_dir, "Maildir"))) - before_a == 1,
         "each expanded recipient got one copy")
    t.ok("%s: virtual alias expansion: 2 recipients now" % ids[0] in m.logtext(),
         "the expansion is recorded in the queue file once")
    t.ok(", orig_to=<team@virt-alias.test>, relay=local" in
         status_line(m, ids[0], "pt-bob@" + HOST), "logged with orig_to")

    # defer_transports: the transport's mail waits
    ids = m.send("sender@example.org", ["pt-slow@" + HOST])
    t.ok(wait_for(lambda: ids and "status=deferred (deferred transport)" in
                  status_line(m, ids[0], "pt-slow@" + HOST), 15),
         "defer_transports: status=deferred (deferred transport)")
    t.ok(wait_for(lambda: ids[0] in m.files("deferred"), 5), "and the message is in deferred/")

    # kill -9 of local in the middle of a stream: nothing is lost
    before = len(maildir_files(bob_md))
    import threading
    got = []
    sender = threading.Thread(target=lambda: got.extend(
        m.send("sender@example.org", ["pt-bob@" + HOST], count=200)))
    sender.start()
    kills = 0
    end = time.time() + 10
    while sender.is_alive() and time.time() < end:
        for pid in local_pids(m):
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except OSError:
                pass
        time.sleep(0.05)
    sender.join()
    t.ok(delivered(m, got, 60), "after kill -9 of local (%d times), every message is removed"
         % kills)
    n = len(maildir_files(bob_md)) - before
    t.ok(200 <= n <= 200 + kills, "every message is in the Maildir (%d files for 200)" % n)

    # kill -9 of qmgr while messages are being delivered: the new qmgr resumes active/
    before = len(maildir_files(bob_md))
    got = m.send("sender@example.org", ["pt-bob@" + HOST], count=100)
    for pid in service_pids(m, "qmgr"):
        os.kill(pid, signal.SIGKILL)
    # (the log is not the judge here: a kill between an unlink and its log line is allowed)
    t.ok(len(got) == 100 and wait_for(lambda: not set(got) & set(
        m.files("active") + m.files("deferred") + m.files("incoming") + m.files("corrupt")), 90),
        "after kill -9 of qmgr, every message left the queue")
    t.ok(wait_for(lambda: len(maildir_files(bob_md)) - before >= 100, 10),
         "and every one was delivered")
    n = len(maildir_files(bob_md)) - before
    t.ok(100 <= n <= 100 + 20, "each once, or twice for those in flight (%d files for 100)" % n)

    # maximal_queue_lifetime: what is still deferred fails at its next try (the notices
    # about earlier failures, to a sender with no route here, too: bounce_queue_lifetime)
    waiting = [i for i in m.files("deferred")]
    t.ok(len(waiting) >= 2, "messages wait in deferred/ (%d)" % len(waiting))
    m.stop()
    with open(os.path.join(m.cfg, "main.cf"), "a") as f:
        f.write("maximal_queue_lifetime = 1s\nbounce_queue_lifetime = 1s\n")
    t.ok(m.start(), "restarted with maximal_queue_lifetime = 1s")
    t.ok(wait_for(lambda: all(m.removed(i) for i in waiting), 20),
         "every deferred message is removed at its next try")
    t.ok(re.search(r"to=<pt-slow@[^>]*>.*dsn=4\.3\.2, status=bounced \(message expired after "
                   r"1 seconds in the queue: deferred transport\)", m.logtext()),
         "logged status=bounced (message expired ...)")


def local_pids(m):
    return service_pids(m, "local")


def service_pids(m, name):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry) as f:
                    args = f.read().split("\0")
            except OSError:
                continue
            if args and args[0].endswith("/" + name) and m.cfg in args:
                pids.append(int(entry))
    return pids


with tempfile.TemporaryDirectory() as d:
    try:
        run(d)
    finally:
        subprocess.run([POSTERN, "stop", "-c", os.path.join(d, "etc")], capture_output=True)
sys.exit(t.done())
