"""The IAM roles of ``docs/deploy.md``, each with the policy ``deploy/iam.py`` builds.

The policy of a role is ``iam.grants(role)`` for the stack's account and region
(``${AWS::AccountId}``, ``${AWS::Region}``, resolved by ``Fn::Sub``), so the role
CloudFormation creates allows exactly what the policy tests check against the recorded
calls. It is inline (one document per role, IAM's limit for a role's inline policies
is 10,240 characters, a managed policy only 6,144), and checked against that limit.
"""

from __future__ import annotations

import json
from typing import Any

from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.infra.cfn import ACCOUNT, REGION, InfraError, deployable, resource, tags

INLINE_POLICY_LIMIT = 10_240  # IAM: characters of a role's inline policies, spaces excluded

TRUSTED = {
    "glue_job": ("glue.amazonaws.com",),
    # ECS tasks (dagster-aws's EcsRunLauncher); on EKS swap in the IRSA OIDC trust
    "dagster": ("ecs-tasks.amazonaws.com",),
    "cleanrooms_reader": iam.READER_SERVICES,
}
PURPOSE = {
    "glue_job": (
        "the Glue split and compaction jobs (writer: raw in, split datasets and compacted "
        "builds out; no catalog)"
    ),
    "dagster": "the Dagster code location, daemon and run workers (publisher)",
    "cleanrooms_reader": "Clean Rooms and Entity Resolution reading the published tables",
    "deployer": "CI running flywheel glue deploy and flywheel infra plan|apply",
}


def stack_arns(settings: Settings) -> iam.Arns:
    """ARNs as the stacks write them: the account and region CloudFormation deploys to,
    and no documentation placeholder."""
    return iam.Arns(settings, account=ACCOUNT, region=REGION, placeholders=False)


def role_policy(settings: Settings, role: str) -> dict[str, Any]:
    """``role``'s policy document as deployed (``${...}`` left for ``Fn::Sub``)."""
    return iam.document(iam.GRANTS[role](stack_arns(settings)))


def _trust(role: str) -> dict[str, Any]:
    if role == "deployer":  # principals of the account that IAM lets assume it (CI)
        principal: dict[str, Any] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        condition = None
    else:
        services = TRUSTED[role]
        principal = {"Service": list(services) if len(services) > 1 else services[0]}
        condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def policy_size(document: dict[str, Any], region: str) -> int:
    """Characters IAM counts (no whitespace) once ``Fn::Sub`` has put in the account
    (12 digits) and ``region``."""
    text = json.dumps(document, separators=(",", ":")).replace(ACCOUNT, "0" * 12)
    return len(text.replace(REGION, region).replace(" ", ""))


def role_resource(settings: Settings, role: str) -> dict[str, Any]:
    name = names.role_name(settings, role)
    if not name:
        raise InfraError(f"profile {settings.env!r} names no role for {role}")
    document = role_policy(settings, role)
    size = policy_size(document, settings.region)
    if size > INLINE_POLICY_LIMIT:
        raise InfraError(
            f"{role}: policy of {size} characters, IAM allows {INLINE_POLICY_LIMIT} inline"
        )
    return resource(
        "AWS::IAM::Role",
        {
            "RoleName": name,
            "Description": f"Flywheel {settings.env}: {PURPOSE[role]}",
            "AssumeRolePolicyDocument": deployable(_trust(role)),
            "Policies": [
                {"PolicyName": f"flywheel-{role}", "PolicyDocument": deployable(document)}
            ],
            "Tags": tags(settings),
        },
    )
