#!/usr/bin/python3
"""milter-codec.t - lib/mail/milter_codec against a real libmilter filter (doc/milter.md).

t/bin/milter_drive speaks the MTA side with our codec over a UNIX socket or loopback TCP;
t/bin/test_milter (libmilter) answers as each case tells it and records what it saw. Every
verdict at every stage, a custom reply, every end-of-message edit, the steps a milter asks
to skip or not to answer, macro lists asked for in negotiation, and the macros it received."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import free_port  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
BIN = os.path.join(os.environ.get("BUILD", "build"), "t", "bin")
tmp = tempfile.mkdtemp(prefix="milter-codec.")
STAGES = ["connect:client.test:192.0.2.1", "helo:h.test", "mail:<a@b>:SIZE=10",
          "rcpt:<r@x>", "data", "header:Subject: hi", "eoh", "body:hello", "eom"]
runs = [0]


def milter(args, sock=None):
    """Start test_milter with args; wait until its log says it listens; (proc, log, sock)."""
    runs[0] += 1
    log = os.path.join(tmp, "m%d.log" % runs[0])
    sock = sock or "unix:" + os.path.join(tmp, "m%d.sock" % runs[0])
    proc = subprocess.Popen([os.path.join(BIN, "test_milter"), "-s", sock, "-l", log] + args)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(log) and "ready" in open(log).read():
            break
        time.sleep(0.02)
    return proc, log, sock


def session(args, steps, sock=None):
    """One session of steps against a milter started with args: (rc, output, milter log)."""
    proc, log, sock = milter(args, sock)
    if sock.startswith("inet:"):
        sock = "inet:" + sock.split(":")[1].split("@")[0]
    run = subprocess.run([os.path.join(BIN, "milter_drive"), sock] + steps + ["quit"],
                         capture_output=True, text=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "close" not in open(log).read():
        time.sleep(0.02)
    proc.kill()  # libmilter's orderly stop takes seconds
    proc.wait()
    if run.returncode != 0:
        t.diag(run.stderr)
    return run.returncode, run.stdout, open(log).read()


def stage_name(step):
    return step.split(":")[0]


# Every verdict at every stage: the reply arrives at that stage, named as the protocol does.
VERDICTS = {"continue": "SMFIR_CONTINUE", "accept": "SMFIR_ACCEPT", "reject": "SMFIR_REJECT",
            "tempfail": "SMFIR_TEMPFAIL", "discard": "SMFIR_DISCARD"}
for i, step in enumerate(STAGES):
    name = stage_name(step)
    for verdict, reply in VERDICTS.items():
        rc, out, _ = session(["-a", "%s=%s" % (name, verdict)], STAGES[: i + 1])
        t.ok(rc == 0 and ("%s %s\n" % (name, reply)) in out,
             "%s at %s: %s" % (verdict, name, reply))

# SKIP exists only where the MTA offers it and the milter takes it (SMFIP_SKIP), at body.
rc, out, _ = session(["-p", "400", "-a", "body=skip"], STAGES)
t.ok(rc == 0 and "body SMFIR_SKIP\n" in out, "skip at body with SMFIP_SKIP")

# A custom reply, 5xx and 4xx; only the recipient it matches.
rc, out, log = session(["-a", "rcpt/bad=reply:550:5.7.1:go away"],
                       STAGES[:3] + ["rcpt:<bad@x>", "rcpt:<ok@x>"])
t.ok("rcpt SMFIR_REPLYCODE 550 5.7.1 go away\nrcpt SMFIR_CONTINUE\n" in out,
     "custom 550 for one recipient, the next continues")
rc, out, _ = session(["-a", "mail=reply:451:4.7.1:later"], STAGES[:3])
t.ok("mail SMFIR_REPLYCODE 451 4.7.1 later\n" in out, "custom 451 at MAIL")

# Every edit at end of message, in the order the milter made them, then its verdict.
edits = ["addheader:X-A:one", "insheader:1:X-B:two", "chgheader:1:Subject:",
         "addrcpt:<n@x>", "delrcpt:<r@x>", "chgfrom:<s@x>", "replbody:new body",
         "quarantine:held", "accept"]
rc, out, log = session(sum([["-a", "eom=" + e] for e in edits], []), STAGES)
want = ["eom SMFIR_ADDHEADER X-A:one", "eom SMFIR_INSHEADER 1 X-B:two",
        "eom SMFIR_CHGHEADER 1 Subject:", "eom SMFIR_ADDRCPT <n@x>",
        "eom SMFIR_DELRCPT <r@x>", "eom SMFIR_CHGFROM <s@x>", "eom SMFIR_REPLBODY new body",
        "eom SMFIR_QUARANTINE held", "eom SMFIR_ACCEPT"]
got = [line for line in out.splitlines() if line.startswith("eom ")]
t.is_eq(got, want, "every edit at end of message, in order")
t.ok("edit-failed" not in log, "libmilter sent every edit (it offered every action)")

# Negotiation: every action offered and taken; the steps asked to skip are not sent, the
# steps asked to be silent get no reply.
rc, out, log = session(["-p", "%x" % (0x2 | 0x20 | 0x8000 | 0x80000)], STAGES)
t.like(out, "negotiated version=6 actions=0x1ff protocol=0x88022", "negotiated flags")
t.ok("helo skipped\n" in out and "header skipped\n" in out, "NOHELO, NOHDRS: not sent")
t.ok("rcpt no-reply\n" in out and "body no-reply\n" in out, "NR_RCPT, NR_BODY: no reply read")
t.ok("\nhelo " not in log and "\nheader " not in log, "the milter saw no HELO, no header")
t.ok(rc == 0 and "eom SMFIR_CONTINUE\n" in out, "the session stays in step to the end")
# (libmilter keeps the SMFIP_MDS_* size flags to itself: its filter sees the rest)
t.like(log, "negotiate actions=0x1ff protocol=0x1fffff", "we offered every action and step")

# A macro list asked for in negotiation arrives with its stage.
rc, out, _ = session(["-M", "rcpt={rcpt_addr} j", "-M", "eom=i"], STAGES[:1])
t.like(out, "symlist3={rcpt_addr} j symlist5=i", "SETSYMLIST lists for RCPT and EOM")

# The macros each stage sent reach the milter, and stay from stage to stage as in sendmail.
rc, out, log = session([], STAGES)
lines = {stage_name(line.split(" ")[0]): line for line in log.splitlines()}
t.like(lines.get("connect", ""), "j=mx.test\t_=client.test [192.0.2.1]", "connect macros")
t.like(lines.get("connect", ""), "{client_addr}=192.0.2.1", "client_addr at connect")
t.like(lines.get("mail", ""), "{mail_addr}=<a@b>", "mail_addr at MAIL")
t.like(lines.get("rcpt", ""), "{rcpt_addr}=<r@x>", "rcpt_addr at RCPT")
t.like(lines.get("eom", ""), "i=4XTEST", "the queue ID from DATA on")
t.like(lines.get("mail", ""), "<a@b> SIZE=10", "MAIL's ESMTP parameter")
t.like(lines.get("body", ""), "body 5 hello", "the body chunk")

# The same over loopback TCP.
port = free_port()
rc, out, _ = session(["-a", "rcpt=tempfail"], STAGES[:4], "inet:%d@127.0.0.1" % port)
t.ok(rc == 0 and "rcpt SMFIR_TEMPFAIL\n" in out, "over inet: tempfail at RCPT")

t.done()
