#!/usr/bin/env python3
"""Puts the generated fleet (scripts/fleet.sh) into the AWS emulator:
- Secrets Manager: pgfleet/fleet/<server> (the monitoring role) and
  pgfleet/fleet/<server>-admin (the role that may create subscriptions) per server;
- RDS mirrors part of it: the first cluster as an RDS instance with its standbys as
  read replicas (the cascade a replica of the first standby), the second as an Aurora
  PostgreSQL cluster (the primary its writer, the standbys its readers).

usage: fleet_aws.py SERVERS.tsv   (name cluster role port upstream, tab-separated)
Idempotent: what exists is kept.
"""
import argparse
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_aws import put_secret  # noqa: E402

USER, PASSWORD = "pgfleet", "pgfleet-dev"
ADMIN_USER, ADMIN_PASSWORD = "pgfleet_admin", "pgfleet-dev-admin"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("servers")
    args = ap.parse_args()
    servers = []
    with open(args.servers) as f:
        for line in f:
            name, cluster, role, port, upstream = line.rstrip("\n").split("\t")
            servers.append({"name": name, "cluster": cluster, "role": role, "port": int(port),
                            "upstream": upstream})
    sm = boto3.client("secretsmanager")
    for s in servers:
        short = s["name"].removeprefix("fleet-")
        put_secret(sm, f"pgfleet/fleet/{short}", USER, PASSWORD, s["port"], "postgres",
                   f"pgfleet demo fleet: {s['name']} on port {s['port']}")
        if s["role"] == "primary":
            put_secret(sm, f"pgfleet/fleet/{short}-admin", ADMIN_USER, ADMIN_PASSWORD, s["port"],
                       "postgres", f"pgfleet demo fleet: {s['name']}, subscription owner")
    clusters = list(dict.fromkeys(s["cluster"] for s in servers))
    rds = boto3.client("rds")
    have = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    if clusters:
        mirror_instances(rds, have, [s for s in servers if s["cluster"] == clusters[0]])
    if len(clusters) > 1:
        mirror_aurora(rds, have, clusters[1], [s for s in servers if s["cluster"] == clusters[1]])


def mirror_instances(rds, have, members):
    """primary -> read replicas, in upstream order so a replica's source exists first"""
    for s in members:
        ident = s["name"]
        if ident in have:
            continue
        if s["role"] == "primary":
            rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.r6g.large",
                                   Engine="postgres", EngineVersion="15.5", AllocatedStorage=100,
                                   MasterUsername=USER, MasterUserPassword=PASSWORD,
                                   Port=s["port"], EnableIAMDatabaseAuthentication=True)
            print(f"rds instance {ident}")
        else:
            rds.create_db_instance_read_replica(DBInstanceIdentifier=ident,
                                                SourceDBInstanceIdentifier=s["upstream"],
                                                DBInstanceClass="db.r6g.large")
            print(f"rds read replica {ident} of {s['upstream']}")


def mirror_aurora(rds, have, cluster, members):
    ident = f"fleet-{cluster}-aurora"
    if ident not in {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}:
        rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql",
                              EngineVersion="15.4", MasterUsername=USER,
                              MasterUserPassword=PASSWORD, Port=members[0]["port"])
        print(f"rds aurora cluster {ident}")
    for s in members:  # the primary first: the writer
        if s["name"] not in have and s["role"] != "cascade":
            rds.create_db_instance(DBInstanceIdentifier=s["name"], DBInstanceClass="db.r6g.large",
                                   Engine="aurora-postgresql", DBClusterIdentifier=ident)
            print(f"rds aurora instance {s['name']} in {ident}")


if __name__ == "__main__":
    main()
