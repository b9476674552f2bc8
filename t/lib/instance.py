"""instance.py - a whole postern instance for the integration tests: a config directory, a
queue, a log file and a running master with the services a test names, on loopback ports.

Also the process helpers the tests share (children, uids, waiting)."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
POSTERN = os.path.join(BUILD, "bin", "postern")
OWNER = "postern-test"


_given_ports = set()


def free_port():
    """A loopback port nobody listens on, never the same twice in one test (the kernel may
    hand out a port again as soon as the probe's socket is closed)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def wait_for(cond, seconds, step=0.05):
    """cond's first true value within seconds, else its last value."""
    end = time.time() + seconds
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return cond()


def proc_stats():
    """(pid, the fields of /proc/pid/stat after the command name) of every process"""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2:
            yield int(entry), fields


def children_of(pid):
    return [kid for kid, fields in proc_stats() if int(fields[1]) == pid]


def group_alive(pgid):
    """does a process of group pgid still run (zombies not counted)?"""
    return any(int(fields[2]) == pgid and fields[0] != "Z" for _, fields in proc_stats())


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid) as f:
            return f.read().split("\0")
    except OSError:
        return []


def uids(pid):
    """Real, effective, saved and filesystem uid of a process ([] once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return []


def move_home(name, home):
    """usermod -d, which refuses while the user has processes (exit 8): a test user's
    leftovers from an earlier run (a command still ending) are ended first."""
    for _ in range(50):
        r = subprocess.run(["usermod", "-d", home, name], capture_output=True)
        if r.returncode != 8:
            break
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        time.sleep(0.1)
    if r.returncode != 0:
        raise RuntimeError("usermod -d %s %s: %s" % (home, name, r.stderr.decode()))


def ensure_user(name, home=None):
    """A system user (created when missing); home, when given, becomes its home directory,
    created and owned by it."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-d", home or "/nonexistent", "-s",
                        "/usr/sbin/nologin", name], check=True)
        pw = pwd.getpwnam(name)
    if home is not None:
        if pw.pw_dir != home:
            move_home(name, home)
        os.makedirs(home, exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o700)
        pw = pwd.getpwnam(name)
    return pw


def fail2ban_regex(logfile, spec="postern"):
    """fail2ban-regex with Debian's filters plus conf/fail2ban/postern.conf, on a log file:
    (exit code, output). spec names the filter and its mode: "postern[mode=auth]"."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    f2b = tempfile.mkdtemp(prefix="postern-f2b.")
    try:
        shutil.copytree("/etc/fail2ban", os.path.join(f2b, "fail2ban"))
        shutil.copy(os.path.join(top, "conf", "fail2ban", "postern.conf"),
                    os.path.join(f2b, "fail2ban", "filter.d", "postern.conf"))
        r = subprocess.run(["fail2ban-regex", "--config", os.path.join(f2b, "fail2ban"),
                            logfile, spec], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr
    finally:
        shutil.rmtree(f2b)


def read_text(path):
    """A log or other text file, "" while it does not exist yet."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def maildir_messages(maildir):
    """The files delivered to a Maildir (new/ and cur/), as bytes, by file name."""
    found = {}
    for sub in ("new", "cur"):
        path = os.path.join(maildir, sub)
        if not os.path.isdir(path):
            continue
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                found[name] = f.read()
    return found


def no_nameserver(directory):
    """A resolv.conf without a name server in directory (made once); its path."""
    path = os.path.join(directory, "resolv.conf.none")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("# no nameserver: postern asks nobody\n")
        os.chmod(path, 0o644)
    return path


class Instance:
    """A postern instance under a fresh temporary directory. services: master.cf lines
    after the smtpd listener; main: extra main.cf text (later lines win)."""

    DEFAULT_SERVICES = ("qmgr unix - - n - 1 qmgr\n"
                        "local unix - n n - - local\n"
                        "bounce unix - - n - 0 bounce\n")

    def __init__(self, main="", services=DEFAULT_SERVICES, smtpd="smtpd"):
        self.root = tempfile.mkdtemp(prefix="postern-t.")
        os.chmod(self.root, 0o755)
        self.etc = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        self.logfile = os.path.join(self.root, "maillog")
        self.port = free_port()
        self.proc = None
        os.mkdir(self.etc)
        owner = pwd.getpwnam(OWNER).pw_name if os.geteuid() == 0 and ensure_user(OWNER) \
            else pwd.getpwuid(os.geteuid()).pw_name
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("queue_directory = %s\n" % self.queue)
            f.write("daemon_directory = %s/bin\n" % os.path.abspath(BUILD))
            f.write("command_directory = %s/bin\n" % os.path.abspath(BUILD))
            f.write("data_directory = %s/data\n" % self.root)
            f.write("mail_owner = %s\n" % owner)
            f.write("maillog_file = %s\n" % self.logfile)
            f.write("myhostname = mx.test.example\n")
            f.write("mydestination = $myhostname, localhost, test.example\n")
            f.write("inet_interfaces = loopback-only\n")
            f.write("smtpd_peername_lookup = no\n")
            # No name server: a test that forgets to route a domain asks nobody, never the
            # machine's resolver (tests that need DNS name their own server later).
            f.write("smtp_dns_resolv_conf = %s\n" % no_nameserver(self.root))
            f.write("smtpd_dns_resolv_conf = %s\n" % no_nameserver(self.root))
            f.write("alias_maps =\n")
            f.write("stop_timeout = 5s\n")
            f.write(main)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            if smtpd:
                f.write("127.0.0.1:%d inet n - n - - %s\n" % (self.port, smtpd))
            f.write(services)

    def postern(self, *args):
        return subprocess.run([POSTERN] + list(args) + ["-c", self.etc], capture_output=True,
                              text=True, timeout=60)

    def start(self):
        """Start the master in the foreground; true once the SMTP port answers."""
        r = self.postern("check")
        if r.returncode != 0:
            raise RuntimeError("postern check: " + r.stderr)
        self.proc = subprocess.Popen([POSTERN, "start-fg", "-c", self.etc])
        return wait_for(self.listening, 10)

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.postern("stop")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def master_pid(self):
        return self.proc.pid if self.proc is not None else None

    def service_pids(self, name):
        """Children of the master started for the master.cf service called name."""
        found = []
        for p in children_of(self.master_pid()):
            args = cmdline(p)
            if "-n" in args and args.index("-n") + 1 < len(args) and \
                    args[args.index("-n") + 1] == name:
                found.append(p)
        return found

    def program_pids(self, program):
        """Children of the master running program (smtpd, qmgr, local)."""
        # A child that exits meanwhile has an empty command line: not a match.
        return [p for p in children_of(self.master_pid())
                if os.path.basename((cmdline(p) or [""])[0]) == program]

    def log(self):
        return read_text(self.logfile)

    def queue_files(self, *states):
        """Queue IDs in the given state directories (all states when none is given)."""
        ids = []
        for state in states or ("incoming", "active", "deferred", "hold", "corrupt"):
            path = os.path.join(self.queue, state)
            if os.path.isdir(path):
                ids.extend(os.listdir(path))
        return ids
