"""outbound.py - receiving servers and helpers for the tests of smtp-out: an aiosmtpd handler
that keeps messages, a raw-socket server base for scripted parts, and sending a message in
through postern's smtpd, then reading its outcome from qmgr's log line."""
import smtplib
import ssl
import threading

from instance import free_port, wait_for
from sockets import accept_each, listener


class Recorder:
    """An aiosmtpd handler that keeps each message and refuses or defers named recipients."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if address.startswith("later@"):
            return "450 4.2.0 <%s>: Recipient address rejected: greylisted" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 2.0.0 Ok: queued as AIO%d" % len(self.messages)


def aiosmtpd_server(size_limit=33554432, **kwargs):
    """An aiosmtpd Controller on loopback (kwargs: tls_context for STARTTLS, ssl_context for
    TLS from the first byte) and its Recorder."""
    from aiosmtpd.controller import Controller
    handler = Recorder()
    c = Controller(handler, hostname="127.0.0.1", port=free_port(), data_size_limit=size_limit,
                   **kwargs)
    c.start()
    return c, handler


class ScriptedServer:
    """A server on a raw socket, one connection at a time: each connection is given to the
    subclass's play_<part>(conn, f), f reading the connection by lines."""

    def __init__(self, part, addr="127.0.0.1", port=0):
        self.part = part
        self.sock = listener(addr, port)
        self.port = self.sock.getsockname()[1]
        self.commands = []
        self.data = []
        self.closed = threading.Event()
        accept_each(self.sock, self.serve)

    def serve(self, conn):
        try:
            getattr(self, "play_" + self.part)(conn, conn.makefile("rb"))
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()
            self.closed.set()

    def send(self, conn, text):
        conn.sendall(text.encode() if isinstance(text, str) else text)

    def line(self, f):
        line = f.readline()
        if not line:
            raise OSError("client went away")
        self.commands.append(line.decode().rstrip("\r\n"))
        return self.commands[-1]

    def content(self, f):
        body = b""
        while True:
            line = f.readline()
            if not line:
                raise OSError("client went away")
            if line == b".\r\n":
                return body
            body += line

    def play_pipelining(self, conn, f):
        """Offers PIPELINING, DSN and SIZE, and answers nothing after EHLO until it has read
        DATA: a client that waits for each reply gets stuck there."""
        self.send(conn, "220 scripted ESMTP\r\n")
        self.line(f)
        self.send(conn, "250-scripted\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n"
                        "250-DSN\r\n250 8BITMIME\r\n")
        group = []
        while not group or group[-1] != "DATA":
            group.append(self.line(f))
        replies = ["250 2.1.0 Ok"] + ["250 2.1.5 Ok"] * (len(group) - 2) + ["354 go ahead"]
        self.send(conn, "".join(r + "\r\n" for r in replies))
        self.data.append(self.content(f))
        self.send(conn, "250 2.0.0 Ok: queued as PIPE1\r\n")
        self.line(f)
        self.send(conn, "221 2.0.0 Bye\r\n")


def send(i, sender, rcpts, body="Subject: test\r\n\r\nthe body text\r\n", mail_opts=(),
         rcpt_opts=()):
    """A message in through the instance's smtpd; its queue ID (body: text or bytes)."""
    s = smtplib.SMTP("127.0.0.1", i.port)
    s.ehlo("client.example")
    s.mail(sender, list(mail_opts))
    for r in rcpts:
        code, _ = s.rcpt(r, list(rcpt_opts))
        assert code == 250, (r, code)
    code, reply = s.data(body.encode() if isinstance(body, str) else body)
    s.quit()
    return reply.decode().split()[-1] if code == 250 else None


def lines_for(i, qid, rcpt):
    return [line for line in i.log().splitlines() if "%s: to=<%s>" % (qid, rcpt) in line]


def outcome(i, qid, rcpt, seconds=30, after=0):
    """The log line of rcpt's outcome in message qid (waits for it); after: the outcome that
    follows the first after ones (a retry's)."""
    found = wait_for(lambda: lines_for(i, qid, rcpt)[after:], seconds)
    return found[-1] if found else ""
