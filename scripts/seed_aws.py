#!/usr/bin/env python3
"""Seeds the AWS emulator (moto) for the local environment:
- one Secrets Manager secret per local PostgreSQL server, in the RDS secret format;
- RDS instances describing the local servers: pgfleet-dev-primary with its read
  replica pgfleet-dev-standby, which has its own replica pgfleet-dev-cascade (the
  local physical topology), and pgfleet-dev-reporting; plus an Aurora PostgreSQL
  cluster pgfleet-dev-aurora with a writer and a reader;
- an ElastiCache replication group pgfleet-dev-state (TLS on).

usage: seed_aws.py --user U --password P NAME:PORT:DBNAME[:USER:PASSWORD] ...
Idempotent: what exists already is kept (secrets get a new version with the same value).
"""
import argparse
import json

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("servers", nargs="+", help="NAME:PORT:DBNAME[:USER:PASSWORD]")
    args = ap.parse_args()
    sm = boto3.client("secretsmanager")
    for spec in args.servers:
        name, port, dbname, *cred = spec.split(":")
        user, password = cred if cred else (args.user, args.password)
        put_secret(sm, f"pgfleet/dev/{name}", user, password, int(port), dbname,
                   f"pgfleet local environment: {name} on port {port}")
    seed_rds({s.split(":")[0]: int(s.split(":")[1]) for s in args.servers}, args)
    seed_elasticache()


def put_secret(sm, secret_id, user, password, port, dbname, description):
    """A database secret in the RDS format; an existing one gets the value as a new version."""
    value = json.dumps({"username": user, "password": password, "engine": "postgres",
                        "host": "127.0.0.1", "port": port, "dbname": dbname})
    try:
        sm.create_secret(Name=secret_id, SecretString=value, Description=description)
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=secret_id, SecretString=value)
    print(f"secret {secret_id}")


def seed_rds(ports, args):
    rds = boto3.client("rds")
    existing = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}

    def instance(name, **kw):
        ident = f"pgfleet-dev-{name}"
        if ident not in existing:
            rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro",
                                   Engine="postgres", EngineVersion="15.5", AllocatedStorage=20,
                                   MasterUsername=args.user, MasterUserPassword=args.password,
                                   Port=ports.get(name, 5432), EnableIAMDatabaseAuthentication=True,
                                   **kw)
            print(f"rds instance {ident}")

    def replica(name, source):
        ident = f"pgfleet-dev-{name}"
        if ident not in existing:
            rds.create_db_instance_read_replica(DBInstanceIdentifier=ident,
                                                SourceDBInstanceIdentifier=f"pgfleet-dev-{source}",
                                                DBInstanceClass="db.t3.micro")
            print(f"rds read replica {ident} of pgfleet-dev-{source}")

    instance("primary")
    replica("standby", "primary")
    replica("cascade", "standby")
    instance("reporting")
    clusters = {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}
    if "pgfleet-dev-aurora" not in clusters:
        rds.create_db_cluster(DBClusterIdentifier="pgfleet-dev-aurora", Engine="aurora-postgresql",
                              EngineVersion="15.4", MasterUsername=args.user,
                              MasterUserPassword=args.password, Port=5432)
        for i, name in enumerate(["pgfleet-dev-aurora-1", "pgfleet-dev-aurora-2"]):
            rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large",
                                   Engine="aurora-postgresql", DBClusterIdentifier="pgfleet-dev-aurora")
        print("rds aurora cluster pgfleet-dev-aurora")


def seed_elasticache():
    ec = boto3.client("elasticache")
    groups = {g["ReplicationGroupId"] for g in ec.describe_replication_groups()["ReplicationGroups"]}
    if "pgfleet-dev-state" not in groups:
        ec.create_replication_group(ReplicationGroupId="pgfleet-dev-state",
                                    ReplicationGroupDescription="pgfleet state (local environment)",
                                    Engine="redis", CacheNodeType="cache.t3.micro",
                                    NumCacheClusters=2, TransitEncryptionEnabled=True)
        print("elasticache replication group pgfleet-dev-state")


if __name__ == "__main__":
    main()
