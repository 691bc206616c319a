"""The roles the stacks create: each holds ``deploy/iam.py``'s policy for its role, which
allows every AWS action the role's code was recorded calling, and names nothing outside
the project's buckets, database, jobs, workgroup, topic, roles and stacks (``*`` only
where AWS allows nothing narrower, ``iam.STAR_ONLY``)."""

from __future__ import annotations

import json

import pytest

from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.infra import roles
from flywheel_assets.deploy.infra.template import STACKS, role_id
from flywheel_assets.deploy.jobs import DEPLOYED_JOBS
from flywheel_assets_tests.iam_check import matches
from flywheel_assets_tests.infra.helpers import (
    AWS_PROFILES,
    as_list,
    by_key,
    infra_settings,
    resolve,
    role_documents,
    stacks_of,
)
from flywheel_assets_tests.test_iam_policies import recorded

ACCOUNT = "123456789012"


def deployed(env: str) -> dict[str, dict]:
    """iam role key -> the policy document the stacks give that role, resolved."""
    settings = infra_settings(env)
    documents = role_documents(stacks_of(env))
    return {
        role: resolve(documents[names.role_name(settings, role)], ACCOUNT, settings.region)
        for role in iam.ROLES
    }


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_each_role_of_the_stacks_holds_the_policy_iam_py_builds(env):
    settings = infra_settings(env)
    arns = iam.Arns(settings, ACCOUNT, placeholders=False)
    for role, document in deployed(env).items():
        assert document == iam.document(iam.GRANTS[role](arns)), role
    assert set(by_key(stacks_of(env))["access"].resources) == {
        role_id(r) for r in ("glue_job", "dagster", "cleanrooms_reader")
    }
    assert set(by_key(stacks_of(env))["bootstrap"].resources) == {role_id("deployer")}


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_every_recorded_action_is_allowed_by_the_role_the_stack_gives_its_code(env):
    documents = deployed(env)
    missing = []
    for entry in recorded():
        statements = documents[entry["role"]]["Statement"]
        for action in iam.required_actions(entry["service"], entry["operation"]):
            if not any(
                matches(a, action, ignore_case=True)
                for s in statements
                for a in as_list(s["Action"])
            ):
                missing.append(f"{entry['role']}: {action}")
    assert missing == []
    assert {e["role"] for e in recorded()} >= {"dagster", "glue_job", "deployer"}
    # the deployer's CloudFormation calls are in the recording too
    assert {e["operation"] for e in recorded() if e["service"] == "cloudformation"} >= {
        "CreateChangeSet",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DescribeStacks",
    }


def project_prefixes(env: str) -> list[str]:
    """Every resource of a stack's policy begins with one of these."""
    s = infra_settings(env)
    where = f"{s.region}:{ACCOUNT}"
    role_names = [names.role_name(s, r) for r in iam.ROLES] + [names.LAKE_FORMATION_SLR]
    return [
        *(f"arn:aws:s3:::{b}" for b in (s.data_bucket, s.glue_assets_bucket, s.report_bucket)),
        f"arn:aws:glue:{where}:catalog",
        f"arn:aws:glue:{where}:database/{s.glue_database}",
        f"arn:aws:glue:{where}:table/{s.glue_database}/",
        *(f"arn:aws:glue:{where}:job/{job.name(s)}" for job in DEPLOYED_JOBS),
        f"arn:aws:logs:{where}:log-group:/aws-glue/",
        f"arn:aws:athena:{where}:workgroup/{s.athena_workgroup}",
        f"arn:aws:sns:{where}:{names.topic_name(s)}",
        *(f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in role_names),
        f"arn:aws:cleanrooms:{where}:configuredtable/*",
        f"arn:aws:cleanrooms:{where}:membership/",
        f"arn:aws:entityresolution:{where}:schemamapping/ACX_SCHEMA_",
        f"arn:aws:entityresolution:{where}:idnamespace/ACX_NS_",
        f"arn:aws:cloudformation:{where}:stack/{names.project(s)}-",
    ]


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_no_statement_names_a_resource_outside_the_project(env):
    prefixes = project_prefixes(env)
    other = "prod" if env == "dev" else "dev"
    for role, document in deployed(env).items():
        strays = [
            r
            for s in document["Statement"]
            for r in as_list(s["Resource"])
            if r != "*" and not any(r.startswith(p) for p in prefixes)
        ]
        assert strays == [], role
        text = json.dumps(document)
        assert f"-{other}" not in text and f"_{other}" not in text, role
        assert "<" not in text, role  # no documentation placeholder is deployed


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_the_deployer_provisions_every_resource_type_of_the_stacks_but_not_its_own_role(env):
    settings = infra_settings(env)
    kinds = {r["Type"] for s in stacks_of(env) for r in s.resources.values()}
    grants = iam.grants("deployer", settings, ACCOUNT)
    assert {t for g in grants for t in g.provisions} == kinds
    provisioned_roles = next(g for g in grants if g.sid == "ProvisionRoles").resources
    assert iam.Arns(settings, ACCOUNT).role("deployer") not in provisioned_roles
    assert len(provisioned_roles) == 3
    stacks = next(g for g in grants if g.sid == "Stacks")
    assert stacks.resources == (
        f"arn:aws:cloudformation:{settings.region}:{ACCOUNT}:stack/{names.project(settings)}-*/*",
    )
    assert len(STACKS) == 5


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_roles_trust_only_their_service_and_fit_irams_inline_limit(env):
    settings = infra_settings(env)
    found = {}
    for stack in stacks_of(env):
        for resource in stack.resources.values():
            if resource["Type"] == "AWS::IAM::Role":
                p = resolve(resource["Properties"], ACCOUNT, settings.region)
                ((statement,),) = [p["AssumeRolePolicyDocument"]["Statement"]]
                found[p["RoleName"]] = statement
                (policy,) = p["Policies"]
                assert roles.policy_size(policy["PolicyDocument"], settings.region) < (
                    roles.INLINE_POLICY_LIMIT
                )
    services = {
        names.role_name(settings, "glue_job"): "glue.amazonaws.com",
        names.role_name(settings, "dagster"): "ecs-tasks.amazonaws.com",
        names.role_name(settings, "cleanrooms_reader"): [
            "cleanrooms.amazonaws.com",
            "entityresolution.amazonaws.com",
        ],
    }
    for name, service in services.items():
        assert found[name]["Principal"] == {"Service": service}
        assert found[name]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    deployer = found[names.role_name(settings, "deployer")]
    assert deployer["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
