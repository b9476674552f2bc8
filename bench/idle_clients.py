#!/usr/bin/env python3
"""bench/idle_clients.py - workload W3's client: N SMTP connections that say EHLO and sit idle.

Usage: idle_clients.py [--tls] HOST:PORT COUNT TIMEOUT

Opens COUNT connections at once (asyncio, stdlib only). Each must get its 220 greeting and a
250 reply to EHLO before TIMEOUT seconds from the start; such a connection is "served" and
stays open, idle. With --tls (workload W3T) a connection is served only once it has also
sent STARTTLS, got 220, completed the TLS handshake (Python's ssl module as a normal client:
TLS 1.2 or 1.3, no certificate verification, as the bench's certificate is self-signed) and
got 250 to a second EHLO inside TLS; then it sits idle with the TLS session established. When every connection is served or has failed, one JSON line goes to
stdout (attempted, served, and why the others failed); then the connections stay open until
a line (or EOF) arrives on stdin, and are closed. bench/run measures the MTA meanwhile.

Raises its RLIMIT_NOFILE to the hard limit. Beyond 20,000 connections the source addresses
rotate over 127.0.0.1-127.0.0.8 so the local port range does not run out. Loopback only.
"""

import asyncio
import json
import resource
import socket
import ssl
import struct
import sys
import time

PER_SOURCE = 20000
LINE_LIMIT = 4096


async def read_reply(reader):
    """The code of one SMTP reply (all its lines); raises on EOF or a long line."""
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n") or len(line) > LINE_LIMIT:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            return line[:3].decode("ascii", "replace")


STAGES = ("connect", "greeting", "ehlo", "starttls", "handshake", "ehlo_tls")


def tls_context():
    """A client context as a normal client's, minus certificate verification."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def command(reader, writer, line, want, what):
    writer.write(line)
    await writer.drain()
    code = await read_reply(reader)
    if code != want:
        raise ConnectionError("%s %s" % (what, code))


async def one(host, port, source, deadline, results, keep, tls):
    remaining = deadline - time.monotonic()
    stage = "connect"
    try:
        async def talk():
            nonlocal stage
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            keep.append(writer)
            stage = "greeting"
            code = await read_reply(reader)
            if code != "220":
                raise ConnectionError("greeting " + code)
            stage = "ehlo"
            await command(reader, writer, b"EHLO bench.client\r\n", "250", "EHLO")
            if tls:
                stage = "starttls"
                await command(reader, writer, b"STARTTLS\r\n", "220", "STARTTLS")
                stage = "handshake"
                await writer.start_tls(tls, server_hostname="bench.localdomain")
                stage = "ehlo_tls"
                await command(reader, writer, b"EHLO bench.client\r\n", "250", "EHLO in TLS")

        await asyncio.wait_for(talk(), max(remaining, 0.001))
        results["served"] += 1
    except asyncio.TimeoutError:
        results["timeout_" + stage] += 1
    except (OSError, ssl.SSLError) as e:
        key = "error_" + stage
        results[key] += 1
        results.setdefault("last_error", str(e))


async def main(host, port, count, timeout, tls):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if count + 100 > hard:
        print("idle_clients: RLIMIT_NOFILE %d is too low for %d connections" % (hard, count),
              file=sys.stderr)
    results = {"attempted": count, "served": 0}
    for stage in STAGES if tls else STAGES[:3]:
        results["timeout_" + stage] = 0
        results["error_" + stage] = 0
    keep = []
    start = time.monotonic()
    deadline = start + timeout
    sources = ["127.0.0.%d" % (1 + i // PER_SOURCE % 8) for i in range(count)]
    await asyncio.gather(*(one(host, port, s, deadline, results, keep, tls) for s in sources))
    results["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(results), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    # Reset instead of a clean close: otherwise each connection leaves a client-side
    # TIME_WAIT for a minute, and a run that follows soon has no source ports left.
    linger = struct.pack("ii", 1, 0)
    for writer in keep:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        writer.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    use_tls = args[:1] == ["--tls"]
    if use_tls:
        args = args[1:]
    if len(args) != 3:
        sys.exit("usage: idle_clients.py [--tls] HOST:PORT COUNT TIMEOUT")
    address, count, timeout = args[0], int(args[1]), float(args[2])
    host, _, port = address.rpartition(":")
    asyncio.run(main(host, int(port), count, timeout, tls_context() if use_tls else None))
