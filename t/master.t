#!/usr/bin/python3
"""master.t - the supervisor: privilege drop, respawn, throttling, reload, stop, one master.

Runs as root (children must become mail_owner) and, through t/master-unpriv.t, as an
ordinary user (development mode: everything runs as that user). The test service is
t/bin/echo_service, which echoes lines back; /bin/false stands in for a broken daemon."""
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import children_of, cmdline, ensure_user, free_port, uids, wait_for  # noqa: E402
from sockets import read_line  # noqa: E402
from tap import TAP  # noqa: E402

BUILD = os.environ["BUILD"]
POSTERN = os.path.join(BUILD, "bin", "postern")
ECHO = os.path.join(BUILD, "t", "bin", "echo_service")
TEST_USER = "postern-test"
t = TAP()






def alive(pid):
    """Running, not a zombie waiting for a parent that may never reap it."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False



def service_children(master, name):
    """Children of the master started for the master.cf service called name (-n name)."""
    found = []
    for p in children_of(master):
        args = cmdline(p)
        if "-n" in args and args.index("-n") + 1 < len(args) and args[args.index("-n") + 1] == name:
            found.append(p)
    return found


def echo(port, text):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(text.encode() + b"\r\n")
        return read_line(s).decode(errors="replace")


def postern(cfg, *args):
    return subprocess.run([POSTERN] + list(args) + ["-c", cfg], capture_output=True, text=True,
                          timeout=60)


def write_master_cf(cfg, port, extra=""):
    with open(os.path.join(cfg, "master.cf"), "w") as f:
        f.write("127.0.0.1:%d inet n - n - 3 %s\n" % (port, ECHO))
        f.write("crasher unix n - n - 1 /bin/false\n")
        f.write("tick fifo - - n 1 1 %s\n" % ECHO)
        f.write(extra)


def run(root):
    if os.geteuid() == 0:
        owner = ensure_user(TEST_USER)
    else:
        owner = pwd.getpwuid(os.geteuid())
    os.chmod(root, 0o755)
    cfg = os.path.join(root, "etc")
    queue = os.path.join(root, "queue")
    log = os.path.join(root, "maillog")
    os.mkdir(cfg)
    port = free_port()
    with open(os.path.join(cfg, "main.cf"), "w") as f:
        f.write("queue_directory = %s\ndaemon_directory = %s/bin\nmail_owner = %s\n"
                "maillog_file = %s\nservice_throttle_time = 30s\nstop_timeout = 5s\n"
                % (queue, BUILD, owner.pw_name, log))
    write_master_cf(cfg, port)

    if os.geteuid() == 0:
        os.chmod(os.path.join(cfg, "master.cf"), 0o666)
        r = postern(cfg, "check")
        t.ok(r.returncode != 0 and "master.cf is writable by group or others" in r.stderr,
             "as root, a master.cf others can write is refused")
        r = postern(cfg, "start")
        t.ok(r.returncode != 0 and "writable by group or others" in r.stderr,
             "and the master will not start with it")
        os.chmod(os.path.join(cfg, "master.cf"), 0o644)
    r = postern(cfg, "check")
    t.is_eq(r.returncode, 0, "postern check passes and creates the queue")
    t.ok(os.path.isdir(os.path.join(queue, "private")), "the private directory exists")
    r = postern(cfg, "start")
    t.is_eq(r.returncode, 0, "postern start")
    if r.returncode != 0:
        t.diag(r.stderr)
        return
    r = postern(cfg, "status")
    t.ok(r.returncode == 0 and "is running: PID: " in r.stderr, "postern status: running")
    master = int(open(os.path.join(queue, "pid", "master.pid")).read())
    t.is_eq(uids(master)[0], os.geteuid(), "the master runs as the invoking user")

    echo_name = "127.0.0.1:%d" % port
    echo_kids = wait_for(lambda: service_children(master, echo_name), 5)
    t.ok(len(echo_kids) >= 1, "the echo service has a child")
    if echo_kids:
        kid = echo_kids[0]
        settled = wait_for(lambda: alive(kid) and uids(kid) == [owner.pw_uid] * 4, 3)
        t.ok(settled, "the child runs as mail_owner (real, effective, saved, fs uid)")
        if not settled and alive(kid):
            t.diag("uids of %d: %s" % (kid, uids(kid)))
    t.is_eq(echo(port, "hello master"), "hello master", "the listener reaches the child")

    if echo_kids:
        victim = echo_kids[0]
        os.kill(victim, signal.SIGKILL)
        fresh = wait_for(lambda: [p for p in service_children(master, echo_name)
                                  if p != victim], 1.0)
        t.ok(fresh, "a killed child is replaced within a second")
    t.is_eq(echo(port, "still here"), "still here", "and the service still answers")

    t.ok(wait_for(lambda: open(log).read().count("echo_service[") and
                  open(log).read().count("wakeup: 1 byte") >= 2, 4),
         "a fifo service with wakeup 1 is woken every second")

    clients = []
    for i in range(12):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"client %d\r\n" % i)
        clients.append(c)
    answers = [read_line(c) for c in clients]
    t.is_eq(answers, [b"client %d" % i for i in range(12)],
            "12 concurrent clients are all served (4 per child)")
    t.is_eq(len(service_children(master, echo_name)), 3,
            "busy children make the master start more, up to maxproc 3")
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    extra.sendall(b"thirteenth\r\n")
    extra.settimeout(1)
    try:
        waited = extra.recv(100) == b""
    except socket.timeout:
        waited = True
    t.ok(waited and len(service_children(master, echo_name)) == 3,
         "past maxproc a client waits; no fourth child")
    clients[0].close()
    extra.settimeout(5)
    t.is_eq(read_line(extra), b"thirteenth", "and is served when a session ends")
    for c in clients[1:] + [extra]:
        c.close()

    starts_before = open(log).read().count("/bin/false pid")
    time.sleep(5)
    starts = open(log).read().count("/bin/false pid") - starts_before
    t.ok(1 <= starts <= 5, "a child that always fails is throttled (%d starts in 5s)" % starts)
    t.ok("bad command startup -- throttling" in open(log).read(), "and the throttling is logged")
    t.is_eq(echo(port, "unharmed"), "unharmed", "the failing service does not harm the others")

    write_master_cf(cfg, port, "extra unix - - n - 1 %s\n" % ECHO)
    r = postern(cfg, "reload")
    t.is_eq(r.returncode, 0, "postern reload")
    sock = os.path.join(queue, "private", "extra")
    t.ok(wait_for(lambda: os.path.exists(sock) and service_children(master, "extra"), 3),
         "a service added to master.cf starts on reload, with its socket")
    t.is_eq(echo(port, "kept"), "kept", "an unchanged service keeps serving across a reload")
    write_master_cf(cfg, port)
    postern(cfg, "reload")
    t.ok(wait_for(lambda: not os.path.exists(sock) and not service_children(master, "extra"), 5),
         "a service removed from master.cf stops on reload, and its socket goes")

    r = postern(cfg, "start")
    t.ok(r.returncode != 0 and "already running" in r.stderr,
         "a second start on the same configuration fails clearly")

    everyone = children_of(master)
    r = postern(cfg, "stop")
    t.is_eq(r.returncode, 0, "postern stop")
    t.ok(wait_for(lambda: not alive(master), 2), "the master is gone")
    t.ok(wait_for(lambda: not any(alive(p) for p in everyone), 5), "no child is left behind")
    leftovers = os.listdir(os.path.join(queue, "private")) + os.listdir(
        os.path.join(queue, "public"))
    t.is_eq(leftovers, [], "no socket is left behind")
    t.ok(not os.path.exists(os.path.join(queue, "pid", "master.pid")), "the pid file is removed")
    r = postern(cfg, "status")
    t.ok(r.returncode != 0 and "not running" in r.stderr, "postern status: not running")

    fg = subprocess.Popen([POSTERN, "start-fg", "-c", cfg], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    t.ok(wait_for(lambda: postern(cfg, "status").returncode == 0, 5), "start-fg runs the master")
    fg.send_signal(signal.SIGINT)
    try:
        t.is_eq(fg.wait(timeout=15), 0, "start-fg stops cleanly on SIGINT")
    except subprocess.TimeoutExpired:
        fg.kill()
        t.ok(False, "start-fg stops cleanly on SIGINT")


with tempfile.TemporaryDirectory() as root:
    run(root)
sys.exit(t.done())
