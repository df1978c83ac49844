"""The smoke suite `make deploy-test` runs against the container: sign in (API key and a
password user from the emulator's Secrets Manager), register a database, see the topology,
run a migration, receive a WebSocket event, read /metrics. Prints one line per check and
exits 1 when one fails.

    smoke.py URL AUTH_KEY USER PASSWORD PRIMARY_PORT STANDBY_PORT
"""
import asyncio
import json
import sys
import time

import requests
import websockets

URL, KEY, USER, PASSWORD = sys.argv[1:5]
PRIMARY, STANDBY = int(sys.argv[5]), int(sys.argv[6])
failed = 0


def check(name, fn):
    global failed
    t0 = time.monotonic()
    try:
        detail = fn() or ""
        print(f"  pass  {name} ({(time.monotonic() - t0) * 1000:.0f} ms) {detail}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
        failed += 1
        print(f"  FAIL  {name}: {e}", flush=True)


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
            if v:
                return v
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


admin = requests.Session()


def signin_key():
    r = admin.post(URL + "/auth/login", json={"method": "api_key", "key": KEY}, timeout=10)
    assert r.status_code == 200, r.text
    admin.headers["X-CSRF-Token"] = r.json()["csrf"]
    return f"role {r.json()['role']}"


def signin_password():
    s = requests.Session()
    r = s.post(URL + "/auth/login", json={"method": "password", "username": USER, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    assert s.get(URL + "/api/auth/status", timeout=10).json()["user"] == USER
    return f"{USER} as {r.json()['role']}"


def register():
    for name, port in (("primary", PRIMARY), ("standby", STANDBY)):
        body = {"id": name, "name": f"smoke {name}", "host": "127.0.0.1", "port": port, "dbname": "app",
                "user": "pgfleet", "credentials": {"source": "secretsmanager", "secret_id": f"pgfleet/dev/{name}"}}
        r = admin.post(URL + "/api/databases", json=body, timeout=30)
        assert r.status_code in (201, 409), r.text
    wait(lambda: all(d["health"]["state"] == "ok" for d in admin.get(URL + "/api/databases", timeout=10).json()["databases"]),
         30, "both databases ok")


def topology():
    t = wait(lambda: (lambda t: t if t["edges"] else None)(admin.get(URL + "/api/replication/discover", timeout=10).json()),
             30, "an edge in the topology")
    e = t["edges"][0]
    return f"{len(t['nodes'])} nodes, edge {e['from']} -> {e['to']} {e['state']}"


def migration():
    body = {"name": f"smoke_{int(time.time())}", "sql": "CREATE TABLE IF NOT EXISTS pgfleet_smoke (id int); DROP TABLE pgfleet_smoke;",
            "database_ids": ["primary"]}
    r = admin.post(URL + "/api/migrations/execute", json=body, timeout=30)
    assert r.status_code == 202, r.text
    ex = r.json()["execution_id"]
    rec = wait(lambda: (lambda m: m if m["status"] != "running" else None)(
        admin.get(URL + f"/api/migrations/{ex}", timeout=10).json()), 30, "the migration to end")
    assert rec["status"] == "succeeded", rec
    return ex


def websocket():
    async def go():
        async with websockets.connect(URL.replace("http", "ws") + "/ws") as ws:
            await ws.recv()  # welcome
            await ws.send(json.dumps({"type": "auth", "key": KEY}))
            await ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat", "metrics"]}))
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if m.get("type") == "event":
                    return m["topic"]
    return "first event on " + asyncio.run(go())


def metrics():
    r = admin.get(URL + "/metrics", timeout=10)
    assert r.status_code == 200 and "pgfleet_replication_lag_bytes" in r.text, r.text[:200]
    return f"{len(r.text.splitlines())} lines"


for name, fn in [("sign in with the API key", signin_key), ("sign in with a password", signin_password),
                 ("register two databases", register), ("see the topology", topology),
                 ("run a migration", migration), ("a WebSocket event", websocket), ("/metrics", metrics)]:
    check(name, fn)
sys.exit(1 if failed else 0)
