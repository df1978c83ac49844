"""Alerting against real servers: a standby whose replay is paused lags, the rule fires after
its duration (not before), every channel kind is notified once (SNS through the emulator into
an SQS queue, a webhook with its HMAC, Slack, PagerDuty Events v2 and a real Alertmanager, the
last two checked against their documented schemas) and resolved when replay resumes; silences,
acknowledgements, retries with each attempt recorded, two daemons on one Redis notifying once,
a restart resolving what fired before it; hostile input refused with every problem named."""
import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from awshelp import BASE_ENV, LocalServer
from conftest import AUTH_KEY, JSON, PGFLEET_BIN, SECRETS, free_port, register_db, wait_for

PW = "monitor-pw-alerts"
DATA = Path(__file__).parent / "data"
HOOK_KEY = "hook-hmac-key-7d1f0c2a9b"
PD_KEY = "R0UT1NGKEYpgfleet0000000000000ab"
SECRETS.update({HOOK_KEY, PD_KEY})


def schema(name):
    s = json.loads((DATA / name).read_text())
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def rfc3339(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def pair(pg_servers):
    """A primary and a physical standby of it (slot standby_alerts)."""
    primary = pg_servers.replicating(PW)
    primary.sql("CREATE TABLE load (id bigint, pad text)")
    standby = pg_servers.standby_of(primary, "standby_alerts", "monitor", PW)
    yield primary, standby
    standby.sql("SELECT pg_wal_replay_resume()")


def write_wal(primary, mb):
    primary.sql(f"INSERT INTO load SELECT g, repeat('x', 900) FROM generate_series(1, {mb * 1000}) g; "
                "DELETE FROM load")


class Receiver(LocalServer):
    """An HTTP receiver keeping what it gets (time, path, headers, JSON body); answers from a
    list of statuses (the last one repeats)."""

    def __init__(self, statuses=(200,), check=None):
        self.got = []
        self.statuses = list(statuses)

        def handle(h, body):
            doc = json.loads(body) if body else None
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            if check and status < 300:
                status = check(doc)
            self.got.append({"at": time.time(), "path": h.path, "headers": dict(h.headers),
                             "body": doc, "raw": body, "answered": status})
            return status, {"Content-Type": "application/json"}, b'{"status":"success"}'
        super().__init__(handle)


class Alertmanager:
    """A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on a free port."""

    def __init__(self, workdir):
        self.port = free_port()
        d = Path(workdir) / f"am-{self.port}"
        d.mkdir()
        (d / "am.yml").write_text("route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n")
        self.log = open(d / "log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={d / 'am.yml'}", f"--storage.path={d}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.alerts() is not None, timeout=30, what="alertmanager")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def alerts(self):
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=2) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def forward_to(am, validator):
    """A check for Receiver: the body is valid by the schema, then Alertmanager takes it."""
    def check(doc):
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, errors
        req = urllib.request.Request(am.url + "/api/v2/alerts", data=json.dumps(doc).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    return check


@pytest.fixture
def alerting(daemon_factory, redis, moto):
    """Makes daemons on one Redis and the emulator, collecting every second."""
    def make(**env):
        return daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
                               "PGFLEET_REDIS_URL": redis.url, "PGFLEET_DB_MON_PW": PW,
                               "PGFLEET_COLLECT_INTERVAL_SECONDS": "1",
                               "PGFLEET_HEALTH_INTERVAL_SECONDS": "1",
                               "PGFLEET_ALERT_RETRY_MS": "50", **env})
    return make


def post(d, path, body, expect=201):
    r = d.post(path, data=json.dumps(body), headers=JSON, timeout=30)
    assert r.status_code == expect, r.text
    return r.json()


def active(d, rule):
    return [a for a in d.get("/api/alerts", auth=True).json()["alerts"] if a["rule"] == rule]


def firing_metric(d, rule):
    for line in d.get("/metrics", auth=True).text.splitlines():
        if line.startswith(f'pgfleet_alerts_firing{{rule="{rule}"'):
            return int(line.split()[-1])
    return None


def test_lag_fires_after_for_notifies_every_channel_once_and_resolves(pair, alerting, moto, workdir):
    primary, standby = pair
    am = Alertmanager(workdir)
    hook, slack = Receiver(), Receiver()
    pd = Receiver(statuses=(202,), check=lambda doc: 202 if not list(
        schema("pagerduty-events-v2.schema.json").iter_errors(doc)) else 400)
    am_proxy = Receiver(check=forward_to(am, schema("alertmanager-postable-alerts.schema.json")))
    slack_url = f"{slack.url}/services/T0PGFLEET/B0ALERTS/{'s' * 24}"
    SECRETS.add(slack_url)
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name="pgfleet-alerts-test")["TopicArn"]
    queue = sqs.create_queue(QueueName="pgfleet-alerts-inbox")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    try:
        d = alerting()
        register_db(d, "primary", primary, user="monitor", env="PGFLEET_DB_MON_PW")
        register_db(d, "standby", standby, user="monitor", env="PGFLEET_DB_MON_PW")
        channels = [
            {"name": "hook", "type": "webhook", "url": hook.url + "/hook", "secret": HOOK_KEY},
            {"name": "slack", "type": "slack", "secret": slack_url},
            {"name": "pd", "type": "pagerduty", "url": pd.url + "/v2/enqueue", "secret": PD_KEY},
            {"name": "am", "type": "alertmanager", "url": am_proxy.url},
            {"name": "sns", "type": "sns", "topic_arn": topic},
        ]
        for c in channels:
            out = post(d, "/api/alerts/channels", c)
            assert "secret" not in out and out["has_secret"] == ("secret" in c)
        listed = d.get("/api/alerts/channels", auth=True).text
        assert HOOK_KEY not in listed and PD_KEY not in listed and slack_url not in listed
        post(d, "/api/alerts/rules", {"name": "lag", "kind": "replication_lag", "severity": "critical",
                                      "for": "5s", "resolve_after": "2s", "threshold_bytes": 1048576,
                                      "channels": [c["name"] for c in channels]})
        wait_for(lambda: len(d.get("/api/replication/status", auth=True).json().get("edges", [])) == 1,
                 timeout=20, what="the physical edge collected")
        assert firing_metric(d, "lag") == 0

        standby.sql("SELECT pg_wal_replay_pause()")
        write_wal(primary, 4)
        wait_for(lambda: active(d, "lag"), timeout=20, what="the lag alert pending")
        pending = active(d, "lag")[0]
        assert pending["state"] == "pending" and not hook.got
        assert pending["labels"]["to"].endswith(f":{standby.port}")
        assert pending["value"]["lag_bytes"] > 1048576 and pending["threshold"] == {"lag_bytes": 1048576}
        wait_for(lambda: active(d, "lag")[0]["state"] == "firing", timeout=20, what="firing")
        fired = active(d, "lag")[0]
        since = fired["since"]
        assert fired["firing_since"] - since >= 5  # held for `for`, not less
        assert "pg_wal_replay_resume" in json.dumps(fired["guidance"])

        receivers = {"hook": hook, "slack": slack, "pd": pd, "am": am_proxy}
        wait_for(lambda: all(r.got for r in receivers.values()), timeout=15, what="every channel notified")
        msgs = []
        wait_for(lambda: msgs.extend(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []))
                 or msgs, timeout=15, what="the SNS message in SQS")
        time.sleep(3)  # and nothing more while it keeps firing
        for name, r in receivers.items():
            assert len(r.got) == 1, (name, r.got)
            assert r.got[0]["at"] >= since + 5 - 1, name  # not before the duration (1 s: rounding)
        # the webhook: the group, signed with the channel's key
        h = hook.got[0]
        want = "sha256=" + hmac.new(HOOK_KEY.encode(), h["raw"], hashlib.sha256).hexdigest()
        assert h["headers"]["X-Pgfleet-Signature"] == want
        assert h["body"]["status"] == "firing" and h["body"]["rule"] == "lag"
        assert h["body"]["alerts"][0]["id"] == fired["id"] and h["body"]["alerts"][0]["guidance"]["actions"]
        assert slack.got[0]["path"] == "/services/T0PGFLEET/B0ALERTS/" + "s" * 24
        assert slack.got[0]["body"]["text"].startswith("[FIRING] lag")
        # PagerDuty: valid by the documented schema (the receiver answered 202, not 400)
        p = pd.got[0]
        assert p["answered"] == 202, list(schema("pagerduty-events-v2.schema.json").iter_errors(p["body"]))
        assert p["body"]["routing_key"] == PD_KEY and p["body"]["event_action"] == "trigger"
        assert p["body"]["payload"]["severity"] == "critical"
        assert p["body"]["dedup_key"] == f"pgfleet-{fired['id']}"
        # Alertmanager: valid by the schema, taken by a real Alertmanager, listed there
        assert am_proxy.got[0]["answered"] == 200
        listed = [a for a in am.alerts() if a["labels"].get("alertname") == "lag"]
        assert len(listed) == 1 and listed[0]["labels"]["to"] == fired["labels"]["to"]
        assert rfc3339(am_proxy.got[0]["body"][0]["startsAt"])
        # SNS: the subject and the message with the guidance
        envelope = json.loads(msgs[0]["Body"])
        assert envelope["Subject"].startswith("[pgfleet] FIRING: lag")
        assert "pg_wal_replay_resume" in envelope["Message"]
        assert firing_metric(d, "lag") == 1
        deliveries = d.get("/api/alerts/deliveries", auth=True).json()["deliveries"]
        assert {x["channel"] for x in deliveries if x["status"] == "delivered"} >= {c["name"] for c in channels}

        standby.sql("SELECT pg_wal_replay_resume()")
        wait_for(lambda: len(hook.got) == 2, timeout=30, what="the resolved notification")
        time.sleep(2)
        assert not active(d, "lag")
        for name, r in receivers.items():
            assert len(r.got) == 2, (name, len(r.got))
        assert hook.got[1]["body"]["status"] == "resolved"
        assert slack.got[1]["body"]["text"].startswith("[RESOLVED] lag")
        assert pd.got[1]["body"]["event_action"] == "resolve" and pd.got[1]["answered"] == 202
        assert pd.got[1]["body"]["dedup_key"] == f"pgfleet-{fired['id']}"
        assert rfc3339(am_proxy.got[1]["body"][0]["endsAt"]) and am_proxy.got[1]["answered"] == 200
        wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"),
                 timeout=15, what="the resolved SNS message")
        assert firing_metric(d, "lag") == 0
        hist = d.get("/api/alerts/history?rule=lag", auth=True).json()["transitions"]
        assert [t["state"] for t in hist] == ["resolved", "firing"]  # newest first
        assert d.get("/api/alerts/history?rule=lag&state=firing", auth=True).json()["transitions"][0]["id"] == fired["id"]
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
        for r in (hook, slack, pd, am_proxy):
            r.stop()
        am.stop()


def down_rule(d, hook, **extra):
    """A webhook channel taking only rule 'down', and rule 'down' (database_down, 1 s)."""
    post(d, "/api/alerts/channels", {"name": "hook", "type": "webhook", "url": hook.url + "/hook",
                                     "match": {"rule": "down"}})
    post(d, "/api/alerts/rules", {"name": "down", "kind": "database_down", "for": "1s",
                                  "resolve_after": "1s", "channels": ["hook"], **extra})


def test_a_silence_suppresses_and_an_ack_is_recorded(alerting):
    hook = Receiver()
    try:
        d = alerting()
        register_db(d, "gone", port=free_port(), user="monitor", env="PGFLEET_DB_MON_PW")
        s = post(d, "/api/alerts/silences", {"match": {"rule": "down", "database": "gone"}, "for": "1h",
                                             "comment": "maintenance"})
        assert s["created_by"] == "api-key" and s["until"] > time.time() + 3500
        down_rule(d, hook)
        wait_for(lambda: [a for a in active(d, "down") if a["state"] == "firing"], timeout=20, what="firing")
        a = active(d, "down")[0]
        assert a["silenced_by"] == s["id"]
        time.sleep(2)
        assert not hook.got  # silenced: recorded, not sent
        hist = d.get("/api/alerts/history?rule=down", auth=True).json()["transitions"]
        assert hist[0]["state"] == "firing" and hist[0]["silenced"] is True

        # acknowledged: who and when, in the answer, the CLI and the audit trail
        r = d.post(f"/api/alerts/{a['id']}/ack", headers=JSON, data="{}")
        assert r.status_code == 200, r.text
        a = active(d, "down")[0]
        assert a["ack"]["by"] == "api-key" and a["ack"]["at"]
        env = {**os.environ, "PGFLEET_URL": d.url, "AUTH_KEY": AUTH_KEY}
        out = subprocess.run([PGFLEET_BIN, "alerts", "list"], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "down" in out.stdout and "(acknowledged)" in out.stdout, out
        audit = d.get("/api/audit?action=alert.", auth=True).json()["entries"]
        assert ("alert.ack", a["id"]) in {(e["action"], e["target"]) for e in audit}
        assert d.post("/api/alerts/0000000000000000/ack", headers=JSON, data="{}").status_code == 404

        # the silence ends: the next transition is sent (the CLI silences and unsilences too)
        out = subprocess.run([PGFLEET_BIN, "alerts", "unsilence", s["id"]], env=env, capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out
        assert d.get("/api/alerts/silences", auth=True).json()["silences"] == []
        out = subprocess.run([PGFLEET_BIN, "alerts", "silence", "--match", "rule=nothing", "--for", "10m"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out
        assert [x["match"] for x in d.get("/api/alerts/silences", auth=True).json()["silences"]] == \
            [{"rule": "nothing"}]
        r = d.request("DELETE", "/api/databases/gone")
        assert r.status_code == 200
        wait_for(lambda: hook.got, timeout=20, what="the resolved notification after the silence")
        assert hook.got[0]["body"]["status"] == "resolved"
        assert not active(d, "down")  # resolving forgets the ack
    finally:
        hook.stop()


def test_a_failing_webhook_is_retried_and_each_attempt_is_recorded(alerting):
    flaky = Receiver(statuses=(500, 503, 200))
    gone = Receiver(statuses=(404,))
    try:
        d = alerting()
        post(d, "/api/alerts/channels", {"name": "flaky", "type": "webhook", "url": flaky.url + "/x"})
        post(d, "/api/alerts/channels", {"name": "gone", "type": "webhook", "url": gone.url + "/x"})
        closed = free_port()
        post(d, "/api/alerts/channels", {"name": "closed", "type": "webhook",
                                         "url": f"http://127.0.0.1:{closed}/x"})
        first = d.post("/api/alerts/channels/flaky/test", headers=JSON, data="{}").json()
        assert first["status"] == "pending" and first["attempts"][0]["http_status"] == 500

        def delivery(name):
            ds = [x for x in d.get("/api/alerts/deliveries", auth=True).json()["deliveries"]
                  if x["channel"] == name]
            return ds[0] if ds and ds[0]["status"] != "pending" else None
        wait_for(lambda: delivery("flaky"), timeout=10, what="the retried delivery")
        x = delivery("flaky")
        assert x["status"] == "delivered"
        assert [t["http_status"] for t in x["attempts"]] == [500, 503, 200]
        assert len(flaky.got) == 3 and flaky.got[2]["body"] == flaky.got[0]["body"]
        # 404 is not retried; a closed port is, up to five attempts, then it fails
        r = d.post("/api/alerts/channels/gone/test", headers=JSON, data="{}").json()
        assert r["status"] == "failed" and len(r["attempts"]) == 1 and r["attempts"][0]["http_status"] == 404
        d.post("/api/alerts/channels/closed/test", headers=JSON, data="{}")
        wait_for(lambda: delivery("closed"), timeout=15, what="the failed delivery")
        x = delivery("closed")
        assert x["status"] == "failed" and len(x["attempts"]) == 5
        assert all(t["error"] and not t.get("http_status") for t in x["attempts"])
        assert d.post("/api/alerts/channels/nope/test", headers=JSON, data="{}").status_code == 404
    finally:
        flaky.stop()
        gone.stop()


def test_two_daemons_on_one_redis_notify_once_and_a_restart_resolves(pg_server, alerting):
    server = pg_server()
    server.sql(f"CREATE ROLE monitor LOGIN PASSWORD '{PW}'")
    hook = Receiver()
    try:
        a = alerting()
        register_db(a, "db", server, user="monitor", env="PGFLEET_DB_MON_PW")
        down_rule(a, hook)
        b = alerting()  # the same databases and rules, from Redis
        wait_for(lambda: any(r["name"] == "down" for r in b.get("/api/alerts/rules", auth=True).json()["rules"]),
                 timeout=10, what="the second daemon to load the rule")
        server.stop()
        wait_for(lambda: [x for x in active(a, "down") + active(b, "down") if x["state"] == "firing"]
                 and all(active(x, "down") and active(x, "down")[0]["state"] == "firing" for x in (a, b)),
                 timeout=30, what="both daemons firing")
        time.sleep(3)
        assert [m["body"]["status"] for m in hook.got] == ["firing"]
        assert len(a.get("/api/alerts/history?rule=down", auth=True).json()["transitions"]) == 1

        # both stop while it fires; the database comes back; a new daemon resolves what fired
        a.stop()
        b.stop()
        server.start()
        c = alerting()
        wait_for(lambda: len(hook.got) == 2, timeout=30, what="the resolved notification after a restart")
        assert hook.got[1]["body"]["status"] == "resolved"
        assert hook.got[1]["body"]["alerts"][0]["id"] == hook.got[0]["body"]["alerts"][0]["id"]
        assert "taken over" in c.logs()
    finally:
        hook.stop()


def test_bad_rules_channels_and_silences_are_refused_with_every_problem_named(alerting, redis):
    d = alerting()
    r = d.post("/api/alerts/rules", headers=JSON, data=json.dumps(
        {"name": "bad name", "kind": "lag", "for": "soon", "threshold_bytes": -1, "colour": 1}))
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert {"name", "kind", "for", "threshold_bytes", "colour"} <= fields
    r = d.post("/api/alerts/rules", headers=JSON, data=json.dumps(
        {"name": "lag", "kind": "replication_lag", "threshold_bytes": 1, "channels": ["missing"]}))
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "channels"
    r = d.post("/api/alerts/rules", headers=JSON, data=json.dumps({"name": "lag", "kind": "replication_lag"}))
    assert r.status_code == 422 and "threshold" in r.text
    r = d.post("/api/alerts/rules", headers=JSON, data="{not json")
    assert r.status_code == 400
    # the built-in rules are there, can be changed and disabled, not created twice
    rules = {x["name"]: x for x in d.get("/api/alerts/rules", auth=True).json()["rules"]}
    assert {"replication-lag", "edge-down", "slot-retention", "slot-forecast", "database-down",
            "log-errors", "migration-failed", "stream-error", "collector-stale"} <= set(rules)
    assert d.post("/api/alerts/rules", headers=JSON, data=json.dumps(rules["edge-down"])).status_code == 409
    changed = {**rules["replication-lag"], "threshold_bytes": 5000, "enabled": False}
    r = d.request("PUT", "/api/alerts/rules/replication-lag", headers=JSON, data=json.dumps(changed))
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert d.request("PUT", "/api/alerts/rules/nope", headers=JSON, data=json.dumps(changed)).status_code in (404, 422)
    assert d.request("DELETE", "/api/alerts/rules/nope").status_code == 404
    # channels: what each type needs, secrets kept out of answers and Redis
    for body, field in [({"name": "w", "type": "webhook"}, "url"),
                        ({"name": "w", "type": "webhook", "url": "file:///etc/passwd"}, "url"),
                        ({"name": "s", "type": "sns", "topic_arn": "x" * 25}, "topic_arn"),
                        ({"name": "k", "type": "slack"}, "secret"),
                        ({"name": "p", "type": "pagerduty"}, "secret"),
                        ({"name": "e", "type": "email"}, "type")]:
        r = d.post("/api/alerts/channels", headers=JSON, data=json.dumps(body))
        assert r.status_code == 422 and field in {f["field"] for f in r.json()["error"]["fields"]}, (body, r.text)
    post(d, "/api/alerts/channels", {"name": "w", "type": "webhook", "url": "http://127.0.0.1:9/x",
                                     "secret": HOOK_KEY})
    r = d.request("PUT", "/api/alerts/channels/w", headers=JSON,
                  data=json.dumps({"name": "w", "type": "webhook", "url": "http://127.0.0.1:10/x"}))
    assert r.status_code == 200 and r.json()["has_secret"] is True  # kept unless a new one comes
    post(d, "/api/alerts/rules", {"name": "uses-w", "kind": "stream_error", "channels": ["w"]})
    assert d.request("DELETE", "/api/alerts/channels/w").status_code == 409  # a rule names it
    assert HOOK_KEY not in redis.dump()
    # silences need matchers and a time; history filters are checked
    r = d.post("/api/alerts/silences", headers=JSON, data=json.dumps({"match": {}, "comment": "x"}))
    assert r.status_code == 422 and {"match", "for"} <= {f["field"] for f in r.json()["error"]["fields"]}
    assert d.get("/api/alerts/history?since=yesterday", auth=True).status_code == 422
    assert d.get("/api/alerts/history?limit=0", auth=True).status_code == 422
    assert d.get("/api/alerts", auth=False).status_code == 401


def test_roles_viewer_reads_operator_acks_and_silences_admin_configures(alerting, moto):
    import requests
    import uuid
    secret = f"pgfleet/users-{uuid.uuid4().hex[:10]}"
    pws = {"vic": "alerts-viewer-pw-01", "olga": "alerts-operator-pw-1", "ana": "alerts-admin-pw-001"}
    SECRETS.update(pws.values())
    roles = {"vic": "viewer", "olga": "operator", "ana": "admin"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(BASE_ENV, AWS_ENDPOINT_URL=moto.url, PGFLEET_USERS_SECRET=secret)
    for name, pw in pws.items():
        p = subprocess.run([PGFLEET_BIN, "user", "add", name, "--role", roles[name], "--password-stdin"],
                           input=pw + "\n", env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    d = alerting(PGFLEET_USERS_SECRET=secret, PGFLEET_LOGIN_BACKOFF_MS="1")
    s = {}
    for name, pw in pws.items():
        s[name] = requests.Session()
        r = s[name].post(d.url + "/auth/login", json={"method": "password", "username": name, "password": pw})
        assert r.status_code == 200, r.text
        s[name].headers["X-CSRF-Token"] = r.json()["csrf"]
    rule = {"name": "r1", "kind": "stream_error"}
    silence = {"match": {"rule": "r1"}, "for": "1m"}
    for name, sess in s.items():
        assert sess.get(d.url + "/api/alerts").status_code == 200
        assert sess.get(d.url + "/api/alerts/rules").status_code == 200
        want_op = 201 if name != "vic" else 403
        assert sess.post(d.url + "/api/alerts/silences", json=silence).status_code == want_op, name
        want_admin = 201 if name == "ana" else 403
        assert sess.post(d.url + "/api/alerts/rules", json={**rule, "name": f"r-{name}"}).status_code == want_admin
        assert sess.post(d.url + "/api/alerts/channels", json={
            "name": f"c-{name}", "type": "webhook", "url": "http://127.0.0.1:9/x"}).status_code == want_admin
    # the silence says who made it
    assert {x["created_by"] for x in s["ana"].get(d.url + "/api/alerts/silences").json()["silences"]} == \
        {"olga", "ana"}


def test_the_alerts_page_in_a_browser(alerting, browser):
    """Chromium: an alert appears live with its guidance; acknowledge and silence from the page;
    the channel and rule forms name what is wrong; a test notification reports its delivery."""
    hook = Receiver()
    try:
        d = alerting()
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(d.url + "/login#key=" + AUTH_KEY)
        page.wait_for_url(d.url + "/")
        page.locator("#conn").filter(has_text="live").wait_for(timeout=15000)
        page.goto(d.url + "/#/settings")
        # a channel: a bad URL is refused with the field named, a good one is listed
        form = page.locator("#channelform")
        assert not form.get_by_label("Topic ARN").is_visible()  # a webhook's form asks for a URL
        form.get_by_label("Name").fill("page-hook")
        form.get_by_label("URL").fill("ftp://127.0.0.1/x")
        form.get_by_role("button", name="Add channel").click()
        page.locator("#alc-msg").filter(has_text="url webhook needs url").wait_for()
        assert form.get_by_label("URL").get_attribute("aria-invalid") == "true"
        form.get_by_label("URL").fill(hook.url + "/hook")
        form.get_by_role("button", name="Add channel").click()
        page.locator("#al-channels").get_by_text("page-hook").wait_for()
        page.locator("#al-channels").get_by_role("button", name="Send test notification").click()
        page.locator("#alc-msg").filter(has_text="page-hook: delivered (HTTP 200)").wait_for()
        assert hook.got and hook.got[0]["body"]["rule"] == "test"
        # a rule without its threshold: the server's message names it
        rf = page.locator("#ruleform")
        rf.get_by_label("Name").fill("page-lag")
        rf.get_by_label("Kind").select_option("replication_lag")
        rf.get_by_role("button", name="Add rule").click()
        page.locator("#alr-msg").filter(has_text="threshold_bytes").wait_for()
        rf.get_by_label("Kind").select_option("database_down")
        rf.get_by_label("For", exact=True).fill("1s")
        rf.get_by_label("Resolve after").fill("1s")
        rf.get_by_label("Channels").fill("page-hook")
        rf.get_by_role("button", name="Add rule").click()
        page.locator("#alr-msg").filter(has_text="rule page-lag created").wait_for()
        page.locator("#al-rules tbody tr").filter(has_text="page-lag").wait_for()
        # a database that cannot be reached: the alert arrives over the WebSocket
        page.goto(d.url + "/#/alerts")
        register_db(d, "unreachable", port=free_port(), user="monitor", env="PGFLEET_DB_MON_PW")
        row = page.locator("#al-active tbody tr").filter(has_text="page-lag")
        row.filter(has_text="firing").wait_for(timeout=20000)
        page.locator("#al-history tbody tr").filter(has_text="page-lag").first.wait_for()
        row.locator("summary").click()
        row.get_by_text("Likely causes").wait_for()
        row.get_by_role("button", name="Acknowledge").click()
        row.filter(has_text="acknowledged by api-key").wait_for()
        row.get_by_role("button", name="Silence 1h").click()
        row.filter(has_text="silenced").wait_for()
        page.goto(d.url + "/#/settings")
        page.locator("#al-silences tbody tr").filter(has_text="rule=page-lag").wait_for()
        assert not errors, errors
        page.close()
    finally:
        hook.stop()
