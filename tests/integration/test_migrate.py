"""pgfleet migrate against real PostgreSQL servers: transactions per target, history
and drift, dry run, atomic (two-phase commit) with crash recovery, the advisory lock,
non-transactional scripts, standbys refused, subscribers first."""
import json
import os
import signal
import subprocess

import pytest

from conftest import PGFLEET_BIN, register_db, wait_for

PW = "migrate-pw"


@pytest.fixture(scope="module")
def srv(pg_servers):
    return pg_servers.replicating(PW, {"max_prepared_transactions": 10, "max_replication_slots": 10})


@pytest.fixture
def dbs(srv, request):
    names = [f"m{request.node.name[-12:].lower().replace('[', '').replace(']', '')}_{i}" for i in range(3)]
    names = [n.replace("-", "_") for n in names]
    for n in names:
        srv.sql(f"DROP DATABASE IF EXISTS {n}")
        srv.sql(f"CREATE DATABASE {n}")
    return names


def target(srv, db):
    return f"host=127.0.0.1 port={srv.port} dbname={db} user=monitor password={PW}"


def migrate(tmp_path, sql, targets, *flags, name="add_orders"):
    f = tmp_path / f"{name}.sql"
    f.write_text(sql)
    args = [PGFLEET_BIN, "migrate", "--json"] + [x for t in targets for x in ("--target", t)] + list(flags) + [str(f)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    report = json.loads(p.stdout) if p.stdout.strip().startswith("{") else None
    return p, report


ADD = """-- add the orders table; a semicolon in a comment;
CREATE TABLE orders (id int PRIMARY KEY, note text DEFAULT 'a;b');
CREATE FUNCTION orders_count() RETURNS bigint AS $$ SELECT count(*) FROM orders; $$ LANGUAGE sql;
INSERT INTO orders VALUES (1, E'it\\'s');
"""


def has_table(srv, db, t="orders"):
    return srv.sql(f"SELECT to_regclass('{t}') IS NOT NULL", db=db) == "t"


def history(srv, db):
    if srv.sql("SELECT to_regclass('pgfleet.migration_history') IS NOT NULL", db=db) != "t":
        return []
    out = srv.sql("SELECT name || '|' || checksum || '|' || applied_by || '|' || pgfleet_version "
                  "FROM pgfleet.migration_history ORDER BY applied_at", db=db)
    return [r.split("|") for r in out.splitlines()] if out else []


def test_three_targets_then_rerun_is_a_noop_and_an_edit_is_drift(srv, dbs, tmp_path):
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs])
    assert p.returncode == 0, p.stderr + p.stdout
    assert r["status"] == "succeeded" and [t["status"] for t in r["targets"]] == ["committed"] * 3
    assert all(t["statements_done"] == 3 == t["statements_total"] for t in r["targets"])
    for d in dbs:
        assert srv.sql("SELECT orders_count(), (SELECT note FROM orders)", db=d) == "1|it's"
        h = history(srv, d)
        assert len(h) == 1 and h[0][0] == "add_orders" and len(h[0][1]) == 64 and "pgfleet migrate" in h[0][2]
    assert "statement 3 of 3 done" in p.stderr  # live progress
    # the same script again: skipped everywhere, nothing changes
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs])
    assert p.returncode == 0 and [t["status"] for t in r["targets"]] == ["skipped"] * 3
    assert "already applied" in r["targets"][0]["note"]
    # the same name, another script: drift, refused, nothing runs
    p, r = migrate(tmp_path, ADD + "ALTER TABLE orders ADD COLUMN x int;\n", [target(srv, dbs[0])])
    assert p.returncode == 21 and "drift" in r["targets"][0]["error"]
    assert srv.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders'", db=dbs[0]) == "2"
    # the human table
    p2 = subprocess.run([PGFLEET_BIN, "migrate", "--target", target(srv, dbs[0]), str(tmp_path / "add_orders.sql")],
                        capture_output=True, text=True, timeout=60)
    assert p2.returncode == 21 and "TARGET" in p2.stdout and "failed" in p2.stdout


def test_failure_on_the_second_target_stops_the_run(srv, dbs, tmp_path):
    srv.sql("CREATE TABLE orders (id int)", db=dbs[1])  # makes the script fail there
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs])
    assert p.returncode == 21, p.stderr
    st = {t["target"].split("/")[1]: t for t in r["targets"]}
    assert st[dbs[0]]["status"] == "committed" and has_table(srv, dbs[0])
    b = st[dbs[1]]
    assert b["status"] == "failed" and "statement 1 of 3 (line 2)" in b["error"] and "already exists" in b["error"]
    assert "rolled back" in b["note"] and history(srv, dbs[1]) == []
    assert srv.sql("SELECT to_regnamespace('pgfleet') IS NULL", db=dbs[1]) == "t"  # even the schema
    assert st[dbs[2]]["status"] == "skipped" and not has_table(srv, dbs[2]) and "first failure" in st[dbs[2]]["note"]
    assert r["status"] == "partial"
    # continue-on-error goes on to the third
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs], "--continue-on-error")
    st = {t["target"].split("/")[1]: t["status"] for t in r["targets"]}
    assert st == {dbs[0]: "skipped", dbs[1]: "failed", dbs[2]: "committed"} and has_table(srv, dbs[2])


def test_dry_run_changes_nothing(srv, dbs, tmp_path):
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs], "--dry-run")
    assert p.returncode == 0, p.stderr
    assert [t["status"] for t in r["targets"]] == ["rolled_back"] * 3 and "dry run" in r["targets"][0]["note"]
    for d in dbs:
        assert not has_table(srv, d) and srv.sql("SELECT to_regnamespace('pgfleet') IS NULL", db=d) == "t"
    # a failing dry run reports the failure, still changes nothing
    srv.sql("CREATE TABLE orders (id int)", db=dbs[2])
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs], "--dry-run", "--continue-on-error")
    assert p.returncode == 21 and r["targets"][2]["status"] == "failed"


def test_atomic_changes_no_target_when_one_fails(srv, dbs, tmp_path):
    srv.sql("CREATE TABLE orders (id int)", db=dbs[2])
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs], "--atomic")
    assert p.returncode == 21
    st = [t["status"] for t in r["targets"]]
    assert st[2] == "failed" and st[0] == st[1] == "skipped"
    assert "rolled back because another target failed" in r["targets"][0]["note"]
    assert not has_table(srv, dbs[0]) and not has_table(srv, dbs[1])
    assert srv.sql("SELECT count(*) FROM pg_prepared_xacts") == "0"
    srv.sql("DROP TABLE orders", db=dbs[2])
    p, r = migrate(tmp_path, ADD, [target(srv, d) for d in dbs], "--atomic")
    assert p.returncode == 0 and [t["status"] for t in r["targets"]] == ["committed"] * 3
    assert all(has_table(srv, d) for d in dbs)
    assert srv.sql("SELECT count(*) FROM pg_prepared_xacts") == "0"


def test_prepared_transactions_left_by_a_crash_are_resolved(srv, dbs, tmp_path):
    """The state pgfleet leaves when killed in the commit phase of an atomic run (target 0
    committed, target 1 still prepared), and when killed before it (target 2 prepared,
    its run committed nowhere)."""
    ddl = ("CREATE SCHEMA IF NOT EXISTS pgfleet; CREATE TABLE IF NOT EXISTS pgfleet.migration_history "
           "(name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
           "duration_ms float8, applied_by text, pgfleet_version text, execution_id text)")
    for d in dbs:
        srv.sql(ddl, db=d)
    srv.sql("INSERT INTO pgfleet.migration_history (name, checksum, execution_id) VALUES ('x', 'c', 'mig-aaaa')", db=dbs[0])
    srv.sql("BEGIN; CREATE TABLE done_a (id int); INSERT INTO pgfleet.migration_history (name, checksum, "
            "execution_id) VALUES ('x', 'c', 'mig-aaaa'); PREPARE TRANSACTION 'pgfleet:mig-aaaa:1'", db=dbs[1])
    srv.sql("BEGIN; CREATE TABLE never_b (id int); PREPARE TRANSACTION 'pgfleet:mig-bbbb:2'", db=dbs[2])
    p, r = migrate(tmp_path, "SELECT 1;", [target(srv, d) for d in dbs], name="noop")
    assert p.returncode == 0, p.stderr + p.stdout
    actions = {x["gid"]: x["action"] for x in r["recovered"]}
    assert actions == {"pgfleet:mig-aaaa:1": "commit", "pgfleet:mig-bbbb:2": "rollback"}
    assert has_table(srv, dbs[1], "done_a") and not has_table(srv, dbs[2], "never_b")
    assert srv.sql("SELECT count(*) FROM pg_prepared_xacts") == "0"
    assert any("interrupted atomic run" in n for n in r["plan"])


def test_two_concurrent_runs_on_one_target(srv, dbs, tmp_path):
    slow = tmp_path / "slow.sql"
    slow.write_text("SELECT pg_sleep(3); CREATE TABLE slow_done (id int);")
    first = subprocess.Popen([PGFLEET_BIN, "migrate", "--json", "--target", target(srv, dbs[0]), str(slow)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: srv.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%'") == "1",
             timeout=10, what="the first run sleeping")
    p, r = migrate(tmp_path, ADD, [target(srv, dbs[0])])
    assert p.returncode == 21 and "already running" in r["targets"][0]["error"]
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0 and json.loads(out)["status"] == "succeeded"
    assert has_table(srv, dbs[0], "slow_done") and not has_table(srv, dbs[0])


def test_a_run_leaves_the_prepared_transactions_of_a_live_run_alone(srv, dbs, tmp_path):
    """Atomic run A has prepared on the first target and waits on the second; run B on the
    first target must not roll A's prepared transaction back: A is alive (its sessions hold
    its lock), and once A goes on it commits everywhere."""
    gate = "LOCK TABLE gate; SELECT pg_sleep(60)"
    for db in dbs[:2]:
        srv.sql("CREATE TABLE gate (id int)", db=db)
    holder = subprocess.Popen((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) +
                              ["/usr/lib/postgresql/15/bin/psql", "-X", "-h", srv.dir, "-p", str(srv.port),
                               "-U", "postgres", "-d", dbs[1], "-c", f"BEGIN; {gate}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: srv.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                 "'%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()") == "1",
                 timeout=10, what="the gate held")
        a_sql = tmp_path / "a.sql"
        a_sql.write_text("CREATE TABLE a_done (id int); INSERT INTO gate VALUES (1);")
        a = subprocess.Popen([PGFLEET_BIN, "migrate", "--json", "--atomic", "--lock-timeout", "60000",
                              "--target", target(srv, dbs[0]), "--target", target(srv, dbs[1]), str(a_sql)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: srv.sql("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'pgfleet:%'") == "1",
                 timeout=15, what="run A prepared on the first target")
        p, r = migrate(tmp_path, "CREATE TABLE b_done (id int);", [target(srv, dbs[0])], name="b")
        assert srv.sql("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'pgfleet:%'") == "1"
        assert any("still running: left alone" in n for n in r["plan"]), r["plan"]
        assert p.returncode == 21 and "already running" in r["targets"][0]["error"]
    finally:
        srv.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%{gate}%' "
                "AND pid <> pg_backend_pid()")
        holder.wait(10)
    out, err = a.communicate(timeout=60)
    assert a.returncode == 0 and json.loads(out)["status"] == "succeeded", err
    assert has_table(srv, dbs[0], "a_done") and has_table(srv, dbs[1], "a_done")
    assert srv.sql("SELECT count(*) FROM pg_prepared_xacts") == "0"


def test_killed_mid_run_each_history_tells_the_truth(srv, dbs, tmp_path):
    f = tmp_path / "long.sql"
    f.write_text("CREATE TABLE long_a (id int); SELECT pg_sleep(30); CREATE TABLE long_b (id int);")
    proc = subprocess.Popen([PGFLEET_BIN, "migrate", "--target", target(srv, dbs[0]), "--target",
                             target(srv, dbs[1]), str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: srv.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'") == "1",
             timeout=10, what="the run in its long statement")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # the server ends the orphaned transaction once it notices the client is gone
    srv.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'")
    wait_for(lambda: srv.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfleet migrate'") == "0",
             timeout=10, what="the sessions gone")
    for d in dbs[:2]:
        assert history(srv, d) == [] and not has_table(srv, d, "long_a")
    # a new run applies cleanly (the lock went with the session)
    f.write_text("CREATE TABLE long_a (id int); CREATE TABLE long_b (id int);")
    p, r = migrate(tmp_path, f.read_text(), [target(srv, d) for d in dbs[:2]], name="long")
    assert p.returncode == 0 and all(has_table(srv, d, "long_b") for d in dbs[:2])


def test_script_checks_and_non_transactional(srv, dbs, tmp_path):
    t = [target(srv, dbs[0])]
    srv.sql("CREATE TABLE items (id int, v int)", db=dbs[0])
    p, _ = migrate(tmp_path, "CREATE INDEX CONCURRENTLY items_v ON items (v);", t, name="idx")
    assert p.returncode == 5 and "CREATE INDEX CONCURRENTLY" in p.stderr and "non-transactional" in p.stderr
    p, _ = migrate(tmp_path, "BEGIN; CREATE TABLE x (id int); COMMIT;", t, name="tx")
    assert p.returncode == 5 and "statement 1 (line 1) is BEGIN" in p.stderr
    p, _ = migrate(tmp_path, "SELECT 'open;", t, name="open")
    assert p.returncode == 5 and "unterminated" in p.stderr
    p, _ = migrate(tmp_path, "SELECT 1;", t, "--atomic", "--dry-run", name="x")
    assert p.returncode == 5 and "atomic cannot be combined" in p.stderr
    script = ("CREATE INDEX CONCURRENTLY items_v ON items (v);\nVACUUM items;\n"
              "CREATE INDEX CONCURRENTLY items_v ON items (v);\nCREATE TABLE never (id int);\n")
    p, r = migrate(tmp_path, script, t, "--non-transactional", name="idx")
    assert p.returncode == 21
    x = r["targets"][0]
    assert x["statements_done"] == 2 and "statement 3 of 4 (line 3)" in x["error"]
    assert "statements 1..2 were applied" in x["note"]
    assert srv.sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'items_v'", db=dbs[0]) == "1"
    assert not has_table(srv, dbs[0], "never")
    p, r = migrate(tmp_path, "CREATE INDEX CONCURRENTLY items_w ON items (v);", t, "--non-transactional", name="idx2")
    assert p.returncode == 0 and history(srv, dbs[0])[-1][0] == "idx2"
    p = subprocess.run([PGFLEET_BIN, "migrate", "--target", t[0]], capture_output=True, text=True)
    assert p.returncode == 2 and "give the script" in p.stderr


def test_standby_refused_and_subscribers_first(srv, dbs, tmp_path, pg_server):
    standby = pg_server.standby_of(srv, "mig_standby", "monitor", PW)
    sub = pg_server()
    sub.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
    sub.sql("CREATE DATABASE reporting")
    srv.sql("CREATE TABLE orders (id int PRIMARY KEY)", db=dbs[0])
    sub.sql("CREATE TABLE orders (id int PRIMARY KEY)", db="reporting")
    srv.sql("CREATE PUBLICATION orders_pub FOR TABLE orders", db=dbs[0])
    sub.sql(f"CREATE SUBSCRIPTION orders_sub CONNECTION '{target(srv, dbs[0])}' PUBLICATION orders_pub", db="reporting")
    # a standby among the targets: the run is refused before anything changes
    p, r = migrate(tmp_path, "ALTER TABLE orders ADD COLUMN note text;",
                   [target(srv, dbs[0]), f"host=127.0.0.1 port={standby.port} dbname={dbs[0]} user=monitor password={PW}"])
    assert p.returncode == 21 and any("standby" in (t["error"] or "") for t in r["targets"])
    assert srv.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders'", db=dbs[0]) == "1"
    # publisher listed first, subscriber runs first, and the plan says why
    p, r = migrate(tmp_path, "ALTER TABLE orders ADD COLUMN note text;",
                   [target(srv, dbs[0]), f"host=127.0.0.1 port={sub.port} dbname=reporting user=monitor password={PW}"],
                   name="add_note")
    assert p.returncode == 0, p.stderr + p.stdout
    assert [t["target"] for t in r["targets"]] == [f"127.0.0.1:{sub.port}/reporting", f"127.0.0.1:{srv.port}/{dbs[0]}"]
    assert any("does not carry DDL" in n for n in r["plan"])
    assert not any("not targets of this run" in n for n in r["plan"])
    srv.sql("INSERT INTO orders VALUES (1, 'replicated')", db=dbs[0])
    wait_for(lambda: sub.sql("SELECT note FROM orders", db="reporting") == "replicated", timeout=20,
             what="the new column replicating")
    # the publisher alone: its subscriber is outside the run, and the plan says so
    p, r = migrate(tmp_path, "ALTER TABLE orders ADD COLUMN extra int;", [target(srv, dbs[0])],
                   name="add_extra")
    assert p.returncode == 0
    assert any("not targets of this run" in n and "orders_sub" in n for n in r["plan"]), r["plan"]
    sub.sql("DROP SUBSCRIPTION orders_sub", db="reporting")


def test_api_runs_a_migration_with_live_progress(srv, dbs, tmp_path, daemon_factory, redis):
    import asyncio
    import websockets
    from conftest import AUTH_KEY
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MIG_PW": PW})
    for db in dbs:
        register_db(d, db, srv, db, "monitor", env="PGFLEET_DB_MIG_PW")
    body = {"name": "add_orders", "sql": ADD, "database_ids": dbs}

    async def run():
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            r = d.post("/api/migrations/execute", data=json.dumps(body), headers={"Content-Type": "application/json"})
            assert r.status_code == 202, r.text
            ex = r.json()["execution_id"]
            await ws.send(json.dumps({"type": "subscribe", "topics": [f"migration:{ex}"]}))
            seen = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg.get("type") == "event":
                    seen.append(msg["data"])
                    if msg["data"]["event"] == "finished":
                        return ex, seen
    ex, seen = asyncio.run(run())
    # subscribing just after the 202 may miss the first events; the end is always seen
    assert seen[-1]["report"]["status"] == "succeeded"
    assert any(e["event"] in ("statement", "committed") for e in seen)
    rec = d.get(f"/api/migrations/{ex}", auth=True).json()
    assert rec["status"] == "succeeded" and [t["status"] for t in rec["targets"]] == ["committed"] * 3
    assert rec["started_at"] and rec["finished_at"] and rec["applied_by"] == "api-key"
    assert all(has_table(srv, db) for db in dbs)
    lst = d.get("/api/migrations", auth=True).json()
    assert lst["count"] == 1 and lst["migrations"][0]["execution_id"] == ex
    # refused up front: bad script, unknown database, missing fields
    bad = d.post("/api/migrations/execute", data=json.dumps({**body, "sql": "VACUUM;"}),
                 headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "non-transactional" in bad.json()["error"]["message"]
    bad = d.post("/api/migrations/execute", data=json.dumps({**body, "database_ids": ["nope"]}),
                 headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "not a registered database" in bad.text
    assert d.get("/api/migrations/mig-none", auth=True).status_code == 404
    assert d.post(f"/api/migrations/{ex}/cancel").status_code == 409
    # cancel: the running statement is cancelled, its target rolls back, the rest is skipped
    r = d.post("/api/migrations/execute", data=json.dumps({
        "name": "slow", "sql": "CREATE TABLE slow_a (id int); SELECT pg_sleep(60);", "database_ids": dbs}),
        headers={"Content-Type": "application/json"})
    slow = r.json()["execution_id"]
    wait_for(lambda: srv.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'") == "1",
             timeout=10, what="the slow statement")
    assert d.post(f"/api/migrations/{slow}/cancel").status_code == 202
    wait_for(lambda: d.get(f"/api/migrations/{slow}", auth=True).json()["status"] == "cancelled", timeout=10,
             what="the run cancelled")
    rec = d.get(f"/api/migrations/{slow}", auth=True).json()
    assert [t["status"] for t in rec["targets"]] == ["failed", "skipped", "skipped"]
    assert "cancel" in rec["targets"][0]["error"] and not has_table(srv, dbs[0], "slow_a")
    # a record left running by a server that died is marked interrupted at start
    redis.cli("HSET", "pgfleet:migrations", "mig-dead", json.dumps({
        "schema_version": 1, "execution_id": "mig-dead", "name": "x", "checksum": "c" * 64,
        "status": "running", "started_at": "2026-11-26T00:00:00Z",
        "targets": [{"target": dbs[0], "status": "running", "statements_done": 1}]}))
    d.stop()
    d2 = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MIG_PW": PW})
    wait_for(lambda: d2.get("/api/migrations/mig-dead", auth=True).json()["status"] == "interrupted",
             timeout=10, what="the dead run marked interrupted")
    rec = d2.get("/api/migrations/mig-dead", auth=True).json()
    assert rec["targets"][0]["status"] == "unknown" and "migration_history" in rec["error"]


def test_daemon_resolves_prepared_transactions_at_start(srv, dbs, daemon_factory, redis):
    ddl = ("CREATE SCHEMA IF NOT EXISTS pgfleet; CREATE TABLE IF NOT EXISTS pgfleet.migration_history "
           "(name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
           "duration_ms float8, applied_by text, pgfleet_version text, execution_id text)")
    for d in dbs[:2]:
        srv.sql(ddl, db=d)
    srv.sql("INSERT INTO pgfleet.migration_history (name, checksum, execution_id) VALUES ('y', 'c', 'mig-cccc')", db=dbs[0])
    srv.sql("BEGIN; CREATE TABLE done_c (id int); PREPARE TRANSACTION 'pgfleet:mig-cccc:1'", db=dbs[1])
    srv.sql("BEGIN; CREATE TABLE never_d (id int); PREPARE TRANSACTION 'pgfleet:mig-dddd:0'", db=dbs[2])
    from conftest import AUTH_KEY
    redis.cli("FLUSHALL")
    for i, db in enumerate(dbs):
        redis.cli("HSET", "pgfleet:databases", db, json.dumps({
            "schema_version": 1, "id": db, "name": db, "host": "127.0.0.1", "port": srv.port, "dbname": db,
            "user": "monitor", "credentials": {"source": "env", "env": "PGFLEET_DB_MIG_PW"}}))
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MIG_PW": PW})
    wait_for(lambda: srv.sql("SELECT count(*) FROM pg_prepared_xacts") == "0", timeout=15,
             what="prepared transactions resolved at start-up")
    assert has_table(srv, dbs[1], "done_c") and not has_table(srv, dbs[2], "never_d")
    logs = d.logs()
    assert "pgfleet:mig-cccc:1" in logs and "committed (another target" in logs
    assert "pgfleet:mig-dddd:0" in logs and "rolled back (no target" in logs


def test_many_databases_on_a_server_with_few_connections(tmp_path, pg_server):
    """30 databases on a server that allows 15 connections: the run never holds more than
    a few (planning is bounded, each target's session opens when its turn comes)."""
    s = pg_server(settings={"max_connections": 15, "superuser_reserved_connections": 1})
    s.sql(f"CREATE ROLE monitor SUPERUSER LOGIN PASSWORD '{PW}'")
    names = [f"few_{i:02d}" for i in range(30)]
    for n in names:
        s.sql(f"CREATE DATABASE {n}")
    p, r = migrate(tmp_path, "CREATE TABLE few (id int);", [target(s, n) for n in names], "--parallel", "4",
                   name="few")
    assert p.returncode == 0, p.stderr[-2000:]
    assert [t["status"] for t in r["targets"]] == ["committed"] * 30
