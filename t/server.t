#!/usr/bin/python3
"""server.t - the daemon skeleton, driven the way the master drives it (listener on fd 4,
status datagrams on fd 3) and in stand-alone mode (-S): options, status reports, max_use,
max_idle, graceful SIGTERM, configuration errors."""
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from sockets import read_line  # noqa: E402
from tap import TAP  # noqa: E402

ECHO = os.path.join(os.environ["BUILD"], "t", "bin", "echo_service")
t = TAP()


def start(cfg, *args):
    """Start echo_service as the master would: status socket at 3, one listener at 4."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    master_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    env = dict(os.environ, POSTERN_LISTEN_FDS="1")

    def place_fds():
        status_fd = fcntl.fcntl(child_end.fileno(), fcntl.F_DUPFD, 10)
        listen_fd = fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD, 10)
        os.dup2(status_fd, 3)
        os.dup2(listen_fd, 4)

    proc = subprocess.Popen([ECHO, "-c", cfg] + list(args), env=env, preexec_fn=place_fds,
                            close_fds=False, stderr=subprocess.PIPE)
    child_end.close()
    master_end.settimeout(5)
    return proc, listener, master_end


def status(sock):
    """The message name in the next status datagram."""
    data = sock.recv(512)
    return b"status_ready" in data and "ready" or b"status_busy" in data and "busy" or \
        b"status_idle" in data and "idle" or repr(data)


def talk(port, line):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(line.encode() + b"\r\n")
    return s, read_line(s).decode()


with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write("queue_directory = %s\nmaillog_file = %s/log\nmax_use = 1\nmax_idle = 2s\n" % (d, d))

    r = subprocess.run([ECHO, "-S", "-c", d], input=b"one\r\ntwo\nquit\nthree\n",
                       capture_output=True, timeout=10)
    t.is_eq(r.stdout, b"one\r\ntwo\r\n", "-S serves one session on stdin and stdout")
    t.is_eq(r.returncode, 0, "and exits 0 when it ends")

    r = subprocess.run([ECHO, "-S", "-c", d, "-o", "max_use=zero"], input=b"", capture_output=True,
                       timeout=10)
    t.ok(r.returncode != 0 and b"-o max_use: bad numerical value \"zero\"" in r.stderr,
         "a bad -o value is fatal and named")
    r = subprocess.run([ECHO, "-S", "-c", d, "-x"], capture_output=True, timeout=10)
    t.ok(r.returncode == 2 and b"usage:" in r.stderr, "an unknown option prints the usage")
    r = subprocess.run([ECHO, "-S", "-c", "/nonexistent"], capture_output=True, timeout=10)
    t.ok(r.returncode != 0 and b"/nonexistent/main.cf" in r.stderr,
         "a missing main.cf is fatal and named")

    proc, listener, st = start(d)
    port = listener.getsockname()[1]
    t.is_eq(status(st), "ready", "a started child reports ready")
    # The echo service serves 4 sessions at once, so max_use = 1 retires it after 4 clients
    # (max_use per session slot), though never more than 2 are connected at a time.
    c1, answer = talk(port, "first")
    t.is_eq(answer, "first", "it serves a client from the passed listener")
    c2, answer = talk(port, "second")
    t.is_eq(answer, "second", "a second concurrent client")
    c1.close()
    c2.close()
    c1, answer = talk(port, "third")
    t.is_eq(answer, "third", "a third client, after the first two left")
    c2, answer = talk(port, "fourth")
    t.is_eq(answer, "fourth", "a fourth")
    t.is_eq(status(st), "busy", "max_use x 4 sessions reached: it reports busy")
    c3 = socket.create_connection(("127.0.0.1", port), timeout=5)
    c3.sendall(b"fifth\r\n")
    c3.settimeout(1)
    try:
        third = c3.recv(1024)
    except socket.timeout:
        third = b""
    t.is_eq(third, b"", "it accepts no client past max_use")
    t.ok(proc.poll() is None, "it stays while its sessions last")
    c1.close()
    c2.close()
    t.is_eq(proc.wait(timeout=5), 0, "and exits once they end")
    c3.close()
    listener.close()

    proc, listener, st = start(d, "-o", "max_use=100")
    port = listener.getsockname()[1]
    status(st)
    c1, _ = talk(port, "hello")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    t.ok(proc.poll() is None, "SIGTERM lets an open session finish")
    c1.sendall(b"still\r\n")
    t.is_eq(read_line(c1), b"still", "and that session is still served")
    c1.close()
    t.is_eq(proc.wait(timeout=5), 0, "then the process exits")
    listener.close()

    table = os.path.join(d, "table")
    with open(table, "w") as f:
        f.write("key value\n")
    os.environ["ECHO_TABLE"] = "texthash:" + table
    proc, listener, st = start(d, "-o", "max_use=100")
    del os.environ["ECHO_TABLE"]
    port = listener.getsockname()[1]
    c1, _ = talk(port, "before")
    c1.close()
    c1, _ = talk(port, "unchanged")
    t.ok(proc.poll() is None, "a table that did not change keeps the process")
    with open(table + ".new", "w") as f:
        f.write("key other\n")
    os.rename(table + ".new", table)
    c1.close()
    t.is_eq(proc.wait(timeout=5), 0, "a rebuilt table ends the process after the session")
    with open(os.path.join(d, "log")) as f:
        t.like(f.read(), "table texthash:%s has changed -- restarting" % table, "and says why")
    listener.close()

    proc, listener, st = start(d, "-o", "max_idle=1s")
    started = time.time()
    t.is_eq(proc.wait(timeout=10), 0, "an idle process exits after max_idle")
    t.ok(time.time() - started < 5, "soon after max_idle")
    listener.close()
sys.exit(t.done())
