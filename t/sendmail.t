#!/usr/bin/python3
"""sendmail.t - local submission: the sendmail command as real callers run it (PHP, Debian's
cron, cronie, git send-email, bsd-mailx, mutt), through the set-gid postdrop (run by an
unprivileged user), maildrop/ and pickup into Maildirs, with the envelope and headers each
caller expects; authorized_submit_users; mail submitted while postern is stopped; postdrop
refusing hostile input, oversized messages and a planted symlink; pickup moving garbage
aside without dying; kill -9 of pickup while it works, with nothing lost or doubled."""
import email
import email.message
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import (BUILD, POSTERN, Instance, ensure_user, maildir_messages,  # noqa: E402
                      wait_for)
from tap import TAP  # noqa: E402

t = TAP()
tempfile.tempdir = "/var/tmp"  # not /tmp: check_mailx mounts its own /tmp
SENDER = "pt-sendmail"
GROUP = "postdrop"
DOMAIN = "virt.test"
BOXES = ("alice", "bob", "carol", "dave", "erin", "cronuser", "list")
MARK = "# written by t/sendmail.t\n"


def ensure_group(name):
    try:
        return grp.getgrnam(name)
    except KeyError:
        subprocess.run(["groupadd", "-r", name], check=True)
        return grp.getgrnam(name)


class Setup:
    """An instance with pickup, a virtual domain whose mailboxes are Maildirs, and a
    command directory holding copies of sendmail, postdrop (set-gid postdrop) and postern."""

    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="postern-sendmail.")
        os.chmod(self.top, 0o755)
        self.vmail = os.path.join(self.top, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, 5000, 5000)
        self.cmd = os.path.join(self.top, "cmd")
        os.mkdir(self.cmd)
        os.chmod(self.cmd, 0o755)
        for prog in ("sendmail", "postdrop", "postern"):
            shutil.copy(os.path.join(BUILD, "bin", prog), self.cmd)
        drop = os.path.join(self.cmd, "postdrop")
        os.chown(drop, 0, ensure_group(GROUP).gr_gid)
        os.chmod(drop, 0o2755)
        boxes = ", ".join("%s@%s=%s/Maildir/" % (b, DOMAIN, b) for b in BOXES)
        self.inst = Instance(main="""command_directory = %s
myorigin = %s
virtual_mailbox_domains = %s
virtual_mailbox_base = %s
virtual_mailbox_maps = inline:{%s}
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
message_size_limit = 200000
""" % (self.cmd, DOMAIN, DOMAIN, self.vmail, boxes), services="""qmgr unix - - n - 1 qmgr
local unix - n n - - local
virtual unix - n n - - local
pickup fifo n - n 60 1 pickup
""")
        self.sender = ensure_user(SENDER)
        self.trusted = None

    def maildrop(self):
        return os.path.join(self.inst.queue, "maildrop")

    def box(self, name):
        return maildir_messages(os.path.join(self.vmail, name, "Maildir"))

    def trust_config(self):
        """The default main.cf must list this instance's configuration directory in
        alternate_config_directories for postdrop to take it from an unprivileged user.
        Written only where none exists (or one this test wrote), removed at the end."""
        r = subprocess.run([POSTERN, "conf", "-d", "config_directory"], capture_output=True,
                           text=True)
        default = r.stdout.split("=", 1)[1].strip()
        path = os.path.join(default, "main.cf")
        if os.path.exists(path) and not open(path).read().startswith(MARK):
            return False
        os.makedirs(default, exist_ok=True)
        with open(path, "w") as f:
            f.write(MARK + "alternate_config_directories = %s\n" % self.inst.etc)
        self.trusted = path
        return True

    def cleanup(self):
        self.inst.cleanup()
        if self.trusted:
            os.unlink(self.trusted)
            try:
                os.rmdir(os.path.dirname(self.trusted))
            except OSError:
                pass
        shutil.rmtree(self.top, ignore_errors=True)


def as_user(pw):
    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


def run(s, args, data, user=None, env=None, prog="sendmail"):
    """args run from the command directory (as user when given) with data on stdin"""
    e = {"PATH": "/usr/bin:/bin", "MAIL_CONFIG": s.inst.etc, "HOME": "/"}
    e.update(env or {})
    return subprocess.run([prog if prog.startswith("/") else os.path.join(s.cmd, prog)] + args, input=data, env=e,
                          capture_output=True, timeout=30,
                          preexec_fn=as_user(user) if user else None)


def delivered(s, box, count=1):
    return wait_for(lambda: len(s.box(box)) >= count and s.box(box), 15) or {}


def parse(raw):
    return email.message_from_bytes(raw)


def clear(s):
    for b in BOXES:
        for sub in ("new", "cur"):
            d = os.path.join(s.vmail, b, "Maildir", sub)
            if os.path.isdir(d):
                for name in os.listdir(d):
                    os.unlink(os.path.join(d, name))


def check_php(s):
    """PHP's mail(): sendmail -t -i, run by an unprivileged user (the set-gid path)"""
    uid = s.sender.pw_uid
    r = run(s, ["-t", "-i"], b"To: alice@virt.test, Bob <bob@virt.test>\nCc: carol\n"
            b"Bcc: dave@virt.test\nSubject: php\n\nline one\n.\nline after a dot\n",
            user=s.sender)
    t.is_eq((r.returncode, r.stderr), (0, b""), "PHP: sendmail -t -i as %s exits 0" % SENDER)
    for box in ("alice", "bob", "carol", "dave"):
        got = list(delivered(s, box).values())
        t.ok(len(got) == 1, "PHP: %s got the message (To:, Cc: and Bcc: recipients)" % box)
        if not got:
            continue
        m = parse(got[0])
        t.is_eq(m["Return-Path"], "<%s@%s>" % (SENDER, DOMAIN),
                "PHP: envelope sender is the user, qualified with $myorigin (%s)" % box)
        t.ok(m["Bcc"] is None, "PHP: no Bcc: header in %s's copy" % box)
        t.ok(m.get_payload() == "line one\n.\nline after a dot\n", "PHP: -i keeps a lone dot")
    m = parse(list(s.box("alice").values())[0]) if s.box("alice") else email.message.Message()
    t.ok(re.match(r"by mx\.test\.example \(Postern, from userid %d\)\s+id \w+; " % uid,
                  m.get("Received", "")), "PHP: Received: by ... (Postern, from userid %d)" % uid)
    t.ok(m["Date"] and m["Message-ID"] and m["From"] == "<%s@%s>" % (SENDER, DOMAIN),
         "PHP: Date:, Message-ID: and From: added (%s)" % m["From"])
    t.ok(re.search(r"pickup\[\d+\]: \w+: uid=%d from=<%s@%s>" % (uid, SENDER, DOMAIN),
                   s.inst.log()), "PHP: pickup logs QID: uid=%d from=<...>" % uid)


def check_cron(s):
    """Debian's cron and cronie"""
    r = run(s, ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "cronuser"],
            b"Subject: Cron <pt@host> true\n\noutput\n", user=s.sender)
    t.is_eq(r.returncode, 0, "Debian cron: sendmail -FCronDaemon -i -B8BITMIME -oem user")
    got = list(delivered(s, "cronuser").values())
    m = parse(got[0]) if got else email.message.Message()
    t.is_eq(m["From"], "CronDaemon <%s@%s>" % (SENDER, DOMAIN),
            "Debian cron: From: carries the -F name")
    t.is_eq(m["Return-Path"], "<%s@%s>" % (SENDER, DOMAIN), "Debian cron: envelope sender")
    r = run(s, ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "cronuser"],
            b"To: erin\nSubject: cronie\n\noutput\n", user=s.sender)
    t.is_eq(r.returncode, 0, "cronie: sendmail -FCronDaemon -i -odi -oem -oi -t -f user")
    got = list(delivered(s, "erin").values())
    m = parse(got[0]) if got else email.message.Message()
    t.is_eq(m["Return-Path"], "<cronuser@%s>" % DOMAIN, "cronie: -f sets the envelope sender")
    t.is_eq(m["From"], "CronDaemon <cronuser@%s>" % DOMAIN, "cronie: From: from -F and -f")


def check_git(s):
    """git send-email: sendmail -i -f sender rcpt1 rcpt2, with its own headers"""
    msg = (b"From: Dev Eloper <dev@example.org>\nTo: alice@virt.test\nCc: bob@virt.test\n"
           b"Subject: [PATCH] fix\nDate: Thu, 03 Dec 2026 10:00:00 +0000\n"
           b"Message-ID: <patch-1@example.org>\n\n---\n.\n")
    r = run(s, ["-i", "-f", "dev@example.org", "alice@virt.test", "bob@virt.test"], msg,
            user=s.sender)
    t.is_eq(r.returncode, 0, "git send-email: sendmail -i -f sender rcpt1 rcpt2")
    for box in ("alice", "bob"):
        got = list(delivered(s, box).values())
        m = parse(got[0]) if got else email.message.Message()
        t.is_eq((m["Return-Path"], m["Message-ID"], m["From"], m["Date"]),
                ("<dev@example.org>", "<patch-1@example.org>", "Dev Eloper <dev@example.org>",
                 "Thu, 03 Dec 2026 10:00:00 +0000"),
                "git send-email: %s: envelope sender from -f, the message's headers kept" % box)


def check_mailx(s):
    """bsd-mailx and mutt, pointed at this sendmail"""
    # bsd-mailx runs /usr/sbin/sendmail, no other: ours is bound there in a mount namespace,
    # with a /tmp it may write its temporary file into (the test's files are in /var/tmp).
    script = ("mount --bind %s/sendmail /usr/sbin/sendmail && "
              "mount -t tmpfs -o mode=1777 none /tmp && exec setpriv --reuid %d "
              "--regid %d --clear-groups /usr/bin/mail -s 'from mailx' alice@virt.test"
              % (s.cmd, s.sender.pw_uid, s.sender.pw_gid))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], input=b"mailx body\n",
                       capture_output=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "MAIL_CONFIG": s.inst.etc,
                            "HOME": "/"})
    t.is_eq(r.returncode, 0, "bsd-mailx: mail -s subject rcpt (%s)" % r.stderr.decode().strip())
    got = list(delivered(s, "alice").values())
    m = parse(got[0]) if got else email.message.Message()
    t.is_eq((m["Subject"], m["Return-Path"]), ("from mailx", "<%s@%s>" % (SENDER, DOMAIN)),
            "bsd-mailx: delivered with the user as sender")
    if shutil.which("mutt") is None:
        t.ok(True, "# SKIP mutt not installed")
        return
    muttrc = os.path.join(s.top, "muttrc")
    with open(muttrc, "w") as f:
        f.write('set sendmail="%s/sendmail -oi -oem"\nset use_from=yes\n'
                'set from="Mutt User <mutt@example.org>"\nset envelope_from=yes\nset record=""\n'
                % s.cmd)
    os.chmod(muttrc, 0o644)
    r = subprocess.run(["mutt", "-n", "-F", muttrc, "-s", "from mutt", "bob@virt.test"],
                       input=b"mutt body\n", capture_output=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "MAIL_CONFIG": s.inst.etc, "HOME": s.top,
                            "TERM": "dumb"}, preexec_fn=as_user(s.sender))
    t.is_eq(r.returncode, 0, "mutt with set sendmail (%s)" % r.stderr.decode().strip())
    got = list(delivered(s, "bob").values())
    m = parse(got[0]) if got else email.message.Message()
    t.is_eq((m["Subject"], m["Return-Path"]), ("from mutt", "<mutt@example.org>"),
            "mutt: delivered, envelope sender from its -f")


def check_rules(s):
    """the dot without -i, Resent- headers with -t, exit codes of bad usage"""
    r = run(s, ["alice"], b"Subject: dots\n\nbefore\n.\nafter\n")
    got = list(delivered(s, "alice").values())
    t.ok(r.returncode == 0 and got and parse(got[0]).get_payload() == "before\n",
         "without -i a lone dot ends the message")
    clear(s)
    r = run(s, ["-t"], b"To: alice\nResent-To: bob\nResent-Bcc: carol\nSubject: resent\n\nx\n")
    got_b, got_c = list(delivered(s, "bob").values()), list(delivered(s, "carol").values())
    t.ok(r.returncode == 0 and got_b and got_c and not s.box("alice"),
         "-t with Resent- headers: Resent-To/Resent-Bcc recipients, not To:")
    t.ok(got_b and parse(got_b[0])["Resent-Bcc"] is None, "-t: Resent-Bcc: removed")
    clear(s)
    for args, data, code, what in (
            (["-bd"], b"", 64, "-bd (daemon mode) is a usage error"),
            (["-G", "alice"], b"", 64, "an unknown option is a usage error"),
            ([], b"Subject: x\n\n", 64, "no recipients is a usage error"),
            (["-t"], b"Subject: x\n\n", 64, "-t without recipient headers is a usage error"),
            (["-N", "sometimes", "alice"], b"", 64, "-N with a bad word is a usage error"),
            (["bad address@@x"], b"x\n", 65, "a malformed recipient is a data error")):
        r = run(s, args, data)
        t.ok(r.returncode == code and r.stderr.startswith(b"sendmail: "),
             "%s (exit %d: %s)" % (what, r.returncode, r.stderr.decode().splitlines()[:1]))
    r = run(s, ["-Am", "-h", "5", "-L", "x", "-m", "-n", "-O", "a=b", "-o7", "-o8", "-om",
                "-odb", "-o", "x", "value", "-U", "-X", "/dev/null", "-v", "-N", "success,delay",
                "-R", "hdrs", "-V", "env+id", "-B", "7BIT", "--", "dave"], b"Subject: flags\n\n")
    t.is_eq(r.returncode, 0, "the accepted-and-ignored options, DSN options and -- together")
    t.ok(delivered(s, "dave"), "and the message is delivered")
    clear(s)


def check_smtp(s):
    """sendmail -bs: SMTP on stdin and stdout for an unprivileged user"""
    script = (b"EHLO client\r\nMAIL FROM:<carol>\r\nRCPT TO:<alice@virt.test> NOTIFY=NEVER\r\n"
              b"RCPT TO:<bob>\r\nDATA\r\nSubject: over -bs\r\n\r\n..dot-stuffed\r\n.\r\n"
              b"MAIL FROM:<>\r\nDATA\r\nRSET\r\nSTARTTLS\r\nQUIT\r\n")
    r = run(s, ["-bs"], script, user=s.sender)
    codes = [line[:3] for line in r.stdout.decode().split("\r\n") if line[3:4] == " "]
    t.is_eq(codes, ["220", "250", "250", "250", "250", "354", "250", "250", "503", "250", "502",
                    "221"], "-bs: the replies of a session with one message (%s)" % r.stderr)
    t.ok(b"250 2.0.0 Ok: queued" in r.stdout, "-bs: the message is queued after the dot")
    for box in ("alice", "bob"):
        got = list(delivered(s, box).values())
        m = parse(got[0]) if got else email.message.Message()
        t.is_eq((m["Return-Path"], m["Subject"], m.get_payload()),
                ("<carol@virt.test>", "over -bs", ".dot-stuffed\n"),
                "-bs: %s got it, sender from MAIL FROM, dots unstuffed" % box)
    t.ok(re.search(r"uid=%d from=<carol@virt.test>" % s.sender.pw_uid, s.inst.log()),
         "-bs: the uid of the user who ran it")


def check_postern_modes(s):
    """-bp, -q, -qRsite, -bi and the name mailq run the postern command with the same
    configuration (a stand-in postern records its arguments)"""
    real = os.path.join(s.cmd, "postern")
    saved = real + ".real"
    record = os.path.join(s.top, "postern-args")
    os.rename(real, saved)
    with open(real, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" > %s\n" % record)
    os.chmod(real, 0o755)
    os.symlink(os.path.join(s.cmd, "sendmail"), os.path.join(s.cmd, "mailq"))
    try:
        for args, prog, want in ((["-bp"], "sendmail", "queue list"),
                                 ([], "mailq", "queue list"),
                                 (["-q"], "sendmail", "queue flush"),
                                 (["-qRexample.org"], "sendmail", "queue flush"),
                                 (["-bi"], "sendmail", "newaliases"),
                                 (["-I"], "sendmail", "newaliases")):
            if os.path.exists(record):
                os.unlink(record)
            r = run(s, args, b"", prog=prog)
            got = open(record).read().strip() if os.path.exists(record) else r.stderr.decode()
            site = " -s example.org" if args == ["-qRexample.org"] else ""
            t.is_eq((r.returncode, got), (0, "%s -c %s%s" % (want, s.inst.etc, site)),
                    "%s %s runs postern %s" % (prog, " ".join(args), want))
    finally:
        os.unlink(os.path.join(s.cmd, "mailq"))
        os.rename(saved, real)


def check_authorized(s):
    """authorized_submit_users, and who can touch maildrop/"""
    st = os.stat(s.maildrop())
    t.is_eq((stat.S_IMODE(st.st_mode), grp.getgrgid(st.st_gid).gr_name), (0o1730, GROUP),
            "maildrop/ is mode 1730, group %s" % GROUP)
    r = subprocess.run(["sh", "-c", "echo x > %s/planted" % s.maildrop()], capture_output=True,
                       preexec_fn=as_user(s.sender))
    t.ok(r.returncode != 0 and not os.path.exists(os.path.join(s.maildrop(), "planted")),
         "the user cannot write into maildrop/ without postdrop")
    r = subprocess.run(["ls", s.maildrop()], capture_output=True, preexec_fn=as_user(s.sender))
    t.ok(r.returncode != 0, "nor list it")
    with open(os.path.join(s.inst.etc, "main.cf"), "a") as f:
        f.write("authorized_submit_users = root, !%s\n" % SENDER)
    r = run(s, ["alice"], b"Subject: refused\n\n", user=s.sender)
    t.ok(r.returncode == 77 and b"not allowed to submit mail" in r.stderr,
         "a user outside authorized_submit_users: exit 77 (EX_NOPERM), %s" % r.stderr.decode())
    r = run(s, ["alice"], b"Subject: allowed\n\n")
    t.is_eq(r.returncode, 0, "root, who is listed, may")
    t.ok(delivered(s, "alice"), "and is delivered")
    with open(os.path.join(s.inst.etc, "main.cf"), "a") as f:
        f.write("authorized_submit_users = static:anyone\n")
    other = os.path.join(s.top, "other-etc")
    os.makedirs(other, exist_ok=True)
    shutil.copy(os.path.join(s.inst.etc, "main.cf"), other)
    r = run(s, ["alice"], b"x\n", user=s.sender, env={"MAIL_CONFIG": other})
    t.ok(r.returncode == 77 and b"alternate_config_directories" in r.stderr,
         "postdrop refuses an unlisted MAIL_CONFIG from a user (%s)" % r.stderr.decode().strip())
    clear(s)


def maildrop_stream(sender, rcpts, body):
    def rec(kind, value):
        return kind + struct.pack(">I", len(value)) + value
    out = rec(b"V", struct.pack(">I", 1)) + rec(b"S", sender)
    out += b"".join(rec(b"R", r) for r in rcpts) + rec(b"D", body)
    return out + rec(b"E", struct.pack(">QI", len(body), len(rcpts)))


def proc_ids(pid):
    """the Uid:, Gid: and Groups: lines of a process"""
    with open("/proc/%d/status" % pid) as f:
        return {k: v.split() for k, v in (line.split(":", 1) for line in f)
                if k in ("Uid", "Gid", "Groups")}


def check_postdrop(s):
    """postdrop runs with the caller's uid and the group only; it reads its stdin as
    hostile: malformed, oversized, and a planted symlink"""
    p = subprocess.Popen([os.path.join(s.cmd, "postdrop")], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={"MAIL_CONFIG": s.inst.etc}, preexec_fn=as_user(s.sender))
    ids = wait_for(lambda: proc_ids(p.pid) if os.path.basename(
        os.readlink("/proc/%d/exe" % p.pid)) == "postdrop" else None, 10) or {}
    p.stdin.close()
    p.wait(timeout=10)
    uid, gid, drop = s.sender.pw_uid, s.sender.pw_gid, grp.getgrnam(GROUP).gr_gid
    t.is_eq((ids.get("Uid"), ids.get("Gid"), ids.get("Groups")),
            ([str(uid)] * 4, [str(gid), str(drop), str(drop), str(drop)], []),
            "postdrop runs with the caller's uid, and %s as its only added group" % GROUP)
    before = set(os.listdir(s.maildrop()))
    good = maildrop_stream(b"pt", [b"alice"], b"Subject: raw\n\nx\n")
    for data, what in ((good[:-3], "a truncated stream"), (good + b"x", "bytes after the end"),
                       (good.replace(b"R\x00\x00\x00\x05alice", b"R\x00\x00\x00\x05al\nce"),
                        "a recipient with a control character"),
                       (b"V\xff\xff\xff\xff", "a record longer than its type allows"),
                       (maildrop_stream(b"pt", [b"alice"], b"x" * 300000),
                        "a message past message_size_limit")):
        r = run(s, [], data, user=s.sender, prog="postdrop")
        t.ok(r.returncode == 65 and r.stderr.startswith(b"postdrop: refused: "),
             "postdrop: %s: exit 65 (%s)" % (what, r.stderr.decode().strip()))
    t.is_eq(set(os.listdir(s.maildrop())), before, "postdrop: no file left behind by refusals")
    big = b"Subject: big\n\n" + b"y" * 250000 + b"\n"
    r = run(s, ["alice"], big, user=s.sender)
    t.is_eq(r.returncode, 65, "sendmail: an oversized message is refused (exit 65)")
    s.inst.stop()
    saved = s.maildrop() + ".saved"
    os.rename(s.maildrop(), saved)
    target = os.path.join(s.top, "elsewhere")
    os.mkdir(target)
    os.chmod(target, 0o777)
    os.symlink(target, s.maildrop())
    r = run(s, [], good, user=s.sender, prog="postdrop")
    t.ok(r.returncode == 75 and os.listdir(target) == [],
         "postdrop: maildrop replaced by a symlink is not followed (exit %d)" % r.returncode)
    os.unlink(s.maildrop())
    os.rename(saved, s.maildrop())
    r = run(s, [], good, user=s.sender, prog="postdrop")
    files = os.listdir(s.maildrop())
    st = os.stat(os.path.join(s.maildrop(), files[0])) if len(files) == 1 else None
    t.ok(r.returncode == 0 and st and st.st_uid == s.sender.pw_uid and
         st.st_gid == grp.getgrnam(GROUP).gr_gid and stat.S_IMODE(st.st_mode) == 0o644,
         "postdrop: the file belongs to the caller's uid and group %s, mode 0644" % GROUP)


def check_stopped(s):
    """mail submitted while postern is stopped waits in maildrop/ and goes out at start"""
    r = run(s, ["-t", "-i"], b"To: bob\nSubject: while stopped\n\nwaiting\n", user=s.sender)
    t.is_eq(r.returncode, 0, "sendmail works while postern is stopped")
    t.is_eq(len(os.listdir(s.maildrop())), 2, "the message waits in maildrop/ (with the raw one)")
    t.ok(s.inst.start(), "postern starts")
    got = list(delivered(s, "bob").values())
    t.ok(got and parse(got[0])["Subject"] == "while stopped", "and delivers what waited")
    if not t.ok(wait_for(lambda: os.listdir(s.maildrop()) == [], 10), "maildrop/ is empty again"):
        t.diag("".join(line for line in s.inst.log().splitlines(True) if "pickup" in line))
    clear(s)


def check_qmgr_restart(s):
    """pickup keeps its connection to qmgr; a qmgr killed and started again in between
    costs nothing"""
    run(s, ["alice"], b"Subject: before\n\n")
    t.ok(delivered(s, "alice"), "a message while pickup has its qmgr connection")
    old = s.inst.service_pids("qmgr")
    for p in old:
        os.kill(p, signal.SIGKILL)
    t.ok(wait_for(lambda: s.inst.service_pids("qmgr") not in ([], old), 30),
         "qmgr killed and started again")
    run(s, ["alice"], b"Subject: after\n\n")
    t.ok(delivered(s, "alice", 2), "the next message goes through the new qmgr")
    clear(s)


def plant(s, name, data, uid):
    path = os.path.join(s.maildrop(), name)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, grp.getgrnam(GROUP).gr_gid)
    return path


def check_garbage(s):
    """pickup moves garbage aside with a log line and goes on"""
    pid = s.inst.service_pids("pickup")
    uid = s.sender.pw_uid
    good = maildrop_stream(b"pt", [b"carol"], b"Subject: after the garbage\n\nok\n")
    names = {"0000000001000000000000000000a": b"garbage",
             "0000000001000000000000000000b": good[:-1],
             "0000000001000000000000000000c": maildrop_stream(b"pt", [b"bad address@@"], b"x\n"),
             "0000000001000000000000000000d": maildrop_stream(b"pt", [b"carol"], b"x\n") +
             b"E\x00\x00\x00\x0c" + b"\x00" * 12,
             "not-a-maildrop-name": good}
    for name, data in names.items():
        plant(s, name, data, uid)
    os.symlink("/etc/passwd", os.path.join(s.maildrop(), "0000000001000000000000000000e"))
    linked = plant(s, "0000000001000000000000000000f", good, uid)
    os.link(linked, os.path.join(s.inst.root, "second-link"))
    plant(s, "0000000002000000000000000000a", good, uid)
    fifo = os.open(os.path.join(s.inst.queue, "public", "pickup"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fifo, b"W")
    os.close(fifo)
    got = list(delivered(s, "carol").values())
    t.ok(len(got) == 1 and parse(got[0])["Subject"] == "after the garbage",
         "a good file after the garbage is delivered, once")
    corrupt = os.listdir(os.path.join(s.inst.queue, "corrupt"))
    t.is_eq(sorted(corrupt), sorted("maildrop-" + n for n in list(names) +
                                    ["0000000001000000000000000000e",
                                     "0000000001000000000000000000f"]),
            "every bad file is in corrupt/")
    log = s.inst.log()
    for what in ("unknown record type", "truncated", "bad address", "data after the end marker",
                 "not a maildrop file name", "not a regular file with one link"):
        t.ok(re.search(r"pickup\[\d+\]: warning: maildrop/[\w-]+: uid=\d+: .*%s.*moved to corrupt/"
                       % what, log), "logged: %s" % what)
    t.is_eq(s.inst.service_pids("pickup"), pid, "pickup did not die")
    t.is_eq(os.listdir(s.maildrop()), [], "maildrop/ is empty")
    clear(s)


def check_kill(s, count=150):
    """kill -9 of pickup, twice, while it works through a full maildrop/"""
    s.inst.stop()
    for i in range(count):
        r = run(s, ["-i", "dave"], b"Subject: kill %d\nMessage-ID: <kill-%d@test>\n\nx\n" % (i, i))
        if r.returncode != 0:
            t.ok(False, "queue message %d: %s" % (i, r.stderr))
            return
    t.ok(s.inst.start(), "postern starts with %d messages in maildrop/" % count)
    for kill in (20, 70):
        wait_for(lambda: len(s.box("dave")) >= kill, 30)
        pids = s.inst.service_pids("pickup")
        for p in pids:
            os.kill(p, signal.SIGKILL)
        t.ok(pids and wait_for(lambda: s.inst.service_pids("pickup") not in ([], pids), 30),
             "pickup killed with -9 after %d deliveries, and started again" % kill)
    wait_for(lambda: len(s.box("dave")) >= count and not os.listdir(s.maildrop()), 60)
    ids = [parse(m)["Message-ID"] for m in s.box("dave").values()]
    t.is_eq((len(ids), len(set(ids))), (count, count),
            "all %d messages delivered, none twice" % count)
    t.ok(re.search(r"pickup\[\d+\]: \w+: uid=0 from=<root@virt.test>", s.inst.log()),
         "pickup logged each")
    for line in s.inst.log().splitlines():
        if "before a restart" in line:
            t.diag("a claim settled: " + line)


def main():
    if os.geteuid() != 0:
        t.skip_all("needs root: real uids, a set-gid postdrop")
    s = Setup()
    try:
        if not s.trust_config():
            t.skip_all("a main.cf of someone else is in the default configuration directory")
        t.ok(s.inst.start(), "postern starts with pickup")
        for check in (check_php, check_cron, check_git, check_mailx, check_rules, check_smtp,
                      check_postern_modes):
            check(s)
            clear(s)
        check_authorized(s)
        check_postdrop(s)
        check_stopped(s)
        check_qmgr_restart(s)
        check_garbage(s)
        check_kill(s)
    finally:
        s.cleanup()
    t.done()


main()
