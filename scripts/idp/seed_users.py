#!/usr/bin/env python3
"""The single sign-on users of `make run`: one per role, in IAM Identity Center's shape.

  seed_users.py DIR IDENTITY_STORE_ID

In the emulator's Identity Store (AWS_ENDPOINT_URL), groups pgfleet-admins,
pgfleet-operators and pgfleet-viewers (made once; their ids are what IAM Identity
Center puts in assertions). Passwords are made once and kept in DIR/passwords.json
(mode 600). Writes DIR/saml-users.json (groups as ids, as IAM Identity Center sends
them) and DIR/oidc-users.json (groups as names, as most OIDC providers send them).
"""
import json
import os
import secrets
import sys

import boto3

ROLES = {"admin": "pgfleet-admins", "operator": "pgfleet-operators", "viewer": "pgfleet-viewers"}


def main():
    d, store = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    c = boto3.client("identitystore", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    existing = {g["DisplayName"]: g["GroupId"]
                for g in c.list_groups(IdentityStoreId=store).get("Groups", [])}
    ids = {name: existing.get(name) or
           c.create_group(IdentityStoreId=store, DisplayName=name)["GroupId"]
           for name in ROLES.values()}
    pw_path = os.path.join(d, "passwords.json")
    if os.path.exists(pw_path):
        passwords = json.load(open(pw_path))
    else:
        passwords = {f"sso-{role}@example.com": secrets.token_urlsafe(12) for role in ROLES}
        fd = os.open(pw_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, json.dumps(passwords).encode())
        os.close(fd)
    for name, by in (("saml-users.json", ids), ("oidc-users.json", {g: g for g in ids})):
        users = {f"sso-{role}@example.com": {"password": passwords[f"sso-{role}@example.com"],
                                             "groups": [by[group]]}
                 for role, group in ROLES.items()}
        fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, json.dumps(users).encode())
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
