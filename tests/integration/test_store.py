"""Redis as the state store: down and back, passwords, ACL users, TLS."""
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import AUTH_KEY, RedisServer, make_tls_material, wait_for


def test_redis_down_then_back_recovers_by_itself(daemon, redis):
    assert daemon.get("/readyz").status_code == 200
    port = redis.port
    redis.stop()
    wait_for(lambda: daemon.get("/readyz").status_code == 503, what="readyz 503")
    r = daemon.get("/readyz")
    err = r.json()["error"]
    assert err["code"] == "store_unavailable" and "redis" in err["message"]
    assert err["checks"]["redis"]["status"] in ("disconnected", "connecting")
    w = daemon.get("/api/models/test", auth=True)
    assert w.status_code == 503 and w.json()["error"]["code"] == "store_unavailable"
    assert daemon.get("/healthz").status_code == 200  # alive, just not ready

    # Redis returns on the same port: pgfleet reconnects without a restart
    back = RedisServer(redis.dir)
    back.port = port
    back.start()
    try:
        wait_for(lambda: daemon.get("/readyz").status_code == 200, timeout=15, what="recovery")
        assert daemon.get("/api/models/test", auth=True).json()["ok"] is True
    finally:
        back.stop()
    wait_for(lambda: "redis connection restored" in daemon.logs(), timeout=5, what="log line")
    assert "lost connection to redis" in daemon.logs()


def test_redis_never_there_at_start(daemon_factory, workdir):
    from conftest import free_port
    d = daemon_factory({"AUTH_KEY": AUTH_KEY,
                        "PGFLEET_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    r = d.get("/readyz")
    assert r.status_code == 503
    assert "Connection refused" in r.json()["error"]["message"]


def test_password_and_acl_user_from_url(daemon_factory, workdir):
    r = RedisServer(workdir, ["--requirepass", "s3cret pw"]).start()
    r.password = "s3cret pw"
    r.cli("ACL", "SETUSER", "pgfleet", "on", ">app-pw", "~pgfleet:*", "+@all")
    try:
        d = daemon_factory({"AUTH_KEY": AUTH_KEY,
                            "PGFLEET_REDIS_URL": f"redis://:s3cret%20pw@127.0.0.1:{r.port}/2"})
        wait_for(lambda: d.get("/readyz").status_code == 200, what="auth with password")
        assert d.get("/api/models/test", auth=True).json()["ok"] is True

        acl = daemon_factory({"AUTH_KEY": AUTH_KEY,
                              "PGFLEET_REDIS_URL": f"redis://pgfleet:app-pw@127.0.0.1:{r.port}/0"})
        wait_for(lambda: acl.get("/readyz").status_code == 200, what="auth with ACL user")
        assert acl.get("/api/models/test", auth=True).json()["ok"] is True

        bad = daemon_factory({"AUTH_KEY": AUTH_KEY,
                              "PGFLEET_REDIS_URL": f"redis://pgfleet:wrong@127.0.0.1:{r.port}/0"})
        wait_for(lambda: "WRONGPASS" in bad.get("/readyz").text or "invalid" in bad.get("/readyz").text,
                 what="wrong password refused")
        assert bad.get("/readyz").status_code == 503
        assert "wrong" not in bad.logs().replace("WRONGPASS", "").replace("wrongpass", "")
    finally:
        r.stop()


def test_bad_redis_url_is_a_config_error(daemon_factory):
    d = daemon_factory({"PGFLEET_REDIS_URL": "redis://h:99999"}, start=False)
    d.start(wait=False)
    assert d.proc.wait(5) == 3
    assert "PGFLEET_REDIS_URL" in d.logs() and "port" in d.logs()


def test_rediss_tls_with_configured_ca(daemon_factory, workdir):
    d = Path(workdir)
    make_tls_material(d)
    r = RedisServer(workdir)
    tls_port = r.port
    r.args = ["--port", "0", "--tls-port", str(tls_port), "--tls-cert-file", str(d / "server.crt"),
              "--tls-key-file", str(d / "server.key"), "--tls-ca-cert-file", str(d / "ca.crt"),
              "--tls-auth-clients", "no"]
    cmd = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--dir", workdir, *r.args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", tls_port), timeout=0.5).close() is None,
                 what="the TLS port open")
        good = daemon_factory({"AUTH_KEY": AUTH_KEY,
                               "PGFLEET_REDIS_URL": f"rediss://127.0.0.1:{tls_port}/0",
                               "PGFLEET_REDIS_CA_FILE": str(d / "ca.crt")})
        wait_for(lambda: good.get("/readyz").status_code == 200, what="TLS connection")
        assert good.get("/api/models/test", auth=True).json()["ok"] is True

        # without the CA the server certificate is not trusted
        untrusted = daemon_factory({"AUTH_KEY": AUTH_KEY,
                                    "PGFLEET_REDIS_URL": f"rediss://127.0.0.1:{tls_port}/0"})
        # a failed attempt is seen and said (not merely "not yet connected")
        wait_for(lambda: "certificate" in untrusted.get("/readyz").text.lower(), timeout=10,
                 what="the untrusted certificate reported: " + untrusted.get("/readyz").text)
        assert untrusted.get("/readyz").status_code == 503
        # plain redis:// to a TLS port never becomes ready either
        plain = daemon_factory({"AUTH_KEY": AUTH_KEY,
                                "PGFLEET_REDIS_URL": f"redis://127.0.0.1:{tls_port}/0",
                                "PGFLEET_REDIS_TIMEOUT_MS": "300"})
        wait_for(lambda: "timeout" in plain.get("/readyz").text.lower() or
                 "lost" in plain.get("/readyz").text.lower(), timeout=10,
                 what="the failed handshake reported: " + plain.get("/readyz").text)
        assert plain.get("/readyz").status_code == 503
    finally:
        proc.terminate()
        proc.wait(5)
