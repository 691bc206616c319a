"""What moto's CloudFormation cannot create, made from the template instead.

moto 5.2's CloudFormation creates S3 buckets, SNS topics and IAM roles (with their
inline policies) and skips, with a warning, the other types the stacks hold
(``MOTO_LACKS``): the stack still reports CREATE_COMPLETE. For those, this stand-in
makes the API call CloudFormation's resource handler makes, with the template's own
properties (intrinsics resolved as CloudFormation would), on moto's Glue, Athena, Lake
Formation and S3 APIs. The requests go through the ``aws_contract`` check like every
other, so their shape is checked against the service models. moto then stores them;
of what the services do with them it evaluates the bucket policies' Deny statements
(the TLS-only policy refuses its plain-HTTP endpoint) but no Lake Formation grant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flywheel_assets.deploy.infra.template import Stack

MOTO_CREATES = {"AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::IAM::Role"}
MOTO_LACKS = {
    "AWS::S3::BucketPolicy",
    "AWS::Glue::Database",
    "AWS::Athena::WorkGroup",
    "AWS::LakeFormation::Resource",
    "AWS::LakeFormation::PrincipalPermissions",
}


def resolve(value: Any, physical: dict[str, str], account: str, region: str) -> Any:
    """``Ref``, ``Fn::GetAtt`` (a bucket's ``Arn``) and ``Fn::Sub`` resolved."""
    pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws"}
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return pseudo.get(argument) or physical[argument]
        if name == "Fn::GetAtt":
            return f"arn:aws:s3:::{physical[argument[0]]}"
        if name == "Fn::Sub":
            text = argument
            for key, real in {**pseudo, **physical}.items():
                text = text.replace(f"${{{key}}}", real)
                text = text.replace(f"${{{key}.Arn}}", f"arn:aws:s3:::{real}")
            return text
    if isinstance(value, list):
        return [resolve(v, physical, account, region) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, physical, account, region) for k, v in value.items()}
    return value


def provision(
    stack: Stack,
    clients: Callable[[str], Any],
    physical: dict[str, str],
    account: str,
    kinds: set[str] = MOTO_LACKS,
) -> list[str]:
    """Create ``stack``'s resources of ``kinds`` (``MOTO_LACKS`` types); their logical ids."""
    region = clients("sts").meta.region_name
    made = []
    for logical_id, resource in stack.resources.items():
        if resource["Type"] not in kinds & MOTO_LACKS:
            continue
        p = resolve(resource["Properties"], physical, account, region)
        kind = resource["Type"]
        if kind == "AWS::S3::BucketPolicy":
            clients("s3").put_bucket_policy(
                Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"])
            )
        elif kind == "AWS::Glue::Database":
            clients("glue").create_database(
                CatalogId=p["CatalogId"], DatabaseInput=p["DatabaseInput"]
            )
        elif kind == "AWS::Athena::WorkGroup":
            clients("athena").create_work_group(
                Name=p["Name"],
                Description=p["Description"],
                Configuration=p["WorkGroupConfiguration"],
                Tags=p["Tags"],
            )
        elif kind == "AWS::LakeFormation::Resource":
            clients("lakeformation").register_resource(
                ResourceArn=p["ResourceArn"], UseServiceLinkedRole=p["UseServiceLinkedRole"]
            )
        else:
            clients("lakeformation").grant_permissions(
                Principal=p["Principal"],
                Resource=p["Resource"],
                Permissions=p["Permissions"],
                PermissionsWithGrantOption=p["PermissionsWithGrantOption"],
            )
        made.append(logical_id)
    return made
