#!/usr/bin/python3
"""dest-dead.t - qmgr's concurrency window per destination (lib/mail/dest_window.c,
doc/queue.md): a destination that smtp-out cannot reach for a whole cohort of deliveries is
dead; what waits for it is deferred at once ("delivery temporarily suspended") without a
connection, while other destinations go on; a flush, or minimal_backoff_time later, tries
it again.

The dead destination is a loopback port where nothing listens; the live one is aiosmtpd.
initial_destination_concurrency = 2 makes the cohort two deliveries. Outcomes are read from
qmgr's log lines."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance, free_port, wait_for  # noqa: E402
from outbound import aiosmtpd_server, send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    t.skip_all("needs aiosmtpd (Debian package python3-aiosmtpd; tools/setup-deps)")


def outcomes(i, rcpt):
    return [line for line in i.log().splitlines() if "to=<%s>" % rcpt in line]


def tried(lines):
    """outcomes of a real connection attempt"""
    return [line for line in lines if "(connect to 127.0.0.1" in line]


def suspended(lines):
    return [line for line in lines if "(delivery temporarily suspended: connect to" in line]


def instance(initial, backoff):
    return Instance(services=Instance.DEFAULT_SERVICES + "smtp unix - - n - - smtp-out\n"
                    "showq unix n - n - - showq\n",
                    main="transport_maps = inline:{ down.example=smtp:[127.0.0.1]:%d, "
                    "live.example=smtp:[127.0.0.1]:%d }\n" % (down, live.port) +
                    "initial_destination_concurrency = %d\n" % initial +
                    "minimal_backoff_time = %s\nmaximal_backoff_time = %s\n" % (backoff, backoff) +
                    "queue_run_delay = 3600s\n")


live, _ = aiosmtpd_server()
down = free_port()
# A backoff far longer than the test: the destination stays dead until the flush.
i = instance(2, "3600s")
try:
    t.ok(i.start(), "an instance with smtp-out")

    for n in range(6):
        send(i, "", ["x%d@down.example" % n])
    everyone = lambda: [outcomes(i, "x%d@down.example" % n) for n in range(6)]  # noqa: E731
    t.ok(wait_for(lambda: all(everyone()), 30), "six messages to a dead site: each has an outcome")
    lines = sum(everyone(), [])
    t.is_eq(len(tried(lines)), 2, "two deliveries tried to connect: one cohort")
    t.is_eq(len(suspended(lines)), 4, "the other four deferred at once, without a connection")
    t.ok(all("dsn=4.4.1, status=deferred" in line for line in lines),
         "  all deferred, with the connection's status code")
    t.like(suspended(lines)[0] if suspended(lines) else "",
           "relay=none, delay=", "  relay=none: nobody was asked")

    send(i, "", ["a@live.example"])
    t.ok(wait_for(lambda: [l for l in outcomes(i, "a@live.example") if "status=sent" in l], 30),
         "a live destination is delivered to meanwhile")

    r = i.postern("queue", "flush")
    t.is_eq(r.returncode, 0, "postern queue flush")
    t.ok(wait_for(lambda: len(tried(sum(everyone(), []))) > 2, 30),
         "a flush tries the dead destination again")
    i.cleanup()

    # minimal_backoff_time = 1s: a cohort of one, dead, then tried again without a flush.
    i = instance(1, "1s")
    t.ok(i.start(), "an instance with a backoff of one second")
    send(i, "", ["first@down.example"])
    t.ok(wait_for(lambda: tried(outcomes(i, "first@down.example")), 30), "one failure: dead")

    def tried_late():
        name = "late%d@down.example" % tried_late.n
        tried_late.n += 1
        send(i, "", [name])
        return wait_for(lambda: tried(outcomes(i, name)) or suspended(outcomes(i, name)), 30) \
            and tried(outcomes(i, name))
    tried_late.n = 0
    t.ok(wait_for(tried_late, 60, step=0.5),
         "after minimal_backoff_time a new message is tried again, without a flush")
finally:
    i.cleanup()
    live.stop()
sys.exit(t.done())
