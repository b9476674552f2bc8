#!/usr/bin/python3
"""smtpd-milter-flow.t - flow control on a milter's connection (doc/milter.md): a milter that
negotiated SMFIP_NR_HDR and SMFIP_NR_BODY (no reply to headers and body chunks, as rspamd)
and then stops reading must not make smtpd hold the rest of a large message in memory, and
its content timeout must run while smtpd waits to write: the milter gets its default action
after that timeout. A milter that pauses and then reads on gets the whole message.

smtpd's memory is its peak resident size (VmHWM) before DATA and after the verdict, with a
32 MiB message: without flow control it grows by the message's size. Timing is never
pass/fail: the stopped milter never reads again against a timeout of 1 s, the pausing one
pauses 1 s against a timeout of 60 s (whether smtpd had to wait for it or not, it must get
every octet)."""
import os
import struct
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Client, Instance, free_port, wait_for  # noqa: E402
from tap import TAP  # noqa: E402
from rawmilter import RawMilterServer  # noqa: E402

t = TAP()
tmp = tempfile.mkdtemp(prefix="smtpd-milter-flow.")
NR_HDR, NR_BODY = 0x80, 0x80000
LINES = 32 * 1024  # of 1,000 octets with CRLF: 32 MiB
BODY = b"".join(b"%06d" % i + b"x" * 992 + b"\r\n" for i in range(LINES))
MESSAGE = b"Subject: big\r\nX-Test: flow\r\n\r\n" + BODY + b".\r\n"
GROWTH_MAX = 8 << 20  # smtpd's peak may grow by this much, a quarter of the message


class NrMilter(RawMilterServer):
    """A milter on a loopback port that negotiates NR_HDR and NR_BODY and answers CONTINUE
    to the rest (EOH too). At the first body chunk it stops reading: for good ("stop"), or
    until resume is set ("pause"), then it reads on, counts the body's octets and answers
    CONTINUE at the end. peer is smtpd's end of the connection that got to RCPT (to find its process)."""

    def __init__(self, port, mode):
        self.mode = mode
        self.stopped = threading.Event()
        self.resume = threading.Event()
        self.done = threading.Event()
        self.peer = None
        self.body = 0
        # A fixed receive buffer (no autotuning up to tcp_rmem's 32 MiB): what the kernel
        # holds for a milter that does not read stays small next to the message.
        super().__init__(port, rcvbuf=64 * 1024)

    def command(self, c, peer, cmd, p):
        if cmd == "O":
            c.sendall(struct.pack(">IcIII", 13, b"O", 6, 0, NR_HDR | NR_BODY))
        elif cmd == "R":  # the test's session (not the probes of Instance.start)
            self.peer = peer
            c.sendall(struct.pack(">Ic", 1, b"c"))
        elif cmd == "B":
            self.body += len(p) - 1
            if not self.stopped.is_set():
                self.stopped.set()
                if self.mode == "stop" or not self.resume.wait(120):
                    self.done.wait()
                    return False
        elif cmd not in "DLAQ":
            c.sendall(struct.pack(">Ic", 1, b"c"))
        return True

    def stop(self):
        self.done.set()
        self.resume.set()
        super().stop()


def socket_owner(local_port):
    """The pid of the process with the TCP socket bound to 127.0.0.1:local_port, or None."""
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            # Not a closed connection's TIME_WAIT entry on a reused port (inode 0)
            if int(fields[1].split(":")[1], 16) == local_port and fields[9] != "0":
                inode = fields[9]
    if inode is None:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                    return int(pid)
        except OSError:
            continue
    return None


def peak(pid):
    """VmHWM of pid, in octets."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


PORT = free_port()
FAST = "connect_timeout=10s,command_timeout=10s,content_timeout=1s"
services = {}
for action in ("tempfail", "accept"):
    services["stop-" + action] = "-o smtpd_milters={inet:127.0.0.1:%d,default_action=%s,%s}" % (
        PORT, action, FAST)
services["pause"] = ("-o smtpd_milters={inet:127.0.0.1:%d,default_action=tempfail,"
                     "content_timeout=60s}" % PORT)
MAIN = "message_size_limit = 64000000\n"
if "ASAN_OPTIONS" in os.environ:
    # A sanitizer build's peak counts freed memory in quarantine (256 MiB by default): a
    # small quarantine, passed on to smtpd, keeps the peak about what is in use.
    os.environ["ASAN_OPTIONS"] += ":quarantine_size_mb=1"
    MAIN += ("import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C "
             "ASAN_OPTIONS UBSAN_OPTIONS\n")
inst = Instance(os.path.join(tmp, "inst"), services=services, main_extra=MAIN)
err = inst.start()
if err:
    t.bail_out("postern start: %s" % err)


def big_message(service, milter):
    """A session that sends MESSAGE; (the reply to it, smtpd's peak growth in octets)."""
    c = Client(inst.ports[service], timeout=120)
    c.reply()
    c.cmd("EHLO client.example.net")
    c.cmd("MAIL FROM:<s@example.net>")
    c.cmd("RCPT TO:<r@relay.example>")
    pid = wait_for(lambda: milter.peer and socket_owner(milter.peer[1]), 10)
    if not t.ok(pid, "%s: smtpd's process found by its milter connection" % service):
        return "", 0
    before = peak(pid)
    t.like(c.cmd("DATA"), "354", "%s: DATA" % service)
    c.send(MESSAGE)
    reply = c.reply()
    growth = peak(pid) - before
    c.cmd("QUIT")
    c.close()
    return reply, growth


WARNING = "milter inet:127.0.0.1:%d: write timeout (1s); default_action=" % PORT
for action, want in (("tempfail", "451 4.7.1"), ("accept", "250 2.0.0 Ok: queued as")):
    m = NrMilter(PORT, "stop")
    try:
        reply, growth = big_message("stop-" + action, m)
        t.ok(m.stopped.is_set(), "%s: the milter stopped reading in the body" % action)
        t.like(reply, want, "%s: the default action after the content timeout" % action)
        t.ok(inst.wait_log(WARNING + action), "%s: the write timeout logged" % action)
        if not t.ok(growth < GROWTH_MAX, "%s: smtpd's peak grew by %d KiB, not by the message"
                    % (action, growth >> 10)):
            t.diag("limit %d KiB, message %d KiB" % (GROWTH_MAX >> 10, len(MESSAGE) >> 10))
    finally:
        m.stop()

m = NrMilter(PORT, "pause")
try:
    threading.Thread(target=lambda: m.stopped.wait(120) and
                     (threading.Event().wait(1), m.resume.set()), daemon=True).start()
    reply, growth = big_message("pause", m)
    t.like(reply, "250 2.0.0 Ok: queued as", "a milter that pauses, then reads on: queued")
    t.is_eq(m.body, len(BODY), "it got every octet of the body")
    t.ok(growth < GROWTH_MAX, "smtpd's peak grew by %d KiB" % (growth >> 10))
finally:
    m.stop()

t.ok("panic" not in inst.logtext() and "fatal" not in inst.logtext(), "no daemon died")
inst.stop()
t.done()
