#!/usr/bin/python3
"""local-limits.t - what a local user's own files can do to local delivery (security review,
issue 11 #3, #4, #5), written as the attacks, each of which must now fail:
  - a .forward command that never reads its input and never ends (`|exec sleep 60`) is
    killed with its process group at command_time_limit and the delivery deferred;
  - a user who stops their own kept delivery process (SIGSTOP) holds up nobody: local gives
    up on it after local_delivery_time_limit, and other users' mail goes on; a command that
    stops it (so that its clock cannot fire) dies with it;
  - an :include: of a root:root 0640 file is not read through root's group 0 (postern
    started from a shell whose groups include 0), and nothing of it reaches the logs;
  - the same :include: listed 10,000 times costs one expansion, and more distinct items
    than local_expansion_limit fail the recipient with 5.2.4;
  - the child that forwards mail as mail_owner holds none of local's descriptors (its
    sockets, the queue file open for writing): an LD_PRELOAD shim (t/preload/fdaudit.c)
    lists what it holds when it connects to qmgr.
Runs as root (users and their rights are the point). Timing is never pass/fail: the limits
are short so that the waits are short, and each wait has a generous bound."""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import POSTERN, Instance, ensure_user, read_text, uids, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
DOMAIN = "test.example"


def user(inst, name, forward=None):
    home = os.path.join(inst.root, "home", name)
    pw = ensure_user(name, home)
    if forward is not None:
        path = os.path.join(home, ".forward")
        with open(path, "w") as f:
            f.write(forward)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o644)
    return pw


def send(inst, rcpt, subject, body="hello\r\n"):
    msg = "Subject: %s\r\n\r\n%s" % (subject, body)
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.sendmail("sender@example.net", [rcpt], msg)


def maildir(pw):
    d = os.path.join(pw.pw_dir, "Maildir", "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def logged(inst, text, seconds=60):
    return wait_for(lambda: text in inst.log(), seconds)


def test_command_limit(inst):
    pw = user(inst, "postern-lim-cmd", "|exec /bin/sleep 60\n")
    big = ("x" * 998 + "\r\n") * 220  # about 216 KB: more than a pipe holds
    started = time.time()
    send(inst, "postern-lim-cmd@%s" % DOMAIN, "sleeper", big)
    t.ok(logged(inst, "Command time limit exceeded: \"exec /bin/sleep 60\""),
         "a command that never reads nor ends is stopped at command_time_limit (2s)")
    t.ok(time.time() - started < 55, "long before the command would have ended by itself")
    t.ok(re_search(inst, r"to=<postern-lim-cmd@[^>]*>.*status=deferred \(Command time limit"),
         "and the delivery is deferred, not reported sent")
    t.ok(wait_for(lambda: not [p for p in all_pids() if uids(p)[:1] == [pw.pw_uid] and
                              "sleep" in cmdline_of(p)], 10),
         "its whole process group is gone")


def test_stopped_worker(inst):
    stopper = user(inst, "postern-lim-stop")
    other = user(inst, "postern-lim-other")
    send(inst, "postern-lim-stop@%s" % DOMAIN, "first")
    t.ok(wait_for(lambda: len(maildir(stopper)) == 1, 30), "a first message for the user")
    workers = [p for p in all_pids() if uids(p)[:1] == [stopper.pw_uid]]
    t.ok(workers, "local keeps a delivery process with the user's rights")
    for p in workers:
        os.kill(p, signal.SIGSTOP)  # what the user can do to their own process
    send(inst, "postern-lim-stop@%s" % DOMAIN, "second")
    t.ok(logged(inst, "did not finish within local_delivery_time_limit"),
         "a stopped delivery process is given up after local_delivery_time_limit (3s)")
    send(inst, "postern-lim-other@%s" % DOMAIN, "unhindered")
    t.ok(wait_for(lambda: len(maildir(other)) == 1, 30), "another user's mail is delivered")
    t.ok(wait_for(lambda: not any(p in all_pids() for p in workers), 10),
         "the stopped process was killed, not left behind")


def test_command_stops_worker(inst):
    pw = user(inst, "postern-lim-escape", "|kill -STOP $PPID; exec /bin/sleep 60\n")
    send(inst, "postern-lim-escape@%s" % DOMAIN, "escape")
    t.ok(re_search(inst, r"to=<postern-lim-escape@[^>]*>.*status=deferred"),
         "a command that stops its own delivery process (so its clock cannot fire): deferred")
    t.ok(wait_for(lambda: not [p for p in all_pids() if uids(p)[:1] == [pw.pw_uid]], 15),
         "and the command dies with the delivery process local killed: nothing of the user "
         "outlives the limits")


def test_include_groups(inst):
    secret = os.path.join(inst.root, "root-only")
    with open(secret, "w") as f:
        f.write("leaked-line@elsewhere.example\n")
    os.chown(secret, 0, 0)
    os.chmod(secret, 0o640)
    user(inst, "postern-lim-inc", ":include:%s\n" % secret)
    send(inst, "postern-lim-inc@%s" % DOMAIN, "include")
    t.ok(logged(inst, "cannot open include file %s" % secret),
         "a root:root 0640 :include: is not readable with the user's rights, group 0 or not")
    t.ok("leaked-line" not in inst.log(), "and nothing of its content reaches the log")


def test_amplification(inst):
    lister = os.path.join(inst.root, "home", "list-members")
    member = user(inst, "postern-lim-member")
    with open(lister, "w") as f:
        f.write("postern-lim-member\n")
    os.chmod(lister, 0o644)
    user(inst, "postern-lim-amp", (":include:%s\n" % lister) * 10000)
    send(inst, "postern-lim-amp@%s" % DOMAIN, "amplified")
    t.ok(wait_for(lambda: len(maildir(member)) == 1, 60),
         "the same :include: 10,000 times: the member gets the message")
    t.ok(re_search(inst, r"to=<postern-lim-amp@[^>]*>.*status=sent"), "and the recipient is done")
    t.is_eq(len(maildir(member)), 1, "once")
    home = os.path.join(inst.root, "home", "postern-lim-wide")
    many = "".join("%s/box%d\n" % (home, i) for i in range(8))  # files the user may write
    user(inst, "postern-lim-wide", many)
    send(inst, "postern-lim-wide@%s" % DOMAIN, "wide")
    t.ok(logged(inst, "exceeds local_expansion_limit"),
         "more distinct items than local_expansion_limit (5): the recipient fails")
    t.ok(re_search(inst, r"to=<postern-lim-wide@[^>]*>.*dsn=5\.2\.4, status=bounced"),
         "with 5.2.4")


def test_forward_fds(inst, audit):
    user(inst, "postern-lim-fwd", "someone@elsewhere.example\n")
    send(inst, "postern-lim-fwd@%s" % DOMAIN, "forwarded")
    t.ok(wait_for(lambda: any(l.startswith("local:") for l in read_text(audit).splitlines()),
                  30), "local forwards the message through qmgr")
    held = [l.split("|")[1:] for l in read_text(audit).splitlines() if l.startswith("local:")][:1]
    held = held[0] if held else ["?"]
    strange = [h for h in held if not (h.startswith("pipe:") or h.startswith("/memfd:") or
                                       h == inst.logfile)]
    t.is_eq(strange, [], "the forwarding child holds only its pipe, the message and the log")


def re_search(inst, pattern, seconds=30):
    return wait_for(lambda: re.search(pattern, inst.log()), seconds)


def all_pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def cmdline_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def main():
    if os.geteuid() != 0:
        t.skip_all("needs root: the users and their rights are the point")
    shim = os.path.join(os.path.abspath(os.environ["BUILD"]), "t", "preload", "fdaudit.so")
    inst = Instance("command_time_limit = 2s\nlocal_delivery_time_limit = 3s\n"
                    "local_expansion_limit = 5\nlocal_recipient_maps =\n"
                    "allow_mail_to_commands = alias, forward, include\n"
                    "home_mailbox = Maildir/\n")
    audit = os.path.join(inst.root, "fdaudit")
    open(audit, "w").close()
    os.chmod(audit, 0o666)  # the shim appends as whoever connects
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("import_environment = ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS "
                "LD_PRELOAD=%s FDAUDIT_LOG=%s\n" % (shim, audit))
    # A sanitizer build accepts a preloaded library ahead of its runtime.
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":verify_asan_link_order=0").lstrip(":")
    os.makedirs(os.path.join(inst.root, "home"))
    os.chmod(os.path.join(inst.root, "home"), 0o755)
    if inst.postern("check").returncode != 0:
        t.skip_all("postern check fails")
    # Started from a shell whose supplementary groups include 0, as from root or sudo.
    inst.proc = subprocess.Popen([POSTERN, "start-fg", "-c", inst.etc],
                                 preexec_fn=lambda: os.setgroups([0]))
    try:
        t.ok(wait_for(inst.listening, 10), "postern starts (groups: 0)")
        test_command_limit(inst)
        test_stopped_worker(inst)
        test_command_stops_worker(inst)
        test_include_groups(inst)
        test_amplification(inst)
        test_forward_fds(inst, audit)
    finally:
        inst.cleanup()
    t.done()


main()
