#!/usr/bin/python3
"""diskfull.t - a full queue file system is a temporary failure: with the queue on a small
tmpfs filled up, DATA gets 452 4.3.1 and nothing half-written stays behind; once space
returns the same client's next message is accepted and delivered."""
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, ensure_user, maildir_messages, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
if os.geteuid() != 0:
    t.skip_all("mounts a tmpfs: needs root")

USER = "pt-diskfull"
inst = Instance(main="home_mailbox = Maildir/\n")
home = os.path.join(inst.root, "home")
ensure_user(USER, home)
maildir = os.path.join(home, "Maildir")
os.makedirs(inst.queue)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", inst.queue]).returncode == 0
if not mounted:
    inst.cleanup()
    t.skip_all("cannot mount a tmpfs here")

filler = os.path.join(inst.queue, "filler")


def fill():
    """Write until the file system is full, to the last block."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                os.write(fd, b"x" * size)
    except OSError:
        pass
    finally:
        os.close(fd)


try:
    t.ok(inst.start(), "postern starts with its queue on a 2 MB tmpfs")
    body = b"Subject: big\r\n\r\n" + (b"y" * 76 + b"\r\n") * 2000
    with smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.test.example", timeout=30) as c:
        fill()
        c.mail("s@test.example")
        c.rcpt("%s@test.example" % USER)
        code, text = c.data(body)
        t.is_eq(code, 452, "the queue is full: 452")
        t.like(text.decode(), "4.3.1", "with 4.3.1 (insufficient system storage)")
        # The refused file goes when qmgr sees the session's link to it end: wait for that.
        wait_for(lambda: inst.queue_files("incoming", "active", "deferred") == [], 10)
        t.is_eq(inst.queue_files("incoming", "active", "deferred"), [],
                "nothing of the refused message stays in the queue")
        os.unlink(filler)
        c.rset()
        c.mail("s@test.example")
        c.rcpt("%s@test.example" % USER)
        code, _ = c.data(body)
        t.is_eq(code, 250, "space is back: the next message on the same session is accepted")
    t.ok(wait_for(lambda: len(maildir_messages(maildir)) == 1, 20), "and delivered")
    if t.failed:
        t.diag(inst.log()[-4000:])
finally:
    inst.stop()
    subprocess.run(["umount", "-l", inst.queue])
    inst.cleanup()
sys.exit(t.done())
