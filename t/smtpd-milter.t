#!/usr/bin/python3
"""smtpd-milter.t - smtpd's milters (doc/milter.md) against t/bin/test_milter (libmilter) and
a raw milter of our own for the faults libmilter cannot make: every verdict at every stage,
a recipient refused alone, discard, the macros of each stage (the transport and next hop
ones as trivial-rewrite resolves them), two milters in order, and a
milter that refuses connections, hangs past each timeout, closes mid-message or answers an
unknown code, each with default_action accept, tempfail and reject; the log lines; the
edits at the end of the message; the TLS macros after STARTTLS.

Timing is never pass/fail: a hanging milter sleeps an hour against timeouts of 1 s."""
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Client, Instance, free_port, tls_owner, wait_for  # noqa: E402
from milters import HEADER_CHECKS  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402
from rawmilter import RawMilterServer  # noqa: E402

t = TAP()
BUILD = os.environ["BUILD"]
BIN = os.path.join(BUILD, "t", "bin")
tmp = tempfile.mkdtemp(prefix="smtpd-milter.")
runs = [0]


class Milter:
    """test_milter on a loopback port with the given rules; its log as text."""

    def __init__(self, port, args):
        runs[0] += 1
        self.log = os.path.join(tmp, "m%d.log" % runs[0])
        self.proc = subprocess.Popen([os.path.join(BIN, "test_milter"), "-s",
                                      "inet:%d@127.0.0.1" % port, "-l", self.log] + args)
        wait_for(lambda: os.path.exists(self.log) and "ready" in open(self.log).read(), 30)

    def text(self):
        return open(self.log).read()

    def events(self):
        return [line.split(" ")[0] for line in self.text().splitlines()]

    def line(self, stage):
        for line in self.text().splitlines():
            if line.startswith(stage + " "):
                return line
        return ""

    def wait_close(self):
        return wait_for(lambda: "\nclose" in self.text(), 10)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class RawMilter(RawMilterServer):
    """A milter of our own on a loopback port: negotiates, then answers CONTINUE, except
    mode "silent" (never answers the negotiation), "close:C" (closes when command C comes),
    "code:C" (answers command C with the unknown reply 'Z'), "skip:C" (answers it SKIP),
    "addrcpt" (adds a recipient at the end, having negotiated no action), "flags:HEX" (negotiates those
    SMFIP_* flags: with NOCONNECT it closes if CONNECT comes all the same, with NR_CONN it
    never answers CONNECT)."""

    def __init__(self, port, mode):
        self.mode = mode
        super().__init__(port)

    def command(self, c, peer, cmd, p):
        flags = int(self.mode[6:], 16) if self.mode.startswith("flags:") else 0
        if cmd == "O":
            if self.mode != "silent":
                c.sendall(struct.pack(">IcIII", 13, b"O", 6, 0, flags))
        elif (cmd == "C" and flags & 0x1) or self.mode == "close:" + cmd:
            c.close()
            return False
        elif cmd == "C" and flags & 0x1000:
            pass
        elif self.mode == "code:" + cmd:
            c.sendall(struct.pack(">Ic", 1, b"Z"))
        elif self.mode == "skip:" + cmd:
            c.sendall(struct.pack(">Ic", 1, b"s"))
        elif self.mode == "addrcpt" and cmd == "E":
            rcpt = b"<x@relay.example>\0"
            c.sendall(struct.pack(">Ic", 1 + len(rcpt), b"+") + rcpt +
                      struct.pack(">Ic", 1, b"c"))
        elif cmd not in "DAQ":
            c.sendall(struct.pack(">Ic", 1, b"c"))
        return True


PORT_A, PORT_B, PORT_DEAD, PORT_RAW = free_port(), free_port(), free_port(), free_port()
FAST = "connect_timeout=1s,command_timeout=1s,content_timeout=1s"
services = {
    "one": "-o smtpd_milters=inet:127.0.0.1:%d" % PORT_A,
    "two": "-o smtpd_milters=inet:127.0.0.1:%d,inet:127.0.0.1:%d" % (PORT_A, PORT_B),
}
for action in ("accept", "tempfail", "reject"):
    services["dead-" + action] = "-o smtpd_milters={inet:127.0.0.1:%d,default_action=%s}" % (
        PORT_DEAD, action)
    services["slow-" + action] = "-o smtpd_milters={inet:127.0.0.1:%d,default_action=%s,%s}" % (
        PORT_A, action, FAST)
    services["raw-" + action] = "-o smtpd_milters={inet:127.0.0.1:%d,default_action=%s,%s}" % (
        PORT_RAW, action, FAST)
services["dead-quarantine"] = "-o smtpd_milters={inet:127.0.0.1:%d,default_action=quarantine}" % (
    PORT_DEAD)
HBC = os.path.join(tmp, "milter_header_checks.pcre")
with open(HBC, "w") as f:
    f.write(HEADER_CHECKS)
services["hbc"] = "-o smtpd_milters=inet:127.0.0.1:%d -o milter_header_checks=pcre:%s" % (
    PORT_A, HBC)
services["hbc-broken"] = ("-o smtpd_milters=inet:127.0.0.1:%d "
                          "-o milter_header_checks=pcre:%s/none.pcre" % (PORT_A, tmp))
def cidr(name, text):
    path = os.path.join(tmp, name + ".cidr")
    with open(path, "w") as f:
        f.write(text)
    return "cidr:" + path


DEAD = "inet:127.0.0.1:%d" % PORT_DEAD
for name, table in (("maps", "127.0.0.1 inet:127.0.0.1:%d\n" % PORT_A),
                    ("maps-inline", "127.0.0.1 { %s, default_action=accept }\n" % DEAD),
                    ("maps-disable", "127.0.0.1 DISABLE\n"),
                    ("maps-nomatch", "192.0.2.0/24 DISABLE\n")):
    first = "inet:127.0.0.1:%d" % PORT_A if name == "maps-nomatch" else DEAD
    services[name] = "-o smtpd_milters=%s -o smtpd_milter_maps=%s" % (first, cidr(name, table))
services["maps-broken"] = "-o smtpd_milters=%s -o smtpd_milter_maps=cidr:%s/none.cidr" % (
    DEAD, tmp)
# The transport and next hop macros: local, virtual, relay, alias, transport_maps, relayhost.
ROUTE_TABLES = {"vmbox": "v@box.example v/\n", "valias": "a@alias.example v@box.example\n",
                "transport": "special.example custom:[10.0.0.9]:2525\nbare.example smtp\n"}
for name, text in ROUTE_TABLES.items():
    with open(os.path.join(tmp, name), "w") as f:
        f.write(text)
services["route"] = (
    "-o smtpd_milters=inet:127.0.0.1:%d -o local_recipient_maps= "
    "-o virtual_mailbox_domains=box.example -o virtual_mailbox_maps=texthash:%s/vmbox "
    "-o virtual_alias_domains=alias.example -o virtual_alias_maps=texthash:%s/valias "
    "-o relay_domains=relay.example,special.example,bare.example "
    "-o transport_maps=texthash:%s/transport -o relayhost=[smarthost.example]"
    % (PORT_A, tmp, tmp, tmp))
inst = Instance(os.path.join(tmp, "inst"), services=services,
                main_extra="relay_domains = relay.example\nsmtpd_client_connection_count_limit = 0\n")
err = inst.start()
if err:
    t.bail_out("postern start: %s" % err)


def session(service, steps, helo="EHLO client.example.net"):
    """Greeting, EHLO, then each step: a command, or ("data", bytes); the replies."""
    c = Client(inst.ports[service], timeout=30)
    replies = [c.reply()]
    if helo:
        replies.append(c.cmd(helo))
    for s in steps:
        if isinstance(s, tuple):
            c.send(s[1])
            replies.append(c.reply())
        else:
            replies.append(c.cmd(s))
    c.cmd("QUIT")
    c.close()
    return replies


MESSAGE = ("data", b"Subject: hi\r\nX-Test: one\r\n\r\nhello\r\n.\r\n")
TXN = ["MAIL FROM:<s@example.net>", "RCPT TO:<r@relay.example>", "DATA", MESSAGE]


def with_milter(args, fn, port=PORT_A):
    m = Milter(port, args)
    try:
        return fn(m)
    finally:
        m.stop()


# Every verdict at every SMTP stage: the reply and the log line of that stage.
STAGE_CMD = {"connect": "CONNECT", "helo": "HELO", "mail": "MAIL", "rcpt": "RCPT",
             "data": "DATA"}
STAGE_AT = {"connect": 0, "helo": 1, "mail": 2, "rcpt": 3, "data": 4}
for stage, at in STAGE_AT.items():
    for verdict, code in (("reject", "550 5.7.1 Command rejected"),
                          ("tempfail", "451 4.7.1 Service unavailable - try again later"),
                          ("reply:554:5.7.0:not you", "554 5.7.0 not you")):
        def run(m, stage=stage, at=at, verdict=verdict, code=code):
            r = session("one", TXN)
            want = code if stage != "connect" else "220"
            t.like(r[at], want, "%s at %s: %s" % (verdict, stage, want))
            if stage in ("connect", "helo"):
                t.ok(all(x.startswith(code[:3]) for x in r[at + 1:at + 3]),
                     "%s at %s: later commands get it too" % (verdict, stage))
            t.ok(inst.wait_log(": milter-reject: %s from unknown[127.0.0.1]: %s"
                               % (STAGE_CMD[stage], code)),
                 "%s at %s: logged" % (verdict, stage))
        with_milter(["-a", "%s=%s" % (stage, verdict)], run)

# A rejected recipient is that recipient only; the log names it.
def rcpt_one(m):
    r = session("one", ["MAIL FROM:<s@example.net>", "RCPT TO:<bad@relay.example>",
                        "RCPT TO:<good@relay.example>", "DATA", MESSAGE])
    t.is_eq(r[3], "550 5.7.1 Command rejected", "RCPT reject: that recipient refused")
    t.is_eq(r[4], "250 2.1.5 Ok", "the next recipient accepted")
    t.like(r[6], "250 2.0.0 Ok: queued as", "and the message queued for it")
    t.ok(inst.wait_log("NOQUEUE: milter-reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 "
                       "Command rejected; from=<s@example.net> to=<bad@relay.example> "
                       "proto=ESMTP helo=<client.example.net>"), "the Postfix-shaped log line")
    t.ok(m.wait_close(), "the milter saw the session end")
    t.ok("abort" not in m.events(), "no ABORT after a message that was accepted")
with_milter(["-a", "rcpt/bad=reject"], rcpt_one)

# ACCEPT at connect: the milter sees nothing more of the session.
def accept_connect(m):
    r = session("one", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "accept at connect: the message is queued")
    t.is_eq([e for e in m.events() if e not in ("ready", "negotiate", "close")], ["connect"],
            "accept at connect: the milter saw only the connect")
with_milter(["-a", "connect=accept"], accept_connect)

# DISCARD at RCPT: 250 to everything, nothing queued, milter-discard logged.
def discard_rcpt(m):
    before = inst.files()
    r = session("one", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "discard at RCPT: 250 at the end")
    qid = r[-1].split()[-1]
    t.ok(inst.wait_log("%s: milter-discard: END-OF-MESSAGE from unknown[127.0.0.1]: milter "
                       "triggers DISCARD action" % qid), "milter-discard logged")
    time.sleep(0.2)
    t.is_eq([f for f in inst.files() if f not in before], [], "and nothing is queued")
with_milter(["-a", "rcpt=discard"], discard_rcpt)

# RSET and a new transaction: ABORT to the milter.
def abort_rset(m):
    session("one", ["MAIL FROM:<s@example.net>", "RSET", "MAIL FROM:<t@example.net>"])
    t.ok(m.wait_close(), "session over")
    t.ok("abort" in m.events(), "RSET after MAIL: the milter got ABORT")
with_milter([], abort_rset)

# An unknown command goes to the milter, whose reply is the answer.
def unknown(m):
    r = session("one", ["FOO bar"])
    t.is_eq(r[2], "550 5.7.1 Command rejected", "an unknown command: the milter's reply")
    t.like(m.line("unknown"), "unknown FOO bar", "the milter saw the command")
with_milter(["-a", "unknown=reject"], unknown)

# The macros of each stage (Postfix's default lists).
def macros(m):
    r = session("one", TXN)
    t.ok(m.wait_close(), "session over")
    conn = m.line("connect")
    for want in ("j=mx.example.org", "_=unknown [127.0.0.1]", "{daemon_name}=mx.example.org",
                 "{daemon_addr}=127.0.0.1", "{client_addr}=127.0.0.1", "{client_name}=unknown"):
        t.like(conn, want, "connect: " + want)
    t.like(m.line("connect"), "connect [127.0.0.1]", "connect: the host as [addr] when unknown")
    t.like(m.line("helo"), "helo client.example.net", "HELO: the name")
    t.like(m.line("mail"), "{mail_addr}=s@example.net", "MAIL: {mail_addr}")
    t.like(m.line("mail"), "{mail_host}=example.net", "MAIL: {mail_host}")
    t.like(m.line("mail"), "{mail_mailer}=smtp", "MAIL: {mail_mailer}")
    t.like(m.line("rcpt"), "{rcpt_addr}=r@relay.example", "RCPT: {rcpt_addr}")
    t.like(m.line("rcpt"), "{rcpt_host}=relay.example", "RCPT: {rcpt_host}")
    t.like(m.line("rcpt"), "{rcpt_mailer}=relay", "RCPT: {rcpt_mailer}")
    qid = r[-1].split()[-1]
    t.like(m.line("data"), "i=" + qid, "DATA: i, the queue ID")
with_milter([], macros)


# {rcpt_mailer} {rcpt_host} {mail_mailer} {mail_host}: trivial-rewrite's answer, as Postfix.
def route(m):
    want = {"root@mx.example.org": ("local", "mx.example.org"),
            "v@box.example": ("virtual", "box.example"),
            "a@alias.example": ("error", "User unknown in virtual alias table"),
            "x@relay.example": ("relay", "[smarthost.example]"),
            "x@special.example": ("custom", "[10.0.0.9]:2525"),
            "x@bare.example": ("smtp", "bare.example")}
    for sender, mailer, host in (("s@example.net", "smtp", "[smarthost.example]"),
                                 ("", "local", "mx.example.org")):
        before = len(m.text().splitlines())
        r = session("route", ["MAIL FROM:<%s>" % sender] +
                    ["RCPT TO:<%s>" % a for a in want])
        t.ok(all(x.startswith("250") for x in r[2:]), "<%s>: every recipient accepted: %s"
             % (sender, r[2:]))
        lines = m.text().splitlines()[before:]
        mail = [x for x in lines if x.startswith("mail ")]
        t.ok(mail and "\t{mail_mailer}=%s\t" % mailer in mail[0] + "\t" and
             "\t{mail_host}=%s\t" % host in mail[0] + "\t",
             "<%s>: {mail_mailer}=%s {mail_host}=%s" % (sender, mailer, host))
        for addr, (mailer, host) in want.items():
            got = [x + "\t" for x in lines if x.startswith("rcpt <%s>" % addr)]
            t.ok(got and "\t{rcpt_mailer}=%s\t" % mailer in got[0] and
                 "\t{rcpt_host}=%s\t" % host in got[0],
                 "<%s> to %s: {rcpt_mailer}=%s {rcpt_host}=%s" % (sender, addr, mailer, host))
with_milter([], route)


# A recipient's macros asked for at MAIL (SETSYMLIST): none in a new transaction, whose
# recipients are not known yet (the last one's address is gone with the one before).
def route_reset(m):
    session("route", ["MAIL FROM:<s@example.net>", "RCPT TO:<x@relay.example>", "RSET",
                      "MAIL FROM:<t@example.net>"])
    t.ok(m.wait_close(), "session over")
    mails = [x for x in m.text().splitlines() if x.startswith("mail ")]
    t.ok(len(mails) == 2 and "{rcpt_addr}" not in mails[1] and "{rcpt_host}" not in mails[1] and
         "\t{mail_host}=[smarthost.example]" in mails[1],
         "after RSET: no {rcpt_addr} or {rcpt_host} at MAIL, {mail_host} of the new sender") or \
        t.diag(mails)
with_milter(["-M", "mail={rcpt_addr} {rcpt_host} {rcpt_mailer} {mail_host}"], route_reset)

# Two milters, in order: the second is asked only when the first goes on.
def two(a):
    b = Milter(PORT_B, ["-a", "rcpt=reject"])
    try:
        r = session("two", ["MAIL FROM:<s@example.net>", "RCPT TO:<r@relay.example>"])
        t.is_eq(r[3], "550 5.7.1 Command rejected", "two milters: the second rejects RCPT")
        t.like(a.line("rcpt"), "rcpt <r@relay.example>", "the first saw RCPT first")
    finally:
        b.stop()
    b = Milter(PORT_B, [])
    try:
        r = session("two", ["MAIL FROM:<only-a@example.net>"])
        t.is_eq(r[2], "550 5.7.1 Command rejected", "two milters: the first rejects MAIL")
        b.wait_close()
        t.is_eq(b.line("mail"), "", "and the second never saw it")
    finally:
        b.stop()
with_milter(["-a", "mail/only-a=reject", "-a", "mail/example.net=continue"], two)


# Every verdict at every content stage: the reply after the end of data, and the log line
# Postfix's cleanup writes (END-OF-MESSAGE, the status without the code, the first recipient).
for stage in ("header/Subject", "eoh", "body", "eom"):
    for verdict, code in (("reject", "550 5.7.1 Command rejected"),
                          ("tempfail", "451 4.7.1 Service unavailable - try again later"),
                          ("reply:554:5.7.0:not you", "554 5.7.0 not you")):
        def run(m, stage=stage, verdict=verdict, code=code):
            before = inst.files()
            r = session("one", TXN + ["NOOP"])
            t.is_eq(r[5], code, "%s at %s: %s" % (verdict, stage, code))
            t.is_eq(r[6], "250 2.0.0 Ok", "%s at %s: the session goes on" % (verdict, stage))
            t.ok(inst.wait_log(": milter-reject: END-OF-MESSAGE from unknown[127.0.0.1]: %s; "
                               "from=<s@example.net> to=<r@relay.example> proto=ESMTP "
                               "helo=<client.example.net>" % code[4:]),
                 "%s at %s: logged" % (verdict, stage))
            t.is_eq([f for f in inst.files() if f not in before], [],
                    "%s at %s: nothing queued" % (verdict, stage))
        with_milter(["-a", "%s=%s" % (stage, verdict)], run)

# What the milter saw of the message: each header field, the end of the header, the body,
# the end of the message with the queue ID.
def content(m):
    r = session("one", TXN)
    qid = r[-1].split()[-1]
    t.ok(m.wait_close(), "session over")
    ev = m.events()
    t.ok(ev.index("data") < ev.index("header") < ev.index("eoh") < ev.index("body")
         < ev.index("eom"), "DATA, headers, EOH, body, EOM in order")
    heads = [x for x in m.text().splitlines() if x.startswith("header ")]
    t.like(heads[0], "header Subject:hi", "our Received hidden: the client's fields, "
           "the value after the space")
    t.is_eq(len(heads), 2, "two fields")
    t.like(m.line("body"), "body 7 hello||", "the body with its CRLF")
    t.like(m.line("eom"), "i=" + qid, "EOM: i")
with_milter([], content)

# DISCARD at the end: 250, nothing queued; QUARANTINE: milter-hold.
def discard_eom(m):
    before = inst.files()
    r = session("one", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "discard at EOM: 250")
    t.ok(inst.wait_log("%s: milter-discard: END-OF-MESSAGE" % r[-1].split()[-1]), "logged")
    time.sleep(0.2)
    t.is_eq([f for f in inst.files() if f not in before], [], "nothing queued")
with_milter(["-a", "eom=discard"], discard_eom)

def quarantine(m):
    r = session("one", TXN)
    qid = r[-1].split()[-1]
    t.like(r[-1], "250 2.0.0 Ok: queued as", "quarantine: 250")
    t.ok(inst.wait_log(": milter-hold: END-OF-MESSAGE from unknown[127.0.0.1]: milter "
                       "triggers HOLD action"), "milter-hold logged")
    t.ok(inst.wait_log(": milter edits applied: the message is now %s" % qid),
         "under the first file's ID, which the edits replaced")
    t.is_eq(inst.files("hold"), [qid], "the message is in hold/")
    t.like(inst.cat(qid, "hold")[1].decode(), "X-Q: edited\r\n", "as the milter edited it")
    t.ok(qid not in inst.files() + inst.files("incoming"), "and nowhere else")
    t.ok("%s: from=<" % qid not in inst.logtext(), "qmgr does not announce it while held")
    r = inst.postern("queue", "release", qid)
    t.is_eq(r.returncode, 0, "postern queue release: %s" % r.stderr.strip())
    t.ok(inst.wait_log("%s: from=<s@example.net>, size=" % qid), "released, qmgr takes it")
    t.is_eq(inst.files("hold"), [], "hold/ is empty")
with_milter(["-a", "eom=addheader:X-Q:edited", "-a", "eom=quarantine:held", "-a", "eom=continue"],
            quarantine)

# SMFIP_NO* steps are not sent, SMFIP_NR_* ones not waited for; SKIP ends the body.
def flags(m):
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 200 + b".\r\n"
    r = session("one", TXN[:3] + [("data", big)])
    t.like(r[-1], "250 2.0.0 Ok: queued as", "NOHELO NOHDRS NR_RCPT NR_BODY SKIP: queued")
    t.ok(m.wait_close(), "session over")
    ev = m.events()
    t.ok("helo" not in ev and "header" not in ev, "no HELO, no header sent")
    t.is_eq(ev.count("body"), 1, "SKIP after the first body chunk: no more body")
    t.ok("eoh" in ev and "eom" in ev and "rcpt" in ev, "the other steps were sent")
with_milter(["-p", "%x" % (0x2 | 0x20 | 0x8000 | 0x400), "-a", "body=skip"], flags)

# A macro list the milter asks for replaces Postfix's default for that stage.
def symlist(m):
    session("one", TXN)
    t.ok(m.wait_close(), "session over")
    t.ok("{mail_addr}" not in m.line("mail"), "MAIL with the milter's list: no {mail_addr}")
    t.like(m.line("rcpt"), "{rcpt_addr}=r@relay.example", "RCPT keeps the default list")
with_milter(["-M", "mail={client_addr}"], symlist)

# Edits at the end of the message: the message is queued as the milters left it, in a
# second queue file; the first is gone.
def edits(m):
    r = session("one", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "edits at EOM: the message is queued")
    qid = r[-1].split()[-1]
    t.ok(inst.wait_log(": milter edits applied: the message is now %s" % qid),
         "edits: a second file, logged")
    head, body = inst.cat(qid)
    t.like(body.decode(), "X-A: one\r\n", "the added header is in the queued message")
    t.ok(b"Subject: hi" not in body, "the changed Subject is deleted")
    t.like(body.decode(), "\r\n\r\nnew body\r\n", "the body replaced")
    t.ok(any("n@relay.example" in x for x in head), "the added recipient in the envelope")
    time.sleep(0.3)
    t.is_eq(inst.files("incoming"), [], "the first file is removed")
with_milter(["-a", "eom=addheader:X-A:one", "-a", "eom=chgheader:1:Subject:",
             "-a", "eom=replbody:new body", "-a", "eom=addrcpt:<n@relay.example>"], edits)


# default_action=quarantine: a milter that is down puts the message on hold.
r = session("dead-quarantine", TXN)
t.like(r[-1], "250 2.0.0 Ok: queued as", "a dead milter, default quarantine: 250")
t.is_eq(inst.files("hold"), [r[-1].split()[-1]], "and the message is held")
inst.postern("queue", "delete", "ALL", "hold")

# milter_header_checks: the headers milters add or change, looked up; the actions taken.
def hbc_reject(m):
    before = inst.files()
    r = session("hbc", TXN)
    t.is_eq(r[-1], "550 5.7.1 spam, says the milter", "REJECT: the table's code and text")
    t.ok(inst.wait_log(": milter-header-reject: header X-Spam-Flag: YES from unknown[127.0.0.1]; "
                       "from=<s@example.net> to=<r@relay.example> proto=ESMTP "
                       "helo=<client.example.net>: 5.7.1 spam, says the milter"),
         "REJECT: logged in Postfix's header_checks shape")
    t.is_eq([f for f in inst.files() if f not in before], [], "REJECT: nothing queued")
with_milter(["-a", "eom=addheader:X-Spam-Flag:YES"], hbc_reject)

def hbc_change(m):
    r = session("hbc", TXN)
    t.is_eq(r[-1], "550 5.7.1 Message content rejected", "a changed header is checked too")
with_milter(["-a", "eom=chgheader:1:Subject:changed"], hbc_change)

def hbc_temp(m):
    r = session("hbc", TXN)
    t.is_eq(r[-1], "450 4.7.0 later", "REJECT with a 4.x.x code: 450, as Postfix")
with_milter(["-a", "eom=addheader:X-Temp:x"], hbc_temp)

def hbc_ignore_warn(m):
    r = session("hbc", TXN)
    qid = r[-1].split()[-1]
    t.like(r[-1], "250 2.0.0 Ok: queued as", "IGNORE, WARN, FILTER: the message is queued")
    body = inst.cat(qid)[1].decode()
    t.ok("X-Drop" not in body, "IGNORE: that header is not added")
    t.like(body, "X-Warn: w\r\n", "WARN: the header is added")
    t.like(body, "X-Filter: f\r\n", "an unsupported action leaves the header alone")
    t.ok(inst.wait_log(": milter-header-warning: header X-Warn: w from unknown[127.0.0.1]; "
                       "from=<s@example.net> to=<r@relay.example> proto=ESMTP "
                       "helo=<client.example.net>: noted"), "WARN: logged")
    t.ok(inst.wait_log(": milter-header-info: header X-Info: i from unknown[127.0.0.1]; "),
         "INFO: logged")
    t.ok(inst.wait_log("milter_header_checks: action FILTER is not supported: header X-Filter "
                       "ignored"), "FILTER: not supported, said so")
with_milter(["-a", "eom=addheader:X-Drop:d", "-a", "eom=addheader:X-Warn:w",
             "-a", "eom=addheader:X-Filter:f", "-a", "eom=addheader:X-Info:i"], hbc_ignore_warn)

def hbc_hold(m):
    r = session("hbc", TXN)
    qid = r[-1].split()[-1]
    t.like(r[-1], "250 2.0.0 Ok: queued as", "HOLD: 250")
    t.is_eq(inst.files("hold"), [qid], "HOLD: the message is in hold/")
    t.ok(inst.wait_log(": milter-header-hold: header X-Hold: h from unknown[127.0.0.1]; "),
         "HOLD: logged")
    inst.postern("queue", "delete", "ALL", "hold")
with_milter(["-a", "eom=addheader:X-Hold:h"], hbc_hold)

def hbc_discard(m):
    before = inst.files()
    r = session("hbc", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "DISCARD: 250")
    t.ok(inst.wait_log(": milter-header-discard: header X-Discard: x from unknown[127.0.0.1]; "),
         "DISCARD: logged")
    t.is_eq([f for f in inst.files() + inst.files("hold") if f not in before], [],
            "DISCARD: nothing queued")
with_milter(["-a", "eom=addheader:X-Discard:x"], hbc_discard)

def hbc_broken(m):
    r = session("hbc-broken", TXN)
    t.is_eq(r[-1], "451 4.3.0 Temporary lookup failure", "a table that cannot be read: 451")
    t.ok(inst.wait_log("milter_header_checks: "), "and a warning")
with_milter(["-a", "eom=addheader:X-Any:x"], hbc_broken)

# A header field folded past 64 KiB (SMTP limits lines, not fields) is never shown cut: the
# milter gets its default action.
FOLDED = ("data", b"Subject: hi\r\nX-Folded: start\r\n" +
          b" and on and on and on and on and on and on and on and on and on\r\n" * 1100 +
          b"X-After: seen\r\n\r\nhello\r\n.\r\n")
FOLDED_TXN = TXN[:-1] + [FOLDED]


def folded_tempfail(m):
    r = session("slow-tempfail", FOLDED_TXN)
    t.is_eq(r[-1], "451 4.7.1 Service unavailable - try again later",
            "a folded field over 64 KiB: default_action tempfail")
    t.ok(inst.wait_log("a header field too long to be sent whole; default_action=tempfail"),
         "said why")
    t.ok("X-Folded" not in m.text() and "X-After" not in m.text(), "the milter saw none of it")
with_milter([], folded_tempfail)


def folded_accept(m):
    r = session("slow-accept", FOLDED_TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "with default_action accept: queued")
    t.like(inst.cat(r[-1].split()[-1])[1].decode(), "X-After: seen\r\n", "whole")
    t.ok("X-Folded" not in m.text(), "and never shown cut to the milter")
with_milter([], folded_accept)

# Header positions: INSHEADER 0 is above our Received header, 1 just below it (2 once a
# header is above it); CHGHEADER
# with an empty value deletes.
def header_places(m):
    r = session("one", TXN)
    qid = r[-1].split()[-1]
    lines = inst.cat(qid)[1].decode().split("\r\n")
    t.is_eq(lines[0], "X-Top: t", "INSHEADER 0: the very top")
    t.like(lines[1], "Received: from client.example.net", "then our Received header")
    below = [i for i in range(2, len(lines)) if not lines[i].startswith("\t")][0]
    t.is_eq(lines[below], "X-Below: b", "INSHEADER 2 (counting the one before): just below it")
    t.is_eq(lines[below + 1], "Subject: hi", "then the client's header")
    t.ok("X-Test: one" not in lines, "CHGHEADER with no value deleted X-Test")
with_milter(["-a", "eom=insheader:0:X-Top:t", "-a", "eom=insheader:2:X-Below:b",
             "-a", "eom=chgheader:1:X-Test:"], header_places)

# The envelope: a recipient deleted, one added with DSN parameters, the sender changed with
# RET and ENVID.
TWO = ["MAIL FROM:<s@example.net>", "RCPT TO:<r@relay.example>", "RCPT TO:<q@relay.example>",
       "DATA", MESSAGE]
def envelope(m):
    r = session("one", TWO)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "envelope edits: queued")
    head = inst.cat(r[-1].split()[-1])[0]
    rcpts = [x for x in head if x.startswith("rcpt ")]
    t.is_eq(len(rcpts), 2, "one deleted, one added: two recipients")
    t.like(rcpts[0], "rcpt <q@relay.example> ", "DELRCPT: r@ is gone, q@ stays")
    t.like(rcpts[1], "rcpt <p@relay.example> notify=SUCCESS,FAILURE orcpt=rfc822;o@x.example",
           "ADDRCPT_PAR: the recipient with its NOTIFY and ORCPT")
    t.ok("sender <new@example.net>" in head, "CHGFROM: the new sender")
    t.ok("ret HDRS" in head and "envid e1" in head, "CHGFROM's RET and ENVID")
with_milter(["-a", "eom=delrcpt:<r@relay.example>",
             "-a", "eom=addrcptpar:<p@relay.example>:NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;o@x.example",
             "-a", "eom=chgfrompar:<new@example.net>:RET=HDRS ENVID=e1"], envelope)

def bad_rcpt_args(m):
    before = inst.files()
    r = session("one", TXN)
    t.is_eq(r[-1], "451 4.7.1 Service unavailable - try again later",
            "ADDRCPT_PAR with an argument that is not NOTIFY or ORCPT: the milter's failure, "
            "default tempfail")
    t.ok(inst.wait_log("ADDRCPT_PAR arguments \"FOO=1\""), "the reason logged")
    t.is_eq([f for f in inst.files() if f not in before], [], "nothing queued")
with_milter(["-a", "eom=addrcptpar:<p@relay.example>:FOO=1"], bad_rcpt_args)

def all_deleted(m):
    before = inst.files()
    r = session("one", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "every recipient deleted: 250")
    time.sleep(0.2)
    t.is_eq([f for f in inst.files() + inst.files("hold") if f not in before], [],
            "and the message is dropped, as discarded")
with_milter(["-a", "eom=delrcpt:<r@relay.example>"], all_deleted)

# Two milters' edits, in milter order; the second reads what the first made (Postfix's order).
def two_edits(m):
    before = inst.logtext().count("milter edits applied: the message is now")
    b = Milter(PORT_B, ["-a", "eom=addheader:X-B:second"])
    try:
        r = session("two", TXN)
        body = inst.cat(r[-1].split()[-1])[1].decode()
        t.ok(body.index("X-A: first") < body.index("X-B: second"),
             "two milters' headers, the first milter's first")
        b.wait_close()
        t.ok(any(x.startswith("header X-A:first") for x in b.text().splitlines()),
             "the second milter reads the message with the first one's edit")
        t.is_eq(inst.logtext().count("milter edits applied: the message is now"), before + 2,
                "each milter's edits applied in its turn")
    finally:
        b.stop()
with_milter(["-a", "eom=addheader:X-A:first"], two_edits)

# smtpd_milter_maps: the client's address picks its milters; DISABLE, no match, a table
# that cannot be read (smtpd_milters there is a dead milter with default_action tempfail).
def maps(m):
    r = session("maps", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "the table's milter replaces smtpd_milters")
    t.ok(m.wait_close() and "connect" in m.events(), "and that milter saw the session")
with_milter([], maps)
r = session("maps-inline", TXN)
t.like(r[-1], "250 2.0.0 Ok: queued as", "a table's list with its own settings "
       "(default_action=accept for a dead milter)")
r = session("maps-disable", TXN)
t.like(r[-1], "250 2.0.0 Ok: queued as", "DISABLE: no milter for this client")


def maps_nomatch(m):
    r = session("maps-nomatch", TXN)
    t.like(r[-1], "250 2.0.0 Ok: queued as", "no match: smtpd_milters")
    t.ok(m.wait_close() and "connect" in m.events(), "whose milter saw the session")
with_milter([], maps_nomatch)
r = session("maps-broken", TXN)
t.like(r[0], "220 ", "a table that cannot be read: the greeting")
t.is_eq(r[1:3], ["451 4.3.0 Server configuration error"] * 2,
        "then 451 4.3.0 to every command: no mail in unfiltered")
t.ok(inst.wait_log("smtpd_milter_maps: "), "and a warning")

# The flags a milter negotiates decide what the first stage sends: CONNECT not sent to a
# milter that asked for NOCONNECT, not waited for from one that said NR_CONN (either
# mistake would fail the session: default_action=tempfail, timeouts of 1 s).
for flags, what in (("1", "NOCONNECT: no CONNECT sent"), ("1000", "NR_CONN: no reply awaited")):
    raw = RawMilter(PORT_RAW, "flags:" + flags)
    try:
        r = session("raw-tempfail", TXN)
        t.like(r[-1], "250 2.0.0 Ok: queued as", what)
    finally:
        raw.stop()

# What a milter did not negotiate it may not do: an edit without its action, SKIP outside
# the body or without SMFIP_SKIP; either is that milter's failure (here default tempfail).
for mode, at, what in (("addrcpt", -1, "ADDRCPT without the ADDRCPT action"),
                       ("skip:R", 3, "SKIP at RCPT")):
    raw = RawMilter(PORT_RAW, mode)
    try:
        r = session("raw-tempfail", TXN)
        t.like(r[at], "451 4.7.1", what + ": refused, the default action")
    finally:
        raw.stop()

# Faults, with each default action.
def fault_expect(action, r, at, what):
    if action == "accept":
        t.like(r[-1], "250 2.0.0 Ok: queued as", "%s, default accept: the mail goes on" % what)
    elif action == "tempfail":
        t.like(r[at], "451 4.7.1", "%s, default tempfail: 451" % what)
    else:
        t.like(r[at], "550 5.7.1", "%s, default reject: 550" % what)


def raw_case(mode, action, at, what, warning, steps=TXN):
    """A session with RawMilter in mode; the outcome as default action says; the warning."""
    raw = RawMilter(PORT_RAW, mode)
    try:
        r = session("raw-" + action, steps)
        fault_expect(action, r, at, what)
        t.ok(inst.wait_log("milter inet:127.0.0.1:%d: %s" % (PORT_RAW, warning)),
             "%s: warning logged" % what)
    finally:
        raw.stop()


for action in ("accept", "tempfail", "reject"):
    r = session("dead-" + action, TXN)
    fault_expect(action, r, 1, "refused connection")
    t.ok(inst.wait_log("milter inet:127.0.0.1:%d: connect: Connection refused; "
                       "default_action=%s" % (PORT_DEAD, action)), "refused: warning logged")

    def hang(m, action=action):
        r = session("slow-" + action, TXN)
        fault_expect(action, r, 3, "a milter hanging at RCPT (command timeout)")
    with_milter(["-a", "rcpt=stall"], hang)

    def hang_eom(m, action=action):
        r = session("slow-" + action, TXN)
        fault_expect(action, r, 5, "a milter hanging at EOM (content timeout)")
    with_milter(["-a", "eom=stall"], hang_eom)

    raw_case("silent", action, 1, "no answer to the negotiation (connect timeout)",
             "connect timeout")
    raw_case("code:M", action, 2, "an unknown reply code at MAIL", "bad reply")
    raw_case("close:B", action, 5, "the milter closes mid-body",
             "the milter closed the connection")

t.ok(inst.wait_log("milter inet:127.0.0.1:%d: read timeout (1s)" % PORT_A),
     "command timeout: warning logged")
t.ok("panic" not in inst.logtext() and "fatal" not in inst.logtext(), "no daemon died")
inst.stop()


# The TLS macros at HELO, after STARTTLS: a second instance, with tlsproxy.
def tls_macros(m):
    cadir = TestCA(os.path.join(tmp, "ca"))
    cadir.give_key(tls_owner())
    tinst = Instance(os.path.join(tmp, "tls"), services={
        "tls": "-o smtpd_milters=inet:127.0.0.1:%d -o smtpd_tls_security_level=may" % PORT_A},
        main_extra="smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
        % (cadir.cert, cadir.key), extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = tinst.start()
    if not t.ok(err is None, "postern starts with tlsproxy"):
        t.diag(err)
        return
    try:
        c = Client(tinst.ports["tls"], timeout=30)
        c.reply()
        c.cmd("EHLO client.example.net")
        t.like(c.cmd("STARTTLS"), "220", "STARTTLS")
        c.tls(ssl.create_default_context(cafile=cadir.ca))
        t.like(c.cmd("EHLO client.example.net"), "250", "EHLO in TLS")
        c.cmd("QUIT")
        c.close()
        t.ok(m.wait_close(), "session over")
        helos = [x for x in m.text().splitlines() if x.startswith("helo ")]
        t.is_eq(len(helos), 2, "the milter saw both EHLOs")
        t.ok("{tls_version}" not in helos[0], "no TLS macros before STARTTLS")
        t.like(helos[-1], "{tls_version}=TLSv1.", "{tls_version} after STARTTLS")
        t.like(helos[-1], "{cipher}=", "{cipher}")
        t.like(helos[-1], "{cipher_bits}=", "{cipher_bits}")
    finally:
        tinst.stop()


with_milter([], tls_macros)
t.done()
