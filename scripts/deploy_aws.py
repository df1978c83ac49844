#!/usr/bin/env python3
"""`make deploy`: the image to ECR and the CloudFormation stack (deploy/aws/pgfleet.yaml).

  deploy_aws.py --stack NAME --region R --image-tag T [--param Key=Value ...] [--image LOCAL]

Creates the ECR repository `pgfleet` when missing, pushes the local image there (podman or
docker, logged in with an ECR token), then creates or updates the stack with the image's URI
and waits for it. With AWS_ENDPOINT_URL (an emulator such as moto) there is no registry to
push to: the push is skipped and said so; the repository and the stack are still made.
"""
import argparse
import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.exceptions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "aws" / "pgfleet.yaml"


def say(msg):
    print(f"deploy: {msg}", flush=True)


def engine():
    out = subprocess.run([str(ROOT / "scripts" / "container.sh"), "engine"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("deploy: no container engine (podman or a Docker engine) to push the image")
    return out.stdout.split()


def push(ecr, repo_uri, local, tag):
    if os.environ.get("AWS_ENDPOINT_URL"):
        say(f"AWS_ENDPOINT_URL is set (an emulator): no registry to push to, push of {local} skipped")
        return
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    e = engine()
    subprocess.run(e + ["login", "--username", user, "--password-stdin", auth["proxyEndpoint"]],
                   input=password, text=True, check=True, capture_output=True)
    subprocess.run(e + ["tag", local, f"{repo_uri}:{tag}"], check=True)
    subprocess.run(e + ["push", f"{repo_uri}:{tag}"], check=True)
    say(f"pushed {repo_uri}:{tag}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--image-tag", required=True)
    p.add_argument("--image", default="pgfleet:latest", help="the local image to push")
    p.add_argument("--param", action="append", default=[], help="a template parameter, Key=Value")
    p.add_argument("--timeout", type=int, default=3600)
    a = p.parse_args()
    params = {}
    for kv in a.param:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"deploy: --param {kv}: expected Key=Value")
        params[k] = v
    session = boto3.session.Session(region_name=a.region)
    ecr = session.client("ecr")
    try:
        repo = ecr.create_repository(repositoryName="pgfleet", imageScanningConfiguration={"scanOnPush": True},
                                     imageTagMutability="IMMUTABLE")["repository"]
        say(f"created the ECR repository {repo['repositoryUri']}")
    except ecr.exceptions.RepositoryAlreadyExistsException:
        repo = ecr.describe_repositories(repositoryNames=["pgfleet"])["repositories"][0]
    push(ecr, repo["repositoryUri"], a.image, a.image_tag)
    params["ImageUri"] = f"{repo['repositoryUri']}:{a.image_tag}"
    cfn = session.client("cloudformation")
    body = TEMPLATE.read_text()
    args = dict(StackName=a.stack, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    try:
        cfn.describe_stacks(StackName=a.stack)
        exists = True
    except botocore.exceptions.ClientError:
        exists = False
    try:
        if exists:
            cfn.update_stack(**args)
            say(f"updating stack {a.stack}")
        else:
            cfn.create_stack(**args)
            say(f"creating stack {a.stack}")
    except botocore.exceptions.ClientError as e:
        if "No updates are to be performed" in str(e):
            say("the stack is up to date")
            return 0
        sys.exit(f"deploy: {e}")
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        st = cfn.describe_stacks(StackName=a.stack)["Stacks"][0]
        status = st["StackStatus"]
        if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
            break
        time.sleep(5)
    say(f"stack {a.stack}: {status}")
    for o in st.get("Outputs", []):
        print(f"  {o['OutputKey']}: {o['OutputValue']}")
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        for ev in cfn.describe_stack_events(StackName=a.stack)["StackEvents"][:10]:
            if ev.get("ResourceStatusReason"):
                print(f"  {ev['LogicalResourceId']}: {ev['ResourceStatus']}: {ev['ResourceStatusReason']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
