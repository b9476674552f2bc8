#!/usr/bin/python3
"""inbound.t - the whole inbound path with real processes: swaks and smtplib talk to smtpd on
a loopback port, qmgr queues, local delivers into a real user's Maildir. Checks the delivered
bytes, who runs what, and that Debian's pflogsumm and fail2ban read the log."""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import (Instance, ensure_user, fail2ban_regex, maildir_messages, uids,  # noqa: E402
                      wait_for)
from tap import TAP  # noqa: E402

t = TAP()
if os.geteuid() != 0:
    t.skip_all("local delivery runs as the recipient: needs root")

USER = "pt-inbound"
inst = Instance(main="home_mailbox = Maildir/\n"
                     "mynetworks = 192.0.2.0/24\n"
                     "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n")
home = os.path.join(inst.root, "home")
pw = ensure_user(USER, home)
maildir = os.path.join(home, "Maildir")
aliases = os.path.join(inst.etc, "aliases")
with open(aliases, "w") as f:
    f.write("# aliases(5), built by newaliases\nPostmaster: %s\n\"list of one\": %s\n" % (USER, USER))
with open(os.path.join(inst.etc, "main.cf"), "a") as f:
    f.write("alias_maps = hash:%s\nalias_database = hash:%s\n" % (aliases, aliases))


def delivered(n):
    return wait_for(lambda: len(maildir_messages(maildir)) >= n, 20)


def commits_after_fsync(trace):
    """(commits, commits sent before an fsync of their own had finished) in a strace -f of
    smtpd: the queue file's fsync runs on a helper thread; its end, not its start, counts."""
    synced, commits, early = 0, 0, 0
    for line in trace.splitlines():
        if re.search(r"\bfsync\(\d+\)\s+= 0|<\.\.\. fsync resumed>\)\s+= 0", line):
            synced += 1
        elif "sendmsg" in line and "queue_commit" in line and "queue_committed" not in line:
            commits += 1
            if synced < commits:
                early += 1
    return commits, early


def durable_before_commit(pid):
    """Three messages through an smtpd under strace: each queue file is fsynced before
    smtpd asks qmgr to commit it, so a 250 never precedes the file's data on disk."""
    if not shutil.which("strace") or not pid:
        for _ in range(2):
            t.ok(True, "# SKIP strace not usable")
        return
    trace = os.path.join(inst.root, "smtpd.trace")
    st = subprocess.Popen(["strace", "-f", "-qq", "-s", "128", "-e", "trace=fsync,sendmsg",
                           "-o", trace, "-p", str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    with smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.test.example",
                      timeout=30) as c:
        for i in range(3):
            c.sendmail("sender@client.test.example", ["%s@test.example" % USER],
                       b"Subject: durable %d\r\n\r\nbody\r\n" % i)
    st.terminate()
    st.wait(timeout=10)
    with open(trace) as f:
        commits, early = commits_after_fsync(f.read())
    t.is_eq(commits, 3, "strace sees smtpd commit three messages")
    t.is_eq(early, 0, "each only after the fsync of its queue file returned")


def swaks(*args):
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(inst.port),
                           "--helo", "client.test.example"] + list(args),
                          capture_output=True, text=True, timeout=60)


try:
    r = subprocess.run([os.path.join(os.environ["BUILD"], "bin", "postern"), "newaliases", "-c",
                        inst.etc], capture_output=True, text=True, timeout=30)
    t.is_eq((r.returncode, r.stderr), (0, ""), "postern newaliases builds alias_database")
    t.ok(inst.start(), "postern starts with smtpd, qmgr and local")

    body = ("Subject: first\r\nMessage-ID: <first@test.example>\r\n\r\n"
            "plain line\r\n.leading dot\r\n..two dots\r\n").encode()
    with smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.test.example",
                      timeout=30) as c:
        refused = c.sendmail("sender@client.test.example", ["%s@test.example" % USER], body)
    t.is_eq(refused, {}, "smtplib: the message is accepted")
    t.ok(delivered(1), "and lands in the recipient's Maildir")
    msgs = maildir_messages(maildir)
    first = list(msgs.values())[0] if msgs else b""
    t.ok(first.endswith(body.replace(b"\r\n", b"\n")),
         "the content arrives byte for byte, dots unstuffed, with Unix line ends in the Maildir")
    t.ok(first.startswith(b"Return-Path: <sender@client.test.example>\n"), "Return-Path first")
    t.like(first.decode(errors="replace"), "Delivered-To: %s@test.example" % USER,
           "Delivered-To names the recipient")
    t.like(first.decode(errors="replace"), "Received: from client.test.example (unknown [127.0.0.1])",
           "the Received header names the client")
    files = [os.path.join(maildir, "new", n) for n in os.listdir(os.path.join(maildir, "new"))]
    t.ok(files and all(os.stat(p).st_uid == pw.pw_uid for p in files),
         "the Maildir file belongs to the recipient")

    eight = "Subject: 8bit\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln\r\n".encode("utf-8")
    bodyfile = os.path.join(inst.root, "eight.eml")
    with open(bodyfile, "wb") as f:
        f.write(eight)
    r = swaks("--from", "<>", "--to", "%s@test.example" % USER, "--data", "@" + bodyfile)
    t.ok(r.returncode == 0 and "250 2.0.0" in r.stdout, "swaks: the null sender, 8-bit body")
    t.ok(delivered(2), "delivered too")
    t.ok(any(b"Return-Path: <>" in m and "Gr\u00fc\u00dfe aus K\u00f6ln\n".encode() in m
             for m in maildir_messages(maildir).values()), "8-bit bytes unchanged, null sender kept")

    r = swaks("--from", "x@client.test.example", "--to", "postmaster@test.example",
              "--header", "Subject: to postmaster")
    t.ok(r.returncode == 0 and "250 2.0.0" in r.stdout, "postmaster is accepted through the alias")
    t.ok(delivered(3) and any(b"Subject: to postmaster" in m and b"Delivered-To: postmaster@test.example" in m
                              for m in maildir_messages(maildir).values()),
         "and delivered to the alias's user, with Delivered-To: postmaster@")

    r = swaks("--from", "x@client.test.example", "--to", "nobody-here@test.example",
              "--quit-after", "RCPT")
    t.like(r.stdout, "550 5.1.1 <nobody-here@test.example>: Recipient address rejected: "
           "User unknown in local recipient table", "an unknown local user: 550 5.1.1 at RCPT")
    r = swaks("--from", "x@client.test.example", "--to", "someone@elsewhere.example",
              "--quit-after", "RCPT")
    t.like(r.stdout, "554 5.7.1 <someone@elsewhere.example>: Relay access denied",
           "an outside domain from an untrusted client: relay denied")

    smtpd = inst.program_pids("smtpd")
    qmgr = inst.program_pids("qmgr")
    owner = ensure_user("postern-test").pw_uid
    t.ok(qmgr and all(uids(p) == [owner] * 4 for p in qmgr), "qmgr runs as mail_owner")
    t.ok(all(uids(p) == [owner] * 4 for p in smtpd), "smtpd runs as mail_owner")
    durable_before_commit(smtpd[0] if smtpd else 0)

    t.ok(wait_for(lambda: inst.log().count(": removed") >= 6, 10), "all six queue files removed")
    inst.stop()
    log = inst.log()

    r = subprocess.run(["pflogsumm", "--syslog-name=postern", "--smtpd-stats", inst.logfile],
                       capture_output=True, text=True, timeout=60)
    report = r.stdout
    t.like(report, "      6   received", "pflogsumm counts six received messages")
    t.like(report, "      6   delivered", "and six delivered")
    t.like(report, "      2   rejected", "and the two rejections")

    rc, out = fail2ban_regex(inst.logfile)
    t.like(out, "Failregex: 2 total", "fail2ban's postfix filter, as conf/fail2ban/postern.conf, "
           "matches both rejections")
    if rc != 0 or "Failregex: 2 total" not in out:
        t.diag(out)
    if t.failed:
        t.diag(log)
finally:
    inst.cleanup()
sys.exit(t.done())
