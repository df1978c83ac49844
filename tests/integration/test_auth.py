"""The API-key method and the auth seam: who may call what, and refusing to
serve unauthenticated on a non-loopback address."""
import subprocess

from conftest import AUTH_KEY, PGFLEET_BIN, free_port, wait_for


def test_api_without_key_is_401_json(daemon):
    for path in ["/api/models/test", "/api/openapi.json", "/api/auth/status", "/api/unknown"]:
        r = daemon.get(path)
        assert r.status_code == 401, path
        err = r.json()["error"]
        assert err["code"] == "unauthorized"
        assert "AUTH_KEY" in err["hint"]
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_wrong_key_is_401_and_logged_without_the_key(daemon):
    r = daemon.get("/api/auth/status", headers={"Authorization": "Bearer not-the-key"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "invalid API key"
    r = daemon.get("/api/auth/status", headers={"X-API-Key": AUTH_KEY + "x"})
    assert r.status_code == 401
    wait_for(lambda: "authentication failed" in daemon.logs(), timeout=5, what="auth log line")
    logs = daemon.logs()
    assert "not-the-key" not in logs and AUTH_KEY not in logs


def test_bearer_and_x_api_key_are_admin(daemon):
    for headers in [{"Authorization": f"Bearer {AUTH_KEY}"}, {"X-API-Key": AUTH_KEY}]:
        r = daemon.get("/api/auth/status", headers=headers)
        assert r.status_code == 200
        assert r.json() == {"authenticated": True, "user": "api-key", "role": "admin",
                            "method": "api_key", "session": None, "csrf": None,
                            "methods_configured": ["api_key"]}


def test_public_routes_need_no_key(daemon):
    for path in ["/healthz", "/readyz", "/"]:
        assert daemon.get(path).status_code == 200, path


def test_no_auth_on_loopback_is_admin_and_says_so(daemon_factory, redis):
    d = daemon_factory({"AUTH_KEY": None, "PGFLEET_REDIS_URL": redis.url})
    r = d.get("/api/auth/status")
    assert r.status_code == 200
    assert r.json()["role"] == "admin" and r.json()["method"] == "none"
    assert "no authentication configured" in d.logs()


def test_refuses_non_loopback_without_auth(workdir):
    env = {"PATH": "/usr/bin:/bin", "PGFLEET_LISTEN": f"0.0.0.0:{free_port()}"}
    p = subprocess.run([PGFLEET_BIN, "serve"], env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 17
    assert "refusing to listen on 0.0.0.0" in p.stderr
    assert "AUTH_KEY" in p.stderr


def test_non_loopback_with_auth_is_allowed(daemon_factory, redis):
    d = daemon_factory({"AUTH_KEY": AUTH_KEY, "PGFLEET_REDIS_URL": redis.url}, start=False)
    d.env["PGFLEET_LISTEN"] = f"0.0.0.0:{d.port}"
    d.start()
    assert d.get("/api/auth/status", auth=True).status_code == 200
    assert d.get("/api/auth/status").status_code == 401
