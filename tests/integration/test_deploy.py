"""Shipping it: the CloudFormation template passes cfn-lint and deploys on the AWS emulator
(moto: ECR repository, VPC resources, IAM roles, ECS cluster, task definition and service,
load balancer, target group and listener; moto's CloudFormation does not create Secrets
Manager secrets or ElastiCache groups, so the test brings its own Redis URL secret), the
standalone task definition registers, and `make deploy-test` passes against the container
when a container engine is available (skipped, saying why, when none is)."""
import json
import os
import subprocess

import pytest

from awshelp import BASE_ENV
from conftest import ROOT

TEMPLATE = ROOT / "deploy" / "aws" / "pgfleet.yaml"
TASKDEF = ROOT / "deploy" / "aws" / "task-definition.json"


def test_the_template_passes_cfn_lint():
    p = subprocess.run([str(ROOT / ".venv" / "bin" / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


def test_make_deploy_on_the_emulator_creates_the_stack(moto):
    ec2, sm = moto.client("ec2"), moto.client("secretsmanager")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{'ab'[i % 2]}")["Subnet"]["SubnetId"] for i in range(4)]
    cert = moto.client("acm").request_certificate(DomainName="pgfleet.example.com")["CertificateArn"]
    redis = sm.create_secret(Name="pgfleet/test/redis-url", SecretString="rediss://:t@redis.example:6379/0")["ARN"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **BASE_ENV,
           "AWS_ENDPOINT_URL": moto.url}
    args = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "deploy_aws.py"), "--stack", "pgfleet-test",
            "--region", "us-east-1", "--image-tag", "0.1.0-test", "--timeout", "120",
            "--param", f"VpcId={vpc}", "--param", f"PublicSubnetIds={subnets[0]},{subnets[1]}",
            "--param", f"PrivateSubnetIds={subnets[2]},{subnets[3]}", "--param", f"CertificateArn={cert}",
            "--param", "PublicUrl=https://pgfleet.example.com", "--param", f"RedisUrlSecretArn={redis}"]
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "push of pgfleet:latest skipped" in p.stdout and "CREATE_COMPLETE" in p.stdout
    assert "Url: https://" in p.stdout
    repo = moto.client("ecr").describe_repositories(repositoryNames=["pgfleet"])["repositories"][0]
    ecs = moto.client("ecs")
    cluster = ecs.list_clusters()["clusterArns"][0]
    svc = ecs.describe_services(cluster=cluster, services=ecs.list_services(cluster=cluster)["serviceArns"])["services"][0]
    assert svc["desiredCount"] == 2  # (moto reports every launch type as EC2)
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    c = td["containerDefinitions"][0]
    assert c["image"] == f"{repo['repositoryUri']}:0.1.0-test"
    assert c["readonlyRootFilesystem"] is True
    assert {s["name"] for s in c["secrets"]} == {"AUTH_KEY", "PGFLEET_REDIS_URL"}
    assert [s["valueFrom"] for s in c["secrets"] if s["name"] == "PGFLEET_REDIS_URL"] == [redis]
    assert c["healthCheck"]["command"] == ["CMD", "pgfleet", "health", "--ready"]
    env = {e["name"]: e["value"] for e in c["environment"] if e}  # (moto keeps AWS::NoValue as null)
    assert "AUTH_KEY" not in env and env["PGFLEET_LISTEN"] == "0.0.0.0:8000"  # the key: a secret, never plain
    assert "PGFLEET_ELASTICACHE_REPLICATION_GROUP" not in env  # its own Redis URL: no group made
    elb = moto.client("elbv2")
    tg = elb.describe_target_groups()["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/readyz" and tg["TargetType"] == "ip"
    lb = elb.describe_load_balancers()["LoadBalancers"][0]
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    assert listener["Protocol"] == "HTTPS" and listener["Port"] == 443
    iam = moto.client("iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"]}
    task_role = [n for n in roles if "TaskRole" in n][0]
    doc = iam.get_role_policy(RoleName=task_role, PolicyName="pgfleet")["PolicyDocument"]
    if isinstance(doc, str):  # moto answers a Python literal where AWS answers JSON
        import ast
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = ast.literal_eval(doc)
    actions = [x for st in doc["Statement"] if st for x in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert actions and not [x for x in actions if "*" in x]  # least privilege: no wildcard action
    assert "secret:pgfleet/*" in json.dumps(doc)
    # the standalone task definition registers as it is
    body = json.loads(TASKDEF.read_text())
    r = ecs.register_task_definition(**{k: v for k, v in body.items()})
    assert r["taskDefinition"]["containerDefinitions"][0]["readonlyRootFilesystem"] is True


def test_make_deploy_test_against_the_container():
    engine = subprocess.run([str(ROOT / "scripts" / "container.sh"), "engine"], capture_output=True, text=True)
    if engine.returncode != 0:
        pytest.skip("no container engine here (neither podman nor a running Docker engine): "
                    "make deploy-test cannot run")
    p = subprocess.run([str(ROOT / "scripts" / "deploy_test.sh")], capture_output=True, text=True, timeout=3000)
    print(p.stdout[-4000:])
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert ", 0 failed" in p.stdout and "smoke suite" in p.stdout
