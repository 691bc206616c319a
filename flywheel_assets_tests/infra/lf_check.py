"""Does a Lake Formation grant of the stacks allow a principal an operation? A small
evaluator of ``AWS::LakeFormation::PrincipalPermissions`` resources.

It reads what the stacks use: grants on a database, on a named table, on every table of
a database (``TableWildcard``) and on a data location (which covers the paths below it),
permissions as listed (``ALL`` would cover every one; the stacks grant none). It does not
model what Lake Formation adds at run time: a table creator's implicit permissions, the
data lake administrators, or IAM_ALLOWED_PRINCIPALS (the database turns that off for its
tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flywheel_assets.deploy.infra.template import Stack
from flywheel_assets_tests.infra.helpers import resolve

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class Granted:
    logical_id: str
    principal: str  # role ARN
    resource: dict[str, Any]  # Lake Formation resource, CatalogId dropped
    permissions: frozenset[str]


def granted(stacks: list[Stack]) -> list[Granted]:
    found = []
    for stack in stacks:
        for logical_id, r in stack.resources.items():
            if r["Type"] != "AWS::LakeFormation::PrincipalPermissions":
                continue
            p = resolve(r["Properties"], ACCOUNT, REGION)
            ((kind, body),) = p["Resource"].items()
            body = {k: v for k, v in body.items() if k != "CatalogId"}
            principal = p["Principal"]["DataLakePrincipalIdentifier"]
            found.append(Granted(logical_id, principal, {kind: body}, frozenset(p["Permissions"])))
    return found


def _covers(grant: dict[str, Any], wanted: dict[str, Any]) -> bool:
    ((kind, body),) = grant.items()
    ((want_kind, want),) = wanted.items()
    if kind != want_kind:
        return False
    if kind == "Database":
        return body["Name"] == want["Name"]
    if kind == "Table":
        same_database = body["DatabaseName"] == want["DatabaseName"]
        return same_database and ("TableWildcard" in body or body.get("Name") == want["Name"])
    if kind == "DataLocation":
        location = body["ResourceArn"]
        return want["ResourceArn"] == location or want["ResourceArn"].startswith(location + "/")
    raise NotImplementedError(kind)


def allows(
    grants: list[Granted], principal: str, permission: str, resource: dict[str, Any]
) -> bool:
    return any(
        g.principal == principal
        and (permission in g.permissions or "ALL" in g.permissions)
        and _covers(g.resource, resource)
        for g in grants
    )


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"
