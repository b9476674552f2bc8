#!/usr/bin/python3
"""smtpd-nss.t - a slow name service stalls only the session that waits for it (security
review, issue 11 #7). local_recipient_maps asks unix:passwd.byname; an LD_PRELOAD shim
(t/preload/slownss.c) makes the lookup of one user hang until the test opens a gate. While
one session waits for that lookup, another session of the same smtpd process delivers a
whole message; then the gate opens and the first session gets its answer."""
import os
import select
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import free_port  # noqa: E402
from smtpd_harness import BUILD, Client, Instance, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
SHIM = os.path.join(os.path.abspath(BUILD), "t", "preload", "slownss.so")


def main(root):
    gate = os.path.join(root, "gate")
    # A sanitizer build of smtpd accepts a preloaded library ahead of its runtime.
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":verify_asan_link_order=0").lstrip(":")
    inst = Instance(os.path.join(root, "i"),
                    "relay_domains = relay.example\n"
                    "local_recipient_maps = unix:passwd.byname\n"
                    "import_environment = ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS "
                    "LD_PRELOAD=%s SLOWNSS_USER=slowuser SLOWNSS_GATE=%s\n" % (SHIM, gate),
                    services={})
    port = free_port()
    with open(os.path.join(inst.cfg, "master.cf"), "a") as f:
        f.write("127.0.0.1:%d inet n - n - 1 smtpd\n" % port)  # one process, many sessions
    inst.ports["one"] = port
    err = inst.start()
    t.ok(err is None, "postern starts with one smtpd process and a name service that hangs")
    if err:
        t.diag(err)
        return
    try:
        waiting = Client(port, timeout=60)
        waiting.reply()
        waiting.cmd("EHLO client.example.net")
        waiting.cmd("MAIL FROM:<a@example.net>")
        waiting.send(b"RCPT TO:<slowuser@localhost>\r\n")  # its lookup hangs
        other = Client(port, timeout=30)
        t.like(other.reply(), "220", "a second client is greeted meanwhile")
        other.cmd("EHLO other.example.net")
        other.cmd("MAIL FROM:<b@example.net>")
        t.is_eq(other.cmd("RCPT TO:<root@localhost>"), "250 2.1.5 Ok",
                "its local recipient is looked up (another name) and accepted")
        t.is_eq(other.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>", "DATA")
        t.like(other.cmd("Subject: meanwhile\r\n\r\nhello\r\n."), "250 2.0.0 Ok: queued",
               "and its message is queued while the first session still waits")
        other.close()
        ready = select.select([waiting.sock], [], [], 0)[0]
        t.ok(not ready, "the first session's lookup is still hanging (no reply yet)")
        open(gate, "w").close()
        t.like(waiting.reply(), "550 5.1.1 <slowuser@localhost>",
               "once the name service answers, the waiting session gets its reply")
        t.is_eq(waiting.cmd("NOOP"), "250 2.0.0 Ok", "and goes on in step")
        waiting.close()
    finally:
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
