#!/usr/bin/python3
"""smtpd.t - the SMTP server end to end: a real master, qmgr and smtpd on loopback; messages
sent with smtplib, swaks and raw sockets; committed queue files read back with
t/bin/queue_cat. Covers the transaction, the envelope and Received header, DSN parameters,
8-bit and SMTPUTF8 content, BDAT, pipelining order, recipient classes and relay control,
the log lines, the daemon's uid, and kill -9 in the middle of DATA."""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Client, Instance, greet, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()


def new_files(inst, before):
    return [f for f in inst.files() if f not in before]


def send_raw(port, sender, rcpts, body):
    """One transaction over a raw socket; the replies, in order."""
    c = greet(port)
    replies = [c.cmd("MAIL FROM:<%s>" % sender)]
    replies += [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]
    replies.append(c.cmd("DATA"))
    c.send(body)
    replies.append(c.reply())
    c.cmd("QUIT")
    c.close()
    return replies


def queued_id(reply):
    m = re.search(r"queued as ([0-9A-Za-z]{17})", reply)
    return m.group(1) if m else None


def smtpd_pids(inst):
    out = subprocess.run(["pgrep", "-f", "/bin/smtpd "],
                         capture_output=True, text=True).stdout
    pids = []
    for p in out.split():
        try:
            with open("/proc/%s/cmdline" % p) as f:
                if inst.cfg in f.read():
                    pids.append(int(p))
        except OSError:
            pass
    return pids


def uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def test_one_message(inst, port):
    before = inst.files()
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    code, banner = s.docmd("NOOP")
    code, ehlo = s.ehlo("client.example.net")
    t.is_eq(code, 250, "EHLO is answered 250")
    for ext in ("PIPELINING", "SIZE 100000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                "CHUNKING", "DSN", "VRFY"):
        t.ok(ext in ehlo.decode().splitlines(), "EHLO advertises " + ext)
    t.ok(b"STARTTLS" not in ehlo and b"AUTH" not in ehlo, "no STARTTLS or AUTH yet")
    body = b"Subject: one\r\nFrom: a@example.net\r\n\r\nHello.\r\n"
    s.sendmail("a@example.net", ["root@example.org"], body)
    s.quit()
    got = new_files(inst, before)
    t.is_eq(len(got), 1, "one message: one committed queue file")
    if not got:
        return
    env, content = inst.cat(got[0])
    for line in ("sender <a@example.net>", "client_name unknown", "client_addr 127.0.0.1",
                 "helo client.example.net", "protocol ESMTP", "nrcpt 1",
                 "rcpt <root@example.org> notify= orcpt="):
        t.ok(line in env, "envelope: " + line)
    m = re.match(rb"Received: from client\.example\.net \(unknown \[127\.0\.0\.1\]\)\r\n"
                 rb"\tby mx\.example\.org \(Postern\) with ESMTP id ([0-9A-Za-z]{17})\r\n"
                 rb"\tfor <root@example\.org>; "
                 rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
                 rb"|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}( \(\S+\))?\r\n", content)
    t.ok(m, "the Received header has Postfix's shape with an RFC 5322 date")
    t.is_eq(m.group(1).decode() if m else None, got[0], "and names the queue ID")
    t.is_eq(content[m.end():] if m else None, body, "the content follows byte for byte")
    lg = inst.logtext()
    t.ok("connect from unknown[127.0.0.1]" in lg, "log: connect from unknown[127.0.0.1]")
    t.ok("%s: client=unknown[127.0.0.1]" % got[0] in lg, "log: QID: client=unknown[127.0.0.1]")
    t.ok(inst.wait_log("disconnect from unknown[127.0.0.1] noop=1 ehlo=1 mail=1 rcpt=1 "
                       "data=1 quit=1 commands=6") or
         inst.wait_log("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 "
                       "noop=1 quit=1 commands=6"),
         "log: disconnect with the command counts")


def test_many_rcpts_and_dsn(inst, port):
    before = inst.files()
    rcpts = ["user%d@relay.example" % i for i in range(100)]
    r = send_raw(port, "bulk@example.net", rcpts, b"Subject: many\r\n\r\nx\r\n.\r\n")
    t.ok(all(x.startswith("250 2.1.5") for x in r[1:101]), "100 recipients are each accepted")
    got = new_files(inst, before)
    t.is_eq(len(got), 1, "100 recipients in one transaction: one queue file")
    if got:
        env, content = inst.cat(got[0])
        t.ok("nrcpt 100" in env and "rcpt <user99@relay.example> notify= orcpt=" in env,
             "all 100 are in its envelope")
        t.ok(b"\tfor <" not in content.split(b"\r\n\r\n")[0],
             "the Received header has no 'for' with several recipients")

    before = inst.files()
    c = greet(port)
    t.is_eq(c.cmd("MAIL FROM:<dsn@example.net> RET=HDRS ENVID=id+2Bone"), "250 2.1.0 Ok",
            "MAIL with RET and ENVID")
    t.is_eq(c.cmd("RCPT TO:<root@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@x.example"),
            "250 2.1.5 Ok", "RCPT with NOTIFY and ORCPT")
    c.cmd("DATA")
    c.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
    c.reply()
    c.cmd("QUIT")
    got = new_files(inst, before)
    if got:
        env, _ = inst.cat(got[0])
        t.ok("ret HDRS" in env and "envid id+2Bone" in env, "RET and ENVID are in the envelope")
        t.ok("rcpt <root@example.org> notify=SUCCESS,FAILURE orcpt=rfc822;orig@x.example" in env,
             "NOTIFY and ORCPT are stored with the recipient")
    else:
        t.ok(False, "the DSN message was queued")


def stored_body(inst, port, sender, body, mail_options=()):
    """Send body with smtplib; the content of the queue file it made, after the Received
    header's three lines (None if no file appeared)."""
    before = inst.files()
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.ehlo("client.example.net")
    s.sendmail(sender, ["root@example.org"], body, mail_options=list(mail_options))
    s.quit()
    got = new_files(inst, before)
    _, content = inst.cat(got[0]) if got else ([], b"")
    return content.split(b"\r\n", 3)[3] if content else None


def test_content(inst, port):
    body = (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n...three\r\nend.\r\n. \r\n")
    t.is_eq(stored_body(inst, port, "dots@example.net", body), body,
            "dot-stuffing round trip: the stored content equals what was sent")

    body8 = "Subject: 8bit\r\n\r\nGrüße, ça va? 日本語\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n"
    t.is_eq(stored_body(inst, port, "eight@example.net", body8, ["BODY=8BITMIME"]), body8,
            "an 8-bit body is stored byte for byte")

    before = inst.files()
    c = greet(port)
    t.is_eq(c.cmd("MAIL FROM:<josé@exämple.net> SMTPUTF8"), "250 2.1.0 Ok",
            "a UTF-8 sender with SMTPUTF8")
    t.is_eq(c.cmd("RCPT TO:<δοκιμή@relay.example>"), "250 2.1.5 Ok", "a UTF-8 recipient")
    c.cmd("DATA")
    bodyu = "Subject: 日本語\r\n\r\nδοκιμή\r\n".encode()
    c.send(bodyu + b".\r\n")
    c.reply()
    c.cmd("QUIT")
    got = new_files(inst, before)
    env, content = inst.cat(got[0]) if got else ([], b"")
    t.ok("sender <josé@exämple.net>" in env, "the UTF-8 sender is stored")
    t.ok("protocol UTF8SMTP" in env and b" with UTF8SMTP id " in content,
         "an SMTPUTF8 message's protocol is UTF8SMTP (RFC 6531)")
    t.is_eq(content.split(b"\r\n", 3)[3] if content else None, bodyu,
            "an SMTPUTF8 body is stored byte for byte")
    c = greet(port)
    t.is_eq(c.cmd("MAIL FROM:<josé@example.net>")[:9], "553 5.6.7",
            "a UTF-8 sender without SMTPUTF8 is refused")
    t.is_eq(c.cmd("NOOP é")[:9], "500 5.5.2", "non-ASCII in a command is refused")
    t.is_eq(c.cmd("NOOP a\0b")[:9], "500 5.5.2", "a NUL in a command is refused")
    c.close()


def test_null_sender_and_commands(inst, port):
    before = inst.files()
    r = send_raw(port, "", ["root@example.org"], b"Subject: bounce\r\n\r\nx\r\n.\r\n")
    t.ok(r[0] == "250 2.1.0 Ok" and r[-1].startswith("250 2.0.0 Ok: queued as "),
         "the null sender is accepted")
    got = new_files(inst, before)
    t.ok(got and "sender <>" in inst.cat(got[0])[0], "and stored as <>")
    before = inst.files()
    c = greet(port, "HELO old.example.net")
    c.cmd("MAIL FROM:<old@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    c.cmd("DATA")
    c.send("Subject: helo\r\n\r\nx\r\n.\r\n")
    c.reply()
    c.close()
    got = new_files(inst, before)
    env, content = inst.cat(got[0]) if got else ([], b"")
    t.ok("protocol SMTP" in env and b"Received: from old.example.net (unknown [127.0.0.1])\r\n"
         b"\tby mx.example.org (Postern) with SMTP id " in content,
         "after HELO the protocol is SMTP")
    c = Client(port)
    t.ok(c.reply() == "220 mx.example.org ESMTP Postern", "the greeting is 220 $smtpd_banner")
    t.is_eq(c.cmd("HELO client.example.net"), "250 mx.example.org", "HELO")
    t.is_eq(c.cmd("VRFY root"), "252 2.0.0 Send mail, we will try our best", "VRFY is 252")
    t.ok(c.cmd("HELP").startswith("214 2.0.0"), "HELP is 214")
    t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "NOOP")
    t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "503 5.5.1 Error: need MAIL command",
            "RCPT before MAIL")
    t.is_eq(c.cmd("DATA"), "503 5.5.1 Error: need MAIL command", "DATA before MAIL")
    t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "250 2.1.0 Ok", "MAIL")
    t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "503 5.5.1 Error: nested MAIL command",
            "a second MAIL")
    t.is_eq(c.cmd("DATA"), "554 5.5.1 Error: no valid recipients", "DATA without recipients")
    t.is_eq(c.cmd("RSET"), "250 2.0.0 Ok", "RSET")
    t.is_eq(c.cmd("EXPN root"), "502 5.5.1 Error: command not implemented", "EXPN is 502")
    t.is_eq(c.cmd("STARTTLS"), "502 5.5.1 Error: command not implemented", "STARTTLS not yet")
    t.is_eq(c.cmd("FOO"), "500 5.5.2 Error: command not recognized", "an unknown command")
    t.is_eq(c.cmd("QUIT"), "221 2.0.0 Bye", "QUIT")
    t.ok(c.closed(), "and the connection is closed")


def test_bdat(inst, port):
    before = inst.files()
    c = greet(port)
    c.cmd("MAIL FROM:<chunks@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    part1, part2 = b"Subject: bdat\r\n\r\nfirst ", b"chunk\r\n.no stuffing\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    t.is_eq(c.reply(), "250 2.0.0 Ok: %d octets" % len(part1), "a BDAT chunk is acknowledged")
    t.is_eq(c.cmd("DATA"), "503 5.5.1 Error: DATA and BDAT cannot be used in one transaction",
            "DATA after BDAT is refused (RFC 3030)")
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    r = c.reply()
    t.ok(r.startswith("250 2.0.0 Ok: queued as "), "BDAT LAST commits the message")
    got = new_files(inst, before)
    content = inst.cat(got[0])[1] if got else b""
    t.is_eq(content.split(b"\r\n", 3)[3] if content else None, part1 + part2,
            "BDAT content is stored as sent, without unstuffing")
    c.send(b"BDAT 5\r\nhelloNOOP\r\n")
    t.is_eq(c.reply(), "503 5.5.1 Error: need MAIL command",
            "BDAT without MAIL: the chunk is read and refused")
    t.is_eq(c.reply(), "250 2.0.0 Ok", "and the session stays in step")
    c.cmd("MAIL FROM:<chunks@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    before = inst.files()
    c.send(b"BDAT 0 LAST\r\n")
    t.ok(c.reply().startswith("250 2.0.0 Ok: queued as"), "an empty BDAT LAST ends a message")
    t.is_eq(len(new_files(inst, before)), 1, "which is queued")
    c.cmd("QUIT")


def test_pipelining(inst, port):
    before = inst.files()
    c = Client(port)
    c.reply()
    c.cmd("EHLO client.example.net")
    c.send("MAIL FROM:<pipe@example.net>\r\nRCPT TO:<root@example.org>\r\n"
           "RCPT TO:<nosuchuser@example.org>\r\nRCPT TO:<x@outside.example>\r\n"
           "RCPT TO:<alias1@example.org>\r\nDATA\r\n")
    replies = [c.reply() for _ in range(6)]
    t.is_eq([r[:9] for r in replies],
            ["250 2.1.0", "250 2.1.5", "550 5.1.1", "554 5.7.1", "250 2.1.5", "354 End d"],
            "a pipelined group is answered in order")
    c.send("Subject: pipe\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<p2@example.net>\r\n"
           "RCPT TO:<root@example.org>\r\nDATA\r\n")
    replies = [c.reply() for _ in range(5)]
    t.ok(replies[0].startswith("250 2.0.0 Ok: queued as"), "end of data, then pipelined commands")
    t.is_eq([r[:9] for r in replies[1:]], ["250 2.0.0", "250 2.1.0", "250 2.1.5", "354 End d"],
            "are answered after the message, in order")
    c.send("Subject: pipe2\r\n\r\ny\r\n.\r\nMAIL FROM:<p3@example.net>\r\n"
           "RCPT TO:<root@example.org>\r\nDATA\r\nSubject: pipe3\r\n\r\nz\r\n.\r\n"
           "QUIT\r\n")
    replies = [c.reply() for _ in range(4)]
    t.ok(replies[0].startswith("250 2.0.0 Ok: queued as") and
         [r[:9] for r in replies[1:]] == ["250 2.1.0", "250 2.1.5", "354 End d"],
         "a whole transaction in one write, content included, is answered in order")
    t.ok(c.reply().startswith("250 2.0.0 Ok: queued as") and c.reply() == "221 2.0.0 Bye",
         "message and QUIT in one write")
    t.is_eq(len(new_files(inst, before)), 3, "all pipelined messages are queued")
    pl = wait_for(lambda: [ln for ln in inst.logtext().splitlines()
                           if "NOQUEUE: reject: RCPT" in ln and "nosuchuser" in ln], 3)
    t.ok(pl and pl[-1].endswith(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nosuchuser@example.org>: "
        "Recipient address rejected: User unknown in local recipient table; "
        "from=<pipe@example.net> to=<nosuchuser@example.org> proto=ESMTP "
        "helo=<client.example.net>"), "the reject is logged in Postfix's shape")


def test_concurrent(inst, port):
    """Many clients at once in one smtpd process, each with its own qmgr connection."""
    import threading
    before = inst.files()
    results = []

    def client(n):
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            for i in range(5):
                s.sendmail("c%d@example.net" % n, ["root@example.org"],
                           b"Subject: c%d m%d\r\n\r\nx\r\n" % (n, i))
            s.quit()
            results.append(True)
        except Exception as e:  # noqa: BLE001 - any failure fails the test below
            results.append(repr(e))
    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    t.is_eq(results, [True] * 20, "20 concurrent clients each send 5 messages")
    got = new_files(inst, before)
    t.is_eq(len(got), 100, "and all 100 are committed")
    subjects = set()
    for f in got:
        env, content = inst.cat(f)
        m = re.search(rb"Subject: (c\d+ m\d)", content)
        subjects.add(m.group(1) if m else None)
    t.is_eq(len(subjects), 100, "each one once, complete")


def test_recipients(inst, port):
    c = greet(port)
    c.cmd("MAIL FROM:<s@example.net>")
    cases = [
        ("root@example.org", "250 2.1.5 Ok", "a local user from unix:passwd.byname"),
        ("ROOT@Example.ORG", "250 2.1.5 Ok", "in any case"),
        ("alias1@example.org", "250 2.1.5 Ok", "a local alias from alias_maps"),
        ("root@localhost", "250 2.1.5 Ok", "a user at another mydestination domain"),
        ("postmaster", "250 2.1.5 Ok", "<postmaster> always"),
        ("nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address "
         "rejected: User unknown in local recipient table", "an unknown local user"),
        ("va@example.org", "250 2.1.5 Ok", "an address virtual_alias_maps knows"),
        ("info@valias.example", "250 2.1.5 Ok", "a virtual alias"),
        ("nobody@valias.example", "550 5.1.1 <nobody@valias.example>: Recipient address "
         "rejected: User unknown in virtual alias table", "an unknown virtual alias"),
        ("box@vmail.example", "250 2.1.5 Ok", "a virtual mailbox"),
        ("nobox@vmail.example", "550 5.1.1 <nobox@vmail.example>: Recipient address "
         "rejected: User unknown in virtual mailbox table", "an unknown virtual mailbox"),
        ("anyone@relay.example", "250 2.1.5 Ok", "a relay_domains recipient"),
        ("x@outside.example", "554 5.7.1 <x@outside.example>: Relay access denied",
         "relaying for an outsider is refused"),
    ]
    for rcpt, want, name in cases:
        t.is_eq(c.cmd("RCPT TO:<%s>" % rcpt), want, name)
    c.close()


def test_swaks(inst, port):
    if not shutil.which("swaks"):
        t.ok(True, "# SKIP swaks not installed")
        return
    before = inst.files()
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--from",
                        "swaks@example.net", "--to", "root@example.org", "--helo",
                        "swaks.example.net", "--pipeline", "--body", "swaks body"],
                       capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 0 and "queued as" in r.stdout and len(new_files(inst, before)) == 1,
         "swaks with PIPELINING delivers one message")


def test_uid(inst):
    pids = smtpd_pids(inst)
    t.ok(pids and all(uids(p) == [inst.user.pw_uid] * 4 for p in pids),
         "smtpd runs as mail_owner (real, effective, saved, fs uid)")


def test_lost_connection(inst, port):
    before = inst.files()
    c = greet(port)
    c.cmd("MAIL FROM:<gone@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    c.cmd("DATA")
    c.send("Subject: gone\r\n\r\nhalf")
    c.close()
    t.ok(inst.wait_log("lost connection after DATA from unknown[127.0.0.1]"),
         "a client gone in DATA: lost connection after DATA")
    t.ok(wait_for(lambda: inst.files("incoming") == [], 5), "its file is dropped")
    t.is_eq(new_files(inst, before), [], "and nothing is committed")


def test_idle_memory(inst, port):
    if "ASAN_OPTIONS" in os.environ or os.environ["BUILD"].endswith("/valgrind"):
        t.ok(True, "# SKIP memory is not measured under sanitizers")
        return

    def rss():
        total = 0
        for p in smtpd_pids(inst):
            with open("/proc/%d/status" % p) as f:
                total += sum(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
        return total
    first = greet(port)
    first.cmd("NOOP")
    time.sleep(0.2)
    base = rss()
    clients = [greet(port) for _ in range(200)]
    time.sleep(0.3)
    per = (rss() - base) / 200.0
    t.ok(per < 20, "an idle session costs %.1f KiB (goal: under 20 KiB)" % per)
    for c in clients + [first]:
        c.close()


def test_kill_mid_data(inst, port):
    before = inst.files()
    c = greet(port)
    c.cmd("MAIL FROM:<killed@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    t.ok(c.cmd("DATA").startswith("354"), "DATA started")
    c.send("Subject: half\r\n\r\nhalf a message")
    time.sleep(0.3)
    incoming = inst.files("incoming")
    t.is_eq(len(incoming), 1, "the message being received is in incoming/")
    for p in smtpd_pids(inst):
        os.kill(p, signal.SIGKILL)
    t.ok(wait_for(lambda: inst.files("incoming") == [], 5),
         "after kill -9 of smtpd, qmgr drops the incoming file")
    t.is_eq(new_files(inst, before), [], "and nothing was committed")
    c.close()
    t.ok(wait_for(lambda: inst.can_connect(port), 5), "the master starts a new smtpd")


def test_log_parsers(inst):
    """The log, with postern/ read as postfix/, through fail2ban's postfix filter and pflogsumm."""
    plain = os.path.join(inst.root, "maillog.postfix")
    with open(plain, "w") as f:
        f.write(inst.logtext().replace(" postern/", " postfix/"))
    rejects = inst.logtext().count("NOQUEUE: reject: RCPT")
    if shutil.which("fail2ban-regex") and os.path.exists("/etc/fail2ban/filter.d/postfix.conf"):
        out = subprocess.run(["fail2ban-regex", plain, "/etc/fail2ban/filter.d/postfix.conf"],
                             capture_output=True, timeout=120).stdout.decode(errors="replace")
        m = re.search(r"Failregex: (\d+) total", out)
        t.ok(m and int(m.group(1)) >= 3,
             "fail2ban's postfix filter matches the rejects (%s of %d)"
             % (m.group(1) if m else "none", rejects))
    else:
        t.ok(True, "# SKIP fail2ban not installed")
    if shutil.which("pflogsumm"):
        out = subprocess.run(["pflogsumm", "--smtpd-stats", plain], capture_output=True,
                             timeout=120).stdout.decode(errors="replace")
        m = re.search(r"^\s*(\d+)\s+rejected", out, re.M)
        t.ok(m and int(m.group(1)) == rejects,
             "pflogsumm counts every reject (%s of %d)" % (m.group(1) if m else "none", rejects))
        m = re.search(r"^\s*(\d+)\s+connections", out, re.M)
        # pflogsumm pairs connect and disconnect lines by process ID; sessions that overlap
        # in one multi-session smtpd process are not all paired, so only sequential ones are
        # sure to count.
        t.ok(m and 0 < int(m.group(1)) <= inst.logtext().count("]: disconnect from "),
             "and sees the connections (--smtpd-stats)")
    else:
        t.ok(True, "# SKIP pflogsumm not installed")


def main(root):
    with open(os.path.join(root, "aliases"), "w") as f:
        f.write("alias1 root\npostmaster root\n")
    with open(os.path.join(root, "virtual"), "w") as f:
        f.write("va@example.org someone@elsewhere.example\ninfo@valias.example root\n")
    with open(os.path.join(root, "vmailbox"), "w") as f:
        f.write("box@vmail.example vmail.example/box/\n")
    inst = Instance(root, "mydestination = example.org, localhost\n"
                    "mynetworks = 192.0.2.0/24\n"
                    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
                    "local_recipient_maps = proxy:unix:passwd.byname $alias_maps\n"
                    "alias_maps = texthash:{d}/aliases\n"
                    "virtual_alias_maps = texthash:{d}/virtual\n"
                    "virtual_alias_domains = valias.example\n"
                    "virtual_mailbox_domains = vmail.example\n"
                    "virtual_mailbox_maps = texthash:{d}/vmailbox\n"
                    "relay_domains = relay.example\n"
                    "message_size_limit = 100000\nmax_use = 100000\n".format(d=root))
    err = inst.start()
    t.ok(err is None, "postern starts with smtpd and qmgr")
    if err:
        t.diag(err)
        t.diag(inst.logtext())
        return
    port = inst.ports["main"]
    try:
        test_one_message(inst, port)
        test_many_rcpts_and_dsn(inst, port)
        test_content(inst, port)
        test_null_sender_and_commands(inst, port)
        test_bdat(inst, port)
        test_pipelining(inst, port)
        test_recipients(inst, port)
        test_concurrent(inst, port)
        test_swaks(inst, port)
        test_uid(inst)
        test_lost_connection(inst, port)
        test_idle_memory(inst, port)
        test_kill_mid_data(inst, port)
        test_log_parsers(inst)
        bad = [f for f in inst.files() if not inst.cat(f)[0] or
               inst.cat(f)[0][0].startswith("bad")]
        t.is_eq(bad, [], "every committed queue file passes queue_file_read's checks")
    finally:
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
