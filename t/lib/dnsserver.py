"""dnsserver.py - a real DNS server for the tests: Debian's unbound on a loopback port,
serving the test's zones as local data (never the machine's resolver, never the network).

    dns = Unbound(directory)
    dns.start(["example.test. static"], ["example.test. MX 10 mx1.example.test.", ...])
    dns.resolv_conf          a resolv.conf naming it, for smtp_dns_resolv_conf
    dns.reload(zones, data)  new zones and records, served once this returns
    dns.stop()

A zone of type always_refuse makes the server answer REFUSED, which a resolver that
forwards to it reports as a temporary failure (SERVFAIL)."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def available():
    return os.path.exists(UNBOUND)


def query(port, name, qtype, timeout=1.0):
    """(rcode, answer count) of one UDP question, or None without an answer."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(struct.pack("!HHHHHH", 4711, 0x0100, 1, 0, 0, 0) + qname +
                 struct.pack("!HH", qtype, 1), ("127.0.0.1", port))
        data = s.recv(4096)
    except OSError:
        return None
    finally:
        s.close()
    flags, _, ancount = struct.unpack("!HHH", data[2:8])
    return flags & 15, ancount


class Unbound:
    def __init__(self, directory):
        self.dir = directory
        self.conf = os.path.join(directory, "unbound.conf")
        self.resolv_conf = os.path.join(directory, "resolv.conf")
        self.logfile = os.path.join(directory, "unbound.log")
        self.proc = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver 127.0.0.1@%d\n" % self.port)
        os.chmod(self.resolv_conf, 0o644)

    def write(self, zones, data):
        with open(self.conf, "w") as f:
            f.write("server:\n")
            for line in ("interface: 127.0.0.1@%d" % self.port, "port: %d" % self.port,
                         "do-daemonize: no", 'chroot: ""', 'username: ""',
                         'directory: "%s"' % self.dir, 'pidfile: ""', "use-syslog: no",
                         'logfile: "%s"' % self.logfile, "verbosity: 1", "do-ip6: no",
                         "num-threads: 1", "access-control: 127.0.0.0/8 allow",
                         'module-config: "iterator"', "cache-max-ttl: 0",
                         "cache-max-negative-ttl: 0"):
                f.write("  %s\n" % line)
            for z in zones:
                name, kind = z.split()
                f.write('  local-zone: "%s" %s\n' % (name, kind))
            for d in data:
                # a record with quoted strings (TXT) goes in single quotes, as unbound wants
                quote = "'" if '"' in d else '"'
                f.write("  local-data: %s%s%s\n" % (quote, d, quote))
            f.write("remote-control:\n  control-enable: no\n")

    def wait(self, probe):
        """True once the server gives probe's (name, qtype) an answer with records."""
        end = time.time() + 10
        while time.time() < end:
            got = query(self.port, *probe)
            if got is not None and got[0] == 0 and got[1] > 0:
                return True
            time.sleep(0.05)
        return False

    def start(self, zones, data, probe):
        self.write(zones, data)
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self.wait(probe)

    def reload(self, zones, data, probe):
        """New zones and records; true once probe is answered from them."""
        self.write(zones, data)
        self.proc.send_signal(signal.SIGHUP)
        return self.wait(probe)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None
