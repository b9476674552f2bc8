"""sockets.py - small socket helpers shared by the Python integration tests."""
import socket
import threading


def read_line(sock):
    """One reply line without its line end, however the bytes arrive; b"" on EOF."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.strip()


def listener(addr="127.0.0.1", port=0):
    """A listening TCP socket on addr:port (IPv6 when addr has a colon)."""
    sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    sock.listen(8)
    return sock


def accept_each(sock, handle):
    """handle(conn) for each connection sock accepts, one after the other, in a daemon
    thread that ends when sock is closed; handle closes conn."""
    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            handle(conn)
    threading.Thread(target=loop, daemon=True).start()
