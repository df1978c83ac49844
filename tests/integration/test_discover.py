"""pgfleet discover against a topology built with stock tools: initdb,
pg_basebackup, CREATE PUBLICATION / SUBSCRIPTION."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import PGFLEET_BIN, register_db, wait_for
from pghelp import PGBIN, as_pg

PW = "monitor-pw"


@pytest.fixture(scope="module")
def topo(pg_servers):
    primary = pg_servers.replicating(PW, {"max_wal_senders": 10, "max_replication_slots": 10})
    primary.sql("CREATE DATABASE shop")
    primary.sql("CREATE TABLE orders (id int PRIMARY KEY, v text); CREATE TABLE items (id int PRIMARY KEY)", db="shop")
    primary.sql("CREATE PUBLICATION orders_pub FOR TABLE orders; CREATE PUBLICATION items_pub FOR TABLE items", db="shop")
    standby = pg_servers.standby_of(primary, "standby_a", "monitor", PW)
    cascade = pg_servers.standby_of(standby, "cascade_b", "monitor", PW)
    sub = pg_servers(settings={"max_replication_slots": 10})
    sub.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
    sub.sql("CREATE DATABASE reporting")
    sub.sql("CREATE TABLE orders (id int PRIMARY KEY, v text); CREATE TABLE items (id int PRIMARY KEY)", db="reporting")
    conn = f"host=127.0.0.1 port={primary.port} dbname=shop user=monitor password={PW}"
    sub.sql(f"CREATE SUBSCRIPTION orders_sub CONNECTION '{conn}' PUBLICATION orders_pub", db="reporting")
    sub.sql(f"CREATE SUBSCRIPTION items_sub CONNECTION '{conn}' PUBLICATION items_pub", db="reporting")
    sub.sql("ALTER SUBSCRIPTION items_sub DISABLE", db="reporting")
    # an inactive logical slot that holds WAL back
    primary.sql("SELECT pg_create_logical_replication_slot('forgotten_slot', 'pgoutput')", db="shop")
    primary.sql("INSERT INTO orders SELECT g, repeat('x', 500) FROM generate_series(1, 5000) g", db="shop")
    primary.sql("SELECT pg_switch_wal()")
    wait_for(lambda: sub.sql("SELECT count(*) FROM orders", db="reporting") == "5000", timeout=30,
             what="logical copy")
    wait_for(lambda: cascade.sql("SELECT count(*) FROM orders", db="shop") == "5000", timeout=30,
             what="cascade replay")
    return {"primary": primary, "standby": standby, "cascade": cascade, "sub": sub}


def conninfo(s):
    return f"host=127.0.0.1 port={s.port} user=monitor password={PW} dbname=postgres"


def discover(*servers, as_json=True):
    args = [PGFLEET_BIN, "discover"] + (["--json"] if as_json else []) + [conninfo(s) for s in servers]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p, (json.loads(p.stdout) if as_json and p.stdout.strip() else None)


def nid(s):
    return f"127.0.0.1:{s.port}"


def test_discover_reports_every_node_edge_and_slot(topo):
    p, t = discover(*topo.values())
    assert p.returncode == 0, p.stderr
    nodes = {n["id"]: n for n in t["nodes"]}
    pr, st, ca, su = (topo[k] for k in ("primary", "standby", "cascade", "sub"))
    assert nodes[nid(pr)]["role"] == "primary" and nodes[nid(st)]["role"] == "standby"
    assert nodes[nid(ca)]["role"] == "standby" and nodes[nid(su)]["role"] == "primary"
    assert all(n["managed"] for n in nodes.values()) and len(nodes) == 4
    sysid = nodes[nid(pr)]["system_identifier"]
    assert nodes[nid(st)]["system_identifier"] == sysid == nodes[nid(ca)]["system_identifier"]
    assert nodes[nid(su)]["system_identifier"] != sysid
    assert "shop" in nodes[nid(pr)]["databases"] and nodes[nid(pr)]["timeline"] == 1
    phys = {(e["from"], e["to"]): e for e in t["edges"] if e["kind"] == "physical"}
    assert set(phys) == {(nid(pr), nid(st)), (nid(st), nid(ca))}  # the cascade hangs off the standby
    e = phys[(nid(pr), nid(st))]
    assert e["state"] == "streaming" and e["slot"] == "standby_a" and e["confirmed"] is True
    assert isinstance(e["lag_bytes"], int) and e["replay_lag_seconds"] is not None
    assert phys[(nid(st), nid(ca))]["slot"] == "cascade_b"
    logical = {e["subscription"]: e for e in t["edges"] if e["kind"] == "logical"}
    o = logical["orders_sub"]
    assert (o["from"], o["to"]) == (nid(pr), nid(su))
    assert o["source_database"] == "shop" and o["target_database"] == "reporting"
    assert o["publications"] == ["orders_pub"] and o["enabled"] is True and o["state"] == "streaming"
    assert isinstance(o["lag_bytes"], int) and o["slot"] == "orders_sub"
    i = logical["items_sub"]
    assert i["enabled"] is False and i["state"] == "disabled" and i["lag_bytes"] is None
    slots = {(s["node"], s["name"]): s for s in t["slots"]}
    f = slots[(nid(pr), "forgotten_slot")]
    assert f["type"] == "logical" and f["active"] is False and f["database"] == "shop"
    assert f["retained_wal_bytes"] > 2_000_000  # 5000 rows of WAL held back
    assert f["wal_status"] in ("reserved", "extended")
    assert slots[(nid(pr), "standby_a")]["type"] == "physical" and slots[(nid(pr), "standby_a")]["active"]
    assert slots[(nid(st), "cascade_b")]["active"] is True
    assert slots[(nid(pr), "orders_sub")]["active"] is True
    # the subscriber's database was visited for its initial-sync states (it has subscriptions)
    assert o["sync"] == {"tables": 1, "ready": 1, "not_ready": []}
    # only the subscriber's: the publisher's database (a slot, publications) waits for --inventory
    assert "reporting" in nodes[nid(su)]["inventory"] and "inventory" not in nodes[nid(pr)]


def test_inventory_lists_publication_tables_of_every_database(topo):
    pr = topo["primary"]
    args = [PGFLEET_BIN, "discover", "--json", "--inventory", conninfo(pr), conninfo(topo["sub"])]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    t = json.loads(p.stdout)
    inv = [n for n in t["nodes"] if n["id"] == nid(pr)][0]["inventory"]
    assert set(inv) >= {"postgres", "shop"}  # every database, not only those with slots
    pubs = {x["name"]: x for x in inv["shop"]["publications"]}
    assert pubs["orders_pub"]["tables"] == ["public.orders"] and pubs["orders_pub"]["all_tables"] is False
    assert pubs["items_pub"]["tables"] == ["public.items"]
    assert inv["postgres"]["publications"] == []
    rels = [n for n in t["nodes"] if n["id"] == nid(topo["sub"])][0]["inventory"]["reporting"]["subscription_tables"]
    assert {(r["subscription"], r["table_name"], r["state"]) for r in rels} >= {("orders_sub", "orders", "ready")}
    tree = subprocess.run([PGFLEET_BIN, "discover", conninfo(pr), conninfo(topo["sub"])],
                          capture_output=True, text=True, timeout=60).stdout
    assert "1/1 tables ready" in tree


def test_discover_from_only_a_cascading_standby(topo):
    p, t = discover(topo["cascade"])
    assert p.returncode == 0
    nodes = {n["id"]: n for n in t["nodes"]}
    up = nodes[nid(topo["standby"])]
    assert up["managed"] is False and up["role"] is None
    e = [e for e in t["edges"] if e["kind"] == "physical"][0]
    assert e["from"] == nid(topo["standby"]) and e["to"] == nid(topo["cascade"])
    assert e["state"] == "streaming" and e["lag_bytes"] is None  # the upstream was not read


def test_lag_is_unknown_when_the_upstream_is_stopped(topo):
    st, ca = topo["standby"], topo["cascade"]
    st.stop()
    try:
        wait_for(lambda: ca.sql("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == "0",
                 timeout=30, what="cascade loses its upstream")
        p, t = discover(st, ca)
        assert p.returncode == 19 and f"could not reach {nid(st)}" in p.stderr
        e = [e for e in t["edges"] if e["kind"] == "physical"][0]
        assert e["from"] == nid(st) and e["to"] == nid(ca)
        assert e["state"] != "streaming" and e["lag_bytes"] is None and e["replay_lag_seconds"] is None
        unreachable = [n for n in t["nodes"] if n["id"] == nid(st)][0]
        assert unreachable["reachable"] is False
    finally:
        st.start()


def test_tree_output_and_bad_arguments(topo):
    st, ca = nid(topo["standby"]), nid(topo["cascade"])
    wait_for(lambda: {(e["to"], e["state"]) for e in discover(*topo.values())[1]["edges"]
                      if e["kind"] == "physical"} == {(st, "streaming"), (ca, "streaming")},
             timeout=30, what="both standbys streaming again")
    p, _ = discover(*topo.values(), as_json=False)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    pr = nid(topo["primary"])
    # the primary's two edges: the first "├─", the last "└─"; each standby on its own line
    at = lines.index([l for l in lines if l.startswith(f"{pr} primary")][0])
    # (states vary: an earlier test of this module restarted the standby)
    assert lines[at + 1].startswith("├─ physical [") and "standby_a" in lines[at + 1], p.stdout
    assert lines[at + 2].startswith(f"│  {st} standby"), p.stdout
    assert lines[at + 3].startswith("│  └─ physical ["), p.stdout
    assert lines[at + 4].startswith(f"│     {ca} standby"), p.stdout
    rest = lines[at + 5:at + 7]
    assert rest[0].startswith("├─ logical shop -> ") and rest[1].startswith("└─ logical shop -> "), p.stdout
    forgotten = [l for l in lines if "forgotten_slot" in l][0]
    assert "inactive" in forgotten and "RISK" in forgotten
    assert "RISK" not in [l for l in lines if "standby_a" in l and "physical" in l and "retains" in l][0]
    bad = subprocess.run([PGFLEET_BIN, "discover", "host='unclosed"], capture_output=True, text=True)
    assert bad.returncode == 2 and "bad connection string" in bad.stderr
    none = subprocess.run([PGFLEET_BIN, "discover"], capture_output=True, text=True)
    assert none.returncode == 2 and "give at least one server" in none.stderr


def test_non_superuser_monitoring_role(topo):
    """A pg_monitor role sees everything but subscription conninfo: the edge stays, with a note."""
    su, pr = topo["sub"], topo["primary"]
    su.sql("CREATE ROLE watcher LOGIN PASSWORD 'w' IN ROLE pg_monitor")
    pr.sql("CREATE ROLE watcher LOGIN PASSWORD 'w' IN ROLE pg_monitor")
    args = [PGFLEET_BIN, "discover", "--json"] + [f"host=127.0.0.1 port={s.port} user=watcher password=w dbname=postgres"
                                                  for s in (pr, su)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    t = json.loads(p.stdout)
    logical = [e for e in t["edges"] if e["kind"] == "logical"]
    assert len(logical) == 2 and all(e["from"] is None and "GRANT" in e["note"] for e in logical)
    su.sql("GRANT SELECT (subconninfo) ON pg_subscription TO watcher")
    t = json.loads(subprocess.run(args, capture_output=True, text=True, timeout=60).stdout)
    assert {e["from"] for e in t["edges"] if e["kind"] == "logical"} == {nid(pr)}


def test_daemon_collects_the_same_topology_live(topo, daemon_factory, redis):
    import asyncio
    import requests
    import websockets
    from conftest import AUTH_KEY
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MON_PW": PW,
                        "PGFLEET_COLLECT_INTERVAL_SECONDS": "1", "PGFLEET_HEALTH_INTERVAL_SECONDS": "1",
                        "PGFLEET_INVENTORY_SECONDS": "1", "PGFLEET_LOG_DIRS": topo["cascade"].dir})
    for name, s in topo.items():
        # the cascade's server log (pg_ctl -l) is followed for replication errors
        extra = {"logs": {"file": os.path.join(s.dir, "log")}} if name == "cascade" else {}
        register_db(d, name, s, user="monitor", env="PGFLEET_DB_MON_PW", **extra)
    wait_for(lambda: len(d.get("/api/replication/discover", auth=True).json().get("edges", [])) == 4,
             timeout=15, what="collected topology")
    live = d.get("/api/replication/discover", auth=True).json()
    _, cli = discover(*topo.values())
    def shape(t):
        return sorted((e["kind"], e["from"], e["to"], e["state"]) for e in t["edges"])
    assert shape(live) == shape(cli)
    assert {s["name"] for s in live["slots"]} == {s["name"] for s in cli["slots"]}
    assert live["age_seconds"] < 5 and live["collected_at"]
    # the slower sweep visits the subscriber's database: initial-sync states per subscription
    def synced():
        t = d.get("/api/replication/discover", auth=True).json()
        return [e for e in t["edges"] if e.get("subscription") == "orders_sub"][0].get("sync")
    wait_for(synced, timeout=15, what="initial-sync states from the sweep")
    assert synced() == {"tables": 1, "ready": 1, "not_ready": []}
    # every stream found is listed with the ones pgfleet made (none here)
    streams = d.get("/api/replication/streams", auth=True).json()["streams"]
    assert sorted((x["kind"], x.get("subscription") or "") for x in streams) == [
        ("logical", "items_sub"), ("logical", "orders_sub"), ("physical", ""), ("physical", "")]
    assert {(x["from"], x["to"]) for x in streams if x["kind"] == "physical"} == {
        (nid(topo["primary"]), nid(topo["standby"])), (nid(topo["standby"]), nid(topo["cascade"]))}
    assert not any(x["managed"] for x in streams)
    st = d.get("/api/replication/status", auth=True).json()
    assert len(st["edges"]) == 4 and st["cycles"] >= 1 and all(n["up"] for n in st["nodes"])
    m = requests.get(d.url + "/metrics", headers={"Authorization": f"Bearer {AUTH_KEY}"}, timeout=10)
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    assert f'pgfleet_slot_retained_wal_bytes{{node="{nid(topo["primary"])}",slot="forgotten_slot",type="logical",active="false"}}' in text
    assert f'pgfleet_node_up{{node="{nid(topo["cascade"])}",role="standby"}} 1' in text
    assert 'pgfleet_replication_edge_streaming{kind="logical"' in text
    assert "pgfleet_collector_duration_seconds" in text
    assert requests.get(d.url + "/metrics", timeout=10).status_code == 401

    async def topology_event():
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "topics": ["metrics"]}))
            await ws.recv()
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] == "event" and msg["topic"] == "metrics":
                    return msg["data"]
    metrics = asyncio.run(topology_event())
    assert len(metrics["edges"]) == 4 and metrics["collected_at"]
    # the page draws the same graph: tests/integration/test_ui.py
    # a server going down shows within a cycle or two, its lag becomes unknown
    def cascade_lag():
        st = d.get("/api/replication/status", auth=True).json()
        return [e for e in st["edges"] if e["to"] == nid(topo["cascade"])][0]["lag_bytes"]
    wait_for(lambda: isinstance(cascade_lag(), int), timeout=20, what="the cascade streaming again")
    topo["standby"].stop()
    try:
        def down():
            t = d.get("/api/replication/discover", auth=True).json()
            return [n for n in t["nodes"] if n["id"] == nid(topo["standby"])][0]["reachable"] is False
        wait_for(down, timeout=15, what="standby down in the snapshot")
        m = requests.get(d.url + "/metrics", headers={"Authorization": f"Bearer {AUTH_KEY}"}, timeout=10).text
        assert f'pgfleet_node_up{{node="{nid(topo["standby"])}",role="unknown"}} 0' in m
        # the cascade's lag is unknown now: null, with the last value seen and its age
        def cascade_edge():
            st = d.get("/api/replication/status", auth=True).json()
            return [e for e in st["edges"] if e["to"] == nid(topo["cascade"])][0]
        wait_for(lambda: cascade_edge()["lag_bytes"] is None, timeout=15, what="cascade lag unknown")
        e = cascade_edge()
        assert e["stale"] is True and isinstance(e["last_known"]["lag_bytes"], int)
        assert e["last_known"]["age_seconds"] >= 0 and e["last_known"]["collected_at"]
        # the cascade's own log says its upstream is gone: an event, classified, with a hint
        def events():
            return d.get("/api/replication/events?node=" + nid(topo["cascade"]), auth=True).json()["events"]
        wait_for(lambda: any(ev["kind"] in ("upstream_unreachable", "stream_broken") for ev in events()),
                 timeout=20, what="an upstream event from the cascade's log")
        ev = [ev for ev in events() if ev["kind"] in ("upstream_unreachable", "stream_broken")][0]
        assert ev["database_id"] == "cascade" and ev["hint"] and ev["severity"] in ("critical", "warning")
        assert ev["source"] == {"kind": "file", "name": os.path.join(topo["cascade"].dir, "log")}
        assert d.get("/api/replication/events?severity=bogus", auth=True).status_code == 422
    finally:
        topo["standby"].start()
    # an hour of samples at the collector's interval, kept in Redis, oldest first
    h = d.get("/api/replication/history?minutes=5", auth=True).json()
    assert h["interval_seconds"] == 1 and h["count"] >= 3
    assert [s["epoch"] for s in h["samples"]] == sorted(s["epoch"] for s in h["samples"])
    assert any(e["lag_bytes"] is None for s in h["samples"] for e in s["edges"])
    assert d.get("/api/replication/history?minutes=0", auth=True).status_code == 422
    assert redis.cli("TTL", "pgfleet:replication:latest").strip() not in ("-1", "-2")


def test_300_databases_on_two_servers_one_connection_each(pg_server):
    servers = [pg_server(settings={"max_replication_slots": 20}) for _ in range(2)]
    for n, s in enumerate(servers):
        s.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
        args = [f"{PGBIN}/psql", "-X", "-q", "-h", s.dir, "-p", str(s.port), "-U", "postgres", "-d", "postgres"]
        for i in range(150):
            args += ["-c", f"CREATE DATABASE db_{n}_{i:03d}"]
        r = as_pg(args, timeout=600)
        assert r.returncode == 0, r.stderr
        for i in range(0, 150, 30):  # some with a logical slot
            s.sql(f"SELECT pg_create_logical_replication_slot('slot_{i:03d}', 'pgoutput')", db=f"db_{n}_{i:03d}")
    s.sql("SELECT 1")
    before = [int(s.sql("SELECT count(*) FROM pg_stat_database WHERE datname LIKE 'db_%' AND numbackends > 0")) for s in servers]
    p, t = discover(*servers)
    assert p.returncode == 0, p.stderr
    for s in servers:
        node = [x for x in t["nodes"] if x["id"] == nid(s)][0]
        assert len([d for d in node["databases"] if d.startswith("db_")]) == 150
    assert len(t["slots"]) == 10 and all(sl["type"] == "logical" for sl in t["slots"])
    # discovery connects to one database per server, never to each of the 300
    assert before == [0, 0]
    conns = [int(s.sql("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database WHERE datname LIKE 'db_%'"))
             for s in servers]
    # (slot creation touched 5 databases per server; discovery added none)
    assert all(c < 50 for c in conns), conns


def test_rds_instances_merge_into_the_topology(topo, daemon_factory, redis, moto):
    """Databases naming an RDS instance get its facts; RDS replica links mark the physical edge
    pgfleet saw, and a replica pgfleet cannot reach appears as an unmanaged node."""
    import boto3
    from awshelp import BASE_ENV, REGION
    from conftest import AUTH_KEY
    moto.reset()
    rds = boto3.client("rds", region_name=REGION, endpoint_url=moto.url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    rds.create_db_instance(DBInstanceIdentifier="orders-primary", DBInstanceClass="db.r6g.large",
                           Engine="postgres", EngineVersion="15.5", AllocatedStorage=20,
                           MasterUsername="postgres", MasterUserPassword="secret-pw-1")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orders-standby",
                                        SourceDBInstanceIdentifier="orders-primary")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orders-analytics",
                                        SourceDBInstanceIdentifier="orders-primary")
    rds.create_db_cluster(DBClusterIdentifier="reports-aurora", Engine="aurora-postgresql",
                          MasterUsername="postgres", MasterUserPassword="secret-pw-1")
    for ident in ("reports-aurora-1", "reports-aurora-2"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.r6g.large",
                               Engine="aurora-postgresql", DBClusterIdentifier="reports-aurora")
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MON_PW": PW,
                        "PGFLEET_COLLECT_INTERVAL_SECONDS": "1", "PGFLEET_RDS_DISCOVERY_SECONDS": "1"})
    for name, inst in (("primary", "orders-primary"), ("standby", "orders-standby"),
                       ("sub", "reports-aurora-1")):
        register_db(d, name, topo[name], user="monitor", env="PGFLEET_DB_MON_PW", aws={"rds_instance_id": inst})

    def merged():
        t = d.get("/api/replication/discover", auth=True).json()
        return t if "rds" in t else None
    wait_for(merged, timeout=15, what="RDS merged into the topology")
    t = merged()
    nodes = {n["id"]: n for n in t["nodes"]}
    p = nodes[nid(topo["primary"])]
    assert p["managed"] and p["rds"]["instance_id"] == "orders-primary" and p["rds"]["class"] == "db.r6g.large"
    assert nodes[nid(topo["standby"])]["rds"]["instance_id"] == "orders-standby"
    edge = [e for e in t["edges"] if e["kind"] == "physical" and e["to"] == nid(topo["standby"])][0]
    assert edge["rds_replica"] is True and edge["state"] == "streaming"
    analytics = [n for n in t["nodes"] if n.get("rds", {}).get("instance_id") == "orders-analytics"]
    assert len(analytics) == 1 and analytics[0]["managed"] is False
    e2 = [e for e in t["edges"] if e["to"] == analytics[0]["id"]][0]
    assert e2["from"] == nid(topo["primary"]) and e2["state"] == "rds_replica" and e2["lag_bytes"] is None
    assert t["rds"]["error"] is None if "error" in t["rds"] else True
    # Aurora: the registered writer gets its cluster role; the reader hangs off it
    def aurora():
        t = d.get("/api/replication/discover", auth=True).json()
        return t if any(e["kind"] == "aurora" for e in t["edges"]) else None
    wait_for(aurora, timeout=15, what="the Aurora cluster merged")
    t = aurora()
    nodes = {n["id"]: n for n in t["nodes"]}
    w = nodes[nid(topo["sub"])]
    assert w["aurora"]["cluster_id"] == "reports-aurora" and w["aurora"]["role"] in ("writer", "reader")
    e = [e for e in t["edges"] if e["kind"] == "aurora"][0]
    reader = nodes[e["to"]] if e["from"] == w["id"] else nodes[e["from"]]
    assert reader["aurora"]["cluster_id"] == "reports-aurora" and e["lag_bytes"] is None
