"""Database configuration and connections against real PostgreSQL servers:
each credential source, a rotated secret, a wrong password, a server stopped
and started again, many targets at once, and hostile names stored and used
safely."""
import json
import os
import resource
import time

import pytest

from awshelp import BASE_ENV, Moto
from conftest import AUTH_KEY, JSON, PGFLEET_BIN, register_db, wait_for


@pytest.fixture(scope="module")
def pg(pg_servers):
    s = pg_servers()
    s.sql("CREATE ROLE app LOGIN PASSWORD 'app-pw-1'")
    s.sql("CREATE DATABASE orders OWNER app")
    s.sql("CREATE ROLE \"we'ird user\" LOGIN PASSWORD 'p w \"q\" ''x'''")
    s.sql("CREATE DATABASE \"my db; DROP TABLE x\" OWNER \"we'ird user\"")
    return s


@pytest.fixture
def fleet(daemon_factory, redis, moto):
    moto.reset()

    def make(extra=None):
        env = {**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
               "PGFLEET_REDIS_URL": redis.url, "PGFLEET_HEALTH_INTERVAL_SECONDS": "1",
               "PGFLEET_SECRETS_TTL_SECONDS": "300", "PGFLEET_PG_CONNECT_TIMEOUT_MS": "2000"}
        env.update(extra or {})
        return daemon_factory(env)
    return make


def db(pg, **kw):
    body = {"name": "orders", "host": "127.0.0.1", "port": pg.port, "dbname": "orders", "user": "app",
            "credentials": {"source": "env", "env": "PGFLEET_DB_APP_PW"}}
    body.update(kw)
    return body


def post(d, body):
    """The registration request under test, as sent (register_db builds the usual one)."""
    return d.post("/api/databases", data=json.dumps(body), headers=JSON)


def test_env_credentials_connect_and_report_server_facts(fleet, pg):
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})
    r = post(d, db(pg, id="orders"))
    assert r.status_code == 201, r.text
    t = d.post("/api/databases/orders/test").json()
    assert t["ok"] is True and t["state"] == "ok"
    s = t["server"]
    assert s["version"].startswith("15.") and s["in_recovery"] is False and s["wal_level"] == "logical"
    assert s["system_identifier"] == pg.sql("SELECT system_identifier FROM pg_control_system()")
    assert t["latency_ms"] > 0
    wait_for(lambda: d.get("/api/databases/orders", auth=True).json()["health"]["state"] == "ok",
             what="health ok")
    lst = d.get("/api/databases", auth=True).json()
    assert lst["count"] == 1 and lst["databases"][0]["id"] == "orders"


def test_secretsmanager_credentials_and_rotation(fleet, pg, moto):
    sm = moto.client("secretsmanager")
    sm.create_secret(Name="pgfleet/prod/orders", SecretString=json.dumps(
        {"username": "app", "password": "app-pw-1", "engine": "postgres", "host": "127.0.0.1",
         "port": pg.port, "dbname": "orders"}))
    d = fleet()
    assert post(d, db(pg, id="sm", credentials={"source": "secretsmanager",
                                                 "secret_id": "pgfleet/prod/orders"})).status_code == 201
    assert d.post("/api/databases/sm/test").json()["ok"] is True
    # rotate: the server and the secret get a new password; pgfleet keeps working
    try:
        pg.sql("ALTER ROLE app PASSWORD 'app-pw-2'")
        sm.put_secret_value(SecretId="pgfleet/prod/orders", SecretString=json.dumps(
            {"username": "app", "password": "app-pw-2"}))
        pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
        wait_for(lambda: d.post("/api/databases/sm/test").json()["ok"] is True, timeout=15,
                 what="reconnect with the rotated password")
        assert "secret pgfleet/prod/orders has a new version" in d.logs()
    finally:
        pg.sql("ALTER ROLE app PASSWORD 'app-pw-1'")


def test_password_source_is_kept_in_secrets_manager_not_redis(fleet, pg, moto, redis):
    d = fleet()
    r = post(d, db(pg, id="pw", credentials={"source": "password", "password": "app-pw-1"}))
    assert r.status_code == 201, r.text
    cred = r.json()["credentials"]
    assert cred == {"source": "password", "password_set": True, "secret_id": "pgfleet/db/pw"}
    stored = redis.cli("HGET", "pgfleet:databases", "pw")
    assert "app-pw-1" not in stored and json.loads(stored)["credentials"]["password_set"] is True
    secret = json.loads(moto.client("secretsmanager").get_secret_value(SecretId="pgfleet/db/pw")["SecretString"])
    assert secret["password"] == "app-pw-1" and secret["username"] == "app" and secret["port"] == pg.port
    assert d.post("/api/databases/pw/test").json()["ok"] is True
    assert "app-pw-1" not in d.logs() and "app-pw-1" not in d.get("/api/databases", auth=True).text
    # PUT without a password keeps it; with one replaces it in the secret
    body = db(pg, name="orders renamed", credentials={"source": "password"})
    r = d.request("PUT", "/api/databases/pw", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["name"] == "orders renamed"
    assert d.post("/api/databases/pw/test").json()["ok"] is True
    # DELETE removes the record and the secret pgfleet made
    assert d.request("DELETE", "/api/databases/pw").status_code == 200
    assert redis.cli("HGET", "pgfleet:databases", "pw").strip() == ""
    wait_for(lambda: "pgfleet/db/pw" not in [s["Name"] for s in moto.client("secretsmanager").list_secrets()["SecretList"]],
             what="managed secret deleted")


def test_password_without_aws_is_refused_not_stored(daemon_factory, redis, pg):
    from conftest import free_port
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_REDIS_URL": redis.url})
    r = post(d, db(pg, id="nope", credentials={"source": "password", "password": "secret-xyz"}))
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "aws_error" and "never in Redis" in err["hint"]
    assert redis.cli("HGET", "pgfleet:databases", "nope").strip() == ""
    assert "secret-xyz" not in d.logs()


def test_wrong_password_is_reported_with_a_hint(fleet, pg):
    d = fleet({"PGFLEET_DB_APP_PW": "wrong"})
    post(d, db(pg, id="bad"))
    t = d.post("/api/databases/bad/test").json()
    assert t["ok"] is False and t["state"] == "unreachable"
    assert t["error"]["kind"] == "auth" and "password authentication failed" in t["error"]["message"]
    assert "password" in t["error"]["hint"]


@pytest.mark.parametrize("patch,kind,hint_part", [
    ({"port": 1}, "connect", "listening on"),
    ({"host": "no-such-host.invalid"}, "dns", "host name"),
    ({"dbname": "missing_db"}, "database", "dbname"),
    ({"sslmode": "require"}, "tls", "TLS"),
])
def test_connection_errors_are_classified(fleet, pg, patch, kind, hint_part):
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})
    body = db(pg, id="e", **patch)
    assert post(d, body).status_code == 201
    t = d.post("/api/databases/e/test").json()
    assert t["ok"] is False and t["error"]["kind"] == kind, t
    assert hint_part in t["error"]["hint"]


def test_no_pg_hba_entry_is_reported(fleet, pg_server):
    s = pg_server(hba="# nothing for 127.0.0.1 once the default line is gone\n")
    import re
    path = os.path.join(s.data, "pg_hba.conf")
    text = open(path).read()
    text = re.sub(r"^host\s+all\s+all\s+127\.0\.0\.1/32\s+scram-sha-256\s*$", "", text, flags=re.M)
    open(path, "w").write(text)
    s.sql("SELECT pg_reload_conf()")
    d = fleet({"PGFLEET_DB_APP_PW": "x"})
    register_db(d, "hba", s, env="PGFLEET_DB_APP_PW")
    t = d.post("/api/databases/hba/test").json()
    assert t["error"]["kind"] == "hba", t
    assert "no pg_hba.conf entry" in t["error"]["message"]
    assert "add a pg_hba.conf line" in t["error"]["hint"]


def test_server_stopped_then_started_goes_unreachable_then_ok(fleet, pg_server):
    s = pg_server()
    s.sql("CREATE ROLE app LOGIN PASSWORD 'app-pw-1'")
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})
    register_db(d, "flappy", s, user="app", env="PGFLEET_DB_APP_PW")
    state = lambda: d.get("/api/databases/flappy", auth=True).json()["health"]["state"]
    wait_for(lambda: state() == "ok", timeout=10, what="ok")
    s.stop()
    t0 = time.monotonic()
    wait_for(lambda: state() == "unreachable", timeout=10, what="unreachable")
    assert time.monotonic() - t0 < 3.5  # within about one health interval (1 s)
    s.start()
    wait_for(lambda: state() == "ok", timeout=10, what="ok again")
    logs = d.logs()
    assert "database flappy" in logs and "is unreachable" in logs


def test_health_changes_are_pushed_on_the_websocket(fleet, pg):
    import asyncio
    import websockets
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})

    async def go():
        async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "topics": ["health"]}))
            await ws.recv()
            post(d, db(pg, id="live"))
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m["type"] == "event" and m["data"].get("database_id") == "live":
                    return m["data"]
    ev = asyncio.run(go())
    assert ev["state"] == "ok" and ev["from"] == "unknown" and ev["health"]["server"]["wal_level"] == "logical"


def test_quotes_spaces_and_injection_are_only_names(fleet, pg):
    d = fleet({"PGFLEET_DB_WEIRD_PW": "p w \"q\" 'x'"})
    body = {"id": "weird", "name": "x'); DROP TABLE users; --", "host": "127.0.0.1", "port": pg.port,
            "dbname": "my db; DROP TABLE x", "user": "we'ird user",
            "credentials": {"source": "env", "env": "PGFLEET_DB_WEIRD_PW"}}
    r = post(d, body)
    assert r.status_code == 201, r.text
    t = d.post("/api/databases/weird/test").json()
    assert t["ok"] is True, t
    assert t["server"]["database"] == "my db; DROP TABLE x" and t["server"]["user"] == "we'ird user"
    # dbname is never parsed as a conninfo string
    evil = post(d, {**body, "id": "evil", "dbname": "orders host=10.0.0.1 user=postgres"})
    assert evil.status_code == 201
    t = d.post("/api/databases/evil/test").json()
    assert t["ok"] is False and t["error"]["kind"] == "database"
    assert d.get("/api/databases/weird", auth=True).json()["name"] == body["name"]


@pytest.mark.parametrize("body,field,rule", [
    ({"port": 0}, "port", "range"),
    ({"host": "bad host"}, "host", "pattern"),
    ({"credentials": {"source": "password"}}, "credentials.password", "required"),
    ({"credentials": {"source": "rds_iam"}}, "sslmode", "requires_tls"),
    ({"id": "test"}, "id", "reserved"),
    ({"credentials": {"source": "password", "password": "x", "password_set": True}},
     "credentials.password_set", "unknown_field"),
])
def test_bad_input_is_422_naming_the_field(fleet, pg, body, field, rule):
    d = fleet()
    r = post(d, {**db(pg), **body})
    assert r.status_code == 422, r.text
    assert any(f["field"] == field and f["rule"] == rule for f in r.json()["error"]["fields"]), r.text


def test_conflicts_and_unknown_ids(fleet, pg):
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})
    assert post(d, db(pg, id="one")).status_code == 201
    r = post(d, db(pg, id="one"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert d.get("/api/databases/nope", auth=True).status_code == 404
    assert d.request("DELETE", "/api/databases/nope").status_code == 404
    r = d.request("PUT", "/api/databases/one", data=json.dumps(db(pg, id="other")),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "id"


def test_registry_survives_a_restart(daemon_factory, redis, pg, moto):
    env = {**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url,
           "PGFLEET_DB_APP_PW": "app-pw-1", "PGFLEET_HEALTH_INTERVAL_SECONDS": "1"}
    d = daemon_factory(env)
    assert post(d, db(pg, id="kept")).status_code == 201
    d.stop()
    d2 = daemon_factory(env)
    wait_for(lambda: d2.get("/api/databases/kept", auth=True).status_code == 200, what="reloaded")
    wait_for(lambda: d2.get("/api/databases/kept", auth=True).json()["health"]["state"] == "ok", what="ok")


def test_200_targets_on_one_loop_thread(daemon_factory, redis, moto, pg):
    # memory is measured on the plain build: ASan's quarantine alone holds hundreds of MB
    from conftest import ROOT
    plain = os.environ.get("PGFLEET_BIN_PLAIN", str(ROOT / "build" / "pgfleet"))
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_APP_PW": "app-pw-1",
                        "PGFLEET_PG_POOL_SIZE": "1", "PGFLEET_HEALTH_INTERVAL_SECONDS": "30"},
                       binary=plain if os.path.exists(plain) else PGFLEET_BIN)
    for i in range(200):
        r = post(d, db(pg, id=f"t{i:03d}", name=f"target {i}"))
        assert r.status_code == 201
    t0 = time.monotonic()
    r = d.get("/api/databases/test", auth=True, timeout=60)
    elapsed = time.monotonic() - t0
    body = r.json()
    assert body["count"] == 200 and body["ok"] is True, [x for x in body["results"] if not x["ok"]][:2]
    assert int(pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgfleet:%'")) >= 200
    status = open(f"/proc/{d.proc.pid}/status").read()
    rss_kb = int([l for l in status.splitlines() if l.startswith("VmRSS")][0].split()[1])
    threads = int([l for l in status.splitlines() if l.startswith("Threads")][0].split()[1])
    print(f"200 targets tested in {elapsed:.2f} s, RSS {rss_kb / 1024:.1f} MB, {threads} threads")
    assert threads <= 6  # one loop thread (+ libuv's threadpool and curl's resolver)
    # bounded: under 150 KB per target, connection included
    assert rss_kb < 30 * 1024 + 200 * 150


def test_cli_db_commands_against_the_server(fleet, pg):
    import subprocess
    d = fleet({"PGFLEET_DB_APP_PW": "app-pw-1"})
    env = {"PATH": "/usr/bin:/bin", "PGFLEET_URL": d.url, "AUTH_KEY": AUTH_KEY}

    def cli(*args, stdin=None):
        return subprocess.run([PGFLEET_BIN, "db", *args], env=env, capture_output=True, text=True,
                              timeout=60, input=stdin)
    r = cli("add", "--id", "orders", "--name", "orders", "--host", "127.0.0.1", "--port", str(pg.port),
            "--dbname", "orders", "--user", "app", "--password-env", "PGFLEET_DB_APP_PW", "--tag", "prod")
    assert r.returncode == 0 and "registered orders" in r.stdout, r.stderr
    wait_for(lambda: " ok " in cli("list").stdout, what="listed ok")
    out = cli("list").stdout
    assert "orders" in out and f"127.0.0.1:{pg.port}" in out
    r = cli("test", "orders")
    assert r.returncode == 0 and "primary, wal_level=logical" in r.stdout
    shown = json.loads(cli("show", "orders").stdout)
    assert shown["tags"] == ["prod"] and shown["credentials"] == {"source": "env", "env": "PGFLEET_DB_APP_PW"}
    bad = cli("add", "--name", "x", "--host", "bad host", "--dbname", "d", "--user", "u", "--rds-iam")
    assert bad.returncode == 5 and "host:" in bad.stderr and "sslmode:" in bad.stderr
    assert cli("add", "--bogus").returncode == 2
    assert cli("add", "--id", "orders", "--name", "o", "--host", "h", "--dbname", "d", "--user", "u",
               "--password-env", "PGFLEET_DB_X").returncode == 14  # conflict
    post(d, db(pg, id="broken", credentials={"source": "env", "env": "PGFLEET_DB_MISSING_VAR"}))
    r = cli("test")
    assert r.returncode == 19 and "broken" in r.stdout and "PGFLEET_DB_MISSING_VAR is not set" in r.stdout
    assert cli("rm", "broken").returncode == 0
    assert cli("show", "broken").returncode == 6
    env["AUTH_KEY"] = "wrong"
    assert cli("list").returncode == 8
    env["PGFLEET_URL"] = "http://127.0.0.1:1"
    r = cli("list")
    assert r.returncode == 19 and "could not reach the server" in r.stderr


from test_pgconn import tls_pg  # noqa: E402,F401  (the TLS server fixture)


def test_rds_iam_sends_a_fresh_token_over_tls(fleet, tls_pg):
    """No RDS here: the local server checks passwords, so a token is refused, which shows it
    was made (with the AWS credentials) and sent over TLS as the password."""
    d = fleet({"PGFLEET_PG_CA_FILE": tls_pg.ca})
    body = {"id": "iam", "name": "iam", "host": "localhost", "port": tls_pg.port, "dbname": "postgres",
            "user": "app", "sslmode": "verify-full", "credentials": {"source": "rds_iam"},
            "aws": {"region": "us-east-1", "rds_instance_id": "orders-primary"}}
    assert post(d, body).status_code == 201
    t = d.post("/api/databases/iam/test").json()
    assert t["ok"] is False and t["error"]["kind"] == "auth", t
    assert "password authentication failed for user \"app\"" in t["error"]["message"]
    # the same server accepts the real password over the same TLS path
    tls_pg.sql("ALTER ROLE app PASSWORD 'pw'")
    ok = {**body, "id": "pwd", "credentials": {"source": "env", "env": "PGFLEET_DB_TLS_PW"}}
    d2 = fleet({"PGFLEET_PG_CA_FILE": tls_pg.ca, "PGFLEET_DB_TLS_PW": "pw"})
    assert post(d2, ok).status_code == 201
    assert d2.post("/api/databases/pwd/test").json()["ok"] is True
    assert "X-Amz-Signature" not in d.logs()  # the token never reaches the log
