#!/usr/bin/python3
"""delivery-full.t - local delivery on a full disk: a small tmpfs fills up, delivery defers
with 4.2.2, no partial message stays in the mbox, no stray file in Maildir/tmp, and
delivery works again once space is freed. Needs root (mount)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tap import TAP  # noqa: E402

DRIVER = os.path.join(os.environ["BUILD"], "t", "bin", "deliver_test")
t = TAP()
if os.geteuid() != 0:
    t.skip_all("needs root to mount a tmpfs")

top = tempfile.mkdtemp()
mnt = os.path.join(top, "fs")
os.mkdir(mnt)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]).returncode != 0:
    t.skip_all("cannot mount a tmpfs here")

msg = os.path.join(top, "msg")
with open(msg, "wb") as f:
    f.write(b"Subject: fill\n\n" + b"From line\n" + b"x" * 3000 + b"\n")


def deliver(kind, target):
    r = subprocess.run([DRIVER, kind, target, msg, "rcpt@example.org"],
                       capture_output=True, text=True)
    return r.returncode, r.stdout.strip()


def fill(kind, target):
    """deliver until the first failure; return (successes, last result)"""
    for n in range(200):
        code, out = deliver(kind, target)
        if code != 0:
            return n, code, out
    return 200, 0, "never full"


try:
    mbox = os.path.join(mnt, "mbox")
    n, code, out = fill("mbox", mbox)
    t.ok(n > 0, "mbox: some deliveries fit (%d)" % n)
    t.is_eq(code, 75, "mbox: full disk is a temporary failure")
    t.ok(out.startswith("defer 4.2.2"), "mbox: 4.2.2 mailbox full: " + out)
    data = open(mbox, "rb").read()
    t.is_eq(data.count(b"\nFrom sender@example.org ") + data.startswith(b"From sender"), n,
            "mbox: exactly the delivered messages")
    t.ok(data.endswith(b"x\n\n"), "mbox: ends with a whole message")
    t.ok(not os.path.exists(mbox + ".lock"), "mbox: no dotlock left")

    md = os.path.join(mnt, "Maildir")
    n2, code, out = fill("maildir", md)
    t.is_eq(code, 75, "maildir: full disk is a temporary failure")
    t.ok(out.startswith("defer 4.2.2"), "maildir: 4.2.2: " + out)
    t.is_eq(os.listdir(os.path.join(md, "tmp")), [], "maildir: tmp is empty")
    t.is_eq(len(os.listdir(os.path.join(md, "new"))), n2, "maildir: only whole messages in new")

    os.unlink(mbox)
    for name in os.listdir(os.path.join(md, "new")):
        os.unlink(os.path.join(md, "new", name))
    t.is_eq(deliver("mbox", mbox)[0], 0, "mbox works again after space is freed")
    t.is_eq(deliver("maildir", md)[0], 0, "maildir works again after space is freed")
finally:
    subprocess.run(["umount", mnt])
    subprocess.run(["rm", "-rf", top])
t.done()
