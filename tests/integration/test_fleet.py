"""Large fleets: discovery visits only the databases whose facts cannot be read instance-wide,
the database list pages and filters from memory, a WebSocket metrics event carries only what
changed, and one connection per server can probe all its databases."""
import asyncio
import json
import subprocess
import time

import pytest
import websockets

from conftest import AUTH_KEY, JSON, PGFLEET_BIN, register_db, wait_for

PW = "monitor-pw-fleet"
DBS = [f"fleet{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def server(pg_servers):
    """Twelve databases; fleet00 holds a logical slot and a publication, nothing subscribes."""
    s = pg_servers(settings={"max_replication_slots": 5})
    s.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
    for db in DBS:
        s.sql(f"CREATE DATABASE {db}")
    s.sql("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t", db="fleet00")
    s.sql("SELECT pg_create_logical_replication_slot('idle_slot', 'pgoutput')", db="fleet00")
    return s


def start(daemon_factory, redis, **env):
    return daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                           "PGFLEET_DB_FLEET_PW": PW, "PGFLEET_COLLECT_INTERVAL_SECONDS": "1",
                           "PGFLEET_HEALTH_INTERVAL_SECONDS": "1", **env})


def register_all(d, server):
    for i, db in enumerate(DBS):
        register_db(d, db, server, db, "monitor", env="PGFLEET_DB_FLEET_PW",
                    tags=["even" if i % 2 == 0 else "odd"])


def sessions(server, db):
    return int(server.sql(f"SELECT sessions FROM pg_stat_database WHERE datname = '{db}'"))


def test_discover_opens_one_connection_per_server(server):
    """A publisher's database (a slot, a publication) is visited only with --inventory."""
    conn = f"host=127.0.0.1 port={server.port} user=monitor password={PW} dbname=postgres"
    before = sessions(server, "fleet00")
    p = subprocess.run([PGFLEET_BIN, "discover", "--json", conn], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    t = json.loads(p.stdout)
    slot = [s for s in t["slots"] if s["name"] == "idle_slot"][0]
    assert slot["database"] == "fleet00" and slot["active"] is False
    assert sessions(server, "fleet00") == before  # not visited
    p = subprocess.run([PGFLEET_BIN, "discover", "--json", "--inventory", conn], capture_output=True,
                       text=True, timeout=60)
    inv = json.loads(p.stdout)["nodes"][0]["inventory"]
    assert [x["name"] for x in inv["fleet00"]["publications"]] == ["p"]
    assert sessions(server, "fleet00") == before + 1


def test_the_database_list_pages_and_filters(server, daemon_factory, redis):
    d = start(daemon_factory, redis)
    register_all(d, server)
    register_db(d, "elsewhere", port=1, user="monitor", env="PGFLEET_DB_FLEET_PW")
    wait_for(lambda: d.get("/api/databases?health=ok", auth=True).json()["total"] == len(DBS),
             timeout=20, what="every reachable database ok")
    whole = d.get("/api/databases", auth=True).json()
    assert whole["count"] == whole["total"] == len(DBS) + 1 and whole["next_offset"] is None
    ids = [x["id"] for x in whole["databases"]]
    pages, offset = [], 0
    while offset is not None:
        page = d.get(f"/api/databases?limit=5&offset={offset}", auth=True).json()
        assert page["count"] <= 5 and page["total"] == len(ids)
        pages += [x["id"] for x in page["databases"]]
        offset = page["next_offset"]
    assert pages == ids  # every database once, in order
    assert {x["id"] for x in d.get("/api/databases?tag=odd", auth=True).json()["databases"]} == set(DBS[1::2])
    assert [x["id"] for x in d.get("/api/databases?name=LEET03", auth=True).json()["databases"]] == ["fleet03"]
    on = d.get(f"/api/databases?server=localhost:{server.port}", auth=True).json()
    assert on["total"] == len(DBS)
    assert [x["id"] for x in d.get("/api/databases?health=unreachable", auth=True).json()["databases"]] == \
        ["elsewhere"]
    node = f"127.0.0.1:{server.port}"
    wait_for(lambda: d.get("/api/replication/status", auth=True).json()["slots"], timeout=10,
             what="a collection")
    st = d.get(f"/api/replication/status?node={node}&limit=1", auth=True).json()
    assert [n["id"] for n in st["nodes"]] == [node] and st["slots_total"] == 1 and len(st["slots"]) == 1
    assert d.get("/api/replication/status?node=nowhere:1", auth=True).json()["slots"] == []
    assert d.get("/api/replication/discover?limit=0", auth=True).status_code == 422
    conns = whole["connections"]
    assert conns["health_connections"] == "database" and conns["open"] >= len(DBS)
    for bad in ("limit=0", "limit=abc", "offset=-1", "health=fine"):
        r = d.get(f"/api/databases?{bad}", auth=True)
        assert r.status_code == 422 and r.json()["error"]["message"], bad


def test_metrics_events_carry_only_what_changed(server, daemon_factory, redis):
    d = start(daemon_factory, redis)
    register_all(d, server)

    async def events(n):
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "topics": ["metrics"]}))
            got = []
            while len(got) < n:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("type") == "event":
                    got.append(msg["data"])
            return got
    wait_for(lambda: d.get("/api/replication/status", auth=True).json()["nodes"], timeout=10,
             what="a first collection")
    got = asyncio.run(events(4))
    assert got[0]["full"] is True and got[0]["nodes"][0]["key"] == f"127.0.0.1:{server.port}"
    later = got[1:]
    assert all(e["full"] is False and "removed" in e for e in later)
    # the slot's numbers and the node do not change between collections: not sent again
    assert any(not e["nodes"] and not e["slots"] for e in later), later
    assert all(e["cycles"] > got[0]["cycles"] - 1 for e in later)


def test_one_connection_per_server_probes_all_its_databases(server, daemon_factory, redis):
    d = start(daemon_factory, redis, PGFLEET_HEALTH_CONNECTIONS="server")
    register_all(d, server)
    wait_for(lambda: d.get("/api/databases?health=ok", auth=True).json()["total"] == len(DBS),
             timeout=20, what="every database ok through the shared connection")

    def held():
        return int(server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgfleet:%'"))
    wait_for(lambda: held() == 1, timeout=70, what="one session for the whole server")
    assert d.get("/api/databases", auth=True).json()["connections"] == {
        "health_connections": "server", "open": 1, "servers": {f"127.0.0.1:{server.port}": 1}}
    # the database whose connection the others use is changed (its target replaced): the
    # others move to the new one without being seen unreachable
    body = d.get("/api/databases/fleet00", auth=True).json()
    body = {k: body[k] for k in ("name", "host", "port", "dbname", "user", "credentials")}
    body["tags"] = ["changed"]
    for _ in range(5):
        assert d.request("PUT", "/api/databases/fleet00", data=json.dumps(body), headers=JSON).status_code == 200
        for _ in range(10):
            assert d.get("/api/databases?health=unreachable", auth=True).json()["total"] == 0
            time.sleep(0.1)
    # a database gone from the server is seen as gone through the same connection
    server.sql("CREATE DATABASE fleet_tmp")
    register_db(d, "tmp", server, "fleet_tmp", "monitor", env="PGFLEET_DB_FLEET_PW")
    wait_for(lambda: d.get("/api/databases/tmp", auth=True).json()["health"]["state"] == "ok",
             timeout=10, what="the new database ok")
    server.sql("DROP DATABASE fleet_tmp")
    wait_for(lambda: d.get("/api/databases/tmp", auth=True).json()["health"]["state"] == "unreachable",
             timeout=10, what="the dropped database unreachable")
    err = d.get("/api/databases/tmp", auth=True).json()["health"]["error"]["message"]
    assert "does not exist" in err
    # an explicit test still connects as the database itself
    r = d.post("/api/databases/fleet01/test", headers=JSON)
    assert r.status_code == 200 and r.json()["ok"] is True
