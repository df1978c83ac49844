"""bench/load's driver: the daemon idle, then under concurrent work (see run.sh)."""
import argparse
import asyncio
import json
import os
import statistics
import threading
import time
import urllib.request
from datetime import datetime, timezone

import websockets

ENDPOINTS = ["/api/databases?limit=50", "/api/replication/status", "/api/replication/streams"]


def http(port, key, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read() or b"null")


def ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Requests the endpoints in turn until stopped; keeps each one's latencies (ms)."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.times = {e: [] for e in ENDPOINTS}
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stop:
            e = ENDPOINTS[i % len(ENDPOINTS)]
            t = time.perf_counter()
            status, _ = http(self.port, self.key, "GET", e)
            assert status == 200, (e, status)
            self.times[e].append((time.perf_counter() - t) * 1000)
            i += 1
            time.sleep(0.01)

    def report(self):
        out = {}
        for e, t in self.times.items():
            t = sorted(t)
            out[e] = (statistics.median(t), t[min(len(t) - 1, int(len(t) * 0.99))], len(t))
        return out


async def follower(port, key, stop, counts, i):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"X-API-Key": key},
                                  max_size=2 ** 24) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "topics": ["topology", "metrics", "health"]}))
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            if json.loads(msg).get("type") == "event":
                counts[i] += 1


def phase(pid, seconds=None, work=None):
    """CPU % of one core and RSS over a sleep or a piece of work; the sampler's figures."""
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.monotonic(), ticks(pid)
    result = work() if work else time.sleep(seconds)
    dt = time.monotonic() - t0
    return (ticks(pid) - c0) / hz / dt * 100, rss_mb(pid), dt, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--idle", type=float, default=20)
    a = ap.parse_args()
    port, key = a.port, a.key

    def all_ok():
        return http(port, key, "GET", "/api/databases?health=ok&limit=1")[1]["total"] == 70
    deadline = time.monotonic() + 60
    while not all_ok():
        assert time.monotonic() < deadline, "databases not ok"
        time.sleep(0.5)
    time.sleep(6)

    idle_sampler = Sampler(port, key)
    idle_sampler.thread.start()
    idle_cpu, idle_rss, _, _ = phase(a.pid, seconds=a.idle)
    idle_sampler.stop = True
    idle_sampler.thread.join()
    idle = idle_sampler.report()

    counts = [0] * 200
    ready = threading.Event()
    stop_flag = threading.Event()

    async def follower_loop():
        stop = asyncio.Event()

        async def watch():
            while not stop_flag.is_set():
                await asyncio.sleep(0.2)
            stop.set()
        tasks = [asyncio.create_task(follower(port, key, stop, counts, i)) for i in range(200)]
        ready.set()
        await asyncio.gather(watch(), *tasks)
    ws_thread = threading.Thread(target=lambda: asyncio.run(follower_loop()), daemon=True)
    ws_thread.start()
    ready.wait(10)

    load_sampler = Sampler(port, key)
    load_sampler.thread.start()

    def work():
        t0 = time.monotonic()
        threads, created = [], []

        def create(i):
            s, body = http(port, key, "POST", "/api/replication/create", {
                "source_database_id": f"src_{i:02d}", "target_database_id": f"copy_{i:02d}",
                "tables": ["orders"], "publication": f"load_pub_{i:02d}",
                "subscription": f"load_sub_{i:02d}"})
            created.append((s, body))
        for i in range(1, 11):
            t = threading.Thread(target=create, args=(i,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        assert all(s == 202 for s, _ in created), created

        def streaming():
            lst = http(port, key, "GET", "/api/replication/streams")[1]
            mine = [s for s in lst["streams"] if (s.get("subscription") or "").startswith("load_sub_")]
            return len(mine) == 10 and all(s.get("state") == "streaming" for s in mine)
        while not streaming():
            assert time.monotonic() - t0 < 300, ("streams not streaming",
                                                 http(port, key, "GET", "/api/replication/streams")[1])
            time.sleep(0.5)
        streams_s = time.monotonic() - t0
        t1 = time.monotonic()
        s, body = http(port, key, "POST", "/api/migrations/execute", {
            "name": "load_test", "parallel": 8,
            "sql": "CREATE TABLE load_t (id int PRIMARY KEY, v text); "
                   "INSERT INTO load_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;",
            "database_ids": [f"app_{i:02d}" for i in range(1, 51)]})
        assert s == 202, body
        ex = body["execution_id"]
        while http(port, key, "GET", f"/api/migrations/{ex}")[1]["status"] == "running":
            time.sleep(0.2)
        status = http(port, key, "GET", f"/api/migrations/{ex}")[1]["status"]
        return streams_s, time.monotonic() - t1, status

    load_cpu, load_rss, load_s, (streams_s, mig_s, mig_status) = phase(a.pid, work=work)
    load_sampler.stop = True
    load_sampler.thread.join()
    stop_flag.set()
    ws_thread.join(10)
    load = load_sampler.report()

    print(f"\nbench/load: 70 databases on 2 servers, {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
    print(f"under load for {load_s:.1f} s: 10 streams created at once, all streaming after "
          f"{streams_s:.1f} s; a migration on 50 databases, parallel 8: {mig_status} in {mig_s:.1f} s;")
    print(f"200 WebSocket clients following topology, metrics, health: "
          f"{min(counts)}-{max(counts)} events each\n")
    print(f"{'':38} {'idle p50':>9} {'p99':>8} {'load p50':>9} {'p99':>8} {'p99 ratio':>9}")
    for e in ENDPOINTS:
        i50, i99, _ = idle[e]
        l50, l99, n = load[e]
        print(f"GET {e:34} {i50:8.2f}  {i99:7.2f}  {l50:8.2f}  {l99:7.2f}  {l99 / i99:8.1f}x  ({n} requests)")
    print(f"\ndaemon CPU: idle {idle_cpu:.2f}% of a core, under load {load_cpu:.2f}% "
          f"({load_cpu / max(idle_cpu, 0.01):.1f}x); RSS idle {idle_rss:.1f} MB, under load {load_rss:.1f} MB "
          f"({load_rss / idle_rss:.2f}x)")


if __name__ == "__main__":
    main()
