"""Graceful stop: SIGTERM/SIGINT exit 0 within 2 s, in-flight requests finish,
and the daemon is clean under valgrind."""
import asyncio
import json
import os
import shutil
import signal
import threading
import time

import pytest
import requests
import websockets

from conftest import AUTH_KEY, ROOT, register_db, wait_for


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero_within_two_seconds(daemon, sig):
    assert daemon.get("/healthz").status_code == 200
    rc, elapsed = daemon.stop(sig)
    assert rc == 0, daemon.logs()
    assert elapsed < 2.0
    assert "pgfleet stopped" in daemon.logs()


def test_in_flight_request_finishes_before_exit(daemon, redis):
    # make Redis slow so /readyz is in flight when SIGTERM arrives
    threading.Thread(target=redis.cli, args=("DEBUG", "SLEEP", "0.8"), daemon=True).start()
    time.sleep(0.1)
    result = {}

    def call():
        result["resp"] = requests.get(daemon.url + "/readyz", timeout=5)
    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.2)
    rc, elapsed = daemon.stop(signal.SIGTERM)
    t.join(5)
    assert rc == 0 and elapsed < 2.0
    assert result["resp"].status_code == 200, result["resp"].text
    assert "waiting up to" in daemon.logs()


def test_new_connections_refused_while_draining(daemon, redis):
    threading.Thread(target=redis.cli, args=("DEBUG", "SLEEP", "1"), daemon=True).start()
    time.sleep(0.1)
    t = threading.Thread(target=lambda: requests.get(daemon.url + "/readyz", timeout=5))
    t.start()
    time.sleep(0.2)
    daemon.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "SIGTERM received" in daemon.logs(), timeout=5, what="the signal handled")
    with pytest.raises(requests.ConnectionError):
        requests.get(daemon.url + "/healthz", timeout=2)
    t.join(5)
    rc, _ = daemon.stop()
    assert rc == 0


def test_shutdown_with_open_websockets(daemon):
    async def go():
        ws = await websockets.connect(daemon.ws_url, additional_headers={"X-API-Key": AUTH_KEY})
        await ws.recv()
        return ws
    loop = asyncio.new_event_loop()
    ws = loop.run_until_complete(go())
    rc, elapsed = daemon.stop(signal.SIGTERM)
    assert rc == 0 and elapsed < 2.0
    loop.run_until_complete(ws.close())
    loop.close()


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
def test_clean_under_valgrind(daemon_factory, redis, workdir, pg_server):
    plain = os.environ.get("PGFLEET_BIN_PLAIN", str(ROOT / "build" / "pgfleet"))
    if not os.path.exists(plain):
        pytest.skip(f"no non-sanitized binary at {plain} (valgrind cannot run ASan builds)")
    vlog = os.path.join(workdir, "valgrind.log")
    from awshelp import BASE_ENV, Moto
    moto = Moto()
    moto.client("secretsmanager").create_secret(Name="s", SecretString="x")
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url,
                        "AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                        "PGFLEET_HEARTBEAT_SECONDS": "1", "PGFLEET_SHUTDOWN_GRACE_MS": "1500",
                        "PGFLEET_DB_VG_PW": "pw", "PGFLEET_HEALTH_INTERVAL_SECONDS": "1",
                        "PGFLEET_LOG_DIRS": "/var/tmp,/tmp"},
                       binary=plain,
                       wrapper=["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                                "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                                f"--log-file={vlog}"],
                       start=False)
    d.start(timeout=60)
    assert d.get("/api/models/test", auth=True).json()["ok"] is True
    d.post("/api/models/database/validate", data="{bad", headers={"Content-Type": "application/json"})
    d.post("/api/models/database/validate", data=json.dumps({"port": 0}),
           headers={"Content-Type": "application/json"})
    d.get("/api/openapi.json", auth=True)
    assert d.get("/api/aws/test", auth=True, timeout=60).json()["ok"] is True
    # a real PostgreSQL target: pool, probes, and a failing one
    pgs = pg_server()
    try:
        pgs.sql("CREATE ROLE app LOGIN PASSWORD 'pw'")
        for ident, port in (("ok", pgs.port), ("down", 1)):
            register_db(d, ident, port=port, user="app", env="PGFLEET_DB_VG_PW")
        assert d.get("/api/databases/test", auth=True, timeout=60).json()["count"] == 2
        # migrations, a stream's whole life, log events, history: the newer paths too
        pgs.sql("ALTER ROLE app SUPERUSER REPLICATION")
        for db in ("va", "vb"):
            pgs.sql(f"CREATE DATABASE {db} OWNER app")
            pgs.sql("CREATE TABLE t (id int PRIMARY KEY)", db=db)
            register_db(d, db, pgs, db, "app", env="PGFLEET_DB_VG_PW", logs={"file": os.path.join(pgs.dir, "log")})
        pgs.sql("INSERT INTO t SELECT generate_series(1, 10)", db="va")
        r = d.post("/api/migrations/execute", data=json.dumps({
            "name": "vg", "sql": "CREATE TABLE vg (id int); SELECT 1;", "database_ids": ["va", "vb"]}),
            headers={"Content-Type": "application/json"}, timeout=60)
        ex = r.json()["execution_id"]
        wait_for(lambda: d.get(f"/api/migrations/{ex}", auth=True, timeout=60).json()["status"] == "succeeded",
                 timeout=60, what="the migration under valgrind")
        body = {"source_database_id": "va", "target_database_id": "vb", "tables": ["t"]}
        assert d.post("/api/replication/validate", data=json.dumps(body),
                      headers={"Content-Type": "application/json"}, timeout=60).json()["ok"] is True
        r = d.post("/api/replication/create", data=json.dumps(body),
                   headers={"Content-Type": "application/json"}, timeout=60)
        sid = r.json()["id"]
        wait_for(lambda: d.get(f"/api/replication/streams/{sid}", auth=True, timeout=60).json()["state"] == "streaming",
                 timeout=90, what="the stream under valgrind")
        assert d.request("DELETE", f"/api/replication/streams/{sid}", data="{}",
                         headers={"Content-Type": "application/json"}, timeout=60).status_code == 200
        d.get("/api/replication/history", auth=True, timeout=60)
        d.get("/api/replication/events?severity=critical", auth=True, timeout=60)
        d.get("/api/replication/streams", auth=True, timeout=60)
    finally:
        pgs.stop()  # the daemon goes on with its targets down
    moto.stop()  # and once more with AWS gone: transport errors, retries, timers
    assert d.get("/api/aws/test", auth=True, timeout=60).json()["ok"] is False
    d.get("/")
    d.get("/nope")

    async def ws():
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as c:
            await c.recv()
            await c.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
            await c.recv()
            await asyncio.wait_for(c.recv(), 5)
    asyncio.run(ws())
    redis.stop()
    wait_for(lambda: d.get("/readyz").status_code == 503, timeout=20, what="redis down")
    rc, _ = d.stop(signal.SIGTERM, timeout=30)
    report = open(vlog).read()
    assert rc == 0, report[-3000:]
    assert "ERROR SUMMARY: 0 errors" in report, report[-3000:]
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, report[-3000:]
