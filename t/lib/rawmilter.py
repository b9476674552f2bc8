"""rawmilter.py - the socket side of a milter written by hand for the smtpd tests (the faults
and flags libmilter cannot make): a loopback listener, a thread per connection handing each
packet to the subclass's command(), whole packets read, everything closed at stop()."""
import socket
import struct
import threading


class RawMilterServer:
    def __init__(self, port, rcvbuf=None):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:  # inherited by accepted sockets: no autotuning of their receive buffer
            self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(16)
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, peer = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.session, args=(c, peer), daemon=True).start()

    def session(self, c, peer):
        try:
            while True:
                p = self.packet(c)
                if p is None or self.command(c, peer, chr(p[0]), p) is False:
                    return
        except OSError:
            return

    def command(self, c, peer, cmd, p):
        """One packet p (command octet cmd) from smtpd at peer; False ends the session."""
        raise NotImplementedError

    @staticmethod
    def exactly(c, n):
        data = b""
        while len(data) < n:
            more = c.recv(n - len(data))
            if not more:
                return None
            data += more
        return data

    def packet(self, c):
        """The next packet (command octet and data), None at EOF."""
        head = self.exactly(c, 4)
        return None if head is None else self.exactly(c, struct.unpack(">I", head)[0])

    def stop(self):
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
