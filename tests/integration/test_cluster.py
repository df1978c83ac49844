"""Scale-out: three daemons on one Redis share a real fleet. Each database is polled by one
instance (pg_stat_activity's application names say which), every instance answers the merged
topology and every database's health, events reach WebSocket clients on every instance; the
leader SIGKILLed -> another takes over within 15 s, the alert it notified is not notified
again, its migration is marked interrupted, clients on the survivors keep receiving; Redis
restarted in the middle -> the same picture after a gap."""
import asyncio
import json
import signal
import threading
import time
from pathlib import Path

import pytest
import websockets

from conftest import AUTH_KEY, JSON, RedisServer, register_db, wait_for
from test_alerts import Receiver, down_rule

PW = "monitor-pw-cluster"
DBS = [f"app{i:02d}" for i in range(12)]
OUT = Path(__file__).resolve().parents[2] / "build-asan"


@pytest.fixture(scope="module")
def fleet(pg_servers):
    """A primary with twelve databases and a physical standby of it."""
    primary = pg_servers.replicating(PW)
    for db in DBS:
        primary.sql(f"CREATE DATABASE {db}")
    standby = pg_servers.standby_of(primary, "standby_cluster", "monitor", PW)
    return primary, standby


@pytest.fixture
def durable_redis(workdir):
    """A Redis that keeps its data across a restart (an ElastiCache failover keeps it too)."""
    r = RedisServer(workdir, args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    yield r
    r.stop()


def start(daemon_factory, redis, now=True, **env):
    return daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
                           "PGFLEET_DB_MON_PW": PW, "PGFLEET_COLLECT_INTERVAL_SECONDS": "1",
                           "PGFLEET_HEALTH_INTERVAL_SECONDS": "1", **env}, start=now)


def cluster(d):
    return d.get("/api/cluster", auth=True).json()


def pollers(primary):
    """database -> the pgfleet instances holding sessions to it."""
    rows = primary.sql("SELECT datname || '=' || string_agg(DISTINCT application_name, ',') "
                       "FROM pg_stat_activity WHERE application_name LIKE 'pgfleet:%' GROUP BY datname")
    return {k: set(v.split(",")) for k, v in (line.split("=") for line in rows.splitlines() if line)}


def settled(daemons, n):
    """Every daemon sees n members, one leader, and all 64 shards held."""
    views = [cluster(d) for d in daemons]
    for v in views:
        inst = v["instances"]
        if len(inst) != n or sum(i["leader"] for i in inst) != 1 or sum(i["shards"] for i in inst) != 64:
            return False
    return len({v["leader"] for v in views}) == 1


def each_polled_once(primary, daemons):
    ids = {f"pgfleet:{cluster(d)['instance']}" for d in daemons}
    p = pollers(primary)
    return all(len(p.get(db, ())) == 1 and p[db] <= ids for db in DBS)


def all_healthy(d):
    dbs = d.get("/api/databases", auth=True).json()["databases"]
    return len(dbs) == len(DBS) + 2 and all(x["health"]["state"] == "ok" for x in dbs if x["id"] != "gone")


class Listener:
    """A WebSocket client on one daemon, subscribed to topics, keeping every event."""

    def __init__(self, d, topics):
        self.events = []
        self.ready = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run(d, topics)), daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    async def run(self, d, topics):
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
            await ws.recv()
            self.ready.set()
            while not self.stop:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if msg.get("type") == "event":
                    self.events.append((time.monotonic(), msg["topic"], msg["data"]))

    def since(self, t0, topic):
        return [e for at, tp, e in self.events if at >= t0 and tp == topic]


def test_three_instances_share_the_fleet_and_survive_the_leader(fleet, daemon_factory, durable_redis):
    primary, standby = fleet
    redis = durable_redis
    hook = Receiver()
    listeners = []
    try:
        daemons = [start(daemon_factory, redis) for _ in range(3)]
        a = daemons[0]
        for db in DBS:
            register_db(a, db, primary, db, "monitor", env="PGFLEET_DB_MON_PW")
        register_db(a, "replica", standby, "postgres", "monitor", env="PGFLEET_DB_MON_PW")
        register_db(a, "gone", port=1, user="monitor", env="PGFLEET_DB_MON_PW")  # never reachable
        wait_for(lambda: settled(daemons, 3), timeout=20, what="three members, one leader")
        view = cluster(a)
        assert all(i["shards"] > 0 and i["version"] and i["started_at"] for i in view["instances"])
        assert sum(i["databases"] for i in view["instances"]) == len(DBS) + 2

        # every database polled by exactly one instance, every instance knowing every health
        wait_for(lambda: each_polled_once(primary, daemons), timeout=20, what="one poller per database")
        assert len({n for s in pollers(primary).values() for n in s}) >= 2  # the work is shared
        for d in daemons:
            wait_for(lambda: all_healthy(d), timeout=20, what=f"every database healthy on {d.port}")
            topo = d.get("/api/replication/discover", auth=True).json()
            assert {(e["from"], e["to"]) for e in topo["edges"] if e["kind"] == "physical"} == \
                {(f"127.0.0.1:{primary.port}", f"127.0.0.1:{standby.port}")}
        polled_by = {x["id"]: x["health"].get("polled_by") for x in
                     daemons[1].get("/api/databases", auth=True).json()["databases"]}
        assert {v for v in polled_by.values() if v} <= {cluster(d)["instance"] for d in daemons}

        # a registration through one instance reaches the others at once
        register_db(daemons[2], "late", primary, "app00", "monitor", env="PGFLEET_DB_MON_PW")
        wait_for(lambda: a.get("/api/databases/late", auth=True).status_code == 200, timeout=5,
                 what="the registration known everywhere")
        assert a.request("DELETE", "/api/databases/late").status_code == 200
        wait_for(lambda: daemons[2].get("/api/databases/late", auth=True).status_code == 404, timeout=5,
                 what="the removal known everywhere")

        # one alert, notified once by the leader
        down_rule(a, hook)
        wait_for(lambda: [m for m in hook.got if m["body"]["status"] == "firing"], timeout=30,
                 what="the alert on the unreachable database")
        for d in daemons:
            wait_for(lambda: [x for x in d.get("/api/alerts", auth=True).json()["alerts"]
                              if x["rule"] == "down" and x["state"] == "firing"], timeout=10,
                     what=f"the firing alert listed on {d.port}")

        # the leader runs a long migration, then dies
        leader_id = cluster(a)["leader"]
        leader = [d for d in daemons if cluster(d)["instance"] == leader_id][0]
        survivors = [d for d in daemons if d is not leader]
        r = leader.post("/api/migrations/execute", headers=JSON, data=json.dumps(
            {"name": "slow", "sql": "SELECT pg_sleep(120);", "database_ids": ["app01"]}))
        assert r.status_code == 202, r.text
        run = r.json()["execution_id"]
        wait_for(lambda: primary.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' "
                                     "AND pid <> pg_backend_pid()") == "1", timeout=10, what="the migration running")
        listeners = [Listener(d, ["health", "alerts", "topology"]) for d in survivors]
        for lst in listeners:  # a client (re)connecting gets the current state at once
            wait_for(lambda: lst.since(0, "topology"), timeout=5, what="the topology on subscribing")
        t0 = time.monotonic()
        leader.stop(signal.SIGKILL)
        # its sleeping session would notice the dead client only when it ends
        primary.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' "
                    "AND pid <> pg_backend_pid()")
        wait_for(lambda: settled(survivors, 2), timeout=15, interval=0.2, what="a new leader within 15 s")
        takeover = time.monotonic() - t0
        new_leader = cluster(survivors[0])["leader"]
        assert new_leader != leader_id
        wait_for(lambda: survivors[0].get(f"/api/migrations/{run}", auth=True).json()["status"] == "interrupted",
                 timeout=15, what="the dead leader's migration marked interrupted")
        wait_for(lambda: each_polled_once(primary, survivors), timeout=70,
                 what="the dead instance's databases polled by the survivors")
        # its databases polled anew: their health events reach clients on both survivors
        for lst in listeners:
            wait_for(lambda: lst.since(t0, "health"), timeout=15, what="health events after the takeover")
        for d in survivors:
            wait_for(lambda: all_healthy(d), timeout=20, what="every database healthy after the takeover")
        time.sleep(3)  # a few evaluations by the new leader
        assert [m["body"]["status"] for m in hook.got] == ["firing"], "notified again after the takeover"

        # Redis restarted in the middle: a gap, then the same picture
        redis.stop()
        wait_for(lambda: survivors[0].get("/readyz").status_code == 503, timeout=5, what="not ready without Redis")
        time.sleep(2)
        redis.start()
        wait_for(lambda: all(d.get("/readyz").status_code == 200 for d in survivors), timeout=15,
                 what="ready again")
        wait_for(lambda: settled(survivors, 2), timeout=20, what="the cluster again after the restart")
        wait_for(lambda: each_polled_once(primary, survivors), timeout=70, what="one poller per database again")
        for d in survivors:
            wait_for(lambda: all_healthy(d), timeout=20, what="healthy after the Redis restart")
        time.sleep(3)
        assert [m["body"]["status"] for m in hook.got] == ["firing"], "notified again after the Redis restart"
        (OUT / "cluster-takeover.txt").write_text(f"{takeover:.2f}\n")
        print(f"leader takeover after SIGKILL: {takeover:.2f} s")
    finally:
        for lst in listeners:
            lst.stop = True
        hook.stop()


def test_instance_ids_are_checked_and_sessions_carry_them(daemon_factory, redis, pg_server):
    bad = start(daemon_factory, redis, PGFLEET_INSTANCE_ID="two words", now=False)
    bad.start(wait=False)
    assert bad.proc.wait(10) != 0
    assert "PGFLEET_INSTANCE_ID" in bad.logs()
    server = pg_server()
    server.sql(f"CREATE ROLE monitor LOGIN PASSWORD '{PW}'")
    d = start(daemon_factory, redis, PGFLEET_INSTANCE_ID="east-1.a")
    register_db(d, "db", server, user="monitor", env="PGFLEET_DB_MON_PW")
    wait_for(lambda: server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfleet:east-1.a'")
             != "0", timeout=10, what="sessions named after the instance")
    view = cluster(d)
    assert view["instance"] == "east-1.a" and view["leader"] == "east-1.a"
    assert view["instances"][0]["self"] is True and view["instances"][0]["shards"] == 64
    assert d.get("/api/cluster").status_code == 401
