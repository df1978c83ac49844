"""bench/ui: the topology page with 300 servers in headless Chromium. The daemon is real; its
answers for the databases and the topology, and the WebSocket, are replaced (Playwright
routes) by a synthetic fleet: 100 primaries, each with a standby and a cascade, 50 logical
edges, 300 slots. Measures the time to the first drawn graph and, while metrics arrive every
second for 15 s (lag changing on every edge), the frame times and the long tasks.

    topology.py URL AUTH_KEY [ROUNDS]      prints one JSON line per round
"""
import json
import random
import statistics
import sys
import time

from playwright.sync_api import sync_playwright

URL, KEY = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3


def fleet(seed):
    rnd = random.Random(seed)
    nodes, edges, slots, dbs = [], [], [], []
    for p in range(100):
        ids = [f"10.{p // 50}.{p % 50}.{k}:5432" for k in range(3)]
        for k, nid in enumerate(ids):
            nodes.append({"id": nid, "host": nid.split(":")[0], "port": 5432, "managed": True, "reachable": True,
                          "role": "primary" if k == 0 else "standby", "server_version": "15.8",
                          "cluster_id": f"cluster-{p // 10}" if p < 30 else None})
            dbs.append({"id": f"db-{p:03d}-{k}", "name": f"shop-{p:03d}-{k}", "host": nid.split(":")[0],
                        "port": 5432, "dbname": "app", "user": "monitor", "tags": [f"team-{p % 5}"],
                        "credentials": {"source": "secretsmanager", "secret_id": f"pgfleet/x/{p}"},
                        "health": {"state": "ok", "latency_ms": 1.2}})
        for k, (a, b) in enumerate([(ids[0], ids[1]), (ids[1], ids[2])]):
            slot = f"standby_{p}_{k}"
            edges.append({"kind": "physical", "from": a, "to": b, "state": "streaming", "slot": slot,
                          "lag_bytes": rnd.randint(0, 10 ** 7), "lag_seconds": rnd.random() * 5})
            slots.append({"node": a, "name": slot, "type": "physical", "active": True,
                          "retained_wal_bytes": rnd.randint(0, 10 ** 8), "wal_status": "reserved"})
        slots.append({"node": ids[0], "name": f"logical_{p}", "type": "logical", "active": p % 2 == 0,
                      "retained_wal_bytes": rnd.randint(0, 10 ** 9), "wal_status": "reserved"})
        if p % 2 == 0:
            edges.append({"kind": "logical", "from": ids[0], "to": f"10.{(p + 1) // 50}.{(p + 1) % 50}.0:5432",
                          "state": "streaming", "subscription": f"sub_{p}", "slot": f"logical_{p}",
                          "lag_bytes": rnd.randint(0, 10 ** 6), "lag_seconds": None})
    return ({"nodes": nodes, "edges": edges, "slots": slots, "collected_at": "2026-12-01T10:00:00Z"},
            {"databases": dbs, "count": len(dbs)})


def one_round(browser, r):
    topo, dbs = fleet(r)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sockets = []

    def on_ws(ws):
        sockets.append(ws)
        ws.on_message(lambda m: None)
        ws.send(json.dumps({"type": "welcome", "authenticated": True, "role": "admin"}))

    page.route("**/api/replication/discover", lambda route: route.fulfill(json=topo))
    page.route("**/api/databases", lambda route: route.fulfill(json=dbs))
    page.route_web_socket("**/ws", on_ws)
    page.goto(f"{URL}/login#key={KEY}")
    page.wait_for_url(f"{URL}/")
    t0 = time.monotonic()
    page.goto(f"{URL}/#/topology")
    page.wait_for_function("document.querySelector('#topo-summary') && "
                           "document.querySelector('#topo-summary').textContent.startsWith('300 servers')",
                           timeout=60000)
    first = page.evaluate("performance.getEntriesByType('navigation')[0] ? performance.now() : 0")
    first_wall = (time.monotonic() - t0) * 1000
    page.evaluate("""() => {
        window.__frames = []; window.__long = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
            .observe({ entryTypes: ['longtask'] });
        let last = performance.now();
        const tick = (t) => { window.__frames.push(t - last); last = t; if (!window.__stop) requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
    }""")
    rnd = random.Random(r)
    for i in range(15):
        for e in topo["edges"]:
            e["lag_bytes"] = rnd.randint(0, 10 ** 7)
        for s in sockets:
            s.send(json.dumps({"type": "event", "topic": "metrics", "ts": "", "data": topo}))
        page.wait_for_timeout(1000)
    out = page.evaluate("() => { window.__stop = true; return { frames: window.__frames, long: window.__long }; }")
    page.close()
    frames = sorted(out["frames"][1:])
    return {"first_render_ms": round(first_wall), "first_render_page_ms": round(first),
            "frames": len(frames), "frame_median_ms": round(statistics.median(frames), 1),
            "frame_p95_ms": round(frames[int(len(frames) * 0.95)], 1), "frame_max_ms": round(frames[-1], 1),
            "long_tasks": len(out["long"]), "long_task_total_ms": round(sum(out["long"]))}


with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-dev-shm-usage"])
    for r in range(ROUNDS):
        print(json.dumps(one_round(b, r)), flush=True)
    b.close()
