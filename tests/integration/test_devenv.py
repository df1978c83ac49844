"""The local environment of `make run` (scripts/devenv.sh) builds real
replication: a streaming standby, a cascading standby behind it, and a logical
subscriber that receives new rows; `down` leaves no process behind."""
import os
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, free_port_run, wait_for

DEVENV = str(ROOT / "scripts" / "devenv.sh")


@pytest.fixture
def devenv():
    d = tempfile.mkdtemp(prefix="pgfleet-devenv-", dir="/var/tmp" if os.geteuid() == 0 else None)
    base = free_port_run(9)
    env = {**os.environ, "PGFLEET_DEVENV_DIR": d, "PGFLEET_DEVENV_PORT_BASE": str(base)}
    p = subprocess.run([DEVENV, "up"], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert p.returncode == 0, p.stderr
        yield env, base
    finally:
        subprocess.run([DEVENV, "down"], env=env, capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", d])


def psql(port, db, sql):
    env = {**os.environ, "PGPASSWORD": "pgfleet-dev"}
    p = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", "pgfleet",
                        "-d", db, "-c", sql], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_devenv_builds_physical_cascade_and_logical_replication(devenv):
    env, base = devenv
    primary, standby, cascade, reporting = base, base + 1, base + 2, base + 3
    assert psql(primary, "postgres", "SELECT pg_is_in_recovery()") == "f"
    assert psql(standby, "postgres", "SELECT pg_is_in_recovery()") == "t"
    assert psql(cascade, "postgres", "SELECT pg_is_in_recovery()") == "t"
    # the standby streams from the primary through its slot, the cascade from the standby
    wait_for(lambda: psql(primary, "postgres",
                          "SELECT count(*) FROM pg_stat_replication WHERE application_name <> 'app_sub'"
                          " AND state = 'streaming'") == "1", timeout=30, what="standby streaming")
    assert psql(primary, "postgres", "SELECT slot_name FROM pg_replication_slots "
                "WHERE slot_type = 'physical'") == "standby1_slot"
    wait_for(lambda: psql(standby, "postgres", "SELECT count(*) FROM pg_stat_replication "
                          "WHERE state = 'streaming'") == "1", timeout=30, what="cascade streaming")
    # one system: the standbys share the primary's system identifier
    sysid = "SELECT system_identifier FROM pg_control_system()"
    assert psql(primary, "postgres", sysid) == psql(standby, "postgres", sysid) == psql(cascade, "postgres", sysid)
    assert psql(reporting, "postgres", sysid) != psql(primary, "postgres", sysid)

    # a new row reaches the cascade (physical) and the reporting database (logical)
    marker = f"devenv-test-{time.time()}"
    psql(primary, "app", f"INSERT INTO customers (name) VALUES ('{marker}')")
    q = f"SELECT count(*) FROM customers WHERE name = '{marker}'"
    wait_for(lambda: psql(cascade, "app", q) == "1", timeout=30, what="row on the cascade")
    wait_for(lambda: psql(reporting, "app_reporting", q) == "1", timeout=30, what="row on the subscriber")
    assert psql(reporting, "app_reporting", "SELECT count(*) FROM orders") == "1000"

    # status sees everything up; the secrets exist in moto
    st = subprocess.run([DEVENV, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert st.returncode == 0, st.stdout
    import boto3
    sm = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{base + 5}",
                      region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    names = {s["Name"] for s in sm.list_secrets()["SecretList"]}
    assert names == {f"pgfleet/dev/{n}" for n in ("primary", "standby", "cascade", "reporting", "archive")}
    import json
    secret = json.loads(sm.get_secret_value(SecretId="pgfleet/dev/standby")["SecretString"])
    assert secret["port"] == standby and secret["username"] == "pgfleet"
    # the demo stream's target: an empty copy of the app schema, reached by a role that may subscribe
    archive = json.loads(sm.get_secret_value(SecretId="pgfleet/dev/archive")["SecretString"])
    assert archive["username"] == "pgfleet_admin" and archive["dbname"] == "app_archive"
    assert psql(reporting, "app_archive", "SELECT count(*) FROM orders") == "0"
    # the identity providers answer, with their users in IAM Identity Center's shape
    import requests
    assert "EntityDescriptor" in requests.get(f"http://127.0.0.1:{base + 6}/metadata", timeout=10).text
    oidc = requests.get(f"http://127.0.0.1:{base + 7}/.well-known/openid-configuration", timeout=10)
    assert oidc.json()["issuer"] == f"http://127.0.0.1:{base + 7}"
    d = env["PGFLEET_DEVENV_DIR"]
    saml_users = json.load(open(os.path.join(d, "idp", "saml-users.json")))
    assert set(saml_users) == {"sso-admin@example.com", "sso-operator@example.com", "sso-viewer@example.com"}
    ids = boto3.client("identitystore", endpoint_url=f"http://127.0.0.1:{base + 5}",
                       region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    groups = {g["GroupId"]: g["DisplayName"] for g in ids.list_groups(IdentityStoreId="d-90672devenv")["Groups"]}
    assert groups[saml_users["sso-admin@example.com"]["groups"][0]] == "pgfleet-admins"
    assert oct(os.stat(os.path.join(d, "idp", "passwords.json")).st_mode & 0o777) == "0o600"
    # the webhook sink keeps what it gets and checks the signature with the demo key
    import hashlib
    import hmac
    body = b'{"status": "firing", "rule": "demo"}'
    sig = "sha256=" + hmac.new(b"pgfleet-dev-hook", body, hashlib.sha256).hexdigest()
    sink = f"http://127.0.0.1:{base + 8}"
    assert requests.post(sink + "/hook", data=body, headers={"X-Pgfleet-Signature": sig}, timeout=10).ok
    requests.post(sink + "/hook", data=body, headers={"X-Pgfleet-Signature": "sha256=00"}, timeout=10)
    got = requests.get(sink + "/messages", timeout=10).json()
    assert [m["signature"] for m in got] == ["bad", "ok"] and got[1]["body"]["rule"] == "demo"
    assert "demo" in requests.get(sink + "/", timeout=10).text
    # provoke: replay paused on the standby while the primary writes; calm resumes it
    p = subprocess.run([DEVENV, "provoke", "lag"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert psql(standby, "postgres", "SELECT pg_is_wal_replay_paused()") == "t"
    lag = psql(primary, "postgres", "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                                    "FROM pg_stat_replication WHERE application_name = 'pgfleet-dev-standby'")
    assert float(lag) > 4 * 1024 * 1024
    p = subprocess.run([DEVENV, "provoke", "calm"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert psql(standby, "postgres", "SELECT pg_is_wal_replay_paused()") == "f"
    bad = subprocess.run([DEVENV, "provoke", "everything"], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_devenv_down_leaves_no_process(devenv):
    env, base = devenv
    d = env["PGFLEET_DEVENV_DIR"]
    subprocess.run([DEVENV, "down"], env=env, check=True, capture_output=True, timeout=60)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert d not in ps
    assert f":{base + 4}" not in ps and f"-p {base + 5}" not in ps
    assert f"--port {base + 6}" not in ps and f"oidc_provider.mjs {base + 7}" not in ps
    assert f"--port {base + 8}" not in ps
    st = subprocess.run([DEVENV, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert st.returncode != 0 and "down" in st.stdout
