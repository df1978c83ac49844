"""Models through the API: the Redis round trip, and bad input getting a clear
error that names the field, never a crash."""
import json

import pytest

from conftest import AUTH_KEY


def test_models_test_round_trips_each_model_through_redis(daemon, redis):
    r = daemon.get("/api/models/test", auth=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["store"]["prefix"] == "pgfleet:"
    kinds = {m["kind"]: m for m in body["models"]}
    assert set(kinds) == {"database", "stream", "migration"}
    for m in body["models"]:
        assert m["round_trip"] == "equal" and m["secret_in_record"] is False
        assert m["record"]["schema_version"] == 1
        assert m["key"].startswith("modeltest:")
    db = kinds["database"]["record"]
    assert db["credentials"] == {"source": "password", "password_set": True}
    assert "password" not in json.dumps(body).replace("password_set", "").replace('"source": "password"', "").replace('"source":"password"', "")
    ex = body["validation_example"]
    assert ex["valid"] is False
    assert {e["field"] for e in ex["errors"]} >= {"name", "host", "port", "sslmode", "colour"}
    # cleaned up after itself
    assert redis.cli("--scan", "--pattern", "pgfleet:modeltest:*").strip() == ""


def test_models_test_needs_operator(daemon):
    assert daemon.get("/api/models/test").status_code == 401


VALID_DB = {"name": "orders", "host": "db.internal", "port": 5432, "dbname": "orders",
            "user": "app", "credentials": {"source": "secretsmanager", "secret_id": "prod/orders"}}


def validate(daemon, kind, body, raw=None, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body)
    return daemon.post(f"/api/models/{kind}/validate", data=data, headers=h)


def test_valid_database_is_normalized(daemon):
    r = validate(daemon, "database", VALID_DB)
    assert r.status_code == 200, r.text
    m = r.json()["model"]
    assert m["sslmode"] == "prefer" and m["id"].startswith("db_") and m["schema_version"] == 1


@pytest.mark.parametrize("patch,field,rule", [
    ({"port": 70000}, "port", "range"),
    ({"port": "5432"}, "port", "type"),
    ({"host": "bad host"}, "host", "pattern"),
    ({"name": ""}, "name", "min_length"),
    ({"sslmode": "sometimes"}, "sslmode", "enum"),
    ({"tags": "prod"}, "tags", "type"),
    ({"colour": "blue"}, "colour", "unknown_field"),
    ({"credentials": {"source": "rds_iam"}}, "sslmode", "requires_tls"),
    ({"credentials": {"source": "env", "env": "1X"}}, "credentials.env", "pattern"),
    ({"dbname": None}, "dbname", "required"),
    ({"user": "x" * 64}, "user", "max_length"),
])
def test_invalid_database_gets_422_naming_field_and_rule(daemon, patch, field, rule):
    body = {**VALID_DB, **patch}
    r = validate(daemon, "database", body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    assert any(f["field"] == field and f["rule"] == rule for f in err["fields"]), err["fields"]
    assert field in err["message"] or len(err["fields"]) > 1


def test_every_error_is_reported_at_once(daemon):
    r = validate(daemon, "database", {"port": -1, "credentials": {}})
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert {"name", "host", "dbname", "user", "port", "credentials.source"} <= fields


def test_stream_and_migration_validation(daemon):
    r = validate(daemon, "stream", {"source_database_id": "a", "target_database_id": "a"})
    assert r.status_code == 422
    fields = {(f["field"], f["rule"]) for f in r.json()["error"]["fields"]}
    assert ("target_database_id", "distinct") in fields and ("publication", "required") in fields
    r = validate(daemon, "migration", {"name": "m", "checksum": "0" * 64,
                                       "targets": [{"target": "a"}]})
    assert r.status_code == 200 and r.json()["model"]["status"] == "pending"
    r = validate(daemon, "migration", {"name": "m", "checksum": "xyz", "targets": "all"})
    assert {f["field"] for f in r.json()["error"]["fields"]} == {"checksum", "targets"}


@pytest.mark.parametrize("raw,status,code", [
    ('{"name": "x",', 400, "bad_json"),
    ("", 400, "bad_json"),
    ("[1, 2, 3]", 400, "bad_json"),
    ('{"a": 1, "a": 2}', 400, "bad_json"),
    ("\xff\xfe garbage", 400, "bad_json"),
    ("null", 400, "bad_json"),
])
def test_malformed_bodies_get_400(daemon, raw, status, code):
    r = validate(daemon, "database", None, raw=raw.encode("latin-1"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_wrong_content_type_gets_415(daemon):
    r = validate(daemon, "database", None, raw="a=1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


def test_huge_body_gets_413_and_server_survives(daemon):
    big = b'{"name":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = validate(daemon, "database", None, raw=big)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert daemon.get("/healthz").status_code == 200


def test_deeply_nested_json_is_an_error_not_a_crash(daemon):
    deep = "[" * 100000 + "]" * 100000
    r = validate(daemon, "database", None, raw=deep)
    assert r.status_code == 400
    assert daemon.get("/healthz").status_code == 200


def test_unknown_model_kind_is_404(daemon):
    r = validate(daemon, "user", {})
    assert r.status_code == 404 and "no such model kind" in r.json()["error"]["message"]


def test_injection_attempts_are_data(daemon):
    body = {**VALID_DB, "name": "x'); DROP TABLE users; --", "dbname": 'we"ird db',
            "tags": ["<script>alert(1)</script>"]}
    r = validate(daemon, "database", body)
    assert r.status_code == 200
    assert r.json()["model"]["name"] == body["name"]
    assert r.json()["model"]["tags"] == body["tags"]
