#!/usr/bin/env python3
"""Seeds the AWS emulator (moto) for the local environment: one Secrets Manager
secret per local PostgreSQL server, in the RDS secret format.

usage: seed_aws.py --user U --password P NAME:PORT:DBNAME ...
Idempotent: an existing secret gets a new version with the same value.
"""
import argparse
import json

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("servers", nargs="+", help="NAME:PORT:DBNAME")
    args = ap.parse_args()
    sm = boto3.client("secretsmanager")
    for spec in args.servers:
        name, port, dbname = spec.split(":")
        secret_id = f"pgfleet/dev/{name}"
        value = json.dumps({"username": args.user, "password": args.password, "engine": "postgres",
                            "host": "127.0.0.1", "port": int(port), "dbname": dbname})
        try:
            sm.create_secret(Name=secret_id, SecretString=value,
                             Description=f"pgfleet local environment: {name} on port {port}")
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=secret_id, SecretString=value)
        print(f"secret {secret_id}")


if __name__ == "__main__":
    main()
