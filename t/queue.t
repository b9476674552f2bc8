#!/usr/bin/python3
"""queue.t - the queue tools under a real master (root): mailq / postqueue -p text checked
byte for byte, -j JSON parsed, `Mail queue is empty`; postsuper -d/-h/-H/-r on deferred and
held files and on a message whose delivery is in flight; postqueue -f/-s/-i; postcat -q;
unprivileged users listed or refused per authorized_mailq_users / authorized_flush_users,
with real uids. Mail waits in deferred/ because its transport is in defer_transports (or
its agent, a socket this test holds open, never answers)."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import OWNER, ensure_user, read_text, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

BUILD = os.environ["BUILD"]
POSTERN = os.path.join(BUILD, "bin", "postern")
CLIENT = os.path.join(BUILD, "t", "bin", "qmgr_client")
SHIM = os.path.join(BUILD, "t", "preload", "pathops.so")
BODY = "Subject: queued\n\nfirst line\nsecond line\n"
SIZE = len(BODY.replace("\n", "\r\n"))
ALLOWED = "pt-qlist"  # in authorized_mailq_users and authorized_flush_users
STRANGER = "pt-qother"  # in neither
t = TAP()

if os.geteuid() != 0:
    t.skip_all("the queue tools' permissions need root and real uids")


class Mta:
    def __init__(self, root):
        self.root = root
        self.cfg = os.path.join(root, "etc")
        self.queue = os.path.join(root, "queue")
        self.log = os.path.join(root, "maillog")
        self.bin = os.path.join(root, "bin")
        self.owner = ensure_user(OWNER)
        self.fg = None
        os.mkdir(self.cfg)
        os.mkdir(self.bin)
        for name in ("mailq", "postqueue", "postsuper", "postcat"):
            os.symlink(os.path.abspath(POSTERN), os.path.join(self.bin, name))
        with open(os.path.join(self.cfg, "main.cf"), "w") as f:
            f.write("""queue_directory = %(q)s
daemon_directory = %(b)s/bin
mail_owner = %(owner)s
maillog_file = %(log)s
myhostname = mx.test.example
mydestination = $myhostname, localhost
alias_maps =
transport_maps = texthash:%(cfg)s/transport
virtual_alias_domains = valias.example
virtual_alias_maps = texthash:%(cfg)s/virtual
defer_transports = slow
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 7200s
authorized_mailq_users = %(allowed)s
authorized_flush_users = %(allowed)s
stop_timeout = 5s
ipc_timeout = 3s
""" % {"q": self.queue, "b": os.path.abspath(BUILD), "owner": OWNER, "log": self.log,
                "cfg": self.cfg, "allowed": ALLOWED})
        with open(os.path.join(self.cfg, "master.cf"), "w") as f:
            f.write("qmgr unix - - n - 1 qmgr\n"
                    "showq unix n - n - - showq\n")
        with open(os.path.join(self.cfg, "virtual"), "w") as f:
            f.write("someone@valias.example someone@slow.example\n")
        with open(os.path.join(self.cfg, "transport"), "w") as f:
            f.write("slow.example slow:\nother.example slow:\nstall.example stall:\n"
                    "%s@mx.test.example later:\n" % ALLOWED)
        os.chmod(root, 0o755)

    def start(self):
        self.fg = subprocess.Popen([POSTERN, "start-fg", "-c", self.cfg],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_for(lambda: all(os.path.exists(os.path.join(self.queue, p)) for p in
                                    ("private/qmgr", "public/showq")), 10)

    def stop(self):
        if self.fg:
            self.fg.send_signal(signal.SIGINT)
            try:
                self.fg.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.fg.kill()
                self.fg.wait()
            self.fg = None

    def run(self, name, *args, user=None, stdin=None, env=None):
        """A queue command by its Postfix name (argv[0]), as root or as user."""
        def drop():
            pw = pwd.getpwnam(user)
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        argv = [os.path.join(self.bin, name), "-c", self.cfg] + list(args)
        if name == "mailq":
            argv[1] = "-C"
        return subprocess.run(argv, capture_output=True, timeout=60, input=stdin, env=env,
                              preexec_fn=drop if user else None)

    def send(self, rcpts, sender="sender@example.org"):
        path = os.path.join(self.root, "body.txt")
        with open(path, "w") as f:
            f.write(BODY)
        os.chmod(path, 0o644)
        owner = self.owner

        def drop():
            os.setgid(owner.pw_gid)
            os.setuid(owner.pw_uid)
        r = subprocess.run([CLIENT, os.path.join(self.queue, "private", "qmgr"), "send",
                            sender.encode() if isinstance(sender, str) else sender,
                            b",".join(x.encode() if isinstance(x, str) else x for x in rcpts),
                            path, "1"], capture_output=True, timeout=60, preexec_fn=drop)
        ids = re.findall(r"committed (\w+)", r.stdout.decode())
        if len(ids) != 1:
            t.diag("qmgr_client: %r %r" % (r.stdout, r.stderr))
        return ids[0] if ids else None

    def where(self, qid):
        for state in ("incoming", "active", "deferred", "hold", "corrupt"):
            if os.path.exists(os.path.join(self.queue, state, qid)):
                return state
        return None

    def logtext(self):
        return read_text(self.log)

    def listing(self):
        r = self.run("postqueue", "-j")
        return {m["queue_id"]: m for m in map(json.loads, r.stdout.decode().splitlines())}

    def activations(self, qid):
        return self.logtext().count("%s: from=" % qid)


def expected_text(messages):
    """postqueue -p's layout, written out from the listing's facts."""
    out = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    for i, m in enumerate(messages):
        if i:
            out += "\n"
        mark = {"active": "*", "hold": "!"}.get(m["queue_name"], "")
        when = time.strftime("%a %b %e %H:%M:%S", time.localtime(m["arrival_time"]))
        out += "%-11s %7d %-20.20s %s\n" % (m["queue_id"] + mark, m["message_size"], when,
                                          m["sender"])
        last = ""
        for r in m["recipients"]:
            why = r.get("delay_reason", "")
            if why != last:
                shown = why or "reason unavailable"
                out += "%s(%s)\n" % (" " * max(0, 76 - len(shown)), shown)
                last = why
            out += "%41s%s\n" % ("", r["address"])
    total = sum(m["message_size"] for m in messages)
    return out + "\n-- %d Kbytes in %d Request%s.\n" % (total // 1024, len(messages),
                                                       "" if len(messages) == 1 else "s")


def empty_queue(m):
    for name, args in (("mailq", ()), ("postqueue", ("-p",))):
        r = m.run(name, *args)
        t.is_eq(r.stdout.decode(), "Mail queue is empty\n",
                "%s on an empty queue prints exactly 'Mail queue is empty'" % name)
        t.is_eq(r.returncode, 0, "and exits 0")
    r = m.run("postqueue", "-j")
    t.is_eq((r.stdout, r.returncode), (b"", 0), "postqueue -j on an empty queue prints nothing")


def listing_cases(m):
    a = m.send(["one@slow.example"])
    b = m.send(["two@slow.example", "three@other.example", "we\"ird\\x@slow.example"],
               sender="")
    c = m.send([b"ctl\x01x@slow.example", "j\u00f6rg@slow.example".encode(),
                b"bad\xffbyte@slow.example"])
    ids = [a, b, c]
    t.ok(all(ids), "three messages queued")
    t.ok(wait_for(lambda: all(m.where(q) == "deferred" for q in ids), 20),
         "each is deferred (its transport is in defer_transports)")
    r = m.run("postqueue", "-j")
    lines = r.stdout.decode().splitlines()
    t.is_eq(len(lines), 3, "postqueue -j: one line per message")
    msgs = {}
    for line in lines:
        obj = json.loads(line)
        msgs[obj["queue_id"]] = obj
    t.is_eq(sorted(msgs), sorted(ids), "every queued message is listed, by its queue ID")
    ma = msgs.get(a, {})
    t.is_eq(sorted(ma), ["arrival_time", "forced_expire", "message_size", "queue_id",
                         "queue_name", "recipients", "sender"], "Postfix's field names")
    t.is_eq((ma.get("queue_name"), ma.get("message_size"), ma.get("forced_expire"),
             ma.get("sender")), ("deferred", SIZE, False, "sender@example.org"),
            "queue name, size, forced_expire and sender are right")
    t.ok(abs(ma.get("arrival_time", 0) - time.time()) < 120, "arrival_time is the epoch time")
    t.is_eq(ma.get("recipients"), [{"address": "one@slow.example",
                                    "delay_reason": "deferred transport"}],
            "the recipient and its delay_reason (without the DSN code)")
    mb = msgs.get(b, {})
    t.is_eq(mb.get("sender"), "MAILER-DAEMON", "the null sender is MAILER-DAEMON, as in Postfix")
    t.is_eq([r["address"] for r in mb.get("recipients", [])],
            ["two@slow.example", "three@other.example", "\"we\\\"ird\\\\x\"@slow.example"],
            "a local part that needs quotes is quoted (RFC 5321), and survives JSON")
    t.ok(r'"\"we\\\"ird\\\\x\"@slow.example"' in r.stdout.decode(),
         "quotes and backslashes are escaped on the wire")
    mc = msgs.get(c, {})
    t.is_eq([r["address"] for r in mc.get("recipients", [])],
            ["\"ctl\x01x\"@slow.example", "j\u00f6rg@slow.example", "bad?byte@slow.example"],
            "a control character is \\u-escaped, UTF-8 kept, a broken byte becomes '?'")
    t.ok("\\u0001" in r.stdout.decode(), "the control character as \\u0001")

    text = m.run("mailq").stdout.decode("utf-8", "replace")
    order = [msgs[q] for q in re.findall(r"^(\w{17})[*!]? ", text, re.M)]
    t.is_eq(len(order), 3, "mailq lists three messages")
    want = expected_text(order).replace("ctl\x01x", "ctl?x")
    t.is_eq(text, want, "mailq's text is postqueue -p's layout, byte for byte")
    t.ok(" " * 41 + "\"we\\\"ird\\\\x\"@slow.example\n" in text, "recipients in column 42")
    t.ok("(deferred transport)\n" in text and
         text.count("(deferred transport)") == 3,
         "a reason once per run of recipients that share it")
    t.ok(re.search(r"^%s +%d \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  MAILER-DAEMON$" %
                   (b, SIZE), text, re.M) is not None,
         "ID, size, arrival time, MAILER-DAEMON for the null sender")
    r2 = m.run("postqueue", "-p")
    t.is_eq(r2.stdout.decode("utf-8", "replace"), text, "postqueue -p prints the same")
    r3 = subprocess.run([POSTERN, "queue", "list", "-c", m.cfg], capture_output=True)
    t.is_eq(r3.stdout.decode("utf-8", "replace"), text, "and so does postern queue list")
    return a, b, c


def corrupt_cases(m, a):
    hold = os.path.join(m.queue, "hold")
    with open(os.path.join(m.queue, "deferred", a), "rb") as f:
        data = f.read()
    for name, content in (("AAAAAAAAAAAAAAAAA", b"garbage\x00\xff" * 10),
                          ("BBBBBBBBBBBBBBBBB", data[:len(data) // 2]),
                          ("CCCCCCCCCCCCCCCCC", data[:-1] + b"\x00")):
        with open(os.path.join(hold, name), "wb") as f:
            f.write(content)
        os.chown(os.path.join(hold, name), m.owner.pw_uid, m.owner.pw_gid)
    r = m.run("postqueue", "-j")
    t.is_eq((r.returncode, len(r.stdout.decode().splitlines())), (0, 3),
            "damaged files are left out of the listing, which goes on")
    t.ok("AAAAAAAAAAAAAAAAA: not listed" in "".join(
        line for line in m.logtext().splitlines() if "showq" in line) or
        "hold/AAAAAAAAAAAAAAAAA" in m.logtext(), "and showq logs them")
    for name in ("AAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCC"):
        os.unlink(os.path.join(hold, name))


def admin_cases(m, a, b, c):
    r = m.run("postsuper", "-h", a)
    t.is_eq((r.returncode, r.stderr.decode()), (0, "postsuper: Placed on hold: 1 message\n"),
            "postsuper -h: Postfix's summary line")
    t.is_eq(m.where(a), "hold", "the file is in hold/")
    t.is_eq(m.listing()[a]["queue_name"], "hold", "the listing says hold")
    t.ok(re.search(r"^%s! " % a, m.run("mailq").stdout.decode("utf-8", "replace"), re.M),
         "and mailq marks it with '!'")
    r = m.run("postqueue", "-f")
    t.is_eq(m.where(a), "hold", "a flush leaves held mail alone")
    r = m.run("postsuper", "-H", a)
    t.is_eq((r.returncode, r.stderr.decode()), (0, "postsuper: Released from hold: 1 message\n"),
            "postsuper -H releases it")
    t.ok(wait_for(lambda: m.where(a) == "deferred" and m.activations(a) >= 2, 10),
         "it is tried at once and deferred again")

    before = m.activations(b)
    r = m.run("postqueue", "-i", b)
    t.is_eq(r.returncode, 0, "postqueue -i ID")
    t.ok(wait_for(lambda: m.activations(b) == before + 1 and m.where(b) == "deferred", 10),
         "brings that message back into active/ now")
    before = {q: m.activations(q) for q in (a, b, c)}
    r = m.run("postqueue", "-s", "other.example")
    t.is_eq(r.returncode, 0, "postqueue -s site")
    t.ok(wait_for(lambda: m.activations(b) == before[b] + 1, 10),
         "tries the message with a recipient at that site")
    t.is_eq((m.activations(a), m.activations(c)), (before[a], before[c]), "and no other")
    before = {q: m.activations(q) for q in (a, b, c)}
    r = m.run("postqueue", "-f")
    t.ok(wait_for(lambda: all(m.activations(q) == before[q] + 1 for q in (a, b, c)) and
                  all(m.where(q) == "deferred" for q in (a, b, c)), 10),
         "postqueue -f tries every deferred message now")

    t.ok(m.listing()[c]["recipients"][0].get("delay_reason"), "deferred recipients have reasons")
    m.run("postsuper", "-h", c)
    r = m.run("postsuper", "-r", c)
    t.is_eq(r.stderr.decode(), "postsuper: Requeued: 1 message\n", "postsuper -r requeues")
    t.ok(wait_for(lambda: "%s: requeued" % c in m.logtext() and m.where(c) == "deferred", 10),
         "a held message requeued is tried at once (and deferred again)")

    r = m.run("postcat", "-q", a)
    out = r.stdout.decode("utf-8", "replace")
    t.is_eq(r.returncode, 0, "postcat -q ID")
    t.ok(out.startswith("*** ENVELOPE RECORDS deferred/%s ***\n" % a), "envelope first")
    t.ok("sender: sender@example.org\n" in out and "recipient: one@slow.example\n" in out,
         "sender and recipient")
    t.ok(out.endswith("*** MESSAGE CONTENTS deferred/%s ***\n%s*** MESSAGE FILE END deferred/%s ***\n"
                      % (a, BODY, a)), "then the content, as it was sent")
    r = m.run("postcat", "-h", "-q", a)
    t.ok("Subject: queued\n" in r.stdout.decode() and "first line" not in r.stdout.decode() and
         "ENVELOPE" not in r.stdout.decode(), "postcat -h: the headers only")
    r = m.run("postcat", "-bq", a)
    t.ok("first line\nsecond line\n" in r.stdout.decode() and "Subject" not in r.stdout.decode(),
         "postcat -b: the body only")
    r = m.run("postcat", "-q", "NoSuchMessage0000")
    t.is_eq(r.returncode, 1, "postcat -q of an unknown ID fails")
    t.like(r.stderr.decode(), "postcat: fatal", "with a message")

    r = m.run("postsuper", "-d", "-", stdin=("%s\n%s\n" % (a, b)).encode())
    t.is_eq(r.stderr.decode(), "postsuper: Deleted: 2 messages\n", "postsuper -d - reads IDs")
    t.is_eq((m.where(a), m.where(b)), (None, None), "both files are gone")
    for bad in ("not/an/id", "../deferred/" + c, "x" * 300):
        r = m.run("postsuper", "-d", bad)
        t.ok(r.returncode == 1 and "invalid mail queue id" in r.stderr.decode(),
             "a malformed ID is refused, never used as a path: %.20s" % bad)
    t.is_eq(m.where(c), "deferred", "and nothing was removed")
    r = m.run("postcat", "-q", "../deferred/" + c)
    t.ok(r.returncode == 1 and "invalid mail queue id" in r.stderr.decode(),
         "postcat -q refuses it too")
    d = m.send(["four@slow.example"])
    wait_for(lambda: m.where(d) == "deferred", 10)
    m.run("postsuper", "-h", d)
    r = m.run("postsuper", "-d", "ALL", "deferred")
    t.is_eq(r.stderr.decode(), "postsuper: Deleted: 1 message\n", "postsuper -d ALL deferred")
    t.is_eq((m.where(c), m.where(d)), (None, "hold"), "removes deferred mail, not held mail")
    r = m.run("postsuper", "-d", "ALL")
    t.is_eq((m.where(d), r.returncode), (None, 0), "postsuper -d ALL removes the rest")
    t.is_eq(m.run("mailq").stdout, b"Mail queue is empty\n", "and the queue is empty again")


def stalled_agent(m):
    """A delivery agent that takes requests and never answers: a message in flight."""
    path = os.path.join(m.queue, "private", "stall")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chown(path, m.owner.pw_uid, m.owner.pw_gid)
    s.listen(8)
    return s


def in_flight_cases(m):
    agent = stalled_agent(m)
    for action, flag, state in (("hold", "-h", "hold"), ("delete", "-d", None),
                                ("requeue", "-r", "active")):
        q = m.send(["x@stall.example"])
        agent.settimeout(10)
        conn, _ = agent.accept()
        t.is_eq(m.where(q), "active", "%s: the message is being delivered" % action)
        r = m.run("postsuper", flag, q)
        t.is_eq(r.returncode, 0, "postsuper %s on a message in flight" % flag)
        t.is_eq(m.where(q), "active", "waits for the delivery in progress")
        if action == "requeue":
            conn.close()
            again, _ = agent.accept()
            t.ok(wait_for(lambda: "%s: requeued" % q in m.logtext(), 10),
                 "requeue: once it ended, the message is tried again")
            m.run("postsuper", "-d", q)
            again.close()
            t.ok(wait_for(lambda: m.where(q) is None, 10), "(and deleted)")
            continue
        conn.close()
        t.ok(wait_for(lambda: m.where(q) == state, 10),
             "%s: done when the agent's connection ended" % action)
        t.ok("%s: to=<x@stall.example>" not in m.logtext(), "no outcome was recorded for it")
    m.run("postsuper", "-d", "ALL")
    q = m.send(["nobody@valias.example", "y@stall.example"])
    conn, _ = agent.accept()
    m.run("postsuper", "-h", q)
    conn.close()
    t.ok(wait_for(lambda: m.where(q) == "hold", 10),
         "a message with a failed recipient, held while another is in flight, goes on hold")
    out = m.run("postcat", "-e", "-q", q).stdout.decode()
    t.like(out, "done_recipient: nobody@valias.example\nrecipient_status: failed, failure notice "
           "(owed)", "still owing the sender its failure notice (postcat -e)")
    t.ok("notice about <nobody@valias.example>" not in m.logtext(),
         "which was not even tried (held first)")
    m.run("postsuper", "-d", q)
    q = m.send(["x@slow.example", "y@stall.example"])
    conn, _ = agent.accept()
    text = m.run("mailq").stdout.decode()
    msg = m.listing().get(q, {})
    t.is_eq(msg.get("queue_name"), "active", "a message being delivered is listed as active")
    t.is_eq(text, expected_text([msg]), "mailq's layout, byte for byte, for it too")
    t.ok(re.search(r"^%s\* " % q, text, re.M), "its ID is marked with '*'")
    t.ok(text.endswith("(deferred transport)\n%sx@slow.example\n%s(reason unavailable)\n"
                       "%sy@stall.example\n\n-- 0 Kbytes in 1 Request.\n"
                       % (" " * 41, " " * 58, " " * 41)),
         "a recipient without a reason after one with a reason: (reason unavailable)")
    m.run("postsuper", "-d", q)
    conn.close()
    t.ok(wait_for(lambda: m.where(q) is None, 10), "(and it is deleted)")
    agent.close()
    m.run("postsuper", "-d", "ALL")


def permission_cases(m):
    ensure_user(ALLOWED)
    ensure_user(STRANGER)
    a = m.send(["perm@slow.example"])
    wait_for(lambda: m.where(a) == "deferred", 10)
    r = m.run("mailq", user=ALLOWED)
    t.is_eq(r.returncode, 0, "a user in authorized_mailq_users may list the queue")
    t.like(r.stdout.decode(), a, "and sees the message")
    r = m.run("postqueue", "-p", user=STRANGER)
    uid = pwd.getpwnam(STRANGER).pw_uid
    t.is_eq((r.returncode, r.stdout), (77, b""), "another user is refused: EX_NOPERM, no output")
    t.is_eq(r.stderr.decode(), "postqueue: fatal: User %s(%d) is not allowed to view the mail "
            "queue\n" % (STRANGER, uid), "with Postfix's message")
    r = m.run("postqueue", "-f", user=STRANGER)
    t.is_eq((r.returncode, r.stderr.decode()), (77, "postqueue: fatal: User %s(%d) is not "
                                                    "allowed to flush the mail queue\n"
                                                    % (STRANGER, uid)),
            "and may not flush it")
    before = m.activations(a)
    r = m.run("postqueue", "-f", user=ALLOWED)
    t.is_eq(r.returncode, 0, "a user in authorized_flush_users may flush")
    t.ok(wait_for(lambda: m.activations(a) == before + 1, 10), "and the flush happens")
    r = m.run("postsuper", "-d", "ALL", user=ALLOWED)
    t.is_eq((r.returncode, r.stderr.decode()),
            (1, "postsuper: fatal: use of this command is reserved for the superuser\n"),
            "postsuper is root's")
    r = m.run("postcat", "-q", a, user=ALLOWED)
    t.is_eq(r.returncode, 1, "so is postcat")
    t.is_eq(m.where(a), "deferred", "the queue is untouched")
    sock = os.path.join(m.queue, "private", "qmgr")
    r = subprocess.run([CLIENT, sock, "status", a], capture_output=True, preexec_fn=lambda: (
        os.setgid(65534), os.setuid(pwd.getpwnam(STRANGER).pw_uid)))
    t.ok("committed" not in r.stdout.decode(), "a user cannot reach qmgr's socket at all")
    idle_client(m)
    m.run("postsuper", "-d", "ALL")


def idle_client(m):
    """Attack: hold showq's connection without a request. It ends after ipc_timeout, and
    the listing works for others meanwhile."""
    uid = pwd.getpwnam(STRANGER).pw_uid
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(rfd)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.path.join(m.queue, "public", "showq"))
            os.write(wfd, b"c")
            s.settimeout(30)
            code = 0 if s.recv(1) == b"" else 2
        except Exception:
            code = 3
        os._exit(code)
    os.close(wfd)
    t.is_eq(os.read(rfd, 1), b"c", "a user connects to showq and sends nothing")
    os.close(rfd)
    r = m.run("mailq")
    t.is_eq(r.returncode, 0, "while a client holds showq idle, mailq still answers")
    _, status = os.waitpid(pid, 0)
    t.is_eq(os.WEXITSTATUS(status), 0, "the idle client's connection is closed (ipc_timeout)")
    t.like(m.logtext(), "client sent no request within 3s", "and showq says why")


def maildir(pw):
    new = os.path.join(pw.pw_dir, "Maildir", "new")
    return sorted(os.listdir(new)) if os.path.isdir(new) else []


def delivery_cases(m, pw):
    """Mail for a transport without an agent waits; once the agent exists, each action
    decides what is delivered."""
    rcpt = "%s@mx.test.example" % ALLOWED
    a, b, c = m.send([rcpt]), m.send([rcpt]), m.send([rcpt])
    t.ok(wait_for(lambda: all(m.where(q) == "deferred" for q in (a, b, c)), 10),
         "mail for a transport with no agent is deferred")
    t.like(m.listing()[a]["recipients"][0].get("delay_reason", ""),
           "mail transport unavailable", "and the listing says why")
    m.run("postsuper", "-h", b)
    m.run("postsuper", "-d", c)
    with open(os.path.join(m.cfg, "master.cf"), "a") as f:
        f.write("later unix - n n - - local\n")
    r = subprocess.run([POSTERN, "reload", "-c", m.cfg], capture_output=True)
    t.is_eq(r.returncode, 0, "the agent is added (postern reload)")
    t.ok(wait_for(lambda: os.path.exists(os.path.join(m.queue, "private", "later")), 10),
         "and listens")
    t.is_eq((m.where(a), maildir(pw)), ("deferred", []), "nothing is delivered before its time")
    r = m.run("postqueue", "-i", a)
    t.ok(wait_for(lambda: m.where(a) is None and len(maildir(pw)) == 1, 10),
         "postqueue -i delivers that message now")
    flushes = m.logtext().count(": flush: ")
    m.run("postqueue", "-f")
    t.ok(wait_for(lambda: m.logtext().count(": flush: 0 messages") > 0 and
                  m.logtext().count(": flush: ") == flushes + 1, 10),
         "a flush finds nothing more to try")
    t.is_eq((m.where(b), len(maildir(pw))), ("hold", 1),
            "the held message is not delivered, the deleted one never")
    m.run("postsuper", "-H", b)
    t.ok(wait_for(lambda: m.where(b) is None and len(maildir(pw)) == 2, 10),
         "released, it is delivered")
    t.is_eq(m.run("mailq").stdout, b"Mail queue is empty\n", "and the queue is empty")


def down_cases(m, waiting):
    r = m.run("mailq")
    t.is_eq(r.returncode, 0, "root's mailq with postern stopped")
    t.like(r.stderr.decode(), "mailq: warning: Mail system is down -- accessing queue directly",
           "reads the queue through showq stand-alone, as Postfix's does")
    t.ok(re.search(r"^%s +%d " % (waiting, SIZE), r.stdout.decode(), re.M),
         "and lists the waiting message")
    r = m.run("postqueue", "-j")
    t.is_eq([json.loads(x)["queue_id"] for x in r.stdout.decode().splitlines()], [waiting],
            "so does postqueue -j")
    record = os.path.join(m.root, "pathops")
    open(record, "w").close()
    os.chmod(record, 0o666)  # the shim appends with whichever euid the call ran with
    env = dict(os.environ, LD_PRELOAD=os.path.abspath(SHIM), PATHOPS_LOG=record,
               PATHOPS_WATCH="deferred/:hold/:active/:corrupt/")
    r = m.run("postcat", "-q", waiting, env=env)
    t.is_eq(r.returncode, 0, "postcat -q with postern stopped")
    t.ok(r.stdout.decode().startswith("*** ENVELOPE RECORDS deferred/%s ***\n" % waiting) and
         BODY in r.stdout.decode(), "reads the file")
    ops = [line.split(" ", 2) for line in open(record).read().splitlines()]
    t.ok(ops and all(op[0] == str(m.owner.pw_uid) for op in ops),
         "as mail_owner: root opens no path in the queue (%d opens recorded)" % len(ops))
    r = m.run("postcat", "-q", "NoSuchMessage0000")
    t.is_eq(r.returncode, 1, "and says when there is no such message")
    r = m.run("mailq", user=ALLOWED)
    t.is_eq(r.returncode, 69, "another user's mailq with postern stopped: EX_UNAVAILABLE")
    t.like(r.stderr.decode(), "mailq: fatal: Queue report unavailable - mail system is down",
           "with Postfix's message")
    r = m.run("postqueue", "-x")
    t.is_eq(r.returncode, 64, "a bad option: EX_USAGE")


def main():
    root = tempfile.mkdtemp(prefix="postern-queue.")
    m = Mta(root)
    home = os.path.join(root, "home")
    os.mkdir(home)
    os.chmod(home, 0o755)
    pw = ensure_user(ALLOWED, os.path.join(home, ALLOWED))
    try:
        t.ok(m.start(), "postern starts with qmgr and showq")
        empty_queue(m)
        a, b, c = listing_cases(m)
        corrupt_cases(m, a)
        admin_cases(m, a, b, c)
        in_flight_cases(m)
        permission_cases(m)
        delivery_cases(m, pw)
        waiting = m.send(["later@slow.example"])
        wait_for(lambda: m.where(waiting) == "deferred", 10)
        m.stop()
        down_cases(m, waiting)
    finally:
        m.stop()
        if os.environ.get("KEEP"):
            t.diag("kept " + root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    t.done()


main()
