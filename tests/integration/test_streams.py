"""Logical replication streams through the API and the CLI, against real servers:
pre-flight checks (each failure by its check), create with the initial copy followed
live, rows replicated (insert, update, delete), pause/resume, tables added, drop
leaving nothing behind, and a server killed between the source and the target."""
import asyncio
import json
import os
import subprocess

import pytest

from conftest import AUTH_KEY, JSON, PGFLEET_BIN, register_db, wait_for

PW = "stream-pw"


@pytest.fixture(scope="module")
def pair(pg_servers):
    src = pg_servers(settings={"max_replication_slots": 10, "max_wal_senders": 10})
    tgt = pg_servers(settings={"max_replication_slots": 10, "max_logical_replication_workers": 6})
    src.sql(f"CREATE ROLE app LOGIN REPLICATION PASSWORD '{PW}'")
    src.sql("CREATE DATABASE shop OWNER app")
    src.sql(f"CREATE ROLE nobody LOGIN PASSWORD '{PW}'")
    tgt.sql(f"CREATE ROLE admin LOGIN SUPERUSER PASSWORD '{PW}'")
    tgt.sql("CREATE DATABASE shop_copy")
    return src, tgt


def src_sql(src, sql):
    return src.sql(f"SET ROLE app; {sql}", db="shop").splitlines()[-1] if sql else ""


def register(d, ident, server, db, user):
    register_db(d, ident, server, db, user, env="PGFLEET_DB_STREAM_PW")


@pytest.fixture
def daemon(pair, daemon_factory, redis):
    src, tgt = pair
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_STREAM_PW": PW})
    register(d, "shop", src, "shop", "app")
    register(d, "copy", tgt, "shop_copy", "admin")
    return d


def checks_by_name(body):
    return {c["check"]: c for c in body["checks"]}


def test_stream_lifecycle(pair, daemon, redis):
    src, tgt = pair
    d = daemon
    src.sql("SET ROLE app; CREATE TABLE orders (id int PRIMARY KEY, v text); "
            "CREATE TABLE items (id int PRIMARY KEY, n int); "
            "INSERT INTO orders SELECT g, 'v' || g FROM generate_series(1, 2000) g; "
            "INSERT INTO items VALUES (1, 10)", db="shop")
    tgt.sql("CREATE TABLE orders (id int PRIMARY KEY, v text); CREATE TABLE items (id int PRIMARY KEY, n int)",
            db="shop_copy")
    body = {"source_database_id": "shop", "target_database_id": "copy", "tables": ["orders"],
            "publication": "shop_pub", "subscription": "shop_sub"}
    r = d.post("/api/replication/validate", data=json.dumps(body), headers=JSON)
    assert r.status_code == 200, r.text
    v = r.json()
    c = checks_by_name(v)
    assert v["ok"] is True and v["errors"] == 0, json.dumps(v, indent=1)
    assert c["target_reaches_source"]["status"] == "ok" and "rolled back" in c["target_reaches_source"]["message"]
    assert c["wal_level"]["status"] == "ok" and c["source_privileges"]["status"] == "ok"
    assert PW not in r.text
    # no trace of the reachability check on the target: no subscription, nothing in its log
    assert tgt.sql("SELECT count(*) FROM pg_subscription") == "0"
    tlog = open(os.path.join(tgt.dir, "log")).read()
    assert "pgfleet_preflight" not in tlog and "does not exist on the publisher" not in tlog and PW not in tlog

    async def create_and_watch():
        import websockets
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            r = d.post("/api/replication/create", data=json.dumps(body), headers=JSON)
            assert r.status_code == 202, r.text
            s = r.json()
            await ws.send(json.dumps({"type": "subscribe", "topics": [f"stream:{s['id']}"]}))
            states = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg.get("type") == "event":
                    states.append(msg["data"])
                    if msg["data"]["state"] == "streaming":
                        return s, states
    s, events = asyncio.run(create_and_watch())
    sid = s["id"]
    assert PW not in json.dumps(s) and s["publication_created"] is True
    assert s["created_by"] == "api-key"  # who made it: the key here, the user when signed in
    last = events[-1]
    assert last["tables"] == 1 and last["ready"] == 1 and last["detail"][0]["table_name"] == "orders"
    assert tgt.sql("SELECT count(*) FROM orders", db="shop_copy") == "2000"
    # changes flow: insert, update, delete
    src.sql("SET ROLE app; INSERT INTO orders VALUES (5001, 'new'); UPDATE orders SET v = 'changed' WHERE id = 1; "
            "DELETE FROM orders WHERE id = 2", db="shop")
    wait_for(lambda: tgt.sql("SELECT count(*), max(v) FILTER (WHERE id = 1), "
                             "count(*) FILTER (WHERE id = 2) FROM orders", db="shop_copy") == "2000|changed|0",
             timeout=20, what="changes replicated")
    # the password is not in Redis, nor in the logs
    assert PW not in redis.cli("HGETALL", "pgfleet:streams") and PW not in d.logs()
    # pause stops apply; resume catches up
    r = d.post(f"/api/replication/streams/{sid}/pause", data="{}", headers=JSON)
    assert r.status_code == 200 and r.json()["state"] == "paused"
    # the apply worker is gone (a positive sign that nothing is applied), then a row is written
    wait_for(lambda: tgt.sql("SELECT count(*) FROM pg_stat_subscription WHERE subname = 'shop_sub' "
                             "AND pid IS NOT NULL", db="shop_copy") == "0", timeout=20,
             what="the apply worker stopped")
    src.sql("SET ROLE app; INSERT INTO orders VALUES (6001, 'while paused')", db="shop")
    lsn = src.sql("SELECT pg_current_wal_lsn()", db="shop")
    # the slot keeps it: its confirmed position stays behind the row while paused
    assert src.sql(f"SELECT confirmed_flush_lsn < '{lsn}' FROM pg_replication_slots "
                   "WHERE slot_name = 'shop_sub'") == "t"
    assert tgt.sql("SELECT count(*) FROM orders WHERE id = 6001", db="shop_copy") == "0"
    r = d.post(f"/api/replication/streams/{sid}/resume", data="{}", headers=JSON)
    assert r.status_code == 200
    wait_for(lambda: tgt.sql("SELECT count(*) FROM orders WHERE id = 6001", db="shop_copy") == "1",
             timeout=20, what="catch-up after resume")
    # a table added: published, refreshed, copied
    r = d.post(f"/api/replication/streams/{sid}/tables", data=json.dumps({"add": ["items"]}), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["tables"] == ["public.orders", "public.items"]
    wait_for(lambda: tgt.sql("SELECT count(*) FROM items", db="shop_copy") == "1", timeout=20,
             what="the added table copied")
    lst = d.get("/api/replication/streams", auth=True).json()
    mine = [x for x in lst["streams"] if x.get("id") == sid][0]
    assert mine["managed"] is True and mine["state"] in ("initializing", "streaming")
    # the CLI sees the same
    env = {**os.environ, "PGFLEET_URL": d.url, "AUTH_KEY": AUTH_KEY}
    p = subprocess.run([PGFLEET_BIN, "stream", "list"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0 and sid in p.stdout and "shop_sub" in p.stdout
    # drop: nothing left anywhere
    p = subprocess.run([PGFLEET_BIN, "stream", "drop", sid], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "slot shop_sub dropped" in p.stdout and "publication shop_pub dropped" in p.stdout
    assert tgt.sql("SELECT count(*) FROM pg_subscription") == "0"
    assert src.sql("SELECT count(*) FROM pg_replication_slots") == "0"
    assert src.sql("SELECT count(*) FROM pg_publication", db="shop") == "0"
    assert d.get(f"/api/replication/streams/{sid}", auth=True).json()["state"] == "dropped"
    assert d.post(f"/api/replication/streams/{sid}/pause", data="{}", headers=JSON).status_code == 404
    tgt.sql("DROP TABLE orders, items", db="shop_copy")
    src.sql("DROP TABLE orders, items", db="shop")


def test_each_failed_check_names_its_cause(pair, pg_server, daemon_factory, redis):
    src, tgt = pair
    bad = pg_server(settings={"wal_level": "replica", "max_replication_slots": 1})
    bad.sql(f"CREATE ROLE nobody LOGIN PASSWORD '{PW}'")
    bad.sql("CREATE DATABASE legacy OWNER nobody")
    bad.sql("SET ROLE nobody; CREATE TABLE events (at timestamptz, what text); "
            "CREATE TABLE accounts (id bigserial PRIMARY KEY)", db="legacy")
    bad.sql("SELECT pg_create_physical_replication_slot('taken')")
    tgt.sql("CREATE DATABASE legacy_copy")
    tgt.sql("CREATE TABLE events (at timestamptz, what text)", db="legacy_copy")
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_STREAM_PW": PW})
    register(d, "legacy", bad, "legacy", "nobody")
    register(d, "legacy_copy", tgt, "legacy_copy", "admin")
    body = {"source_database_id": "legacy", "target_database_id": "legacy_copy",
            "tables": ["events", "accounts", "ghost"]}
    v = d.post("/api/replication/validate", data=json.dumps(body), headers=JSON).json()
    c = checks_by_name(v)
    assert v["ok"] is False
    assert c["wal_level"]["status"] == "error" and "'replica'" in c["wal_level"]["message"]
    assert "wal_level = logical" in c["wal_level"]["hint"]
    assert c["replication_slots"]["status"] == "error" and "max_replication_slots = 1" in c["replication_slots"]["message"]
    assert c["source_privileges"]["status"] == "error" and "nobody" in c["source_privileges"]["message"]
    assert c["replica_identity"]["status"] == "error" and "public.events" in c["replica_identity"]["message"]
    assert "public.accounts" not in c["replica_identity"]["message"]
    assert c["source_tables"]["status"] == "error" and "public.ghost" in c["source_tables"]["message"]
    assert c["target_tables"]["status"] == "error" and "public.accounts" in c["target_tables"]["message"]
    assert c["sequences"]["status"] == "warning" and "accounts_id_seq" in c["sequences"]["message"]
    # create refuses, naming the checks; nothing is made
    r = d.post("/api/replication/create", data=json.dumps(body), headers=JSON)
    assert r.status_code == 422 and len(r.json()["error"]["checks"]) == len(v["checks"])
    assert bad.sql("SELECT count(*) FROM pg_publication", db="legacy") == "0"
    # bad input is a clear 422
    r = d.post("/api/replication/validate", data=json.dumps({"source_database_id": "legacy",
               "target_database_id": "legacy", "options": {"copy": True}}), headers=JSON)
    assert r.status_code == 422 and {"target_database_id", "tables", "options.copy"} <= \
        {f["field"] for f in r.json()["error"]["fields"]}
    # the CLI prints each check and exits 5
    env = {**os.environ, "PGFLEET_URL": d.url, "AUTH_KEY": AUTH_KEY}
    p = subprocess.run([PGFLEET_BIN, "stream", "validate", "--source", "legacy", "--target", "legacy_copy",
                        "--table", "events"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 5 and "wal_level" in p.stdout and "HINT" in p.stdout


CREATE_STEPS = ["publication", "slot", "subscription"]
DROP_STEPS = ["disable", "detach_slot", "drop_subscription", "drop_slot", "drop_publication"]
ENV = {"AUTH_KEY": AUTH_KEY, "PGFLEET_DB_STREAM_PW": PW}


def kill_stream_body(name):
    return {"source_database_id": "shop", "target_database_id": "copy", "tables": [name],
            "publication": f"{name}_pub", "subscription": f"{name}_sub"}


def made(src, tgt, name):
    """How many of the stream's publication, slot and subscription exist."""
    return (int(src.sql(f"SELECT count(*) FROM pg_publication WHERE pubname = '{name}_pub'", db="shop")),
            int(src.sql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{name}_sub'")),
            int(tgt.sql(f"SELECT count(*) FROM pg_subscription WHERE subname = '{name}_sub'")))


def state_of(d, sid):
    return d.get(f"/api/replication/streams/{sid}", auth=True).json()["state"]


def killed(d):
    wait_for(lambda: d.proc.poll() is not None, timeout=20, what="the server to kill itself")
    assert d.proc.returncode == -9, d.logs()[-2000:]


def table_pair(src, tgt, name, rows=50):
    src.sql(f"SET ROLE app; CREATE TABLE {name} (id int PRIMARY KEY); "
            f"INSERT INTO {name} SELECT generate_series(1, {rows})", db="shop")
    tgt.sql(f"CREATE TABLE {name} (id int PRIMARY KEY)", db="shop_copy")


@pytest.mark.parametrize("step", CREATE_STEPS)
def test_create_killed_after_each_step_is_finished_at_restart(pair, daemon_factory, redis, step):
    """SIGKILL right after a step's SQL, before it is recorded: the next start runs that step
    again (idempotent) and the rest, and the stream streams with one of each object."""
    src, tgt = pair
    name = f"kc_{step}"
    table_pair(src, tgt, name)
    env = {**ENV, "PGFLEET_REDIS_URL": redis.url}
    d = daemon_factory({**env, "PGFLEET_TEST_EXIT_AFTER": step})
    register(d, "shop", src, "shop", "app")
    register(d, "copy", tgt, "shop_copy", "admin")
    r = d.post("/api/replication/create", data=json.dumps(kill_stream_body(name)), headers=JSON)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    killed(d)
    d2 = daemon_factory(env)
    wait_for(lambda: state_of(d2, sid) == "streaming", timeout=40, what=f"{sid} streaming after restart")
    assert made(src, tgt, name) == (1, 1, 1)
    assert tgt.sql(f"SELECT count(*) FROM {name}", db="shop_copy") == "50"
    assert "resuming an interrupted create" in d2.logs()
    src.sql(f"SET ROLE app; INSERT INTO {name} VALUES (1000)", db="shop")
    wait_for(lambda: tgt.sql(f"SELECT count(*) FROM {name}", db="shop_copy") == "51", timeout=20,
             what="a new row replicated")
    assert d2.request("DELETE", f"/api/replication/streams/{sid}", data="{}", headers=JSON).status_code == 200
    assert made(src, tgt, name) == (0, 0, 0)


@pytest.mark.parametrize("step", DROP_STEPS)
def test_drop_killed_after_each_step_is_finished_at_restart(pair, daemon_factory, redis, step):
    """SIGKILL right after each step of a drop: the next start finishes the drop and nothing
    of the stream is left on either side."""
    src, tgt = pair
    name = f"kd_{step}"
    table_pair(src, tgt, name, rows=5)
    env = {**ENV, "PGFLEET_REDIS_URL": redis.url}
    d = daemon_factory(env)
    register(d, "shop", src, "shop", "app")
    register(d, "copy", tgt, "shop_copy", "admin")
    r = d.post("/api/replication/create", data=json.dumps(kill_stream_body(name)), headers=JSON)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    wait_for(lambda: state_of(d, sid) == "streaming", timeout=30, what="streaming")
    d.stop()
    d2 = daemon_factory({**env, "PGFLEET_TEST_EXIT_AFTER": step})
    try:
        d2.request("DELETE", f"/api/replication/streams/{sid}", data="{}", headers=JSON, timeout=20)
    except Exception:  # noqa: BLE001 - the server dies before it answers
        pass
    killed(d2)
    d3 = daemon_factory(env)
    wait_for(lambda: state_of(d3, sid) == "dropped", timeout=30, what=f"{sid} dropped after restart")
    assert made(src, tgt, name) == (0, 0, 0)
    assert "resuming an interrupted drop" in d3.logs()


def test_interrupted_create_that_cannot_finish_is_an_error_until_resumed(pair, daemon_factory, redis):
    """Killed between the source and the target, restarted while the target is down: the
    stream says why it is stuck; once the target is back, create --resume finishes it."""
    src, tgt = pair
    table_pair(src, tgt, "parcels")
    env = {**ENV, "PGFLEET_REDIS_URL": redis.url}
    d = daemon_factory({**env, "PGFLEET_TEST_EXIT_AFTER": "slot"})
    register(d, "shop", src, "shop", "app")
    register(d, "copy", tgt, "shop_copy", "admin")
    body = kill_stream_body("parcels")
    r = d.post("/api/replication/create", data=json.dumps(body), headers=JSON)
    assert r.status_code == 202
    sid = r.json()["id"]
    killed(d)
    assert made(src, tgt, "parcels") == (1, 1, 0)
    tgt.stop()
    try:
        d2 = daemon_factory(env)
        wait_for(lambda: state_of(d2, sid) == "error", timeout=30,
                 what="the stream in error")
        rec = d2.get(f"/api/replication/streams/{sid}", auth=True).json()
        assert "cannot reach the target" in rec["error"] and rec["step"] == "subscription"
    finally:
        tgt.start()
    # a fresh create with the same names would be refused (they exist) ...
    r = d2.post("/api/replication/create", data=json.dumps(body), headers=JSON)
    assert r.status_code == 422 and "name_conflicts" in r.text
    # ... the same create for that stream finishes it
    env2 = {**os.environ, "PGFLEET_URL": d2.url, "AUTH_KEY": AUTH_KEY}
    p = subprocess.run([PGFLEET_BIN, "stream", "create", "--resume", sid], capture_output=True, text=True,
                       env=env2, timeout=60)
    assert p.returncode == 0, p.stderr
    wait_for(lambda: state_of(d2, sid) == "streaming", timeout=30, what="the resumed stream streaming")
    assert tgt.sql("SELECT count(*) FROM parcels", db="shop_copy") == "50"
    assert made(src, tgt, "parcels") == (1, 1, 1)
    assert d2.request("DELETE", f"/api/replication/streams/{sid}", data="{}", headers=JSON).status_code == 200
    assert made(src, tgt, "parcels") == (0, 0, 0)


def test_hostile_names_are_quoted_never_interpolated(pair, daemon):
    """A publication and a subscription named with quotes, a backslash and $pgfleet$ (which
    would end a DO block): created, streaming, dropped, exactly those objects."""
    src, tgt = pair
    d = daemon
    table_pair(src, tgt, "hostile_t", rows=3)
    pub = "pub $pgfleet$ 'q' \"x\" ; DROP TABLE hostile_t; --"
    sub = "sub $pgfleet$ 'q' \\ \"x\""
    body = {"source_database_id": "shop", "target_database_id": "copy", "tables": ["hostile_t"],
            "publication": pub, "subscription": sub, "slot": "hostile_slot"}
    # a backslash in a publication name cannot cross the replication protocol: said up front
    r = d.post("/api/replication/validate", data=json.dumps({**body, "publication": "a\\b"}),
               headers=JSON)
    assert r.status_code == 422 and "backslash" in r.text
    r = d.post("/api/replication/create", data=json.dumps(body), headers=JSON)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    wait_for(lambda: state_of(d, sid) == "streaming", timeout=30, what="streaming")
    lit = pub.replace("'", "''")
    assert src.sql(f"SELECT count(*) FROM pg_publication WHERE pubname = '{lit}'", db="shop") == "1"
    assert tgt.sql("SELECT count(*) FROM hostile_t", db="shop_copy") == "3"
    assert src.sql("SELECT to_regclass('hostile_t') IS NOT NULL", db="shop") == "t"
    assert d.request("DELETE", f"/api/replication/streams/{sid}", data="{}", headers=JSON).status_code == 200
    assert src.sql(f"SELECT count(*) FROM pg_publication WHERE pubname = '{lit}'", db="shop") == "0"
    assert tgt.sql("SELECT count(*) FROM pg_subscription") == "0"
    assert src.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'hostile_slot'") == "0"


def test_drop_when_the_target_is_gone(pair, daemon):
    src, tgt = pair
    d = daemon
    src.sql("SET ROLE app; CREATE TABLE notes (id int PRIMARY KEY)", db="shop")
    tgt.sql("CREATE TABLE notes (id int PRIMARY KEY)", db="shop_copy")
    body = {"source_database_id": "shop", "target_database_id": "copy", "tables": ["notes"],
            "publication": "notes_pub", "subscription": "notes_sub"}
    r = d.post("/api/replication/create", data=json.dumps(body), headers=JSON)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    wait_for(lambda: d.get(f"/api/replication/streams/{sid}", auth=True).json()["state"] == "streaming",
             timeout=30, what="streaming")
    tgt.stop()
    try:
        r = d.request("DELETE", f"/api/replication/streams/{sid}", data="{}", headers=JSON)
        assert r.status_code == 502 and "force" in r.json()["error"]["hint"]
        assert src.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'notes_sub'") == "1"
        r = d.request("DELETE", f"/api/replication/streams/{sid}", data=json.dumps({"force": True}), headers=JSON)
        assert r.status_code == 200, r.text
        notes = " ".join(r.json()["notes"])
        assert "subscription notes_sub was left there" in notes and "slot notes_sub dropped" in notes
        assert src.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'notes_sub'") == "0"
        assert src.sql("SELECT count(*) FROM pg_publication WHERE pubname = 'notes_pub'", db="shop") == "0"
    finally:
        tgt.start()
    # what the target kept is dropped by hand, without its slot
    tgt.sql("ALTER SUBSCRIPTION notes_sub DISABLE; ALTER SUBSCRIPTION notes_sub SET (slot_name = NONE); "
            "DROP SUBSCRIPTION notes_sub", db="shop_copy")
