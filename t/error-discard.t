#!/usr/bin/python3
"""error-discard.t - the error, retry and discard transports of transport_maps (Postfix's
error(8) and discard(8)): "error:5.1.1 text" bounces with that code and text, "error:" with
5.0.0, the retry service defers, "discard:" says delivered (the next hop, by default the domain, as the reason) and delivers
nothing; each logged
with relay=none, as Postfix does."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from instance import Instance  # noqa: E402
from outbound import outcome, send  # noqa: E402
from tap import TAP  # noqa: E402

t = TAP()
routes = {"gone.example": "error:5.1.1 this domain no longer takes mail",
          "bare.example": "error:",
          "wrongclass.example": "error:4.7.1 text with a code of the wrong class",
          "later.example": "retry:4.3.2 come back tomorrow",
          "void.example": "discard:",
          "quiet.example": "discard:2.1.5 kept nowhere"}
i = Instance(services=Instance.DEFAULT_SERVICES +
             "error unix - - n - - error\n"
             "retry unix - - n - - error\n"
             "discard unix - - n - - discard\n",
             main="transport_maps = inline:{ %s }\n" %
                  ", ".join("{%s=%s}" % kv for kv in routes.items()))
try:
    t.ok(i.start(), "an instance with the error, retry and discard services starts")

    qid = send(i, "", ["a@gone.example"])
    t.like(outcome(i, qid, "a@gone.example"), "relay=none, ",
           "error: relay=none")
    t.like(outcome(i, qid, "a@gone.example"),
           "dsn=5.1.1, status=bounced (this domain no longer takes mail)",
           "  bounced with the next hop's code and text")
    qid = send(i, "", ["a@bare.example"])
    t.like(outcome(i, qid, "a@bare.example"), "dsn=5.0.0, status=bounced (",
           "error: without a code: 5.0.0")
    qid = send(i, "", ["a@wrongclass.example"])
    t.like(outcome(i, qid, "a@wrongclass.example"),
           "dsn=5.0.0, status=bounced (4.7.1 text with a code of the wrong class)",
           "a 4.x.x code on error: is text, and the class stays 5")

    qid = send(i, "", ["a@later.example"])
    t.like(outcome(i, qid, "a@later.example"),
           "relay=none, ", "retry: relay=none")
    t.like(outcome(i, qid, "a@later.example"),
           "dsn=4.3.2, status=deferred (come back tomorrow)", "  deferred with the code and text")
    t.ok(qid in i.queue_files("deferred"), "  and the message waits in the deferred queue")

    qid = send(i, "", ["a@void.example", "b@quiet.example"])
    t.like(outcome(i, qid, "a@void.example"), "relay=none, ", "discard: relay=none")
    t.like(outcome(i, qid, "a@void.example"), "dsn=2.0.0, status=sent (void.example)",
           "  status=sent with the next hop (the domain) as the reason, as Postfix's")
    t.like(outcome(i, qid, "b@quiet.example"), "dsn=2.1.5, status=sent (kept nowhere)",
           "discard:2.1.5 text: its code and text")
    t.ok(qid not in i.queue_files(), "  and the message is gone from the queue")
    log = i.log()
    t.ok("panic" not in log and "fatal" not in log, "no panic or fatal error in the log")
finally:
    i.cleanup()
t.done()
