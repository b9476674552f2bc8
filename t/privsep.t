#!/usr/bin/python3
"""privsep.t - root never does a path operation in a directory that mail_owner can write.

Written as the attacks a compromised mail_owner process (smtpd, qmgr) would try against the
root master, each of which must now fail:
  - a symlink planted where the master is about to create a socket or a fifo (on reload)
    must not hand the link's target to mail_owner;
  - every path operation the master does under private/ and public/ runs with mail_owner's
    effective uid (an LD_PRELOAD shim, t/preload/pathops.c, records the euid of each one),
    so no timing of a rename can turn one of them against root;
  - a maillog_file that is a symlink, or a queue directory replaced by a symlink, is refused
    instead of being written or chowned through.
Runs as root only: the point is the difference between root and mail_owner."""
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import children_of, ensure_user, free_port, wait_for  # noqa: E402
from tap import TAP  # noqa: E402

BUILD = os.path.abspath(os.environ["BUILD"])
POSTERN = os.path.join(BUILD, "bin", "postern")
ECHO = os.path.join(BUILD, "t", "bin", "echo_service")
FORGER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "forge_status")
SHIM = os.path.join(BUILD, "t", "preload", "pathops.so")
t = TAP()


def postern(cfg, *args, env=None):
    return subprocess.run([POSTERN] + list(args) + ["-c", cfg], capture_output=True, text=True,
                          timeout=60, env=env)


def as_owner(owner, fn):
    """Run fn in a child that has become mail_owner for good, as a compromised daemon would."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(owner.pw_gid)
            os.setuid(owner.pw_uid)
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def root_file(path, text="root's\n", mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


def untouched(path, text="root's\n", mode=0o600):
    st = os.lstat(path)
    return (stat.S_ISREG(st.st_mode) and st.st_uid == 0 and st.st_gid == 0 and
            stat.S_IMODE(st.st_mode) == mode and open(path).read() == text)


def owned_by(path, owner, kind):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return kind(st.st_mode) and st.st_uid == owner.pw_uid


def write_master_cf(cfg, port, extra=""):
    with open(os.path.join(cfg, "master.cf"), "w") as f:
        f.write("127.0.0.1:%d inet n - n - 1 %s\n" % (port, ECHO))
        f.write("tick fifo - - n 1 1 %s\n" % ECHO)
        f.write("forger unix - - n - 1 %s\n" % FORGER)
        f.write(extra)


def setup(root, owner, log):
    cfg = os.path.join(root, "etc")
    queue = os.path.join(root, "queue")
    os.mkdir(cfg)
    with open(os.path.join(cfg, "main.cf"), "w") as f:
        f.write("queue_directory = %s\ndaemon_directory = %s/bin\nmail_owner = %s\n"
                "maillog_file = %s\nstop_timeout = 5s\n" % (queue, BUILD, owner.pw_name, log))
    return cfg, queue


def shim_env(queue, record):
    env = dict(os.environ)
    env["LD_PRELOAD"] = SHIM
    env["PATHOPS_LOG"] = record
    env["PATHOPS_WATCH"] = "%s/private/:%s/public/" % (queue, queue)
    # A sanitizer build of the master accepts a preloaded library ahead of its runtime.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    # What an administrator's shell may hold, none of which a daemon should see.
    env.update({"SSH_AUTH_SOCK": "/tmp/ssh-agent", "API_TOKEN": "secret",
                "LD_LIBRARY_PATH": "/nonexistent", "RES_OPTIONS": "debug", "TZ": "UTC"})
    return env


def environment(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
    except OSError:
        return None


def execed_children(master):
    """The master's children that run their own program: between fork and exec a child is
    still the master (its command line and environment are the master's)."""
    found = []
    for pid in children_of(master):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if os.path.basename(argv0) != b"master":
            found.append(pid)
    return found


def test_environment(master):
    kids = wait_for(lambda: [e for e in map(environment, execed_children(master)) if e], 30)
    t.ok(kids, "the master has a child to look at")
    env = kids[0] if kids else {}
    leaked = sorted(k for k in env if k in ("SSH_AUTH_SOCK", "API_TOKEN", "LD_LIBRARY_PATH",
                                            "LD_PRELOAD", "RES_OPTIONS", "PATHOPS_LOG", "HOME"))
    t.is_eq(leaked, [], "nothing of the starting shell's environment reaches a daemon")
    t.is_eq(env.get("TZ"), "UTC", "TZ is imported (import_environment)")
    t.is_eq(env.get("LANG"), "C", "LANG=C is set (import_environment)")
    t.ok("POSTERN_LISTEN_FDS" in env, "and the skeleton's own variable is there")


def test_listeners(root, owner):
    log = os.path.join(root, "maillog")
    cfg, queue = setup(root, owner, log)
    port = free_port()
    write_master_cf(cfg, port)
    record = os.path.join(root, "pathops")
    open(record, "w").close()
    os.chmod(record, 0o666)  # the shim appends as whichever euid the call ran with
    t.is_eq(postern(cfg, "check").returncode, 0, "postern check creates the queue")
    r = postern(cfg, "start", env=shim_env(queue, record))
    t.is_eq(r.returncode, 0, "the master starts with the path-operation recorder preloaded")
    if r.returncode != 0:
        t.diag(r.stderr)
        return

    test_environment(int(open(os.path.join(queue, "pid", "master.pid")).read()))
    t.ok(wait_for(lambda: "status report about pid" in open(log).read(), 30),
         "a status report one process sends about another is dropped, and logged")

    # The attack: mail_owner plants symlinks where the reload is about to create a socket
    # and a fifo, pointing at files only root may change.
    sock_target = root_file(os.path.join(root, "shadow-sock"))
    fifo_target = root_file(os.path.join(root, "shadow-fifo"))
    sock = os.path.join(queue, "private", "extra")
    fifo = os.path.join(queue, "private", "tick2")
    t.ok(as_owner(owner, lambda: (os.symlink(sock_target, sock), os.symlink(fifo_target, fifo))),
         "mail_owner can plant symlinks in private/ and public/ (its own directories)")
    write_master_cf(cfg, port, "extra unix - - n - 1 %s\ntick2 fifo - - n 1 1 %s\n" % (ECHO, ECHO))
    t.is_eq(postern(cfg, "reload").returncode, 0, "postern reload adds a socket and a fifo")
    t.ok(wait_for(lambda: owned_by(sock, owner, stat.S_ISSOCK), 30),
         "the new socket replaced the planted link, owned by mail_owner")
    t.ok(wait_for(lambda: owned_by(fifo, owner, stat.S_ISFIFO), 30),
         "the new fifo replaced the planted link, owned by mail_owner")
    t.is_eq(stat.S_IMODE(os.stat(sock).st_mode), 0o666, "the socket has its mode from creation")
    t.ok(untouched(sock_target), "the socket link's target still belongs to root, unchanged")
    t.ok(untouched(fifo_target), "the fifo link's target still belongs to root, unchanged")

    # A fifo that someone else owns (root here, standing for any other user) is not reused.
    write_master_cf(cfg, port, "extra unix - - n - 1 %s\n" % ECHO)
    postern(cfg, "reload")
    t.ok(wait_for(lambda: not os.path.exists(fifo), 30), "a removed fifo service's fifo goes")
    os.mkfifo(fifo, 0o666)
    write_master_cf(cfg, port, "extra unix - - n - 1 %s\ntick2 fifo - - n 1 1 %s\n" % (ECHO, ECHO))
    postern(cfg, "reload")
    if not t.ok(wait_for(lambda: owned_by(fifo, owner, stat.S_ISFIFO), 30),
                "a fifo someone else left in its place is replaced by one mail_owner owns"):
        t.diag(open(log).read()[-4000:])
        t.diag(open(record).read()[-4000:])
    t.is_eq(stat.S_IMODE(os.stat(fifo).st_mode), 0o622, "with the fifo's mode")

    t.is_eq(postern(cfg, "stop").returncode, 0, "postern stop")
    t.ok(wait_for(lambda: os.listdir(os.path.join(queue, "private")) == [], 30),
         "the sockets are removed at stop")
    ops = [line.split(" ", 2) for line in open(record).read().splitlines()]
    master_ops = [op for op in ops if op[1] in ("bind", "mkfifo", "unlink", "chown", "chmod",
                                                "lchown", "rename", "open")]
    t.ok(any(op[1] == "bind" for op in master_ops) and any(op[1] == "mkfifo" for op in master_ops),
         "the recorder saw the master create sockets and fifos (%d operations)" % len(master_ops))
    by_root = [" ".join(op) for op in master_ops if int(op[0]) != owner.pw_uid]
    t.is_eq(by_root, [], "every path operation under private/ and public/ ran as mail_owner")


def test_maillog_link(root, owner):
    target = root_file(os.path.join(root, "shadow-log"))
    log = os.path.join(root, "maillog-link")
    os.symlink(target, log)
    cfg, queue = setup(root, owner, log)
    write_master_cf(cfg, free_port())
    r = postern(cfg, "start")
    t.ok(r.returncode != 0, "a maillog_file that is a symlink is refused at start")
    t.like(r.stderr, "maillog_file", "and the refusal names maillog_file")
    t.ok(untouched(target), "the link's target is not appended to")
    postern(cfg, "stop")


def test_queue_link(root, owner):
    target = os.path.join(root, "elsewhere")
    os.mkdir(target, 0o755)
    cfg, queue = setup(root, owner, os.path.join(root, "maillog3"))
    write_master_cf(cfg, free_port())
    t.is_eq(postern(cfg, "check").returncode, 0, "a fresh queue")
    os.rmdir(os.path.join(queue, "hold"))
    os.symlink(target, os.path.join(queue, "hold"))
    r = postern(cfg, "check")
    t.ok(r.returncode != 0 and "hold: not a directory" in r.stderr,
         "a queue directory replaced by a symlink is refused")
    st = os.stat(target)
    t.ok(st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755,
         "and the link's target is not handed to mail_owner")


def main():
    if os.geteuid() != 0:
        t.skip_all("needs root: the attacks are by mail_owner against the root master")
    owner = ensure_user("postern-test")
    with tempfile.TemporaryDirectory(prefix="postern-privsep.") as root:
        os.chmod(root, 0o755)
        for name, test in (("listeners", test_listeners), ("maillog", test_maillog_link),
                           ("queue", test_queue_link)):
            part = os.path.join(root, name)
            os.mkdir(part, 0o755)
            test(part, owner)
    t.done()


main()
