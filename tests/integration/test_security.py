"""Attacks on a running daemon, each of which must fail: drive-by pages and DNS rebinding,
credentials aimed at a host of the attacker's choice, log sources that would hang or leak,
protocol abuse (bodies before authentication, idle and brute-forced WebSockets, slow
clients, double-decoded query strings), secrets in answers and logs, damaged records in
Redis, and migrations that would undo each other's prepared transactions."""
import asyncio
import json
import os
import socket
import subprocess
import time

import pytest
import requests
import websockets
import websockets.exceptions

from awshelp import BASE_ENV
from conftest import AUTH_KEY, JSON, PGFLEET_BIN, register_db, wait_for
from fakepg import CleartextListener

EVIL = "http://evil.test"


@pytest.fixture
def open_daemon(daemon_factory, redis):
    """No AUTH_KEY, on loopback: every caller is admin, the case a drive-by page targets."""
    return daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": None})


def registered(d):
    return [x["id"] for x in d.get("/api/databases").json()["databases"]]


def body(ident):
    return json.dumps({"id": ident, "name": ident, "host": "127.0.0.1", "port": 1, "dbname": "x",
                       "user": "x", "credentials": {"source": "env", "env": "PGFLEET_DB_X"}})


# ---- origin and host ----

def test_a_page_of_another_site_cannot_change_anything(open_daemon):
    d = open_daemon
    own = f"http://127.0.0.1:{d.port}"
    # fetch(..., {mode: 'no-cors', body: new Blob([json])}): no Content-Type, a foreign Origin
    r = requests.post(d.url + "/api/databases", data=body("a"), headers={"Origin": EVIL}, timeout=5)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    # an HTML form (text/plain, even without an Origin) is not JSON
    r = requests.post(d.url + "/api/databases", data=body("b"),
                      headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 415
    # a body-less state change needs a header no form can send
    r = requests.post(d.url + "/api/databases/test", timeout=5)
    assert r.status_code == 403 and "Content-Type: application/json" in r.json()["error"]["message"]
    r = requests.delete(d.url + "/api/databases/x", headers={"Origin": EVIL, **JSON}, timeout=5)
    assert r.status_code == 403
    assert registered(d) == []
    # the daemon's own page may
    r = requests.post(d.url + "/api/databases", data=body("mine"), headers={"Origin": own, **JSON},
                      timeout=5)
    assert r.status_code == 201, r.text
    assert registered(d) == ["mine"]


def test_allowed_origins_and_the_public_url(daemon_factory, redis):
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": None,
                        "PGFLEET_PUBLIC_URL": "https://pgfleet.example.com",
                        "PGFLEET_ALLOWED_ORIGINS": "https://grafana.example:3000"})
    for origin in ("https://grafana.example:3000", "https://pgfleet.example.com"):
        r = requests.post(d.url + "/api/databases", data=body(origin.split("//")[1].split(".")[0]),
                          headers={"Origin": origin, **JSON}, timeout=5)
        assert r.status_code == 201, r.text
    r = requests.get(d.url + "/healthz", headers={"Host": "pgfleet.example.com"}, timeout=5)
    assert r.status_code == 200


def test_dns_rebinding_reads_nothing(open_daemon):
    d = open_daemon
    for path in ("/api/databases", "/", "/healthz"):
        r = requests.get(d.url + path, headers={"Host": f"evil.test:{d.port}"}, timeout=5)
        assert r.status_code == 421, (path, r.status_code)
        assert r.json()["error"]["code"] == "misdirected_request"
    for host in (f"127.0.0.1:{d.port}", f"localhost:{d.port}"):
        assert requests.get(d.url + "/api/databases", headers={"Host": host}, timeout=5).status_code == 200


def upgrade_status(port, extra=""):
    """The status line a WebSocket upgrade request gets."""
    got, _ = raw(port, (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode(), read_timeout=1.0)
    return got.split(b"\r\n", 1)[0].decode()


def test_websockets_from_another_site_are_refused(open_daemon):
    d = open_daemon
    assert " 403 " in upgrade_status(d.port, f"Origin: {EVIL}\r\n")
    assert " 403 " in upgrade_status(d.port, "Origin: null\r\n")
    assert " 101 " in upgrade_status(d.port, f"Origin: http://127.0.0.1:{d.port}\r\n")

    async def go(origin):
        async with websockets.connect(d.ws_url, origin=origin) as ws:
            return json.loads(await ws.recv())["type"]
    assert asyncio.run(go(f"http://127.0.0.1:{d.port}")) == "welcome"
    assert "websocket upgrade refused: foreign host or origin" in d.logs()


# ---- credentials stay with their host ----

@pytest.fixture
def listener():
    lst = CleartextListener()
    yield lst
    lst.close()


def test_env_credentials_cannot_name_the_daemons_secrets(daemon_factory, redis, listener):
    env = {"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY, "PGFLEET_DB_DEMO": "demo-pw",
           "AWS_SECRET_ACCESS_KEY": "aws-secret-value", "PGFLEET_HEALTH_INTERVAL_SECONDS": "1"}
    d = daemon_factory(env)
    for var in ("HOME", "AWS_SECRET_ACCESS_KEY", "AUTH_KEY", "PGFLEET_REDIS_URL", "PGFLEET_LISTEN"):
        r = register_db(d, "x", port=listener.port, env=var, sslmode="disable", expect=422)
        fields = {f["field"]: f["rule"] for f in r.json()["error"]["fields"]}
        assert fields.get("credentials.env") == "not_allowed", (var, r.text)
    # what the listener collects when a variable is allowed: the harness works
    register_db(d, "demo", port=listener.port, env="PGFLEET_DB_DEMO", sslmode="disable")
    wait_for(lambda: "demo-pw" in listener.received, timeout=10, what="the allowed password sent")
    # a record planted in Redis naming AUTH_KEY gets nothing either: checked again before use
    redis.cli("HSET", "pgfleet:databases", "planted", json.dumps({
        "schema_version": 1, "id": "planted", "name": "planted", "host": "127.0.0.1",
        "port": listener.port, "dbname": "x", "user": "x", "sslmode": "disable",
        "credentials": {"source": "env", "env": "AUTH_KEY"}}))
    redis.cli("HSET", "pgfleet:databases", "planted_pw", json.dumps({
        "schema_version": 1, "id": "planted_pw", "name": "p", "host": "127.0.0.1",
        "port": listener.port, "dbname": "x", "user": "x", "sslmode": "disable",
        "credentials": {"source": "password", "password_set": True, "secret_id": "pgfleet/users"}}))
    d.stop()
    d2 = daemon_factory(env)

    def refused(ident):
        h = d2.get(f"/api/databases/{ident}", auth=True).json()["health"]
        return h["error"] and "refused" in h["error"]["message"]
    wait_for(lambda: refused("planted") and refused("planted_pw"), timeout=15,
             what="the planted records refused")
    assert AUTH_KEY not in listener.received and "aws-secret-value" not in listener.received
    assert all(p == "demo-pw" for p in listener.received), listener.received


def test_secret_ids_outside_the_prefix_are_refused_alike(daemon_factory, redis, moto):
    moto.reset()
    moto.client("secretsmanager").create_secret(Name="prod/other-team", SecretString="theirs")
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "PGFLEET_REDIS_URL": redis.url,
                        "AUTH_KEY": AUTH_KEY})
    answers = []
    for secret in ("prod/other-team", "prod/does-not-exist",
                   "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/other-team-AbCdEf",
                   "pgfleet/../prod/other-team"):
        r = register_db(d, "s", port=1, credentials={"source": "secretsmanager", "secret_id": secret},
                        expect=422)
        err = r.json()["error"]
        assert {f["field"] for f in err["fields"]} == {"credentials.secret_id"}
        answers.append(err["fields"][0]["message"])
    # the same words whether the secret exists or not
    assert len(set(answers)) == 1 and "PGFLEET_SECRETS_PREFIX" in answers[0]
    register_db(d, "ok", port=1, credentials={"source": "secretsmanager",
                                              "secret_id": "pgfleet/team/db"})


def test_a_kept_password_does_not_follow_the_database_elsewhere(daemon_factory, redis, moto, listener):
    moto.reset()
    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "PGFLEET_REDIS_URL": redis.url,
                        "AUTH_KEY": AUTH_KEY})
    register_db(d, "kept", port=1, password="the-kept-password", sslmode="disable")
    moved = {"name": "kept", "host": "127.0.0.1", "port": listener.port, "dbname": "x", "user": "x",
             "sslmode": "disable", "credentials": {"source": "password"}}
    r = d.request("PUT", "/api/databases/kept", data=json.dumps(moved), headers=JSON)
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["error"]["fields"]} == {"credentials.password"}
    # the same change with the password sent again is the owner's choice
    moved["credentials"]["password"] = "a-new-password"
    r = d.request("PUT", "/api/databases/kept", data=json.dumps(moved), headers=JSON)
    assert r.status_code == 200, r.text
    wait_for(lambda: listener.received, timeout=10, what="the new password sent")
    assert "the-kept-password" not in listener.received


# ---- log sources ----

def test_log_sources_follow_only_regular_files_in_the_allowed_folders(daemon_factory, redis, workdir):
    logs = os.path.join(workdir, "logs")
    os.mkdir(logs)
    fifo = os.path.join(logs, "fifo.log")
    os.mkfifo(fifo)
    os.symlink("/etc/passwd", os.path.join(logs, "passwd.log"))
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY, "PGFLEET_LOG_DIRS": logs,
                        "PGFLEET_LOG_POLL_MS": "100"})
    for path in ("/dev/zero", "/proc/self/environ", "/etc/passwd", logs + "/../x.log", "/tmp/x.log"):
        r = register_db(d, "bad", port=1, logs={"file": path}, expect=422)
        assert "logs.file" in {f["field"] for f in r.json()["error"]["fields"]}, (path, r.text)
    # a FIFO in the folder: registered (it is only a name), then refused without hanging anything
    t0 = time.monotonic()
    register_db(d, "fifo", port=1, logs={"file": fifo})
    register_db(d, "link", port=1, logs={"file": os.path.join(logs, "passwd.log")})
    assert time.monotonic() - t0 < 5

    def error_of(ident):
        return d.get(f"/api/databases/{ident}", auth=True).json()["log_sources"][0]["error"] or ""
    wait_for(lambda: "not a regular file" in error_of("fifo") or "Too many levels" in error_of("fifo"),
             timeout=10, what="the FIFO refused: " + error_of("fifo"))
    wait_for(lambda: "outside PGFLEET_LOG_DIRS" in error_of("link"), timeout=10,
             what="the symlink refused")
    assert d.get("/healthz").status_code == 200


def test_no_log_file_is_followed_until_folders_are_allowed(daemon, workdir):
    r = register_db(daemon, "x", port=1, logs={"file": os.path.join(workdir, "pg.log")}, expect=422)
    assert "PGFLEET_LOG_DIRS" in r.text


# ---- protocol limits ----

def raw(port, data, read_timeout=3.0):
    """Sends bytes, returns (what came back, seconds until the server answered or closed)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(read_timeout)
    t0 = time.monotonic()
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    return got, time.monotonic() - t0


def test_a_body_is_never_read_before_the_caller_is_known(daemon):
    # headers announcing 10 MB, no credentials: 401 at once, and the connection closes
    head = (f"POST /api/databases HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n").encode()
    got, took = raw(daemon.port, head)
    assert got.startswith(b"HTTP/1.1 401") and b"connection: close" in got.lower(), got[:300]
    assert took < 2.5


def test_slow_bodies_time_out(daemon_factory, redis):
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_BODY_TIMEOUT_SECONDS": "2"})
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall((f"POST /api/databases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {AUTH_KEY}"
               "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").encode())
    t0 = time.monotonic()
    closed = False
    try:
        while time.monotonic() - t0 < 15:
            s.sendall(b" ")
            time.sleep(0.5)
    except OSError:
        closed = True
    s.close()
    assert closed and time.monotonic() - t0 < 6


def test_short_api_keys_are_refused_at_start(daemon_factory, redis):
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": "too-short-key"}, start=False)
    d.start(wait=False)
    assert d.proc.wait(10) == 17
    assert "openssl rand" in d.logs() and "at least 24" in d.logs()


def test_unauthenticated_websockets_are_bounded(daemon_factory, redis):
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_WS_AUTH_TIMEOUT_SECONDS": "1",
                        "PGFLEET_WS_UNAUTHENTICATED_PER_ADDRESS": "2"})

    async def idle():
        async with websockets.connect(d.ws_url) as ws:
            await ws.recv()
            t0 = time.monotonic()
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return time.monotonic() - t0

    async def guessing():
        async with websockets.connect(d.ws_url) as ws:
            await ws.recv()
            for i in range(3):
                await ws.send(json.dumps({"type": "auth", "key": f"guess-{i}"}))
                assert json.loads(await ws.recv())["error"]["code"] == "unauthorized"
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return True

    async def capped():
        a = await websockets.connect(d.ws_url)
        b = await websockets.connect(d.ws_url)
        try:
            assert " 403 " in upgrade_status(d.port)
            # authenticated sockets do not count
            async with websockets.connect(d.ws_url, additional_headers={"X-API-Key": AUTH_KEY}) as c:
                assert json.loads(await c.recv())["authenticated"] is True
            # one that authenticates frees its place
            await a.recv()
            await a.send(json.dumps({"type": "auth", "key": AUTH_KEY}))
            assert json.loads(await a.recv())["type"] == "auth_ok"
            async with websockets.connect(d.ws_url) as e:
                assert json.loads(await e.recv())["authenticated"] is False
        finally:
            await a.close()
            await b.close()
    assert asyncio.run(idle()) < 3
    assert asyncio.run(guessing())
    assert "websocket closed: too many failed authentications" in d.logs()
    asyncio.run(capped())


def test_query_strings_are_decoded_once_and_any_length(daemon):
    d = daemon
    # %26 is part of the value: it never injects another parameter
    r = d.get("/api/replication/events?severity=critical%26limit%3D1", auth=True)
    assert r.status_code == 422 and "severity" in r.json()["error"]["message"]
    r = d.get("/api/replication/events?node=a%26severity%3Dcritical", auth=True)
    assert r.status_code == 200
    # a long argument keeps the rest of the query
    long_node = "n" * 5000
    r = d.get(f"/api/replication/events?node={long_node}&limit=0", auth=True)
    assert r.status_code == 422 and "limit" in r.json()["error"]["message"]
    r = d.get(f"/api/replication/events?node={long_node}&limit=3", auth=True)
    assert r.status_code == 200 and r.json()["events"] == []


# ---- secrets never shown ----

def test_redis_passwords_are_masked_everywhere(daemon_factory, workdir):
    from conftest import free_port
    url = f"redis://S3cretPass@127.0.0.1:{free_port()}/0"
    d = daemon_factory({"PGFLEET_REDIS_URL": url, "AUTH_KEY": AUTH_KEY})
    r = d.get("/readyz")
    assert r.status_code == 503 and "S3cretPass" not in r.text and "****" in r.text
    p = subprocess.run([PGFLEET_BIN, "config"], env={"PGFLEET_REDIS_URL": url, "PATH": "/usr/bin"},
                       capture_output=True, text=True, timeout=10)
    assert "S3cretPass" not in p.stdout and "redis://****@" in p.stdout
    wait_for(lambda: "redis" in d.logs(), timeout=5, what="a log line about redis")
    assert "S3cretPass" not in d.logs()


def test_text_logs_escape_control_characters(daemon_factory, redis):
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_LOG_FORMAT": "text"})
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"GET /nope%0Afake-line%1B[31m HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    s.recv(4096)
    s.close()
    wait_for(lambda: "/nope" in d.logs(), timeout=5, what="the access log line")
    lines = d.logs().splitlines()
    assert not any(line.startswith("fake-line") for line in lines)
    assert "\x1b" not in d.logs()


def test_discover_never_echoes_a_password():
    p = subprocess.run([PGFLEET_BIN, "discover", "host=db.invalid password=Hunter2Secret port=oops bad"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "Hunter2Secret" not in p.stderr + p.stdout
    assert "password on the command line" in p.stderr and "PGPASSWORD" in p.stderr


# ---- damaged records ----

def test_damaged_records_are_reported_and_skipped(daemon_factory, redis):
    bad_streams = {
        "no_state": {"schema_version": 1, "id": "no_state", "source_database_id": "a",
                     "target_database_id": "b", "publication": "p", "subscription": "s",
                     "tables": ["public.t"], "state": 7},
        "no_dot": {"schema_version": 1, "id": "no_dot", "source_database_id": "a",
                   "target_database_id": "b", "publication": "p", "subscription": "s",
                   "tables": ["nodot"], "state": "creating", "step": "subscription"},
    }
    for k, v in bad_streams.items():
        redis.cli("HSET", "pgfleet:streams", k, json.dumps(v))
    redis.cli("HSET", "pgfleet:streams", "garbage", "{not json")
    redis.cli("HSET", "pgfleet:migrations", "mig_bad", json.dumps({"execution_id": "mig_bad",
                                                                  "status": "running"}))
    redis.cli("HSET", "pgfleet:databases", "db_bad", json.dumps({"id": "db_bad", "port": "x"}))
    d = daemon_factory({"PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY})
    wait_for(lambda: "skipping the stored stream no_dot" in d.logs(), timeout=10,
             what="the damaged stream reported")
    r = d.get("/api/replication/streams", auth=True)
    assert r.status_code == 200 and [s for s in r.json()["streams"] if s.get("managed")] == []
    r = d.get("/api/replication/streams/no_dot", auth=True)
    assert r.status_code == 404 and "damaged" in r.json()["error"]["message"]
    assert d.get("/api/migrations", auth=True).json()["count"] == 0
    assert d.get("/api/migrations/mig_bad", auth=True).status_code == 404
    assert d.get("/api/databases", auth=True).json()["count"] == 0
    logs = d.logs()
    assert "skipping stored database db_bad" in logs and "skipping the stored migration mig_bad" in logs
    assert d.proc.poll() is None


# ---- who may call what ----

RANK = {"none": 0, "viewer": 1, "operator": 2, "admin": 3}


def test_authorization_matrix_over_every_route(daemon_factory, redis, moto):
    """Every route of the OpenAPI document, called by nobody, a wrong key, and a signed-in
    viewer, operator and admin (cookie sessions with their CSRF token) and the API key:
    401 without credentials, 403 below the route's role, never 401/403 at or above it."""
    from test_login import PASSWORDS, ROLES, add_user, assert_no_secrets, aws_env, login
    secret = f"pgfleet/users-matrix-{os.getpid()}"
    for name, pw in PASSWORDS.items():
        add_user(moto, secret, name, ROLES[name], pw)
    d = daemon_factory({**aws_env(moto), "PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_USERS_SECRET": secret})
    sessions = {ROLES[n]: login(d, n) for n in PASSWORDS}
    doc = d.get("/api/openapi.json", auth=True).json()
    checked = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            url = path.replace("{id}", "nope").replace("{kind}", "database")
            need = op["x-pgfleet-role"]
            public = op["security"] == []
            kw = {"data": "{}", "headers": JSON} if method in ("post", "put", "delete") else {}
            if path == "/auth/login":
                kw = {"data": json.dumps({"method": "api_key", "key": AUTH_KEY}), "headers": JSON}
            none = requests.request(method, d.url + url, timeout=30, **kw)
            wrong = requests.request(method, d.url + url, timeout=30,
                                     **{**kw, "headers": {**kw.get("headers", {}),
                                                          "Authorization": "Bearer " + "x" * 30}})
            if public:
                assert need == "none" and none.status_code not in (401, 403), (method, path, none.status_code)
                checked += 1
                continue  # signed-in callers of /auth/logout would end their sessions
            assert none.status_code == 401, (method, path, none.status_code)
            assert wrong.status_code == 401, (method, path, wrong.status_code)
            for role, s in sessions.items():
                r = s.request(method, d.url + url, timeout=60, **kw)
                if RANK[role] >= RANK[need]:
                    assert r.status_code not in (401, 403) and (r.status_code < 500 or
                                                                r.status_code in (502, 503)), \
                        (role, method, path, r.status_code, r.text)
                else:
                    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", \
                        (role, method, path, r.status_code, r.text)
            admin = d.request(method, url, timeout=60, **kw)
            assert admin.status_code not in (401, 403) and admin.status_code < 500 or \
                admin.status_code in (502, 503), (method, path, admin.status_code, admin.text)
            checked += 1
    assert checked == sum(len(v) for v in doc["paths"].values()) >= 36
    # every role saw a 403 somewhere, and the trail recorded the refused changes
    trail = sessions["admin"].get(d.url + "/api/audit?limit=1000").json()["entries"]
    assert {e["user"] for e in trail if e["result"] == "denied"} == {"vic", "olga"}
    assert_no_secrets(d, redis, [s.token for s in sessions.values()])


def test_openapi_fuzzing_finds_no_server_error_and_no_schema_violation(daemon):
    """schemathesis drives every operation of the OpenAPI document with generated input."""
    from conftest import ROOT
    st = str(ROOT / ".venv" / "bin" / "schemathesis")
    p = subprocess.run([st, "run", daemon.url + "/api/openapi.json", "-H", f"Authorization: Bearer {AUTH_KEY}",
                        "--max-examples", "25", "--seed", "1",
                        "--checks", "not_a_server_error,response_schema_conformance,"
                        "status_code_conformance,content_type_conformance"],
                       capture_output=True, text=True, timeout=600, cwd=daemon.dir)
    assert p.returncode == 0, p.stdout[-4000:]
    assert d_alive(daemon) and "AddressSanitizer" not in daemon.logs() and \
        "runtime error" not in daemon.logs()


def d_alive(d):
    return d.proc.poll() is None and d.get("/healthz").status_code == 200
