"""sockets.py - small socket helpers shared by the Python integration tests."""


def read_line(sock):
    """One reply line without its line end, however the bytes arrive; b"" on EOF."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.strip()
