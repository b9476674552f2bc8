"""dovecot.py - a real Dovecot (Debian's dovecot-core) for the SASL tests: `dovecot -F` with
a passwd-file passdb and an auth listener in the test's directory, nothing else."""
import os
import signal
import socket
import subprocess

from instance import group_alive, wait_for


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


DOVECOT_CONF = """base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechs}
auth_anonymous_username = anonymous
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service anvil {{
  # no auth penalty: failures here are on purpose, and their delays would only slow the test
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {root}/auth {{
    mode = 0666
  }}
}}
"""


def connectable(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Dovecot:
    """dovecot -F with the test's configuration; start() waits for its auth socket"""

    def __init__(self, root, mechs):
        self.root, self.proc = root, None
        self.conf = write(os.path.join(root, "dovecot.conf"),
                          DOVECOT_CONF.format(root=root, mechs=mechs))
        self.sock = os.path.join(root, "auth")

    def start(self, diag=print):
        """True once the auth socket answers; else False, with what went wrong to diag"""
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait_for(lambda: self.proc.poll() is not None or connectable(self.sock), 30) and \
                self.proc.poll() is None:
            return True
        if self.proc.poll() is not None:
            diag("dovecot exited: %s" % self.proc.stderr.read())
        diag("dovecot did not start: %s" % self.log())
        return False

    def stop(self):
        """the master and every process it started (its session), all gone"""
        if self.proc is None:
            return
        pgid = self.proc.pid
        os.killpg(pgid, signal.SIGTERM)
        if not wait_for(lambda: not group_alive(pgid), 30):
            os.killpg(pgid, signal.SIGKILL)
            wait_for(lambda: not group_alive(pgid), 30)
        self.proc.wait()
        self.proc.stderr.close()
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.root, "dovecot.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"
