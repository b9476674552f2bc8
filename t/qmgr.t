#!/usr/bin/python3
"""qmgr.t - the queue manager's receiving side, driven as the master drives it (a UNIX
listener on fd 4, status datagrams on fd 3) with t/bin/qmgr_client as the receiver: open,
write, commit into active/; refusals; group commit (every reply after the fsync that
covers it); recovery after kill -9. The delivery side runs too: the test recipients are in
a domain whose transport (smtp) has no service here, so each committed message moves on
from active/ to deferred/ (t/local.t tests deliveries); "queued" means either."""
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import wait_for  # noqa: E402
from tap import TAP  # noqa: E402

BUILD = os.environ["BUILD"]
QMGR = os.path.join(BUILD, "bin", "qmgr")
CLIENT = os.path.join(BUILD, "t", "bin", "qmgr_client")
STATES = ("incoming", "active", "deferred", "hold", "corrupt", "spare")
t = TAP()


def start(d, wrap=()):
    """Start qmgr as the master would; return the process, its socket path, status socket."""
    path = os.path.join(d, "private", "qmgr")
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    master_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    env = dict(os.environ, POSTERN_LISTEN_FDS="1")
    if wrap and "ASAN_OPTIONS" in env:
        # LeakSanitizer cannot run under ptrace; the sanitizer build still checks the rest.
        env["ASAN_OPTIONS"] += ":detect_leaks=0"

    def place_fds():
        status_fd = fcntl.fcntl(child_end.fileno(), fcntl.F_DUPFD, 10)
        listen_fd = fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD, 10)
        os.dup2(status_fd, 3)
        os.dup2(listen_fd, 4)

    proc = subprocess.Popen(list(wrap) + [QMGR, "-c", d, "-v"], env=env, preexec_fn=place_fds,
                            close_fds=False)
    child_end.close()
    listener.close()
    master_end.settimeout(10)
    data = master_end.recv(512)
    t.ok(b"status_ready" in data, "qmgr starts and reports ready")
    return proc, path, master_end


def client(path, *args):
    r = subprocess.run([CLIENT, path] + list(args), capture_output=True, timeout=30)
    return r.stdout.decode().strip()


def files(d, state):
    return sorted(os.listdir(os.path.join(d, state)))


def queued(d):
    """Committed files: in active/ or, once the delivery side deferred them, in deferred/."""
    # active/ first: a file moving on is then seen once or twice, never missed
    return sorted(set(f for f in files(d, "active") + files(d, "deferred")
                      if re.match(r"[0-9A-Za-z]{17}$", f)))


def queued_path(d, qid):
    for state in ("active", "deferred"):
        if os.path.exists(os.path.join(d, state, qid)):
            return os.path.join(d, state, qid)
    return os.path.join(d, "active", qid)


def check_queued(d, qid):
    """check_file on a committed file, wherever the delivery side has moved it by now."""
    for _ in range(10):
        out = check_file(queued_path(d, qid))
        if "cannot open" not in out:
            return out
    return out


def mode_queued(d, qid):
    for _ in range(10):
        try:
            return os.stat(queued_path(d, qid)).st_mode & 0o777
        except OSError:
            pass
    return None


def check_file(path):
    return subprocess.run([CLIENT, "read", path], capture_output=True,
                          timeout=10).stdout.decode().strip()


def log(d):
    with open(os.path.join(d, "log"), errors="replace") as f:
        return f.read()


def stop(proc, traced=False):
    """SIGTERM to qmgr (under strace: to strace's child), then wait."""
    pid = proc.pid
    if traced:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pid = int(f.read().split()[0])
    os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def strace_usable():
    if not shutil.which("strace"):
        return False
    r = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True)
    return r.returncode == 0


def fsync_order(trace, direct_ids):
    """From a strace -f of qmgr: (fsyncs, replies, replies sent before an fsync covered
    them). The fsync runs on a helper thread while the loop goes on: it covers the renames
    made before it started, not those made while it ran (strace shows such a call as
    "fsync(N <unfinished ...>" and later "<... fsync resumed>) = 0")."""
    renamed, synced, fsyncs, replies, early = set(), set(), 0, 0, 0
    in_flight = {}  # thread id -> the renames its fsync covers
    renaming = {}  # thread id -> the file of a rename strace shows in two parts
    for line in trace.splitlines():
        tid = line.split(None, 1)[0] if line else ""
        m = re.search(r'renameat2?\(\d+, "([0-9A-Za-z]{17})"', line)
        if m and "<unfinished" in line:
            renaming[tid] = m.group(1)
        elif re.search(r"<\.\.\. renameat2? resumed>.*= 0", line) and tid in renaming:
            renamed.add(renaming.pop(tid))
        elif m and "= 0" in line:
            renamed.add(m.group(1))
        elif re.search(r"\bfsync\(\d+\)\s+= 0", line):
            fsyncs += 1
            synced |= renamed
            renamed = set()
        elif re.search(r"\bfsync\(\d+ <unfinished", line):
            in_flight[tid] = renamed
            renamed = set()
        elif re.search(r"<\.\.\. fsync resumed>\)\s+= 0", line):
            fsyncs += 1
            synced |= in_flight.pop(tid, set())
        elif "sendmsg" in line and "queue_committed" in line:
            ids = [i for i in direct_ids if i in line]
            replies += 1
            if not ids or ids[0] not in synced:
                early += 1
                t.diag("early reply: %s" % line)
    return fsyncs, replies, early


with tempfile.TemporaryDirectory() as d:
    for sub in ("private",) + STATES:
        os.mkdir(os.path.join(d, sub), 0o700)
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write("queue_directory = %s\nmaillog_file = %s/log\nmax_idle = 600s\n" % (d, d))
    with open(os.path.join(d, "spare", "0000000000000000x"), "w") as f:
        f.write("a spare file left by a crash")

    # One message, end to end.
    proc, path, st = start(d)
    out = client(path, "commit", "1")
    m = re.match(r"committed ([0-9A-Za-z]{17})$", out)
    t.ok(m, "a message is opened, written and committed")
    qid = m.group(1) if m else "none"
    t.is_eq(queued(d), [qid], "its file is in active/ (or already deferred/)")
    t.is_eq(files(d, "incoming"), [], "and no longer in incoming/")
    t.is_eq(files(d, "spare"), [], "a file left in spare/ is removed at start")
    t.is_eq(check_queued(d, qid), "ok <sender@example.org> 2 25",
            "the file is complete: sender, two recipients, 25 bytes of content")
    t.ok(mode_queued(d, qid) == 0o600,
         "queue files are mode 0600")
    time.sleep(0.2)
    t.ok("%s: from=<sender@example.org>, size=25, nrcpt=2 (queue active)" % qid in log(d),
         "the commit is logged the Postfix way")

    # Refusals.
    out = client(path, "noend")
    t.ok(re.match(r"refused [0-9A-Za-z]{17}: queue file incomplete or invalid$", out),
         "a file without its end marker is refused")
    noend = out.split()[1].rstrip(":") if out.startswith("refused") else "none"
    # qmgr answers first and removes the file right after (doc/queue.md): wait for that.
    t.ok(wait_for(lambda: noend not in files(d, "active") + files(d, "incoming"), 10),
         "and removed, not queued")
    time.sleep(0.2)
    t.ok(re.search(r"%s: commit refused: incoming/%s: truncated at offset \d+: record 'D'"
                   % (noend, noend),
                   log(d)), "the log names the file and why")
    out = client(path, "abort")
    t.ok(out.startswith("aborted "), "an abort is answered")
    t.is_eq(files(d, "incoming"), [], "and the file is gone")
    out = client(path, "twice")
    t.ok(re.match(r"committed (\S+)\nrefused \1: unknown queue ID$", out),
         "a second commit of one ID is refused")
    out = client(path, "badid")
    t.ok(out.endswith("refused ../../etc/passwd: unknown queue ID"), "a commit of a path, not an ID, is refused")
    # qmgr sees the receiver's end on its loop, after the client has exited: wait for it.
    wait_for(lambda: files(d, "incoming") == [], 10)
    t.is_eq(files(d, "incoming"), [], "a receiver that opened a file and left has it removed")
    if os.geteuid() == 0:
        # Open the way to the socket, so that only qmgr's own credential check stands.
        for p, mode in ((d, 0o711), (os.path.join(d, "private"), 0o711), (path, 0o666)):
            os.chmod(p, mode)
        r = subprocess.run([CLIENT, path, "commit", "1"], capture_output=True, timeout=30,
                           user=65534, group=65534)
        os.chmod(os.path.join(d, "private"), 0o700)
        t.ok(r.stdout.startswith(b"failed: "), 
             "a client of another uid is turned away")
        time.sleep(0.2)
        t.ok("rejecting client: qmgr: uid 65534" in log(d), "and the log says who")
        t.is_eq(files(d, "incoming"), [], "without a queue file")
    else:
        for name in ("stranger turned away", "logged", "no file"):
            t.ok(True, "# SKIP not root: " + name)
    active_before = len(queued(d))
    stop(proc)

    # Many receivers at once: every commit succeeds and is answered only after an fsync of
    # active/ that covers it; fewer fsyncs than commits.
    clients, per_client = 20, 10
    use_strace = strace_usable()
    trace = os.path.join(os.environ.get("KEEP_TRACE", d), "trace")
    wrap = ["strace", "-f", "-qq", "-s", "256", "-e", "trace=renameat,renameat2,fsync,sendmsg",
            "-o", trace] if use_strace else []
    open(os.path.join(d, "log"), "w").close()
    proc, path, st = start(d, wrap)
    procs = [subprocess.Popen([CLIENT, path, "commit", str(per_client)], stdout=subprocess.PIPE)
             for _ in range(clients)]
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    ids = re.findall(r"committed ([0-9A-Za-z]{17})", "".join(outputs))
    total = clients * per_client
    t.is_eq(len(ids), total, "%d concurrent commits all succeed" % total)
    t.is_eq(len(set(ids)), total, "with %d different queue IDs" % total)
    t.is_eq(len(queued(d)), active_before + total, "all are queued")
    bad = [i for i in ids if not check_queued(d, i).startswith("ok")]
    t.is_eq(bad, [], "and every one of them is complete")
    stop(proc, use_strace)
    batches = [int(n) for n in re.findall(r"group commit: (\d+) files?, one fsync", log(d))]
    t.is_eq(sum(batches), total, "the group commit log lines account for every commit")
    t.ok(len(batches) < total, "commits were batched: %d fsyncs for %d commits"
         % (len(batches), total))
    if use_strace:
        with open(trace) as f:
            fsyncs, replies, early = fsync_order(f.read(), ids)
        t.is_eq(replies, total, "strace sees every committed reply")
        t.is_eq(early, 0, "no reply went out before the fsync that covers its file")
        t.ok(fsyncs < total, "strace counts %d fsyncs for %d commits" % (fsyncs, total))
    else:
        for name in ("strace sees every reply", "no early reply", "fsync count"):
            t.ok(True, "# SKIP strace not usable: " + name)

    # Crash: kill -9 while a receiver holds an open file; add a damaged file in active/.
    proc, path, st = start(d)
    holder = subprocess.Popen([CLIENT, path, "hold"], stdout=subprocess.PIPE)
    line = holder.stdout.readline().decode().strip()
    held = line.split()[1] if line.startswith("opened ") else "none"
    t.is_eq(files(d, "incoming"), [held], "a file being written is in incoming/")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    holder.kill()
    holder.wait()
    with open(os.path.join(d, "active", "0000000000000000z"), "wb") as f:
        f.write(b"V\0\0\0\4\0\0\0\1T\0\0\0\x0c")
    with open(os.path.join(d, "deferred", "not-an-id"), "wb") as f:
        f.write(b"junk")
    stale = os.path.join(d, "incoming", "0000000000000000y")
    with open(stale, "wb") as f:
        f.write(b"V")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    committed = set(queued(d)) - {"0000000000000000z"}
    n_active = len(set(files(d, "active")) - {"0000000000000000z"})
    n_deferred = len(committed) - n_active
    open(os.path.join(d, "log"), "w").close()
    proc, path, st = start(d)
    t.is_eq(files(d, "incoming"), [held],
            "after kill -9 and restart, the recent uncommitted file stays for queue_status, "
            "the hour-old one is gone")
    t.is_eq(set(queued(d)), committed, "every committed file is kept")
    t.is_eq(files(d, "corrupt"), ["0000000000000000z", "not-an-id"],
            "damaged files and strange names went to corrupt/")
    lg = log(d)
    t.ok("recovery: removed 1 uncommitted file from incoming/" in lg and
         "recovery: 1 uncommitted file in incoming/ kept for queue_status" in lg,
         "the removal and the kept file are logged")
    t.ok(re.search(r"active/0000000000000000z: truncated at offset \d+.*moved to corrupt/", lg),
         "the corrupt file is logged with the reason")
    resumed = sum(int(n) for n in re.findall(r"recovery: resumed (\d+) files? in (?:active|deferred)/",
                                             lg))
    t.is_eq(resumed, len(committed), "the resumed are counted (%d in active/, %d in deferred/)"
            % (n_active, n_deferred))
    out = client(path, "commit", "1")
    t.ok(out.startswith("committed "), "the restarted qmgr takes new messages")
    new_id = out.split()[1] if out.startswith("committed ") else "none"
    t.is_eq(client(path, "status", new_id), "committed " + new_id,
            "queue_status: a committed file is confirmed")
    old_id = sorted(committed)[0] if committed else "none"
    t.is_eq(client(path, "status", old_id), "committed " + old_id,
            "queue_status: so is one that was committed before the restart")
    t.ok(client(path, "status", held).startswith("refused %s: " % held) and
         "not committed" in client(path, "status", held),
         "queue_status: the file a dead receiver left in incoming/ is not committed")
    t.ok(client(path, "status", "../../etc/passwd").startswith("refused"),
         "queue_status: a name that is no queue ID is refused")

    # A message committed before a restart and finished since (its file gone, as after a
    # delivery) is still confirmed by the next qmgr: the answer to its commit may have been
    # lost to two qmgr deaths in a row (t/crash.t found that window).
    stop(proc)
    os.unlink(queued_path(d, old_id))
    proc, path, st = start(d)
    t.is_eq(client(path, "status", old_id), "committed " + old_id,
            "queue_status: a committed file that has finished is confirmed after a restart")
    t.ok("not committed" in client(path, "status", held),
         "queue_status: the uncommitted file is still not committed after a second restart")
    stop(proc)

sys.exit(t.done())
