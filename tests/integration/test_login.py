"""People sign in: users in Secrets Manager (the emulator), sessions in Redis, roles in
force, brute force slowed and locked, the audit trail; the login page in Chromium. Each
test ends by scanning the daemon's log and every Redis value for the passwords, the API key
and the session ids it used."""
import json
import os
import statistics
import subprocess
import time
import uuid

import pytest
import requests

from awshelp import BASE_ENV
from conftest import AUTH_KEY, JSON, PGFLEET_BIN, SECRETS, wait_for

PASSWORDS = {"ana": "ana-password-00001", "olga": "olga-password-0002", "vic": "vic-password-00003"}
ROLES = {"ana": "admin", "olga": "operator", "vic": "viewer"}
NEW_PASSWORDS = ["vic-new-password-01", "newbie-password-01", "newbie-password-02"]
SECRETS.update(PASSWORDS.values(), NEW_PASSWORDS)  # every daemon and Redis is scanned for them


def aws_env(moto):
    return {**BASE_ENV, "AWS_ENDPOINT_URL": moto.url}


def user_cli(moto, secret, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_env(moto), PGFLEET_USERS_SECRET=secret)
    return subprocess.run([PGFLEET_BIN, "user", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=60)


def add_user(moto, secret, name, role, password):
    p = user_cli(moto, secret, "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def users(moto):
    """A users secret of its own with one user per role."""
    secret = f"pgfleet/users-{uuid.uuid4().hex[:10]}"
    for name, pw in PASSWORDS.items():
        add_user(moto, secret, name, ROLES[name], pw)
    return secret


@pytest.fixture
def signin(daemon_factory, redis, moto, users):
    """Makes a daemon with the users, the API key and Redis; settings may be overridden."""
    def make(**env):
        return daemon_factory({**aws_env(moto), "PGFLEET_REDIS_URL": redis.url, "AUTH_KEY": AUTH_KEY,
                               "PGFLEET_USERS_SECRET": users, "PGFLEET_LOGIN_BACKOFF_MS": "1",
                               "PGFLEET_HEARTBEAT_SECONDS": "1", **env})
    return make


def login(d, user, password=None, headers=None):
    """A requests.Session signed in as user (the answer in .answer, the token in .token)."""
    s = requests.Session()
    body = {"method": "password", "username": user,
            "password": PASSWORDS.get(user) if password is None else password}
    r = s.post(d.url + "/auth/login", json=body, headers=headers or {}, timeout=30)
    s.answer = r
    if r.status_code == 200:
        s.headers["X-CSRF-Token"] = r.json()["csrf"]
        s.token = s.cookies.get("pgfleet_session")
        SECRETS.add(s.token)
    return s


def redis_text(redis):
    """Every key and value in Redis, as text."""
    out = []
    for key in redis.cli("--scan").split():
        kind = redis.cli("TYPE", key).strip()
        reader = {"string": ["GET", key], "hash": ["HGETALL", key], "list": ["LRANGE", key, "0", "-1"],
                  "zset": ["ZRANGE", key, "0", "-1"], "set": ["SMEMBERS", key],
                  "stream": ["XRANGE", key, "-", "+"]}.get(kind)
        out.append(key)
        if reader:
            out.append(redis.cli(*reader))
    return "\n".join(out)


def assert_no_secrets(d, redis, extra=()):
    secrets = list(PASSWORDS.values()) + [AUTH_KEY] + [x for x in extra if x]
    logs, store = d.logs(), redis_text(redis)
    for s in secrets:
        assert s not in logs, f"a secret ({s[:4]}...) is in the daemon's log"
        assert s not in store, f"a secret ({s[:4]}...) is in Redis"


# ---- sign-in and sign-out ----

def test_password_sign_in_starts_a_session_with_a_safe_cookie(signin, redis):
    d = signin()
    assert d.get("/auth/methods").json() == {
        "methods": [{"id": "password", "label": "User name and password"},
                    {"id": "api_key", "label": "API key"}], "open": False}
    s = login(d, "olga")
    r = s.answer
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("pgfleet_session=") and "HttpOnly" in cookie and \
        "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert len(s.token) == 43
    me = s.get(d.url + "/api/auth/status").json()
    assert me["user"] == "olga" and me["role"] == "operator" and me["method"] == "password"
    assert me["csrf"] == r.json()["csrf"] and me["session"]["idle_timeout_seconds"] == 1800
    # the same user name in another case is the same user, spelt as the secret has it
    assert login(d, "OLGA", PASSWORDS["olga"]).answer.json()["user"] == "olga"
    # Secure behind a proxy that says https, only when the proxy is trusted
    assert "Secure" not in login(d, "vic", headers={"X-Forwarded-Proto": "https"}).answer.headers["set-cookie"]
    t = signin(PGFLEET_TRUST_PROXY="true")
    assert "; Secure" in login(t, "vic", headers={"X-Forwarded-Proto": "https"}).answer.headers["set-cookie"]
    assert_no_secrets(d, redis, [s.token])


def test_unknown_user_and_wrong_password_get_the_same_answer_in_the_same_time(signin, redis):
    d = signin()
    answers, times = {}, {"unknown": [], "wrong": []}
    for i in range(3):
        for kind, user in (("unknown", f"nobody{i}"), ("wrong", "vic")):
            t0 = time.monotonic()
            r = requests.post(d.url + "/auth/login", timeout=30,
                              json={"method": "password", "username": user, "password": "x" * 14})
            times[kind].append(time.monotonic() - t0)
            err = r.json()["error"]
            answers.setdefault(kind, set()).add((r.status_code, err["code"], err["message"]))
    assert answers["unknown"] == answers["wrong"] == {(401, "unauthorized", "invalid user name or password")}
    assert min(times["unknown"] + times["wrong"]) >= 0.29
    assert abs(statistics.median(times["unknown"]) - statistics.median(times["wrong"])) < 0.15
    assert "set-cookie" not in r.headers
    assert_no_secrets(d, redis)


def test_logout_ends_the_session_and_clears_the_cookie(signin, redis):
    d = signin()
    s = login(d, "vic")
    token = s.token
    r = s.post(d.url + "/auth/logout", headers=JSON)
    assert r.status_code == 200 and r.json() == {"ended": True, "method": "password"}
    assert "Max-Age=0" in r.headers["set-cookie"]
    # the old cookie, sent again, is worth nothing
    r = requests.get(d.url + "/api/auth/status", cookies={"pgfleet_session": token}, timeout=10)
    assert r.status_code == 401 and "session has ended" in r.json()["error"]["message"]
    assert_no_secrets(d, redis, [token])


def test_a_session_id_from_before_sign_in_does_not_survive_it(signin, redis):
    d = signin()
    planted = "A" * 43  # an id an attacker chose and set in the victim's browser
    s = requests.Session()
    r = s.post(d.url + "/auth/login", json={"method": "password", "username": "vic",
                                            "password": PASSWORDS["vic"]},
               headers={"Cookie": f"pgfleet_session={planted}"}, timeout=30)
    assert r.status_code == 200 and s.cookies.get("pgfleet_session") != planted
    assert requests.get(d.url + "/api/auth/status", cookies={"pgfleet_session": planted},
                        timeout=10).status_code == 401
    # signing in again from the same browser gives a new id and ends the old one
    first = s.cookies.get("pgfleet_session")
    r = s.post(d.url + "/auth/login", json={"method": "password", "username": "vic",
                                            "password": PASSWORDS["vic"]}, timeout=30)
    second = s.cookies.get("pgfleet_session")
    assert r.status_code == 200 and second != first
    assert requests.get(d.url + "/api/auth/status", cookies={"pgfleet_session": first},
                        timeout=10).status_code == 401
    assert s.get(d.url + "/api/auth/status").status_code == 200
    assert_no_secrets(d, redis, [first, second])


def test_idle_sessions_end_and_used_ones_live_on(signin, redis):
    d = signin(PGFLEET_SESSION_IDLE_MINUTES="0.05")  # 3 s
    busy, idle = login(d, "vic"), login(d, "olga")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4.5:  # used every 0.5 s: alive past the idle time
        assert busy.get(d.url + "/api/auth/status").status_code == 200
        time.sleep(0.5)
    r = idle.get(d.url + "/api/auth/status")
    assert r.status_code == 401 and "session has ended" in r.json()["error"]["message"]
    time.sleep(3.2)
    assert busy.get(d.url + "/api/auth/status").status_code == 401
    assert_no_secrets(d, redis, [busy.token, idle.token])


def test_sessions_end_at_their_lifetime_however_busy(signin, redis):
    d = signin(PGFLEET_SESSION_LIFETIME_HOURS="0.001")  # 3.6 s
    s = login(d, "vic")
    me = s.answer.json()
    assert me["session"]["expires_at"] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    t0 = time.monotonic()
    while s.get(d.url + "/api/auth/status").status_code == 200:
        assert time.monotonic() - t0 < 6, "the session outlived its lifetime"
        time.sleep(0.3)
    assert time.monotonic() - t0 >= 3.0


def test_api_key_sign_in_and_bad_input(signin, redis):
    d = signin()
    s = requests.Session()
    r = s.post(d.url + "/auth/login", json={"method": "api_key", "key": AUTH_KEY}, timeout=30)
    assert r.status_code == 200 and r.json()["user"] == "api-key" and r.json()["role"] == "admin"
    assert s.get(d.url + "/api/sessions").status_code == 200
    for body, field in [({"method": "magic"}, "method"), ({"method": "password", "username": "vic"}, "password"),
                        ({"method": "password", "username": "vic", "password": 7}, "password"),
                        ({"method": "api_key", "key": "k", "extra": 1}, "extra"),
                        ({"method": "password", "username": "v" * 200, "password": "x"}, "username")]:
        r = requests.post(d.url + "/auth/login", json=body, timeout=30)
        assert r.status_code == 422, (body, r.text)
        assert field in [f["field"] for f in r.json()["error"]["fields"]], (body, r.text)
    r = requests.post(d.url + "/auth/login", data="{", headers=JSON, timeout=30)
    assert r.status_code == 400
    r = requests.post(d.url + "/auth/login", json={"method": "api_key", "key": "x" * 30}, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key"
    assert_no_secrets(d, redis, [s.cookies.get("pgfleet_session")])


# ---- CSRF ----

def test_cookie_state_changes_need_the_csrf_token(signin, redis):
    d = signin()
    s = login(d, "olga")
    csrf = s.headers.pop("X-CSRF-Token")
    url = d.url + "/api/replication/streams/nope/pause"
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf[:-1]}):
        r = s.post(url, headers={**JSON, **headers})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_token_invalid", r.text
    r = s.post(url, headers={**JSON, "X-CSRF-Token": csrf})
    assert r.status_code == 404  # past the check: there is no such stream
    # reads need none; the API key needs none
    assert s.get(d.url + "/api/databases").status_code == 200
    r = d.post("/api/replication/streams/nope/pause", headers=JSON)
    assert r.status_code == 404, r.text
    # another session's token is not this one's
    other = login(d, "olga")
    r = s.post(url, headers={**JSON, "X-CSRF-Token": other.headers["X-CSRF-Token"]})
    assert r.status_code == 403


# ---- brute force ----

def fail(d, user, address=None, password="wrong-password-1"):
    headers = {"X-Forwarded-For": address} if address else {}
    return requests.post(d.url + "/auth/login", headers=headers, timeout=30,
                         json={"method": "password", "username": user, "password": password})


def test_failed_sign_ins_back_off_then_lock_per_user_and_per_address(signin, redis, moto):
    d = signin(PGFLEET_TRUST_PROXY="true", PGFLEET_LOGIN_LOCK_MINUTES="0.05")  # lock 3 s
    # from the third failure the next attempt must wait
    assert fail(d, "vic", "10.0.0.1").status_code == 401
    assert fail(d, "vic", "10.0.0.2").status_code == 401
    assert fail(d, "vic", "10.0.0.3").status_code == 401
    r = fail(d, "vic", "10.0.0.4")
    assert r.status_code in (401, 429)  # the 1 ms wait may be over already
    # ten failures from many addresses lock the user name everywhere, right password or not
    d2 = signin(PGFLEET_TRUST_PROXY="true", PGFLEET_LOGIN_LOCK_MINUTES="0.05",
                PGFLEET_LOGIN_BACKOFF_MS="1")
    for i in range(10):
        r = fail(d2, "olga", f"10.1.0.{i}")
        while r.status_code == 429:
            time.sleep(0.05)
            r = fail(d2, "olga", f"10.1.0.{i}")
    r = login(d, "olga", headers={"X-Forwarded-For": "10.9.9.9"}).answer  # another instance
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "too many failed sign-ins" in r.json()["error"]["message"]
    time.sleep(3.2)
    assert login(d, "olga", headers={"X-Forwarded-For": "10.9.9.9"}).answer.status_code == 200
    # ten failures from one address, for several names, lock that address, not others
    for i in range(10):
        r = fail(d, f"guess{i}", "10.2.0.1")
        while r.status_code == 429:
            time.sleep(0.05)
            r = fail(d, f"guess{i}", "10.2.0.1")
    assert login(d, "ana", headers={"X-Forwarded-For": "10.2.0.1"}).answer.status_code == 429
    assert login(d, "ana", headers={"X-Forwarded-For": "10.2.0.2"}).answer.status_code == 200
    # the trail says who was locked
    audit = login(d, "ana").get(d.url + "/api/audit?action=login_failed&limit=1000").json()["entries"]
    assert any(e["user"] == "olga" and e["result"] == "locked" for e in audit)
    assert_no_secrets(d, redis)


# ---- the users secret changes ----

def test_users_secret_changes_take_effect(signin, redis, moto, users):
    d = signin(PGFLEET_SECRETS_TTL_SECONDS="1")
    # a user added now can sign in at once (an unknown name re-reads the secret)
    add_user(moto, users, "newbie", "viewer", "newbie-password-01")
    s = requests.Session()
    r = s.post(d.url + "/auth/login", json={"method": "password", "username": "newbie",
                                            "password": "newbie-password-01"}, timeout=30)
    assert r.status_code == 200, r.text
    # a new password: the old one stops working within the TTL
    vic = login(d, "vic")
    p = user_cli(moto, users, "passwd", "vic", "--password-stdin", stdin="vic-new-password-01\n")
    assert p.returncode == 0, p.stderr
    wait_for(lambda: login(d, "vic", "vic-new-password-01").answer.status_code == 200, timeout=10,
             what="the new password")
    assert login(d, "vic").answer.status_code == 401
    # a changed role applies to live sessions; disabling a user ends them
    p = user_cli(moto, users, "passwd", "newbie", "--role", "operator", "--password-stdin",
                 stdin="newbie-password-02\n")
    assert p.returncode == 0, p.stderr
    wait_for(lambda: s.get(d.url + "/api/auth/status").json()["role"] == "operator", timeout=10,
             what="the new role")
    assert user_cli(moto, users, "disable", "newbie").returncode == 0
    wait_for(lambda: s.get(d.url + "/api/auth/status").status_code == 401, timeout=10,
             what="the disabled user's session to end")
    assert s.post(d.url + "/auth/login", json={"method": "password", "username": "newbie",
                                               "password": "newbie-password-02"}, timeout=30).status_code == 401
    assert vic.get(d.url + "/api/auth/status").status_code == 200  # others are untouched
    # removed: the session ends
    assert user_cli(moto, users, "rm", "vic").returncode == 0
    wait_for(lambda: vic.get(d.url + "/api/auth/status").status_code == 401, timeout=10,
             what="the removed user's session to end")
    assert_no_secrets(d, redis, NEW_PASSWORDS)


def test_user_cli_keeps_passwords_off_the_command_line_and_versions(moto, users):
    p = user_cli(moto, users, "list", "--json")
    listed = json.loads(p.stdout)
    assert listed["exists"] and {u["username"]: u["role"] for u in listed["users"]} == ROLES
    assert "argon2" not in p.stdout
    # the secret itself: argon2id hashes with the stated parameters, no password
    sm = moto.client("secretsmanager")
    doc = json.loads(sm.get_secret_value(SecretId=users)["SecretString"])
    assert all(u["password_hash"].startswith("$argon2id$v=19$m=65536,t=2,p=1$") for u in doc["users"])
    assert not any(pw in json.dumps(doc) for pw in PASSWORDS.values())
    versions = sm.list_secret_version_ids(SecretId=users)["Versions"]
    assert len(versions) >= 3  # one per change: the history stays in Secrets Manager
    # no password on the command line, no terminal: a clear error, nothing changed
    p = user_cli(moto, users, "add", "zed", "--role", "viewer", "--password", "x" * 20)
    assert p.returncode == 2 and "never taken from the command line" in p.stderr
    assert "x" * 20 not in p.stderr
    p = user_cli(moto, users, "add", "zed", "--role", "viewer", stdin="")
    assert p.returncode == 2 and ("terminal" in p.stderr or "no password" in p.stderr)
    p = user_cli(moto, users, "add", "zed", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert p.returncode == 2 and "12 to 1024" in p.stderr
    p = user_cli(moto, users, "add", "ana", "--role", "viewer", "--password-stdin", stdin="x" * 20 + "\n")
    assert p.returncode == 14 and "exists" in p.stderr
    p = user_cli(moto, users, "add", "bad name", "--role", "viewer")
    assert p.returncode == 2 and "not a user name" in p.stderr
    p = user_cli(moto, users, "rm", "nobody")
    assert p.returncode == 6
    # a damaged secret is not edited (nothing lost), and the daemon keeps the good entries
    sm.put_secret_value(SecretId=users, SecretString=json.dumps(
        {"users": doc["users"] + [{"username": "x y", "password_hash": "plain", "role": "god"}]}))
    p = user_cli(moto, users, "add", "zed", "--role", "viewer", "--password-stdin", stdin="x" * 20 + "\n")
    assert p.returncode == 5 and "users[3]" in p.stderr


def test_a_damaged_users_secret_keeps_its_good_entries(signin, redis, moto, users):
    sm = moto.client("secretsmanager")
    doc = json.loads(sm.get_secret_value(SecretId=users)["SecretString"])
    doc["users"].append({"username": "x y", "password_hash": "plain", "role": "god"})
    doc["users"].append("not an object")
    sm.put_secret_value(SecretId=users, SecretString=json.dumps(doc))
    d = signin()
    assert login(d, "vic").answer.status_code == 200
    logs = d.logs()
    assert "users[3]" in logs and "users[4]" in logs and "entry left out" in logs


# ---- who may do what ----

def test_admins_list_and_revoke_sessions(signin, redis):
    d = signin()
    admin, op = login(d, "ana"), login(d, "olga")
    assert op.get(d.url + "/api/sessions").status_code == 403
    sessions = admin.get(d.url + "/api/sessions").json()["sessions"]
    mine = [x for x in sessions if x["user"] == "olga"]
    assert len(mine) == 1 and mine[0]["role"] == "operator" and mine[0]["address"] == "127.0.0.1"
    assert set(mine[0]) == {"id", "user", "role", "method", "address", "created_at", "last_seen", "expires_at"}
    r = admin.delete(d.url + "/api/sessions/" + mine[0]["id"])
    assert r.status_code == 200 and r.json()["user"] == "olga"
    assert op.get(d.url + "/api/auth/status").status_code == 401
    assert admin.delete(d.url + "/api/sessions/" + mine[0]["id"]).status_code == 404
    assert admin.delete(d.url + "/api/sessions/not-an-id").status_code == 404
    assert_no_secrets(d, redis, [admin.token, op.token])


def test_websockets_opened_by_a_session_follow_it(signin, redis):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    d = signin(PGFLEET_SESSION_IDLE_MINUTES="0.1")  # sockets re-checked every 1.5 s
    viewer, admin = login(d, "vic"), login(d, "ana")
    with connect(d.ws_url, additional_headers={"Cookie": f"pgfleet_session={viewer.token}"},
                 open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "welcome" and hello["authenticated"] and hello["role"] == "viewer"
        ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        sid = viewer.get(d.url + "/api/auth/status").json()["session"]["id"]
        assert admin.delete(d.url + f"/api/sessions/{sid}").status_code == 200
        t0 = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while time.monotonic() - t0 < 10:
                ws.recv(timeout=10)
        assert time.monotonic() - t0 < 5
        wait_for(lambda: "websocket closed: the session has ended" in d.logs(), timeout=5,
                 what="the log line")
    # a cookie that names no session: welcome says so, subscribing is refused
    with connect(d.ws_url, additional_headers={"Cookie": "pgfleet_session=" + "B" * 43},
                 open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["authenticated"] is False
        ws.send(json.dumps({"type": "subscribe", "topics": ["heartbeat"]}))
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "unauthorized"


def test_migrations_record_who_ran_them(signin, redis):
    from conftest import register_db
    d = signin()
    register_db(d, "target1")  # nothing listens there: the run fails at once, and says who ran it
    op = login(d, "olga")
    r = op.post(d.url + "/api/migrations/execute", headers=JSON, json={
        "name": "001_note", "sql": "CREATE TABLE login_note (id int);", "database_ids": ["target1"],
        "dry_run": True})
    assert r.status_code == 202, r.text
    ex = r.json()["execution_id"]
    wait_for(lambda: op.get(d.url + f"/api/migrations/{ex}").json()["status"] != "running",
             timeout=30, what="the run to end")
    assert op.get(d.url + f"/api/migrations/{ex}").json()["applied_by"] == "olga"
    audit = login(d, "ana").get(d.url + "/api/audit?action=migration.execute").json()["entries"]
    assert audit[0]["user"] == "olga" and audit[0]["target"] == ex and audit[0]["result"] == "ok"


# ---- the audit trail ----

def test_the_audit_trail_records_each_kind_of_action_with_its_user(signin, redis, workdir, moto, users):
    trail = os.path.join(workdir, "audit.jsonl")
    d = signin(PGFLEET_AUDIT_FILE=trail)
    admin = login(d, "ana")
    viewer = login(d, "vic")
    fail(d, "vic")
    fail(d, "nobody-at-all")
    body = {"id": "audited", "name": "audited", "host": "127.0.0.1", "port": 1, "dbname": "x",
            "user": "x", "credentials": {"source": "env", "env": "PGFLEET_DB_NONE"}}
    assert viewer.post(d.url + "/api/databases", json=body).status_code == 403
    assert admin.post(d.url + "/api/databases", json=body).status_code == 201
    assert admin.delete(d.url + "/api/databases/audited").status_code == 200
    viewer.post(d.url + "/auth/logout", headers=JSON)
    assert viewer.get(d.url + "/api/audit").status_code in (401, 403)
    entries = admin.get(d.url + "/api/audit?limit=100").json()["entries"]
    seen = [(e["action"], e["user"], e["result"]) for e in entries]
    for expected in [("login", "ana", "ok"), ("login", "vic", "ok"), ("login_failed", "vic", "failed"),
                     ("login_failed", "nobody-at-all", "failed"), ("database.create", "vic", "denied"),
                     ("database.create", "ana", "ok"), ("database.delete", "ana", "ok"),
                     ("logout", "vic", "ok")]:
        assert expected in seen, (expected, seen)
    create = next(e for e in entries if e["action"] == "database.create" and e["result"] == "ok")
    assert create["target"] == "audited" and create["role"] == "admin" and create["method"] == "password"
    assert create["address"] == "127.0.0.1" and create["status"] == 201 and create["request_id"]
    # filters: user, action (exact or prefix), time
    assert {e["user"] for e in admin.get(d.url + "/api/audit?user=vic").json()["entries"]} == {"vic"}
    assert {e["action"] for e in admin.get(d.url + "/api/audit?action=database.").json()["entries"]} == \
        {"database.create", "database.delete"}
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert admin.get(d.url + f"/api/audit?since={future}").json()["entries"] == []
    for bad in ("limit=0", "limit=x", "since=yesterday", "action=a%20b"):
        r = admin.get(d.url + "/api/audit?" + bad)
        assert r.status_code == 422, (bad, r.text)
    # the CLI reads the same trail; the file has the same entries as JSON lines
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           "PGFLEET_URL": d.url, "AUTH_KEY": AUTH_KEY}
    p = subprocess.run([PGFLEET_BIN, "audit", "--user", "ana", "--action", "database.create"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "database.create" in p.stdout and "audited" in p.stdout, p.stderr
    lines = [json.loads(x) for x in open(trail)]
    assert {(e["action"], e["user"]) for e in lines} >= {("login", "ana"), ("database.create", "ana")}
    assert_no_secrets(d, redis, [admin.token, viewer.token])
    assert not any(pw in open(trail).read() for pw in PASSWORDS.values())


# ---- the page, in a browser ----

def test_login_page_with_a_password_then_logout(signin, redis, browser):
    d = signin()
    page = browser.new_page()
    page.goto(d.url + "/")
    page.wait_for_url("**/login?next=%2F")
    assert page.get_by_label("API key").is_visible()
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("alert").filter(has_text="invalid user name or password").wait_for()
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill(PASSWORDS["olga"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(d.url + "/")
    page.locator("#who").filter(has_text="olga · operator (password)").wait_for()
    page.locator("#conn").filter(has_text="live").wait_for(timeout=15000)  # the WebSocket, by the session
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "pgfleet_session"] == [True]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?signed_out=password")
    page.goto(d.url + "/")
    page.wait_for_url("**/login?next=%2F")
    page.close()


def test_login_page_with_the_api_key_and_a_safe_next(signin, redis, browser):
    d = signin()
    page = browser.new_page()
    page.goto(d.url + "/login?next=//evil.test/x")
    page.get_by_label("API key").fill(AUTH_KEY)
    page.get_by_role("button", name="Sign in with the API key").click()
    page.wait_for_url(d.url + "/")  # not to //evil.test
    page.locator("#who").filter(has_text="api-key · admin (api_key)").wait_for()
    page.close()
    # the link `make run` prints signs in without the key reaching a log
    page = browser.new_page()
    page.goto(d.url + "/login#key=" + AUTH_KEY)
    page.wait_for_url(d.url + "/")
    page.locator("#who").filter(has_text="api-key").wait_for()
    page.close()
    assert AUTH_KEY not in d.logs()


def test_login_page_without_any_method_says_so(daemon_factory, redis, browser):
    d = daemon_factory({"AUTH_KEY": None, "PGFLEET_REDIS_URL": redis.url})
    page = browser.new_page()
    page.goto(d.url + "/login")
    page.get_by_text("No sign-in is configured").wait_for()
    assert not page.get_by_label("User name").is_visible()
    page.goto(d.url + "/")
    page.locator("#who").filter(has_text="no sign-in configured").wait_for()
    assert not page.get_by_role("button", name="Sign out").is_visible()
    page.close()
