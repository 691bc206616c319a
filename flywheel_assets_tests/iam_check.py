"""Does a role's policy allow what its code asked AWS for? A small IAM evaluator.

``requests(call)`` turns one recorded API call (``aws_calls.AwsCall``) into what IAM
authorizes: ``(action, resource ARN, condition context)`` triples, following the Service
Authorization Reference (an S3 listing is ``s3:ListBucket`` on the bucket with
``s3:prefix``; a Glue table call needs the catalog, the database and the table; a call
that hands a role to a service needs ``iam:PassRole`` on it). ``denied(policy, calls)``
lists every triple no ``Allow`` statement of the policy grants.

The evaluator implements what the project's policies use: ``Action`` and ``Resource``
with ``*``/``?`` wildcards (actions case-insensitive), ``StringEquals`` and
``StringLike`` conditions (a key the request does not carry fails the condition, as in
IAM). It does not model Deny statements, SCPs, permission boundaries, bucket policies or
Lake Formation grants (the stacks' grants have their own check,
``flywheel_assets_tests/infra/lf_check.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from typing import Any

from flywheel_assets.deploy.iam import iam_actions
from flywheel_assets_tests.aws_calls import AwsCall

Request = tuple[str, str, dict[str, str]]  # action, resource ARN, condition context

SERVICE_PRINCIPALS = {
    "cleanrooms": "cleanrooms.amazonaws.com",
    "entityresolution": "entityresolution.amazonaws.com",
    "glue": "glue.amazonaws.com",
}


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key not in context:
                return False
            value = context[key]
            if operator == "StringEquals":
                ok = value in _as_list(wanted)
            elif operator == "StringLike":
                ok = any(matches(w, value) for w in _as_list(wanted))
            else:
                raise NotImplementedError(f"condition operator {operator}")
            if not ok:
                return False
    return True


def allows(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        if not any(matches(a, action, True) for a in _as_list(statement["Action"])):
            continue
        if not any(matches(r, resource) for r in _as_list(statement["Resource"])):
            continue
        if _condition_holds(statement.get("Condition", {}), context):
            return True
    return False


# ---- what a call asks for ------------------------------------------------------------------


def _glue_table_call(p: dict[str, Any]) -> tuple[str, str | None]:
    database = p.get("DatabaseName") or p.get("DatabaseInput", {}).get("Name") or p.get("Name")
    table = p.get("TableName") or p.get("TableInput", {}).get("Name")
    if "DatabaseName" in p and "Name" in p and table is None:
        table = p["Name"]  # GetTable / DeleteTable: DatabaseName + Name
    return str(database), table


GLUE_JOB_OPERATIONS = {
    "StartJobRun",
    "GetJobRun",
    "GetJobRuns",
    "BatchStopJobRun",
    "GetJob",
    "CreateJob",
    "UpdateJob",
}


def resources(call: AwsCall, region: str, account: str) -> list[tuple[str, dict[str, str]]]:
    """The resource ARNs (with condition context) the call's action is checked on."""
    p, op, where = call.params, call.operation, f"{region}:{account}"
    if call.service == "s3":
        bucket = p.get("Bucket", "")
        if op in ("ListObjectsV2", "ListObjects"):
            return [(f"arn:aws:s3:::{bucket}", {"s3:prefix": p["Prefix"]} if "Prefix" in p else {})]
        if op in ("HeadBucket", "GetBucketLocation", "ListMultipartUploads"):
            return [(f"arn:aws:s3:::{bucket}", {})]
        if op == "DeleteObjects":
            return [(f"arn:aws:s3:::{bucket}/{o['Key']}", {}) for o in p["Delete"]["Objects"]]
        return [(f"arn:aws:s3:::{bucket}/{p['Key']}", {})]
    if call.service == "glue":
        if op in GLUE_JOB_OPERATIONS:
            return [(f"arn:aws:glue:{where}:job/{p.get('JobName') or p['Name']}", {})]
        database, table = _glue_table_call(p)
        found = [
            (f"arn:aws:glue:{where}:catalog", {}),
            (f"arn:aws:glue:{where}:database/{database}", {}),
        ]
        if op == "GetTables":
            found.append((f"arn:aws:glue:{where}:table/{database}/*", {}))
        elif table is not None:
            found.append((f"arn:aws:glue:{where}:table/{database}/{table}", {}))
        return found
    if call.service == "athena":
        workgroup = p.get("WorkGroup", "primary")
        return [(f"arn:aws:athena:{where}:workgroup/{workgroup}", {})]
    if call.service == "logs":
        group = f"arn:aws:logs:{where}:log-group:{p['logGroupName']}"
        if "logStreamName" in p:
            return [(f"{group}:log-stream:{p['logStreamName']}", {})]
        return [(group, {})]
    if call.service == "sns":
        return [(p["TopicArn"], {})]
    if call.service == "cloudformation":
        # the stack ARN ends in a stack id the request does not carry: any id matches
        return [(f"arn:aws:cloudformation:{where}:stack/{p['StackName']}/<stack-id>", {})]
    if call.service == "cleanrooms":
        membership = p.get("membershipIdentifier")
        if "configuredTableAssociationIdentifier" in p:
            ident = p["configuredTableAssociationIdentifier"]
            return [
                (
                    f"arn:aws:cleanrooms:{where}:membership/{membership}/configuredtableassociation/{ident}",
                    {},
                )
            ]
        if op == "CreateConfiguredTableAssociation":
            return [
                (f"arn:aws:cleanrooms:{where}:membership/{membership}", {}),
                (
                    f"arn:aws:cleanrooms:{where}:configuredtable/{p['configuredTableIdentifier']}",
                    {},
                ),
                (
                    f"arn:aws:cleanrooms:{where}:membership/{membership}/configuredtableassociation/*",
                    {},
                ),
            ]
        if "configuredTableIdentifier" in p:
            return [
                (f"arn:aws:cleanrooms:{where}:configuredtable/{p['configuredTableIdentifier']}", {})
            ]
        if op == "CreateConfiguredTable":
            return [(f"arn:aws:cleanrooms:{where}:configuredtable/*", {})]
        if membership is not None:
            return [(f"arn:aws:cleanrooms:{where}:membership/{membership}", {})]
        return [("*", {})]
    if call.service == "entityresolution":
        if op.startswith(("List", "Create")):
            return [("*", {})]
        if "schemaName" in p:
            return [(f"arn:aws:entityresolution:{where}:schemamapping/{p['schemaName']}", {})]
        return [(f"arn:aws:entityresolution:{where}:idnamespace/{p['idNamespaceName']}", {})]
    return [("*", {})]


def _passed_role(call: AwsCall) -> str | None:
    p = call.params
    if call.service == "glue" and call.operation in ("CreateJob", "UpdateJob"):
        return p.get("Role") or p.get("JobUpdate", {}).get("Role")
    if call.service in ("cleanrooms", "entityresolution"):
        return p.get("roleArn")
    return None


def requests(call: AwsCall, region: str, account: str) -> list[Request]:
    """What IAM authorizes for one call."""
    found: list[Request] = [
        (action, resource, context)
        for action in iam_actions(call.service, call.operation)
        for resource, context in resources(call, region, account)
    ]
    role = _passed_role(call)
    if role:
        arn = role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"
        service = SERVICE_PRINCIPALS[call.service]
        found.append(("iam:PassRole", arn, {"iam:PassedToService": service}))
    return found


def denied(
    policy: dict[str, Any], calls: Iterable[AwsCall], region: str, account: str
) -> list[str]:
    """Every request of ``calls`` the policy does not allow, described once.

    Athena authorizes ``GetQueryExecution``/``GetQueryResults`` against the workgroup the
    query ran in, which those requests do not carry: the workgroup of the latest
    ``StartQueryExecution`` before them stands in (``primary`` when there is none)."""
    missing: dict[str, None] = {}
    workgroup = "primary"
    for call in calls:
        if call.service == "athena":
            if "WorkGroup" in call.params:
                workgroup = call.params["WorkGroup"]
            else:
                call = replace(call, params={**call.params, "WorkGroup": workgroup})
        for action, resource, context in requests(call, region, account):
            if not allows(policy, action, resource, context):
                detail = f" {context}" if context else ""
                source = f"{call.service}:{call.operation} from {call.origin}"
                missing[f"{action} on {resource}{detail} ({source})"] = None
    return list(missing)
