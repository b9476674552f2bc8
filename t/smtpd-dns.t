#!/usr/bin/python3
"""smtpd-dns.t - the client's host name with smtpd_peername_lookup = yes, against a small
DNS server on loopback (never the machine's resolver): a PTR name whose A record gives the
client's address back is used; one that does not, or no PTR, or a server that never answers,
leaves "unknown" and the session goes on."""
import os
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Client, Instance, no_nameserver  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()


class FakeDNS:
    """Answers PTR and A questions from self.records {(name, type): [rdata bytes]};
    self.silent makes it drop every question."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.records = {}
        self.silent = False
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def encode(name):
        return b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"

    def serve(self):
        while True:
            data, peer = self.sock.recvfrom(4096)
            if self.silent or len(data) < 12:
                continue
            qid, flags = struct.unpack("!HH", data[:4])
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
                i += 1 + data[i]
            qtype, qclass = struct.unpack("!HH", data[i + 1:i + 5])
            question = data[12:i + 5]
            answers = self.records.get((".".join(labels), qtype), [])
            rcode = 0 if answers or any(k[0] == ".".join(labels) for k in self.records) else 3
            reply = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0) + question
            for rdata in answers:
                reply += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 0, len(rdata)) + rdata
            self.sock.sendto(reply, peer)


def name_seen(inst, port, source=None):
    c = Client(port, timeout=30, source=source)
    greeting = c.reply()
    c.cmd("EHLO client.example.net")
    c.cmd("MAIL FROM:<a@example.net>")
    c.cmd("RCPT TO:<nosuch@outside.example>")
    c.cmd("QUIT")
    c.close()
    return greeting


def main(root):
    dns = FakeDNS()
    ptr = "1.0.0.127.in-addr.arpa"
    # Before the start: the harness's first connection is looked up too, and unbound keeps
    # a negative answer for a while.
    dns.records = {(ptr, 12): [FakeDNS.encode("client.example.com")],
                   ("client.example.com", 1): [socket.inet_aton("127.0.0.1")]}
    os.chmod(root, 0o755)
    resolv = os.path.join(root, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1@%d\n" % dns.port)
    os.chmod(resolv, 0o644)
    inst = Instance(os.path.join(root, "i"),
                    "mydestination = example.org\nlocal_recipient_maps =\n"
                    "mynetworks = 192.0.2.0/24\n"
                    "smtpd_relay_restrictions = reject_unauth_destination\n"
                    "smtpd_dns_resolv_conf = %s\n" % resolv,
                    services={"main": "-o smtpd_peername_lookup=yes",
                              "nonameserver": "-o smtpd_peername_lookup=yes "
                              "-o smtpd_dns_resolv_conf=%s" % no_nameserver(root),
                              "pregreet": "-o smtpd_peername_lookup=yes "
                              "-o smtpd_client_restrictions=reject_unauth_pipelining"})
    with open(inst.cfg + "/main.cf") as f:
        t.ok("smtpd_peername_lookup = no" in f.read(), "(main.cf says no; the service says yes)")
    err = inst.start()
    t.ok(err is None, "postern starts")
    if err:
        t.diag(err)
        return
    port = inst.ports["main"]
    try:
        t.ok(name_seen(inst, port).startswith("220 "), "greeting after the lookup")
        t.ok(inst.wait_log("connect from client.example.com[127.0.0.1]"),
             "a forward-confirmed name is used: connect from client.example.com[127.0.0.1]")
        t.ok(inst.wait_log("NOQUEUE: reject: RCPT from client.example.com[127.0.0.1]: 554 5.7.1"),
             "in the reject lines too")

        dns.records = {(ptr, 12): [FakeDNS.encode("liar.example.com")],
                       ("liar.example.com", 1): [socket.inet_aton("192.0.2.7")]}
        name_seen(inst, port)
        t.ok(inst.wait_log("hostname liar.example.com does not resolve to address 127.0.0.1"),
             "a name whose address differs is logged")
        t.ok("connect from liar.example.com" not in inst.logtext(), "and not used")

        dns.records = {}
        before = inst.logtext().count("connect from unknown[127.0.0.1]")
        name_seen(inst, port)
        t.ok(inst.logtext().count("connect from unknown[127.0.0.1]") > before,
             "no PTR record: unknown")

        dns.silent = True
        start = time.time()
        t.ok(name_seen(inst, port, "127.0.0.2").startswith("220 "),
             "a name server that never answers delays the greeting, but it comes")
        t.ok(inst.wait_log("connect from unknown[127.0.0.2]"), "as unknown")
        t.diag("waited %.1fs for the greeting" % (time.time() - start))

        # A resolv.conf without a name server: nobody is asked, the client is unknown.
        t.ok(name_seen(inst, inst.ports["nonameserver"], "127.0.0.4").startswith("220 "),
             "no name server: the greeting comes")
        t.ok(inst.wait_log("connect from unknown[127.0.0.4]"), "  and the client is unknown")
        t.ok(inst.wait_log("no usable nameserver line; client names stay unknown"),
             "  as smtpd said when it started")

        # The lookup holds the greeting back, so these bytes surely come before it.
        c = Client(inst.ports["pregreet"], timeout=30, source="127.0.0.3")
        c.send("HELO early.example.net\r\n")
        greeting = c.reply()
        c.reply()
        c.cmd("MAIL FROM:<a@example.net>")
        t.ok(greeting.startswith("220 ") and
             c.cmd("RCPT TO:<root@example.org>").startswith("554 5.5.0"),
             "reject_unauth_pipelining: a client that talks before the greeting is refused")
        c.close()
    finally:
        inst.stop()
        if os.environ.get("SMTPD_DNS_DEBUG"):
            t.diag(inst.logtext())


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
