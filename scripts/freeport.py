#!/usr/bin/env python3
"""Free TCP ports on 127.0.0.1 for the servers of tests and benchmarks.

Usage: freeport.py [N...]  for each N, the first of N consecutive free ports on a line
                          of its own (one port when no N is given); no two runs overlap

The ports are taken outside the kernel's ephemeral range (ip_local_port_range, 32768-60999
by default): a free port in that range can be taken at any moment as the source port of an
outgoing connection, and a server started there then fails with "address already in use"
(a test environment's OIDC provider did, in CI). Ports 5432-5499, 6379 and 8000 (the usual
homes of PostgreSQL, Redis and `make run`) are never given. Within one process no port is
given twice.
"""
import random
import socket
import sys

LOWEST = 10000
HIGHEST = 65535
AVOID = set(range(5432, 5500)) | {6379, 8000}
_given = set()


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _bases(n):
    """The ranges a run of n ports may start in: below and above the ephemeral range."""
    lo, hi = ephemeral_range()
    out = []
    if lo - n > LOWEST:
        out.append((LOWEST, lo - n))
    if HIGHEST - n > hi:
        out.append((hi + 1, HIGHEST - n + 1))
    return out


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(n=1):
    """The first of n consecutive free ports outside the ephemeral range."""
    bases = _bases(n)
    if not bases:
        raise RuntimeError(f"no room for {n} ports outside the ephemeral range {ephemeral_range()}")
    weights = [b - a for a, b in bases]
    for _ in range(1000):
        a, b = random.choices(bases, weights)[0]
        base = random.randrange(a, b)
        run = range(base, base + n)
        if any(p in AVOID or p in _given for p in run):
            continue
        if all(_free(p) for p in run):
            _given.update(run)
            return base
    raise RuntimeError(f"no run of {n} free ports found outside the ephemeral range")


def free_port():
    return free_port_run(1)


if __name__ == "__main__":
    for n in sys.argv[1:] or ["1"]:
        print(free_port_run(int(n)))
