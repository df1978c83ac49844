"""HTTP basics a user or a load balancer notices: health, readiness, errors,
request ids, the OpenAPI document, the page at /."""
import gzip
import re

import requests

from conftest import AUTH_KEY, wait_for


def error_of(resp):
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"code", "message", "hint"} <= set(err), err
    return err


def test_healthz_reports_alive_without_auth(daemon):
    r = daemon.get("/healthz")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["status"] == "ok" and body["version"]


def test_readyz_reports_redis_latency(daemon):
    r = daemon.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["redis"]["status"] == "ok"
    assert r.json()["checks"]["redis"]["latency_ms"] >= 0


def test_request_id_is_echoed_or_generated_and_logged(daemon):
    r = daemon.get("/healthz", headers={"X-Request-Id": "trace-abc.123"})
    assert r.headers["x-request-id"] == "trace-abc.123"
    r2 = daemon.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    generated = r2.headers["x-request-id"]
    assert len(generated) == 32 and " " not in generated
    r3 = daemon.get("/api/nope", auth=True)
    assert error_of(r3)["request_id"] == r3.headers["x-request-id"]
    want = {"trace-abc.123", generated, r3.headers["x-request-id"]}
    # the access line is written just after the response leaves: poll for it
    wait_for(lambda: want <= {rec.get("request_id") for rec in daemon.log_records()},
             timeout=5, what="request ids in the log")


def test_access_log_is_structured_json(daemon):
    daemon.get("/healthz")
    wait_for(lambda: any(r.get("path") == "/healthz" for r in daemon.log_records()), timeout=5,
             what="access log line")
    recs = [r for r in daemon.log_records() if r.get("path") == "/healthz"]
    rec = recs[-1]
    assert rec["level"] == "info" and rec["status"] == 200 and rec["method"] == "GET"
    assert "ts" in rec and "duration_ms" in rec and rec["request_id"]


def test_unknown_route_is_404_json(daemon):
    r = daemon.get("/api/definitely/not/here", auth=True)
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "not_found" and "/api/definitely/not/here" in err["message"]
    r = daemon.get("/nope.html")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"


def test_wrong_method_is_405_with_allow(daemon):
    r = daemon.request("DELETE", "/healthz")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    assert error_of(r)["code"] == "method_not_allowed"


def test_head_has_headers_without_body(daemon):
    r = requests.head(daemon.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0


def test_openapi_describes_every_route(daemon):
    r = daemon.get("/api/openapi.json", auth=True)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [("/healthz", "get"), ("/readyz", "get"), ("/api/models/test", "get"),
                         ("/api/models/{kind}/validate", "post"), ("/api/openapi.json", "get"),
                         ("/api/auth/status", "get"), ("/ws", "get")]:
        assert method in paths[path], (path, method)
    op = paths["/api/models/{kind}/validate"]["post"]
    assert op["parameters"][0]["name"] == "kind"
    assert "422" in op["responses"]
    assert op["x-pgfleet-role"] == "viewer"
    assert "DatabaseConfig" in doc["components"]["schemas"]
    # every $ref resolves
    refs = []

    def walk(v):
        if isinstance(v, dict):
            if "$ref" in v:
                refs.append(v["$ref"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(doc)
    schemas = doc["components"]["schemas"]
    assert refs and all(ref.split("/")[-1] in schemas for ref in refs)


def test_index_page_is_served_gzipped_from_the_binary(daemon):
    r = requests.get(daemon.url + "/", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-encoding"] == "gzip"
    html = gzip.decompress(r.raw.read()).decode()
    assert "<title>pgfleet</title>" in html
    app = re.search(r'src="(/assets/app-[A-Z0-9]+\.js)"', html).group(1)
    plain = requests.get(daemon.url + app, headers={"Accept-Encoding": "identity"}, timeout=5)
    assert plain.status_code == 200 and "WebSocket" in plain.text
    assert "content-encoding" not in plain.headers


def test_keepalive_connection_serves_many_requests(daemon):
    with requests.Session() as s:
        for i in range(50):
            r = s.get(daemon.url + "/healthz", timeout=5)
            assert r.status_code == 200
        r = s.get(daemon.url + "/api/auth/status", headers={"X-API-Key": AUTH_KEY}, timeout=5)
        assert r.json()["role"] == "admin"


def test_an_empty_body_is_handled_once(daemon):
    """Content-Length: 0 on a state change: one answer from one handler call (lws also
    reports such a body complete; the handler must not run twice)."""
    for _ in range(3):
        r = daemon.post("/api/replication/streams/nope/pause", data=b"",
                        headers={"Content-Type": "application/json", "Content-Length": "0"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
