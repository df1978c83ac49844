"""pgfleet's AWS layer against a real moto server and small local servers:
Secrets Manager (cache, rotation, pagination), RDS, ElastiCache, SNS,
throttling and 5xx retries, wrong credentials, and the credential chain
(profile files, ECS, IMDSv2)."""
import json
import os
import random
import string
import subprocess
import time

import pytest

from awshelp import BASE_ENV, REGION, AwsTool, LocalServer, Moto, forward, iso_in
from conftest import AUTH_KEY, PGFLEET_BIN, wait_for


@pytest.fixture
def aws(moto):
    moto.reset()
    tools = []

    def make(extra=None, endpoint=None):
        t = AwsTool({**BASE_ENV, "AWS_ENDPOINT_URL": endpoint or moto.url}, extra)
        tools.append(t)
        return t
    yield make
    for t in tools:
        t.close()


def test_secrets_list_paginates_and_get_reads_value(moto, aws):
    sm = moto.client("secretsmanager")
    for i in range(130):
        sm.create_secret(Name=f"app/db-{i:03d}", SecretString=json.dumps({"password": f"pw{i}"}))
    t = aws()
    r = t("list")
    assert r["ok"] and len(r["result"]) == 130  # two pages of 100
    assert r["attempts"] == 2
    assert {s["name"] for s in r["result"]} == {f"app/db-{i:03d}" for i in range(130)}
    got = t("get app/db-042")
    assert got["ok"] and json.loads(got["result"]["value"]) == {"password": "pw42"}
    assert got["result"]["cached"] is False and got["result"]["version_id"]


def test_rotated_secret_is_used_after_the_ttl(moto, aws):
    sm = moto.client("secretsmanager")
    sm.create_secret(Name="rotating", SecretString="v1")
    t = aws({"AWSTOOL_TTL": "1"})
    first = t("get rotating")["result"]
    assert first["value"] == "v1" and first["cached"] is False
    sm.put_secret_value(SecretId="rotating", SecretString="v2")
    again = t("get rotating")["result"]
    assert again["value"] == "v1" and again["cached"] is True  # within the TTL
    time.sleep(1.2)
    after = t("get rotating")["result"]
    assert after["value"] == "v2" and after["cached"] is False
    assert after["version_id"] != first["version_id"]


def test_invalidate_fetches_the_new_version_at_once(moto, aws):
    sm = moto.client("secretsmanager")
    sm.create_secret(Name="db/orders", SecretString="old")
    t = aws({"AWSTOOL_TTL": "3600"})
    assert t("get db/orders")["result"]["value"] == "old"
    sm.put_secret_value(SecretId="db/orders", SecretString="new")
    assert t("get db/orders")["result"]["value"] == "old"
    assert t("invalidate db/orders")["ok"]
    assert t("get db/orders")["result"]["value"] == "new"


def test_missing_secret_is_a_clear_not_found(aws):
    r = aws()("get does/not/exist")
    assert r["ok"] is False and r["code"] == "ResourceNotFoundException"
    assert r["http_status"] == 400 or r["http_status"] == 404
    assert "region (us-east-1)" in r["hint"]
    assert r["attempts"] == 1  # not retried


def test_rds_replicas_and_clusters_are_described(moto, aws):
    rds = moto.client("rds")
    common = dict(DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="u",
                  MasterUserPassword="password123", AllocatedStorage=20)
    rds.create_db_instance(DBInstanceIdentifier="orders-primary", Port=5432, **common)
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orders-replica-1",
                                        SourceDBInstanceIdentifier="orders-primary")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orders-replica-2",
                                        SourceDBInstanceIdentifier="orders-primary")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orders-cascade",
                                        SourceDBInstanceIdentifier="orders-replica-1")
    rds.create_db_cluster(DBClusterIdentifier="aurora-1", Engine="aurora-postgresql",
                          MasterUsername="u", MasterUserPassword="password123")
    rds.create_db_instance(DBInstanceIdentifier="aurora-1-a", DBInstanceClass="db.r6g.large",
                           Engine="aurora-postgresql", DBClusterIdentifier="aurora-1")
    rds.create_db_instance(DBInstanceIdentifier="aurora-1-b", DBInstanceClass="db.r6g.large",
                           Engine="aurora-postgresql", DBClusterIdentifier="aurora-1")
    t = aws()
    inst = {i["id"]: i for i in t("instances")["result"]}
    assert set(inst) >= {"orders-primary", "orders-replica-1", "orders-replica-2", "orders-cascade"}
    p = inst["orders-primary"]
    assert p["engine"] == "postgres" and p["status"] == "available"
    assert p["endpoint"]["port"] == 5432 and p["endpoint"]["address"]
    assert p["source_instance_id"] is None
    assert sorted(p["read_replica_ids"]) == ["orders-replica-1", "orders-replica-2"]
    assert inst["orders-replica-1"]["source_instance_id"] == "orders-primary"
    assert inst["orders-replica-1"]["read_replica_ids"] == ["orders-cascade"]
    assert inst["orders-cascade"]["source_instance_id"] == "orders-replica-1"
    assert inst["aurora-1-a"]["cluster_id"] == "aurora-1"
    one = t("instances orders-cascade")["result"]
    assert [i["id"] for i in one] == ["orders-cascade"]
    clusters = t("clusters")["result"]
    assert len(clusters) == 1
    c = clusters[0]
    assert c["id"] == "aurora-1" and c["engine"] == "aurora-postgresql"
    assert c["endpoint"] and c["reader_endpoint"] and "cluster-ro" in c["reader_endpoint"]
    members = {m["instance_id"]: m["writer"] for m in c["members"]}
    assert members == {"aurora-1-a": True, "aurora-1-b": False}
    missing = t("instances nope")
    assert missing["ok"] is False and missing["code"] == "DBInstanceNotFound"


def test_rds_pagination_collects_every_page(moto, aws):
    rds = moto.client("rds")
    for i in range(45):
        rds.create_db_instance(DBInstanceIdentifier=f"db-{i:02d}", DBInstanceClass="db.t3.micro",
                               Engine="postgres", MasterUsername="u", MasterUserPassword="password123",
                               AllocatedStorage=20)
    r = aws({"AWSTOOL_PAGE_SIZE": "20"})("instances")
    assert r["ok"] and len(r["result"]) == 45
    assert r["attempts"] == 3  # three pages


def test_elasticache_group_endpoints_and_tls(moto, aws):
    ec = moto.client("elasticache")
    ec.create_replication_group(ReplicationGroupId="state", ReplicationGroupDescription="s",
                                Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=2,
                                TransitEncryptionEnabled=True)
    ec.create_replication_group(ReplicationGroupId="plain", ReplicationGroupDescription="p",
                                Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=1)
    groups = {g["id"]: g for g in aws()("groups")["result"]}
    assert groups["state"]["tls"] is True and groups["plain"]["tls"] is False
    assert groups["state"]["primary_endpoint"]["port"] == 6379
    assert groups["state"]["primary_endpoint"]["address"].startswith("master.state")


def test_sns_publish(moto, aws):
    sns = moto.client("sns")
    arn = sns.create_topic(Name="pgfleet-alerts")["TopicArn"]
    r = aws()(f"publish {arn} replication lag on orders-replica-1 is 120 s")
    assert r["ok"] and r["result"]["message_id"]
    r = aws()("publish arn:aws:sns:us-east-1:123456789012:nope hello")
    assert r["ok"] is False and "NotFound" in r["code"]


def throttler(moto_url, fail_first, status=400, kind="json"):
    count = {"n": 0}

    def handler(h, body):
        count["n"] += 1
        if count["n"] <= fail_first:
            if status >= 500:
                return status, {"Content-Type": "text/plain"}, b"upstream unavailable"
            if kind == "json":
                return status, {"Content-Type": "application/x-amz-json-1.1"}, \
                    b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            return status, {"Content-Type": "text/xml"}, (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>")
        return forward(moto_url, h, body)
    return LocalServer(handler), count


def test_throttling_is_retried_then_succeeds(moto, aws):
    moto.client("secretsmanager").create_secret(Name="s", SecretString="v")
    proxy, count = throttler(moto.url, fail_first=2)
    try:
        r = aws(endpoint=proxy.url)("get s")
        assert r["ok"] and r["result"]["value"] == "v"
        assert r["attempts"] == 3 and count["n"] == 3
    finally:
        proxy.stop()
    proxy, count = throttler(moto.url, fail_first=1, kind="xml")
    try:
        r = aws(endpoint=proxy.url)("instances")
        assert r["ok"] and r["attempts"] == 2
    finally:
        proxy.stop()


def test_throttling_budget_runs_out_cleanly(moto, aws):
    proxy, count = throttler(moto.url, fail_first=1000)
    try:
        r = aws({"AWSTOOL_MAX_ATTEMPTS": "4"}, endpoint=proxy.url)("list")
        assert r["ok"] is False and r["code"] == "ThrottlingException"
        assert r["attempts"] == 4 and count["n"] == 4
        assert "after 4 attempts" in r["hint"]
        # the time budget stops retries too
        r = aws({"AWSTOOL_MAX_ATTEMPTS": "50", "AWSTOOL_BUDGET_MS": "300",
                 "AWSTOOL_TIMEOUT_MS": "100"}, endpoint=proxy.url)("list")
        assert r["ok"] is False and r["attempts"] < 50
    finally:
        proxy.stop()


def test_server_errors_are_retried(moto, aws):
    proxy, count = throttler(moto.url, fail_first=1, status=503)
    try:
        r = aws(endpoint=proxy.url)("groups")
        assert r["ok"] and r["attempts"] == 2
    finally:
        proxy.stop()


def test_unreachable_endpoint_is_a_transport_error_with_hint(aws):
    from conftest import free_port
    r = aws({"AWSTOOL_MAX_ATTEMPTS": "2"}, endpoint=f"http://127.0.0.1:{free_port()}")("list")
    assert r["ok"] is False and r["code"] == "transport"
    assert "could not reach" in r["hint"] and r["attempts"] == 2


def test_wrong_credentials_give_a_clear_error():
    """moto with IAM enforcement verifies our SigV4 signatures for real."""
    m = Moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = m.client("iam", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")
        iam.create_user(UserName="pgfleet")
        iam.put_user_policy(UserName="pgfleet", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="pgfleet")["AccessKey"]
        env = {**BASE_ENV, "AWS_ENDPOINT_URL": m.url, "AWS_ACCESS_KEY_ID": key["AccessKeyId"]}
        good = AwsTool({**env, "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
        assert good("list")["ok"] and good("instances")["ok"] and good("groups")["ok"]
        good.close()
        bad = AwsTool({**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
        r = bad("list")
        assert r["ok"] is False and r["code"] == "SignatureDoesNotMatch" and r["attempts"] == 1
        assert "check the credentials (from environment)" in r["hint"]
        r = bad("instances")
        assert r["code"] == "SignatureDoesNotMatch"
        bad.close()
        unknown = AwsTool({**env, "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000", "AWS_SECRET_ACCESS_KEY": "x"})
        r = unknown("groups")
        assert r["ok"] is False and r["code"] == "InvalidClientTokenId"
        unknown.close()
    finally:
        m.stop()


def test_profile_files_and_region_from_config(tmp_path, moto):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = d\n"
                     "[prod]\naws_access_key_id = AKIAPRODPROFILE00000\naws_secret_access_key = p\n"
                     "aws_session_token = tok\n")
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\n[profile prod]\nregion = eu-central-1\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": moto.url}
    t = AwsTool({**env, "AWS_PROFILE": "prod"})
    r = t("creds")
    assert r["ok"] and r["access_key_id"] == "AKIAPRODPROFILE00000" and r["has_token"]
    assert r["source"] == f"profile prod ({creds})"
    assert t("endpoint rds")["endpoint"] == moto.url
    t.close()
    # the region comes from the profile's section of the config file
    t = AwsTool({k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"} | {"AWS_PROFILE": "prod"})
    assert t("endpoint rds")["endpoint"] == "https://rds.eu-central-1.amazonaws.com"
    t.close()
    t = AwsTool(env)
    assert t("creds")["access_key_id"] == "AKIADEFAULT000000000"
    t.close()
    # the environment comes before the files
    t = AwsTool({**env, "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "e"})
    assert t("creds")["source"] == "environment"
    t.close()


def test_region_and_per_service_endpoints(moto):
    t = AwsTool({"AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "ap-south-1",
                 "AWS_ENDPOINT_URL_RDS": "http://127.0.0.1:1/"})
    assert t("endpoint rds")["endpoint"] == "http://127.0.0.1:1"
    assert t("endpoint secretsmanager")["endpoint"] == "https://secretsmanager.ap-south-1.amazonaws.com"
    t.close()


def test_no_credentials_names_every_source_tried():
    t = AwsTool({"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION,
                 "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/c", "AWS_CONFIG_FILE": "/nonexistent/f"})
    r = t("list")
    assert r["ok"] is False and r["code"] == "credentials"
    for part in ("environment", "profile 'default'", "ECS container", "EC2 instance metadata"):
        assert part in r["message"]
    t.close()


def test_ecs_container_credentials_full_uri_with_token_and_file(tmp_path, moto):
    expiry = {"in": 3600}

    def handler(h, body):
        if h.headers.get("Authorization") != "secret-task-token":
            return 403, {}, b"forbidden"
        return 200, {"Content-Type": "application/json"}, json.dumps({
            "AccessKeyId": "ASIAECSTASKROLE00000", "SecretAccessKey": "ecs-secret", "Token": "ecs-tok",
            "Expiration": iso_in(expiry["in"]), "RoleArn": "arn:aws:iam::1:role/task"}).encode()
    srv = LocalServer(handler)
    try:
        env = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": moto.url,
               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
               "AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url + "/v2/credentials/abc"}
        t = AwsTool({**env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-task-token"})
        r = t("creds")
        assert r["ok"] and r["source"] == "ecs container credentials" and r["has_token"]
        assert r["access_key_id"] == "ASIAECSTASKROLE00000"
        assert t("list")["ok"]  # the temporary credentials sign real calls
        n = len(srv.requests)
        t("creds")
        assert len(srv.requests) == n  # cached: far from expiry
        t.close()
        tok = tmp_path / "token"
        tok.write_text("secret-task-token\n")
        expiry["in"] = 120  # inside the 5-minute refresh window: fetched again each time
        t = AwsTool({**env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tok)})
        assert t("creds")["ok"]
        before = len(srv.requests)
        assert t("creds")["ok"]
        assert len(srv.requests) == before + 1
        t.close()
        t = AwsTool({**env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"})
        r = t("creds")
        assert r["ok"] is False and "ECS container credentials failed: HTTP 403" in r["error"]
        t.close()
    finally:
        srv.stop()


def test_imdsv2_credentials(moto):
    state = {"token": "imds-session-token"}

    def handler(h, body):
        if h.command == "PUT" and h.path == "/latest/api/token":
            if not h.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, {}, b"missing ttl"
            return 200, {}, state["token"].encode()
        if h.headers.get("X-aws-ec2-metadata-token") != state["token"]:
            return 401, {}, b"IMDSv2 token required"
        if h.path == "/latest/meta-data/iam/security-credentials/":
            return 200, {}, b"pgfleet-instance-role"
        if h.path == "/latest/meta-data/iam/security-credentials/pgfleet-instance-role":
            return 200, {}, json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMDSROLE00000000",
                                        "SecretAccessKey": "imds-secret", "Token": "imds-tok",
                                        "Expiration": iso_in(6 * 3600)}).encode()
        return 404, {}, b"not found"
    srv = LocalServer(handler)
    try:
        t = AwsTool({"AWS_REGION": REGION, "AWS_ENDPOINT_URL": moto.url,
                     "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                     "AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url})
        r = t("creds")
        assert r["ok"], r
        assert r["source"] == "ec2 instance metadata (role pgfleet-instance-role)"
        assert r["access_key_id"] == "ASIAIMDSROLE00000000" and r["has_token"]
        methods = [(m, p) for m, p, _, _ in srv.requests]
        assert methods[0] == ("PUT", "/latest/api/token")
        assert t("groups")["ok"]
        t.close()
        state["token"] = "rotated"  # a server that refuses our token: a clear failure
    finally:
        srv.stop()


def test_sigv4_matches_botocore_on_generated_requests(aws):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    rnd = random.Random(20261126)
    t = aws()
    alphabet = string.ascii_letters + string.digits + "-_.~ "
    for i in range(150):
        when = 1700000000 + rnd.randrange(10 ** 7)
        ts = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
        service = rnd.choice(["rds", "secretsmanager", "sns", "elasticache", "s3x"])
        region = rnd.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
        path = "/" + "/".join("".join(rnd.choice(string.ascii_letters + string.digits + "-_.~")
                                      for _ in range(rnd.randint(1, 8))) for _ in range(rnd.randint(0, 3)))
        params = [(("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 6)))),
                   "".join(rnd.choice(alphabet + "/=&+") for _ in range(rnd.randint(0, 8))))
                  for _ in range(rnd.randint(0, 4))]
        from urllib.parse import quote
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
        body = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) if rnd.random() < 0.5 else ""
        token = "FQoG" + "".join(rnd.choice(string.ascii_letters) for _ in range(20)) if rnd.random() < 0.3 else None
        headers = {"Host": "example.amazonaws.com",
                   "X-Custom-" + str(i): "  a   b  ", "Content-Type": "application/x-www-form-urlencoded"}
        url = "https://example.amazonaws.com" + path + ("?" + query if query else "")
        req = AWSRequest(method=rnd.choice(["GET", "POST"]), url=url, data=body, headers=headers)
        req.context["timestamp"] = ts
        creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
        signer = SigV4Auth(creds, service, region)
        req.headers["X-Amz-Date"] = ts
        if token:
            req.headers["X-Amz-Security-Token"] = token
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        sig = signer.signature(sts, req)
        spec = {"method": req.method, "path": path, "query": query or None,
                "headers": [[k, v] for k, v in headers.items()], "body": body,
                "access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "token": token, "region": region, "service": service, "time": when}
        ours = t("sign " + json.dumps(spec))
        assert ours["ok"], ours
        assert ours["canonical_request"] == creq, (spec, creq, ours["canonical_request"])
        assert ours["signature"] == sig, spec


def test_rds_iam_token_matches_botocore(aws):
    import datetime
    from unittest import mock
    import botocore.auth
    import boto3
    when = 1764169200  # fixed signing time
    t = aws({"AWS_SESSION_TOKEN": None})
    ours = t(f"token orders.abc.us-east-1.rds.amazonaws.com 5432 app_user {when}")
    assert ours["ok"]
    fixed = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None)

    class FixedDT(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

        @classmethod
        def now(cls, tz=None):
            return fixed.replace(tzinfo=tz) if tz else fixed
    with mock.patch.object(botocore.auth.datetime, "datetime", FixedDT):
        theirs = boto3.client("rds", region_name=REGION, aws_access_key_id="testing",
                              aws_secret_access_key="testing").generate_db_auth_token(
            "orders.abc.us-east-1.rds.amazonaws.com", 5432, "app_user")
    from urllib.parse import parse_qs, urlsplit
    a, b = urlsplit("https://" + ours["token"]), urlsplit("https://" + theirs)
    assert a.netloc == b.netloc == "orders.abc.us-east-1.rds.amazonaws.com:5432"
    qa, qb = parse_qs(a.query), parse_qs(b.query)
    assert qa == qb, (ours["token"], theirs)
    assert qa["X-Amz-Expires"] == ["900"] and qa["Action"] == ["connect"]


def test_aws_check_cli_and_api(moto, daemon_factory, redis):
    moto.client("secretsmanager").create_secret(Name="one", SecretString="x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(BASE_ENV)
    env["AWS_ENDPOINT_URL"] = moto.url
    p = subprocess.run([PGFLEET_BIN, "aws", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "secretsmanager  ok" in p.stdout and "1 secret " in p.stdout
    assert "environment (test****)" in p.stdout and "testing" not in p.stdout.replace("test****", "")
    pj = subprocess.run([PGFLEET_BIN, "aws", "check", "--json"], env=env, capture_output=True, text=True, timeout=60)
    rep = json.loads(pj.stdout)
    assert rep["ok"] and rep["region"] == REGION
    assert [c["service"] for c in rep["checks"]] == ["secretsmanager", "rds", "elasticache"]
    # one service unreachable: that one fails with a hint, exit 18
    from conftest import free_port
    bad = dict(env, AWS_ENDPOINT_URL_ELASTICACHE=f"http://127.0.0.1:{free_port()}")
    p = subprocess.run([PGFLEET_BIN, "aws", "check"], env=bad, capture_output=True, text=True, timeout=60)
    assert p.returncode == 18
    assert "elasticache     FAIL" in p.stdout and "HINT: could not reach" in p.stdout
    assert "rds             ok" in p.stdout

    d = daemon_factory({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
                        "PGFLEET_REDIS_URL": redis.url})
    assert d.get("/api/aws/test").status_code == 401
    r = d.get("/api/aws/test", auth=True)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert "testing" not in r.text.replace("test****", "")


def test_elasticache_replication_group_setting(moto, daemon_factory, redis):
    ec = moto.client("elasticache")
    ec.create_replication_group(ReplicationGroupId="pgfleet-state", ReplicationGroupDescription="s",
                                Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=1,
                                TransitEncryptionEnabled=True)
    env = {**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "AUTH_KEY": AUTH_KEY,
           "PGFLEET_REDIS_URL": "redis://app:pw@127.0.0.1:1/3", "PGFLEET_REDIS_TIMEOUT_MS": "300",
           "PGFLEET_ELASTICACHE_REPLICATION_GROUP": "pgfleet-state"}
    d = daemon_factory(env)
    # the store now aims at the group's endpoint with TLS (moto's host does not resolve here)
    wait_for(lambda: "master.pgfleet-state" in d.get("/readyz").text, timeout=10, what="store url")
    r = d.get("/readyz").json()
    assert r["error"]["checks"]["redis"]["url"].startswith("rediss://app:****@master.pgfleet-state")
    assert r["error"]["checks"]["redis"]["url"].endswith(":6379/3")
    missing = daemon_factory({**env, "PGFLEET_ELASTICACHE_REPLICATION_GROUP": "nope"}, start=False)
    missing.start(wait=False)
    assert missing.proc.wait(20) == 18
    assert "could not find ElastiCache replication group 'nope'" in missing.logs()
    assert "ReplicationGroupNotFoundFault" in missing.logs()


def test_hostile_xml_is_not_expanded_or_followed(moto, aws):
    """An endpoint answering with external entities or an entity bomb gets no fetch and no
    blow-up: libxml2 runs without network and without entity substitution."""
    leak = LocalServer(lambda h, body: (200, {}, b"<x>leaked</x>"))
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
            '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>')
    xxe = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY ext SYSTEM "{leak.url}/secret">]>')
    answers = [
        xxe + "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>"
              "<DBInstanceIdentifier>&ext;</DBInstanceIdentifier></DBInstance></DBInstances>"
              "</DescribeDBInstancesResult></DescribeDBInstancesResponse>",
        bomb + "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>"
               "<DBInstanceIdentifier>&e;</DBInstanceIdentifier></DBInstance></DBInstances>"
               "</DescribeDBInstancesResult></DescribeDBInstancesResponse>",
        "<ErrorResponse><Error><Code>Bad",  # truncated
    ]
    it = iter(answers)
    srv = LocalServer(lambda h, body: (200, {"Content-Type": "text/xml"}, next(it).encode()))
    try:
        t = aws(endpoint=srv.url)
        for _ in answers:  # each is refused as an invalid answer, nothing is expanded
            r = t("instances")
            assert r["ok"] is False and r["code"] == "InvalidResponse", r
        assert leak.requests == []
    finally:
        srv.stop()
        leak.stop()
