#!/usr/bin/python3
"""smtpd-flood.t - one client cannot stop inbound mail for everyone (security review, issue
11 #2). A flood of sessions that stop after RCPT holds no qmgr connection, so a second
client still delivers; anvil's per-client limits answer the flood itself: sessions at once
(421 4.7.0), connects per time unit (421 4.7.0) and recipients per time unit (450 4.7.1),
except for smtpd_client_event_limit_exceptions. Without anvil, smtpd goes on unlimited and
says so. Timing is never pass/fail."""
import os
import resource
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import free_port  # noqa: E402
from smtpd_harness import Client, Instance, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
FLOOD = 1100  # more than qmgr's 1,024 clients


def session(port, source="127.0.0.1"):
    """A client after EHLO, or the reply that refused it."""
    c = Client(port, timeout=30, source=source)
    greeting = c.reply()
    if not greeting.startswith("220"):
        c.close()
        return greeting
    c.cmd("EHLO client.example.net")
    return c


def deliver(port, source):
    c = session(port, source)
    if isinstance(c, str):
        return c
    c.cmd("MAIL FROM:<second@example.net>")
    c.cmd("RCPT TO:<u@relay.example>")
    if c.cmd("DATA") != "354 End data with <CR><LF>.<CR><LF>":
        return "no 354"
    reply = c.cmd("Subject: through\r\n\r\nhello\r\n.")
    c.close()
    return reply


def test_flood_holds_no_qmgr(inst):
    port = inst.ports["open"]
    parked = []
    for i in range(FLOOD):
        c = session(port)
        c.cmd("MAIL FROM:<flood%d@example.net>" % i)
        c.cmd("RCPT TO:<u%d@relay.example>" % i)
        parked.append(c)
    t.is_eq(len(parked), FLOOD, "%d sessions from one client sit after RCPT" % FLOOD)
    t.like(deliver(port, "127.0.0.2"), "250 2.0.0 Ok: queued as ",
           "a second client still gets its message through (354, then 250)")
    t.like(parked[0].cmd("DATA"), "354", "and a parked session can still send its message")
    for c in parked:
        c.close()


def test_count_limit(inst):
    port = inst.ports["limited"]
    held, refused = [], []
    for _ in range(25):
        c = session(port)
        (refused if isinstance(c, str) else held).append(c)
    t.is_eq(len(held), 20, "smtpd_client_connection_count_limit = 20: 20 sessions open")
    t.ok(refused and all(r == "421 4.7.0 mx.example.org Error: too many connections from "
                                 "127.0.0.1" for r in refused),
         "the other 5 get 421 4.7.0 too many connections")
    t.ok(inst.wait_log("Connection concurrency limit exceeded: 21 from unknown[127.0.0.1]"),
         "logged as Postfix does (fail2ban's postfix filter knows the line)")
    t.like(deliver(port, "127.0.0.2"), "250 2.0.0 Ok: queued as ",
           "another client is not affected")
    held.pop().close()
    t.ok(wait_for(lambda: not isinstance(session(port), str), 10),
         "a session that ends frees its place")
    for c in held:
        c.close()


def test_rates(inst):
    port = inst.ports["rate"]
    replies = []
    for _ in range(4):  # from an address of its own: the harness's start probed the port
        c = session(port, "127.0.0.3")
        replies.append(c if isinstance(c, str) else "220")
        if not isinstance(c, str):
            c.close()
    t.is_eq(replies[:3], ["220"] * 3, "smtpd_client_connection_rate_limit = 3: three connects")
    t.is_eq(replies[3], "421 4.7.0 mx.example.org Error: too many connections from 127.0.0.3",
            "the fourth in the time unit: 421 4.7.0")
    c = session(inst.ports["rcpt"])
    c.cmd("MAIL FROM:<many@example.net>")
    got = [c.cmd("RCPT TO:<r%d@relay.example>" % i) for i in range(4)]
    t.is_eq(got[:3], ["250 2.1.5 Ok"] * 3, "smtpd_client_recipient_rate_limit = 3: three RCPTs")
    t.is_eq(got[3], "450 4.7.1 Error: too many recipients from 127.0.0.1", "the fourth: 450 4.7.1")
    t.like(c.cmd("DATA"), "354", "the accepted recipients keep their transaction")
    c.close()


def test_exempt(inst):
    held = [session(inst.ports["exempt"]) for _ in range(25)]
    t.ok(not any(isinstance(c, str) for c in held),
         "a client in smtpd_client_event_limit_exceptions is not limited")
    for c in held:
        c.close()


def anvil_record(msg, service, client):
    def attr(name, value):
        return b"S" + bytes([len(name)]) + name + struct.pack(">I", len(value)) + value
    body = attr(b"msg", msg) + attr(b"service", service) + attr(b"client", client)
    return struct.pack(">I", len(body)) + body


def test_anvil_bound(inst):
    """A confused or compromised receiver that reports sessions without end cannot make
    anvil grow without bound: past 262,144 open sessions its connection is dropped."""
    if os.geteuid() != 0:
        t.ok(True, "# SKIP needs root to act as mail_owner")
        return
    path = os.path.join(inst.queue, "private", "anvil")
    one = anvil_record(b"anvil_connect", b"flood", b"192.0.2.1")
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(inst.user.pw_gid)
            os.setuid(inst.user.pw_uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.settimeout(60)
            reader = s.makefile("rb")
            answered = 0
            for _ in range(300):  # batches of 1,000, pipelined
                try:
                    s.sendall(one * 1000)
                except OSError:
                    pass  # dropped: the answers before the drop are still to be read
                for _ in range(1000):
                    try:
                        head = reader.read(4)  # the length of anvil's answer, or EOF
                        head = head if len(head) == 4 else None
                        if head is not None:
                            reader.read(struct.unpack(">I", head)[0])
                    except ConnectionResetError:  # answers in flight may go with the reset
                        head = None
                    if head is None:
                        os._exit(0 if 262144 - 1000 <= answered <= 262144 else 2)
                    answered += 1
            os._exit(1)
        except BaseException:
            os._exit(3)
    status = os.waitpid(pid, 0)[1]
    t.is_eq(os.WEXITSTATUS(status), 0, "anvil drops a receiver at 262,144 open sessions "
            "(it answered up to there)")
    t.ok(inst.wait_log("reports more than 262144 open sessions"), "and says so")


def test_without_anvil(root):
    inst = Instance(os.path.join(root, "noanvil"), "relay_domains = relay.example\n"
                    "smtpd_client_event_limit_exceptions =\n",
                    services={"main": "-o smtpd_client_connection_count_limit=1"})
    err = inst.start()
    t.ok(err is None, "an instance without anvil starts")
    try:
        held = [session(inst.ports["main"]) for _ in range(3)]
        t.ok(not any(isinstance(c, str) for c in held), "without anvil, smtpd goes on unlimited")
        t.ok(inst.wait_log("client limits are not enforced"), "and logs why")
        for c in held:
            c.close()
    finally:
        inst.stop()


def smtpd_cmdlines():
    found = []
    for e in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % e, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and os.path.basename(args[0]) == b"smtpd":
            found.append(b" ".join(args).decode(errors="replace"))
    return found


def test_stress(root):
    """The last process a service's limit allows runs with stress=yes, so its
    ${stress?{10}:{300}}s smtpd_timeout is 10s (Postfix's stress-dependent defaults)."""
    inst = Instance(os.path.join(root, "stress"), "relay_domains = relay.example\n",
                    services={})
    port = free_port()
    with open(os.path.join(inst.cfg, "master.cf"), "a") as f:
        f.write("127.0.0.1:%d inet n - n - 2 smtpd -o smtpd_sessions_per_process=1 "
                "-o syslog_name=stress-test\n" % port)
    inst.ports["stress"] = port
    err = inst.start()
    t.ok(err is None, "a service with a process limit of 2, one session per process")
    try:
        first, second = session(port), session(port)
        mine = lambda: [c for c in smtpd_cmdlines() if "stress-test" in c]  # noqa: E731
        t.ok(wait_for(lambda: len(mine()) == 2, 10), "two sessions: two processes, the limit")
        t.is_eq(sum("stress=yes" in c for c in mine()), 1,
                "the one started at the limit runs with -o stress=yes, the other without")
        for c in (first, second):
            if not isinstance(c, str):
                c.close()
    finally:
        inst.stop()


def main(root):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * FLOOD
    if hard != resource.RLIM_INFINITY and hard < want and os.geteuid() != 0:
        t.skip_all("needs %d descriptors (hard limit %d)" % (want, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)
                                                if hard != resource.RLIM_INFINITY else hard))
    inst = Instance(os.path.join(root, "i"),
                    "relay_domains = relay.example\nsmtpd_client_event_limit_exceptions =\n"
                    "anvil_rate_time_unit = 3600s\n",
                    services={
                        "open": "-o smtpd_client_connection_count_limit=0",
                        "limited": "-o smtpd_client_connection_count_limit=20",
                        "rate": "-o smtpd_client_connection_rate_limit=3",
                        "rcpt": "-o smtpd_client_recipient_rate_limit=3",
                        "exempt": "-o smtpd_client_connection_count_limit=2 "
                                  "-o smtpd_client_event_limit_exceptions=127.0.0.0/8",
                    }, anvil=True)
    err = inst.start()
    t.ok(err is None, "postern starts with anvil and five smtpd services")
    if err:
        t.diag(err)
        return
    try:
        test_flood_holds_no_qmgr(inst)
        test_count_limit(inst)
        test_rates(inst)
        test_exempt(inst)
        test_anvil_bound(inst)
    finally:
        inst.stop()
    test_without_anvil(root)
    test_stress(root)


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
