"""The connection layer itself against real servers: parameterized queries,
pipelines, statement_timeout, cancel without blocking the loop, and TLS from
require to verify-full with a CA bundle."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, LineTool, make_tls_material

PGTOOL = str(Path(os.environ.get("PGFLEET_BIN", ROOT / "build" / "pgfleet")).parent / "pgtool")


class PgTool(LineTool):
    """pgfleet's connection layer behind a line protocol (tests/tools/pgtool.c)."""

    def __init__(self, env):
        super().__init__(PGTOOL, env, "PGT_")


@pytest.fixture(scope="module")
def pg(pg_servers):
    s = pg_servers()
    s.sql("CREATE ROLE app LOGIN PASSWORD 'pw'")
    return s


def tool(pg, **kw):
    env = {"PGT_HOST": "localhost", "PGT_PORT": pg.port, "PGT_DB": "postgres", "PGT_USER": "app",
           "PGT_PASSWORD": "pw"}
    env.update(kw)
    t = PgTool(env)
    return t


def test_parameters_are_data_never_sql(pg):
    t = tool(pg)
    assert t("connect")["ok"]
    r = t("param SELECT $1::text || '!'\tRobert'); DROP TABLE students;--")
    assert r["ok"] and r["results"] == [["Robert'); DROP TABLE students;--!"]]
    r = t("param SELECT $1::int + $2::int\t40\t2")
    assert r["results"] == [["42"]]
    r = t("param SELECT $1::int\tnot a number")
    assert r["ok"] is False and r["kind"] == "query" and r["sqlstate"] == "22P02"
    assert t("query SELECT 1")["ok"]  # the connection is still good
    t.close()


def test_pipeline_is_one_request_and_reports_the_first_error(pg):
    t = tool(pg)
    t("connect")
    r = t("pipeline SELECT 1;;SELECT 'two';;SELECT 3")
    assert r["ok"] and r["results"] == [["1"], ["two"], ["3"]]
    r = t("pipeline SELECT 1;;SELECT 1/0;;SELECT 3")
    assert r["ok"] is False and r["sqlstate"] == "22012" and "division by zero" in r["message"]
    assert t("query SELECT 'after'")["results"] == [["after"]]
    t.close()


def test_statement_timeout_applies_to_every_query(pg):
    t = tool(pg, PGT_STATEMENT_TIMEOUT_MS=300)
    t("connect")
    assert t("query SHOW statement_timeout")["results"] == [["300ms"]]
    r = t("query SELECT pg_sleep(5)")
    assert r["ok"] is False and r["kind"] == "timeout" and r["sqlstate"] == "57014"
    assert t("query SELECT 1")["ok"]
    t.close()


def test_cancel_does_not_block_the_loop(pg):
    t = tool(pg)
    t("connect")
    r = t("cancel-after 300 SELECT pg_sleep(10)")
    assert r["ok"] is False and r["kind"] == "cancelled" and r["sqlstate"] == "57014"
    assert r["ticks"] >= 20  # the 10 ms timer kept running while the query and the cancel ran
    r = t("loop-check 0 SELECT pg_sleep(0.5)")
    assert r["ok"] and r["ticks"] >= 30
    t.close()


def test_connect_timeout_is_ours(pg):
    # a listening socket that never answers: the connect timer ends it
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        t = PgTool({"PGT_HOST": "127.0.0.1", "PGT_PORT": srv.getsockname()[1], "PGT_DB": "x",
                    "PGT_USER": "x", "PGT_CONNECT_TIMEOUT_MS": 400})
        r = t("connect")
        assert r["ok"] is False and r["kind"] == "timeout" and "400 ms" in r["message"]
        t.close()
    finally:
        srv.close()


@pytest.fixture(scope="module")
def tls_pg(tmp_path_factory, pg_servers):
    d = make_tls_material(tmp_path_factory.mktemp("pgtls"), cn="localhost", san="DNS:localhost")
    s = pg_servers(settings={"ssl": "on"},
                 hba="hostssl all all 127.0.0.1/32 scram-sha-256\n", start=False)
    for f in ("server.crt", "server.key"):
        shutil.copy(d / f, s.data)
        if os.geteuid() == 0:
            shutil.chown(os.path.join(s.data, f), "postgres", "postgres")
        os.chmod(os.path.join(s.data, f), 0o600)
    # only TLS connections are accepted from 127.0.0.1
    import re
    hba = os.path.join(s.data, "pg_hba.conf")
    text = re.sub(r"^host\s+all\s+all\s+127\.0\.0\.1/32\s+scram-sha-256\s*$", "", open(hba).read(), flags=re.M)
    open(hba, "w").write(text)
    s.start()
    s.sql("CREATE ROLE app LOGIN PASSWORD 'pw'")
    s.ca = str(d / "ca.crt")
    return s


@pytest.mark.parametrize("mode,ca,host,ok,kind", [
    ("require", None, "localhost", True, None),
    ("verify-full", "ca", "localhost", True, None),
    ("verify-ca", "ca", "127.0.0.1", True, None),
    ("verify-full", "ca", "127.0.0.1", False, "tls"),      # the name is localhost, not the IP
    ("verify-full", None, "localhost", False, "tls"),      # no CA bundle: not verifiable
    ("disable", None, "localhost", False, "hba"),          # the server takes TLS only
])
def test_tls_modes(tls_pg, mode, ca, host, ok, kind):
    env = {"PGT_HOST": host, "PGT_PORT": tls_pg.port, "PGT_DB": "postgres", "PGT_USER": "app",
           "PGT_PASSWORD": "pw", "PGT_SSLMODE": mode}
    if ca:
        env["PGT_CA"] = tls_pg.ca
    else:
        env["PGT_CA"] = "/nonexistent/root.crt"
    t = PgTool(env)
    r = t("connect")
    assert r["ok"] is ok, r
    if ok:
        assert t("query SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")["results"] == [["t"]]
    else:
        assert r["kind"] == kind, r
        assert r["hint"]
    t.close()
