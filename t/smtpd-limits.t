#!/usr/bin/python3
"""smtpd-limits.t - every limit of the SMTP server and its reply: message size (SIZE= and
actual), recipients (with the overshoot of RFC 5321 4.5.3.1.8 and a memory bound), command and text line length, NUL in content, the command timeout,
the soft and hard error limits, table errors (451 4.3.0), qmgr unreachable (451 4.3.0), a
full queue file system (452 4.3.1), reject_unauth_pipelining, smtpd_helo_required and
disable_vrfy_command. Timing is never pass/fail: only that the reply comes."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Client, Instance, greet, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
BUILD = os.environ["BUILD"]


def new_files(inst, before):
    return [f for f in inst.files() if f not in before]


def transaction(c, rcpt="root@example.org"):
    c.cmd("MAIL FROM:<limits@example.net>")
    c.cmd("RCPT TO:<%s>" % rcpt)
    return c.cmd("DATA")


def test_size(inst, port):
    c = greet(port)
    t.is_eq(c.cmd("MAIL FROM:<big@example.net> SIZE=20001"),
            "552 5.3.4 Message size exceeds fixed limit", "SIZE= past message_size_limit: 552")
    t.is_eq(c.cmd("MAIL FROM:<big@example.net> SIZE=20000"), "250 2.1.0 Ok",
            "SIZE= at the limit is accepted")
    c.cmd("RCPT TO:<root@example.org>")
    c.cmd("DATA")
    before = inst.files()
    c.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 25 + b".\r\n")
    t.is_eq(c.reply(), "552 5.3.4 Error: message exceeds fixed size limit",
            "content past the limit: 552 after the end of data")
    t.is_eq(new_files(inst, before), [], "and nothing is queued")
    t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "the session goes on in step")
    t.ok(wait_for(lambda: inst.files("incoming") == [], 3), "the refused file was aborted")
    t.ok(inst.wait_log("reject: END-OF-MESSAGE from unknown[127.0.0.1]: 552 5.3.4"),
         "the refusal is logged")
    c.close()


def test_rcpt_limit(inst, port):
    c = greet(port)
    c.cmd("MAIL FROM:<many@example.net>")
    replies = [c.cmd("RCPT TO:<u%d@relay.example>" % i) for i in range(6)]
    t.ok(all(r == "250 2.1.5 Ok" for r in replies[:5]), "smtpd_recipient_limit (5) recipients")
    t.is_eq(replies[5], "452 4.5.3 Error: too many recipients", "one more: 452 4.5.3")
    c.close()


def pipelined_rcpts(c, addrs, batch):
    """RCPT TO for each address, batch commands per write, as a pipelining client does."""
    replies = []
    for i in range(0, len(addrs), batch):
        part = addrs[i:i + batch]
        c.send(b"".join(b"RCPT TO:<%s>\r\n" % a.encode() for a in part))
        replies += [c.reply() for _ in part]
    return replies


def test_overshoot(inst, port):
    """RFC 5321 4.5.3.1.8: past the limit 452, and the accepted recipients keep their message
    (the excess is not counted as errors up to smtpd_recipient_overshoot_limit)."""
    c = Client(port, timeout=60)
    c.reply()
    c.cmd("EHLO client.example.net")
    c.cmd("MAIL FROM:<list@example.net>")
    before = inst.files()
    replies = pipelined_rcpts(c, ["m%d@relay.example" % i for i in range(1200)], 200)
    t.is_eq(sum(r == "250 2.1.5 Ok" for r in replies), 1000,
            "1,200 pipelined recipients in batches of 200: the first 1,000 accepted")
    t.ok(all(r == "452 4.5.3 Error: too many recipients" for r in replies[1000:]),
         "the other 200 get 452 4.5.3 at once")
    t.is_eq(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>", "DATA goes on: no error limit")
    t.like(c.cmd("Subject: many\r\n\r\nhello\r\n."), "250 2.0.0 Ok: queued as ",
           "the message is queued for the accepted recipients")
    new = wait_for(lambda: new_files(inst, before), 5)
    head = inst.cat(new[0])[0] if new else []
    t.is_eq(sum(line.startswith("rcpt ") for line in head), 1000, "with all 1,000 of them")
    c.close()


def test_overshoot_limit(inst, port):
    c = greet(port)
    c.cmd("MAIL FROM:<list@example.net>")
    replies = pipelined_rcpts(c, ["o%d@relay.example" % i for i in range(12)], 12)
    t.ok(all(r == "250 2.1.5 Ok" for r in replies[:5]) and
         all(r == "452 4.5.3 Error: too many recipients" for r in replies[5:9]),
         "limit 5, overshoot 2, hard error limit 2: 5 accepted, then 452s")
    t.is_eq(replies[9], "421 4.7.0 mx.example.org Error: too many errors",
            "past the overshoot each excess recipient counts: the second one ends the session")
    c.close()


def test_rcpt_memory(inst, port):
    """One transaction's recipients take bounded memory, whatever smtpd_recipient_limit."""
    c = Client(port, timeout=60)
    c.reply()
    c.cmd("EHLO client.example.net")
    c.cmd("MAIL FROM:<big@example.net>")
    orcpt = "rfc822;" + "x" * 350 + "@example.net"  # the command line stays within 512 octets
    addrs = ["%s%d@relay.example> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=%s" % ("r" * 50, i, orcpt)
             for i in range(600)]
    replies = []
    for i in range(0, len(addrs), 100):
        part = addrs[i:i + 100]
        c.send(b"".join(b"RCPT TO:<%s\r\n" % a.encode() for a in part))
        replies += [c.reply() for _ in part]
    accepted = sum(r == "250 2.1.5 Ok" for r in replies)
    t.ok(300 < accepted < 600, "recipients with long ORCPTs: %d accepted, then 452" % accepted)
    t.is_eq(replies[-1], "452 4.5.3 Error: too many recipients", "the rest get 452 4.5.3")
    c.close()


def test_lines(inst, port):
    c = greet(port)
    t.is_eq(c.cmd("NOOP " + "x" * 505), "250 2.0.0 Ok", "a 512-octet command line is accepted")
    t.is_eq(c.cmd("NOOP " + "x" * 506), "500 5.5.0 Error: command line too long",
            "a 513-octet command line: 500 5.5.0")
    t.is_eq(c.cmd("NOOP " + "x" * 5000), "500 5.5.0 Error: command line too long",
            "a very long one too")
    t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "and the session stays in step")
    before = inst.files()
    transaction(c)
    c.send(b"Subject: long\r\n\r\n" + b"y" * 998 + b"\r\n.\r\n")
    t.ok(c.reply().startswith("250 2.0.0 Ok: queued"), "a 1000-octet text line is accepted")
    transaction(c)
    c.send(b"Subject: long\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
    t.is_eq(c.reply(), "554 5.6.0 Error: message has a line longer than 1000 octets",
            "a 1001-octet text line: 554 5.6.0")
    transaction(c)
    c.send(b"Subject: nul\r\n\r\na\0b\r\n.\r\n")
    t.is_eq(c.reply(), "554 5.6.0 Error: message contains NUL", "NUL in content: 554 5.6.0")
    t.is_eq(len(new_files(inst, before)), 1, "only the good message was queued")
    c.close()


def test_timeout(inst, port):
    c = Client(port, timeout=30)
    c.reply()
    t.is_eq(c.reply(), "421 4.4.2 mx.example.org Error: timeout exceeded",
            "an idle client gets 421 4.4.2 after smtpd_timeout")
    t.ok(c.closed(), "and is disconnected")
    t.ok(inst.wait_log("timeout after CONNECT from unknown[127.0.0.1]"), "log: timeout after ...")
    c = greet(port)
    transaction(c)
    c.send("Subject: stalled\r\n\r\npart")
    t.is_eq(c.reply(), "421 4.4.2 mx.example.org Error: timeout exceeded",
            "a client stalled in DATA gets the 421 too")
    t.ok(inst.wait_log("timeout after DATA from unknown[127.0.0.1]"), "log: timeout after DATA")
    t.ok(wait_for(lambda: inst.files("incoming") == [], 3), "and its file is dropped")


def test_session_timeout(inst, port):
    c = greet(port)
    replies = []
    for _ in range(40):
        r = c.cmd("NOOP")
        replies.append(r)
        if r != "250 2.0.0 Ok":
            break
        time.sleep(0.25)
    t.is_eq(replies[-1], "421 4.4.2 mx.example.org Error: timeout exceeded",
            "a busy client still ends at smtpd_session_timeout")
    t.ok(len(replies) > 2, "after answering its commands until then")
    c.close()


def test_errors(inst, port):
    c = Client(port, timeout=30)
    c.reply()
    replies = [c.cmd("BOGUS%d" % i) for i in range(4)]
    t.ok(all(r.startswith("500 5.5.2") for r in replies),
         "errors below the hard limit are answered (delayed after the soft limit)")
    t.is_eq(c.reply(), "421 4.7.0 mx.example.org Error: too many errors",
            "at smtpd_hard_error_limit: 421 4.7.0 after the last reply")
    t.ok(c.closed(), "and the connection is closed")
    t.ok(inst.wait_log("too many errors after UNKNOWN from unknown[127.0.0.1]"),
         "log: too many errors after UNKNOWN")
    t.ok(inst.wait_log("disconnect from unknown[127.0.0.1] unknown=0/4 commands=0/4"),
         "log: the disconnect line counts the failures")


def test_policy(inst, port):
    c = Client(port)
    c.reply()
    t.is_eq(c.cmd("MAIL FROM:<a@example.net>"), "503 5.5.1 Error: send HELO/EHLO first",
            "smtpd_helo_required")
    t.is_eq(c.cmd("VRFY root"), "502 5.5.1 VRFY command is disabled", "disable_vrfy_command")
    c.cmd("HELO client.example.net")
    c.cmd("MAIL FROM:<a@example.net>")
    t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "250 2.1.5 Ok",
            "a client that waits for each reply passes reject_unauth_pipelining")
    c.close()
    c = greet(port, "HELO client.example.net")
    c.cmd("MAIL FROM:<spammer@example.net>")
    t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "554 5.7.1 <spammer@example.net>: Sender "
            "address rejected: Access denied", "check_sender_access at RCPT time")
    t.ok(inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
                       "<spammer@example.net>: Sender address rejected: Access denied; "
                       "from=<spammer@example.net> to=<root@example.org> proto=SMTP "
                       "helo=<client.example.net>"), "and logged")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<a@example.net>")
    t.is_eq(c.cmd("RCPT TO:<closed@example.org>"), "450 4.7.1 <closed@example.org>: Recipient "
            "address rejected: Access denied", "check_recipient_access DEFER")
    c.close()
    c = greet(port, "HELO localhost")
    c.cmd("MAIL FROM:<a@example.net>")
    t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "504 5.5.2 <localhost>: Helo command "
            "rejected: need fully-qualified hostname", "reject_non_fqdn_helo_hostname")
    c.close()
    c = Client(port)
    c.reply()
    c.send("HELO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<root@example.org>\r\n")
    replies = [c.reply() for _ in range(3)]
    t.is_eq(replies[2], "554 5.5.0 unknown[127.0.0.1]: Client host rejected: "
            "Improper use of SMTP command pipelining",
            "one that pipelines without PIPELINING is refused")
    t.ok(inst.wait_log("improper command pipelining after HELO from unknown[127.0.0.1]: "
                       "MAIL FROM:<a@example.net>??RCPT TO:<root@example.org>??"),
         "and logged as Postfix does")
    c.close()
    c.close()


def test_data_restrictions(inst, port):
    c = greet(port)
    transaction(c)
    c.send("Subject: ok\r\n\r\nx\r\n.\r\n")
    t.ok(c.reply().startswith("250 2.0.0 Ok: queued as"),
         "smtpd_data_restrictions: a client that waits for 354 passes")
    c.cmd("MAIL FROM:<a@example.net>")
    c.cmd("RCPT TO:<root@example.org>")
    c.send("DATA\r\nSubject: early\r\n\r\nx\r\n.\r\n")
    t.is_eq(c.reply(), "554 5.5.0 <DATA>: Data command rejected: Improper use of SMTP "
            "command pipelining", "one that sends content before 354 is refused at DATA")
    t.ok(inst.wait_log("NOQUEUE: reject: DATA from unknown[127.0.0.1]: 554 5.5.0 <DATA>: Data "
                       "command rejected: Improper use of SMTP command pipelining; "
                       "from=<a@example.net> to=<root@example.org> proto=ESMTP"),
         "and logged in Postfix's shape")
    c.close()


def test_table_error(inst, port):
    c = greet(port)
    c.cmd("MAIL FROM:<a@example.net>")
    t.is_eq(c.cmd("RCPT TO:<box@vmail.example>"),
            "451 4.3.0 <box@vmail.example>: Temporary lookup failure",
            "a truncated LMDB table: 451 4.3.0")
    t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "250 2.1.5 Ok",
            "other recipients are unaffected")
    c.close()
    t.ok(inst.wait_log("recipient <box@vmail.example>: table lookup failed: ") and
         "vmailbox" in inst.logtext(), "the failure is logged with the table")


def test_no_qmgr(root):
    inst = Instance(os.path.join(root, "noqmgr"), "mydestination = example.org\n"
                    "local_recipient_maps =\n", qmgr=False)
    err = inst.start()
    if err:
        t.ok(False, "an instance without qmgr starts: " + err)
        return
    try:
        c = Client(inst.ports["main"], timeout=60)
        c.reply()
        c.cmd("EHLO client.example.net")
        c.cmd("MAIL FROM:<a@example.net>")
        t.is_eq(c.cmd("RCPT TO:<root@example.org>"), "250 2.1.5 Ok",
                "recipients need no qmgr: a session holds a link only from DATA to the commit")
        t.is_eq(c.cmd("DATA"), "451 4.3.0 Error: queue file write error",
                "qmgr unreachable: 451 4.3.0 at DATA, after the retries")
        t.ok(inst.wait_log("connect to qmgr"), "and the failure to connect is logged")
        t.is_eq(c.cmd("NOOP"), "250 2.0.0 Ok", "the session goes on")
        c.close()
    finally:
        inst.stop()


def test_full_disk(root):
    if os.geteuid() != 0:
        t.ok(True, "# SKIP needs root to mount a tmpfs")
        return
    mnt = os.path.join(root, "small")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=755", "tmpfs", mnt]
                      ).returncode != 0:
        t.ok(True, "# SKIP cannot mount a tmpfs")
        return
    inst = Instance(os.path.join(root, "full"), "mydestination = example.org\n"
                    "local_recipient_maps =\nmessage_size_limit = 10000000\n",
                    queue=os.path.join(mnt, "queue"))
    try:
        err = inst.start()
        if err:
            t.ok(False, "an instance on a small tmpfs starts: " + err)
            return
        c = greet(inst.ports["main"])
        transaction(c)
        c.send(b"Subject: huge\r\n\r\n" + (b"z" * 998 + b"\r\n") * 600 + b".\r\n")
        t.is_eq(c.reply(), "452 4.3.1 Insufficient system storage",
                "a full queue file system: 452 4.3.1")
        t.is_eq(inst.files(), [], "nothing is queued")
        c.close()
    finally:
        inst.stop()
        subprocess.run(["umount", "-l", mnt])


def main(root):
    broken = os.path.join(root, "vmailbox")
    with open(broken, "w") as f:
        f.write("box@vmail.example vmail.example/box/\n" * 1 +
                "".join("u%d@vmail.example x\n" % i for i in range(2000)))
    subprocess.run([os.path.join(BUILD, "bin", "postern"), "map", "lmdb:" + broken],
                   capture_output=True)
    with open(broken + ".lmdb", "r+b") as f:
        f.truncate(os.path.getsize(broken + ".lmdb") // 2)
    unreadable = os.path.join(root, "vmailbox-secret")
    with open(unreadable, "w") as f:
        f.write("box@vmail.example vmail.example/box/\n")
    os.chmod(unreadable, 0o600 if os.geteuid() == 0 else 0)
    inst = Instance(os.path.join(root, "i"),
                    "mydestination = example.org\nlocal_recipient_maps =\n"
                    "relay_domains = relay.example\nmessage_size_limit = 20000\n"
                    "virtual_mailbox_domains = vmail.example\n"
                    "virtual_mailbox_maps = lmdb:%s\n" % broken,
                    services={
                        "main": "-o smtpd_recipient_limit=5",
                        "many": "-o smtpd_recipient_limit=1000",
                        "overshoot": "-o smtpd_recipient_limit=5 "
                                     "-o smtpd_recipient_overshoot_limit=2 "
                                     "-o smtpd_soft_error_limit=100 -o smtpd_hard_error_limit=2",
                        "huge": "-o smtpd_recipient_limit=100000",
                        "slow": "-o smtpd_timeout=2s",
                        "session": "-o smtpd_session_timeout=2s -o smtpd_timeout=60s",
                        "errors": "-o smtpd_soft_error_limit=2 -o smtpd_hard_error_limit=4 "
                                  "-o smtpd_error_sleep_time=1s",
                        "policy": "-o smtpd_helo_required=yes -o disable_vrfy_command=yes "
                                  "-o smtpd_client_restrictions=reject_unauth_pipelining "
                                  "-o smtpd_helo_restrictions=reject_non_fqdn_helo_hostname "
                                  "-o smtpd_sender_restrictions=check_sender_access,"
                                  "inline:{spammer@example.net=REJECT} "
                                  "-o smtpd_recipient_restrictions=check_recipient_access,"
                                  "inline:{closed@example.org=DEFER}",
                        "data": "-o smtpd_data_restrictions=reject_unauth_pipelining",
                        "unreadable": "-o virtual_mailbox_maps=texthash:%s" % unreadable,
                    })
    err = inst.start()
    t.ok(err is None, "postern starts with four smtpd services")
    if err:
        t.diag(err)
        return
    try:
        test_size(inst, inst.ports["main"])
        test_rcpt_limit(inst, inst.ports["main"])
        test_overshoot(inst, inst.ports["many"])
        test_overshoot_limit(inst, inst.ports["overshoot"])
        test_rcpt_memory(inst, inst.ports["huge"])
        test_lines(inst, inst.ports["main"])
        test_table_error(inst, inst.ports["main"])
        c = greet(inst.ports["unreadable"])
        c.cmd("MAIL FROM:<a@example.net>")
        t.is_eq(c.cmd("RCPT TO:<box@vmail.example>"),
                "451 4.3.0 <box@vmail.example>: Temporary lookup failure",
                "a table smtpd cannot read: 451 4.3.0")
        c.close()
        test_timeout(inst, inst.ports["slow"])
        test_session_timeout(inst, inst.ports["session"])
        test_errors(inst, inst.ports["errors"])
        test_policy(inst, inst.ports["policy"])
        test_data_restrictions(inst, inst.ports["data"])
    finally:
        inst.stop()
    test_no_qmgr(root)
    test_full_disk(root)


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
