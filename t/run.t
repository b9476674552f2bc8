#!/usr/bin/python3
"""run.t - a newcomer's first minutes: `make run`'s instance (tools/run-dev) and the README's
"try it" commands, run exactly as the README prints them, against the ports the README
names. Then what happens to a development instance whose alias table is not built: local
defers instead of exiting into a restart loop, and both local and smtpd use the table once
`postern newaliases` builds it, without a reload.

The instance lives in a temporary directory; the commands run where a `run` link points at
it, so the README's relative paths hold. Skipped when port 2525 is taken (a `make run`
that is going)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import read_text, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.environ["BUILD"])
POSTERN = os.path.join(BUILD, "bin", "postern")
t = TAP()


def port_busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def try_it_lines():
    text = read_text(os.path.join(TOP, "README.md"))
    block = re.search(r"<!-- try-it[^>]*-->\n(.*?)<!-- /try-it -->", text, re.S)
    return [line.strip() for line in block.group(1).splitlines() if line.strip()] if block else []


def mailbox(run):
    d = os.path.join(run, "mail", "demo.test", "demo", "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def postern(etc, *args):
    return subprocess.run([POSTERN] + list(args) + ["-c", etc], capture_output=True, text=True,
                          timeout=60)


def test_try_it(top, run, log):
    lines = try_it_lines()
    t.is_eq(len(lines), 7, "the README's try-it block: swaks and smtplib on 2525, 2587, 2465; ls")
    for line in lines[:-1]:
        r = subprocess.run(line, shell=True, cwd=top, capture_output=True, text=True, timeout=60)
        t.is_eq(r.returncode, 0, "as printed: %s" % line[:60])
        if r.returncode != 0:
            t.diag(r.stdout[-1000:] + r.stderr[-1000:])
    t.ok(wait_for(lambda: len(mailbox(run)) == 6, 20), "all six messages are in the demo mailbox")
    r = subprocess.run(lines[-1], shell=True, cwd=top, capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 0 and len(r.stdout.split()) == 6, "and the README's ls lists them")
    texts = [read_text(os.path.join(run, "mail", "demo.test", "demo", "new", f))
             for f in mailbox(run)]
    t.ok(any("Subject: hello from swaks" in x for x in texts) and
         any("Subject: hello from Python" in x and "Delivered-To: root@localhost" in x
             for x in texts), "one from swaks, one from Python through the root alias")
    for subject in ("hello over 587", "hello over 465", "hello over 587 from Python",
                    "hello over 465 from Python"):
        t.ok(any(("Subject: %s\n" % subject) in x.replace("\r\n", "\n") and "ESMTPSA" in x
                 for x in texts), "%s: authenticated, through TLS (ESMTPSA)" % subject)
    r = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from", "you@example.org",
                        "--to", "nobody-here@localhost"], capture_output=True, text=True,
                       timeout=60)
    t.ok("550 5.1.1" in r.stdout, "another local user is refused: nothing reaches a real home")


def rcpt_reply(rcpt):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from", "you@example.org",
                        "--to", rcpt, "--quit-after", "RCPT"], capture_output=True, text=True,
                       timeout=60)
    replies = [line for line in r.stdout.splitlines() if line.startswith("<")]
    return replies[-2][4:] if len(replies) >= 2 else r.stdout


def test_smtpd_unbuilt(etc):
    access = os.path.join(etc, "access")
    with open(access, "w") as f:
        f.write("blocked@localhost REJECT\n")
    with open(os.path.join(etc, "main.cf"), "a") as f:
        f.write("queue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 1s\n")
        f.write("smtpd_recipient_restrictions = check_recipient_access hash:%s, "
                "permit_mynetworks, reject_unauth_destination\n" % access)
    os.unlink(os.path.join(etc, "aliases.lmdb"))
    r = postern(etc, "check")
    t.ok("postern newaliases -c %s" % etc in r.stderr,
         "postern check names the unbuilt alias table and the command that builds it")
    t.is_eq(postern(etc, "start").returncode, 0, "the instance starts without its alias table")
    t.like(rcpt_reply("root@localhost"), "451 4.3.0",
           "smtpd answers 451 for a recipient it cannot look up")
    t.is_eq(postern(etc, "newaliases").returncode, 0, "postern newaliases builds the table")
    t.like(rcpt_reply("root@localhost"), "451 4.3.0",
           "an unbuilt access table in smtpd_recipient_restrictions defers too")
    t.is_eq(postern(etc, "map", "hash:" + access).returncode, 0, "postern map builds it")
    t.like(rcpt_reply("root@localhost"), "250 2.1.5",
           "and the running smtpd accepts the recipient, without a reload")
    t.like(rcpt_reply("blocked@localhost"), "554 5.7.1",
           "with the access table in force")
    postern(etc, "stop")
    with open(os.path.join(etc, "main.cf"), "a") as f:
        f.write("smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n")


def test_local_unbuilt(run, etc, log):
    vmailbox, transport = os.path.join(etc, "vmailbox"), os.path.join(etc, "transport")
    with open(transport, "w") as f:
        f.write("nowhere.example local:\n")
    with open(os.path.join(etc, "main.cf"), "a") as f:
        f.write("local_recipient_maps =\n")  # every local address reaches local
        f.write("virtual_mailbox_maps = hash:%s\n" % vmailbox)  # tables to build, too
        f.write("transport_maps = hash:%s\n" % transport)
    os.unlink(os.path.join(etc, "aliases.lmdb"))
    t.is_eq(postern(etc, "start").returncode, 0, "started again without the alias table")
    r = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from", "you@example.org",
                        "--to", "postmaster@localhost", "--header", "Subject: waits"],
                       capture_output=True, text=True, timeout=60)
    t.ok("250 2.0.0 Ok: queued" in r.stdout, "mail for an alias is accepted")
    t.ok(wait_for(lambda: "transport_maps lookup failure" in read_text(log), 10),
         "qmgr defers it while transport_maps is not built")
    t.ok("bad command startup" not in read_text(log), "and does not exit into a restart loop")
    t.is_eq(postern(etc, "map", "hash:" + transport).returncode, 0, "postern map builds it")
    t.ok(wait_for(lambda: "alias database unavailable" in read_text(log), 10),
         "local defers it next (alias database unavailable)")
    t.ok("bad command startup" not in read_text(log), "and does not exit into a restart loop")
    t.is_eq(postern(etc, "newaliases").returncode, 0, "postern newaliases builds the table")
    t.ok(wait_for(lambda: "virtual_mailbox_maps lookup failure" in read_text(log), 20),
         "the alias now expands; the virtual delivery waits for its own unbuilt table")
    t.ok("bad command startup" not in read_text(log), "the virtual service does not crash-loop")
    t.is_eq(postern(etc, "map", "hash:" + vmailbox).returncode, 0, "postern map builds it")
    t.ok(wait_for(lambda: any("Subject: waits" in read_text(os.path.join(
        run, "mail", "demo.test", "demo", "new", f)) for f in mailbox(run)), 20),
        "the deferred message is delivered at its next try, without a reload")
    postern(etc, "stop")


def test_domains_unbuilt(run, etc, log):
    """A domain list that names an unbuilt table stops no daemon: the recipients of its
    domains wait until it is built, in smtpd, qmgr and local alike."""
    vdomains = os.path.join(etc, "vdomains")
    with open(vdomains, "w") as f:
        f.write("demo.test ok\n")
    with open(os.path.join(etc, "main.cf"), "a") as f:
        f.write("virtual_mailbox_domains = hash:%s\n" % vdomains)
    before = read_text(log).count("bad command startup")
    t.is_eq(postern(etc, "start").returncode, 0, "started with an unbuilt domain table")
    t.like(rcpt_reply("demo@demo.test"), "451 4.3.0", "smtpd defers the recipients meanwhile")
    t.is_eq(read_text(log).count("bad command startup"), before,
            "and no daemon exits into a restart loop (smtpd, qmgr, local)")
    t.is_eq(postern(etc, "map", "hash:" + vdomains).returncode, 0, "postern map builds it")
    r = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from", "you@example.org",
                        "--to", "demo@demo.test", "--header", "Subject: domains back"],
                       capture_output=True, text=True, timeout=60)
    t.ok("250 2.0.0 Ok: queued" in r.stdout, "then the recipient is accepted, without a reload")
    t.ok(wait_for(lambda: any("Subject: domains back" in read_text(os.path.join(
        run, "mail", "demo.test", "demo", "new", f)) for f in mailbox(run)), 20),
        "and delivered")
    postern(etc, "stop")


def main():
    # An instance another test just stopped may still be letting go of its ports.
    if not wait_for(lambda: not any(port_busy(p) for p in (2525, 2587, 2465)), 30):
        held = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        t.diag("\n".join(l for l in held.splitlines() if ":25" in l or ":24" in l))
        t.skip_all("port 2525, 2587 or 2465 is in use (is `make run` going?)")
    with tempfile.TemporaryDirectory(prefix="postern-run.") as top:
        os.chmod(top, 0o755)
        run = os.path.join(top, "instance")
        os.symlink(run, os.path.join(top, "run"))
        log = os.path.join(top, "log")
        env = dict(os.environ, POSTERN_RUN_DIR=run)
        with open(log, "w") as out:
            dev = subprocess.Popen([os.path.join(TOP, "tools", "run-dev"), BUILD], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            t.ok(wait_for(lambda: port_busy(2525), 20), "make run's instance answers on 2525")
            test_try_it(top, run, log)
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(timeout=30)
        with open(os.path.join(run, "etc", "main.cf"), "a") as f:
            f.write("maillog_file = %s\n" % log)
        test_smtpd_unbuilt(os.path.join(run, "etc"))
        test_local_unbuilt(run, os.path.join(run, "etc"), log)
        test_domains_unbuilt(run, os.path.join(run, "etc"), log)
    t.done()


main()
