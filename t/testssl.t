#!/usr/bin/python3
"""testssl.t - testssl.sh (Debian's) checks every vulnerability it knows against port 465
(TLS from the first byte) and against 25 and 587 in STARTTLS mode, and reports none; it
also checks that no protocol older than TLS 1.2 is offered where TLS is mandatory. No DNS
query is made (--nodns none)."""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpd_harness import Instance, tls_owner  # noqa: E402
from tap import TAP  # noqa: E402
from tlsca import TestCA  # noqa: E402

t = TAP()
if not shutil.which("testssl"):
    t.skip_all("testssl.sh is not installed (tools/setup-deps installs it)")


def testssl(root, name, port, starttls):
    """testssl's findings as {id: (severity, finding)} from its JSON output."""
    out = os.path.join(root, "testssl-%s.json" % name)
    cmd = ["testssl", "--quiet", "--nodns", "none", "--warnings", "off", "--color", "0",
           "--protocols", "--vulnerable", "--jsonfile", out]
    if starttls:
        cmd += ["--starttls", "smtp"]
    cmd.append("127.0.0.1:%d" % port)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        with open(out) as f:
            found = json.load(f)
    except (OSError, ValueError):
        t.diag(r.stdout[-2000:] + r.stderr[-2000:])
        return {}
    return {x["id"]: (x["severity"], x["finding"]) for x in found}


BAD = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


def check(name, found, mandatory):
    t.ok(found, "%s: testssl.sh ran" % name)
    vulns = {k: v for k, v in found.items() if v[0] in BAD and not k.startswith("TLS1")
             and k not in ("SSLv2", "SSLv3")}
    t.is_eq(vulns, {}, "%s: no vulnerability reported" % name)
    offered = [p for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
               if p in found and re.search(r"^offered", found[p][1])]
    t.is_eq(offered, [], "%s: no SSL, no TLS 1.0 or 1.1 offered" % name)
    if mandatory:
        t.ok("TLS1_2" in found and "offered" in found["TLS1_2"][1] and
             "TLS1_3" in found and "offered" in found["TLS1_3"][1],
             "%s: TLS 1.2 and 1.3 offered" % name)


def main(root):
    cadir = TestCA(os.path.join(root, "ca"))
    cadir.give_key(tls_owner())
    main_cf = ("mydestination = example.org\nlocal_recipient_maps =\n"
               "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n" % (cadir.cert, cadir.key))
    inst = Instance(root, main_cf,
                    services={"mx": "-o smtpd_tls_security_level=may",
                              "sub": ("submission", ""),
                              "subs": ("submission", "-o smtpd_tls_wrappermode=yes")},
                    extra_master="tlsproxy unix - - n - 0 tlsproxy\n")
    err = inst.start()
    t.ok(err is None, "postern starts")
    if err:
        t.diag(err)
        return
    try:
        targets = [("465", inst.ports["subs"], False, True), ("587", inst.ports["sub"], True, True),
                   ("25", inst.ports["mx"], True, False)]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            found = list(pool.map(lambda x: testssl(root, x[0], x[1], x[2]), targets))
        for (name, _, _, mandatory), result in zip(targets, found):
            check(name, result, mandatory)
    finally:
        inst.stop()


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
sys.exit(t.done())
