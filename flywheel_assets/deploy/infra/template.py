"""The CloudFormation stacks of an environment, generated from its ``Settings`` and the
table registry the code location loads, and written as YAML (``flywheel infra template``).

Five stacks per environment rather than one, in the order they are applied:

* ``bootstrap``: the deployer role. An administrator applies it (once, and when the
  deployer's permissions change): the deployer may not widen its own policy.
* ``storage``: the buckets, the Glue database, the Athena workgroup, the alerts topic.
  What holds data is retained when it leaves the stack.
* ``access``: the Glue job, Dagster and Clean Rooms reader roles.
* ``lake-formation``: the registered data locations and the Dagster role's grants.
* ``table-grants``: the reader's grants on each published table of the registry. Lake
  Formation grants only on tables that exist, so this stack follows the first publish;
  it is also the one a registry change alters.

Apart, a change to one concern (a new table, a role's policy) is a change set of that
stack only, the data stays out of the blast radius of the rest, and every template keeps
far below CloudFormation's limits (500 resources, 51,200 bytes inline), which
``check_limits`` enforces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flywheel_assets.config.registry import Registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.infra import buckets, catalog, lake_formation, roles
from flywheel_assets.deploy.infra.cfn import LOGICAL_ID, InfraError, logical_id, output
from glue_jobs.registry import Registry

STACKS = ("bootstrap", "storage", "access", "lake-formation", "table-grants")
PURPOSE = {
    "bootstrap": "the deployer role (applied by an administrator)",
    "storage": "buckets, Glue database, Athena workgroup, alerts topic",
    "access": "the Glue job, Dagster and Clean Rooms reader roles",
    "lake-formation": "registered data locations and the publisher's grants",
    "table-grants": "the Clean Rooms reader's grants on each published table",
}
MAX_RESOURCES = 500  # CloudFormation quota: resources per stack
TEMPLATE_URL_LIMIT = 1_000_000  # bytes of a template passed by TemplateURL
NAMED_IAM = ("CAPABILITY_NAMED_IAM",)


@dataclass(frozen=True)
class Stack:
    key: str  # one of STACKS
    name: str  # omc-flywheel-dev-storage
    template: dict[str, Any]
    capabilities: tuple[str, ...] = field(default=())

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def body(self) -> str:
        return render(self.template)

    def wire_body(self) -> str:
        return compact(self.template)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors: every value spelled out
        return True


def render(template: dict[str, Any]) -> str:
    """YAML in the order the generator wrote it, so a change reads as a small diff."""
    return yaml.dump(template, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def compact(template: dict[str, Any]) -> str:
    """The same template as the smallest JSON: what is sent to CloudFormation, whose
    inline limit (51,200 bytes) counts bytes, not meaning."""
    return json.dumps(template, separators=(",", ":"))


def role_id(role: str) -> str:
    return logical_id(role, "role")


def _roles(settings: Settings, role_keys: tuple[str, ...]) -> tuple[dict, dict]:
    resources = {role_id(r): roles.role_resource(settings, r) for r in role_keys}
    outputs = {
        f"{role_id(r)}Arn": output(
            {"Fn::GetAtt": [role_id(r), "Arn"]}, f"{iam.TITLES[r]} ({roles.PURPOSE[r]})"
        )
        for r in role_keys
    }
    return resources, outputs


def _storage(settings: Settings) -> tuple[dict, dict]:
    resources = {
        **buckets.bucket_resources(settings),
        "GlueDatabase": catalog.glue_database(settings),
        "AthenaWorkGroup": catalog.athena_workgroup(settings),
        "AlertsTopic": catalog.alerts_topic(settings),
    }
    outputs = {
        f"{bucket_id}Name": output({"Ref": bucket_id}, f"bucket {bucket}")
        for bucket, bucket_id in buckets.bucket_ids(settings).items()
    }
    # the database and workgroup names are the profile's, as a Ref would return them
    outputs |= {
        "GlueDatabaseName": output(settings.glue_database, "glue_database"),
        "AthenaWorkGroupName": output(settings.athena_workgroup, "athena_workgroup"),
        "AlertsTopicArn": output(
            {"Ref": "AlertsTopic"}, "the code location's FLYWHEEL_SNS_TOPIC_ARN"
        ),
    }
    return resources, outputs


def _lake_formation(settings: Settings) -> tuple[dict, dict]:
    grants = lake_formation.writer_grants(settings)
    resources = {
        **lake_formation.location_resources(settings),
        **lake_formation.grant_resources(settings, grants),
    }
    return resources, {}


def _table_grants(settings: Settings, registry: Registry | Registries) -> tuple[dict, dict]:
    grants = lake_formation.reader_grants(settings, registry)
    return lake_formation.grant_resources(settings, grants), {}


def _contents(settings: Settings, registry: Registry | Registries, key: str) -> tuple[dict, dict]:
    if key == "bootstrap":
        return _roles(settings, ("deployer",))
    if key == "storage":
        return _storage(settings)
    if key == "access":
        return _roles(settings, ("glue_job", "dagster", "cleanrooms_reader"))
    if key == "lake-formation":
        return _lake_formation(settings)
    return _table_grants(settings, registry)


def build_stacks(settings: Settings, registry: Registry | Registries) -> list[Stack]:
    """Every stack of the profile, in the order they are applied, for the registry of both
    pipelines (or one registry feeding both)."""
    if settings.is_local:
        raise InfraError("the local profile deploys nothing: --env dev or prod")
    stacks = []
    for key in STACKS:
        resources, outputs = _contents(settings, registry, key)
        template: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Flywheel {settings.env} {key}: {PURPOSE[key]} (flywheel infra)",
            "Metadata": {"Flywheel": {"Profile": settings.env, "Stack": key}},
            "Resources": resources,
        }
        if outputs:
            template["Outputs"] = outputs
        capabilities = NAMED_IAM if key in ("bootstrap", "access") else ()
        stack = Stack(key, names.stack_name(settings, key), template, capabilities)
        check_limits(stack)
        stacks.append(stack)
    return stacks


def check_limits(stack: Stack) -> None:
    """CloudFormation's quotas, before CloudFormation refuses the template."""
    bad = [k for k in stack.resources if not LOGICAL_ID.fullmatch(k)]
    if bad:
        raise InfraError(f"{stack.name}: logical ids must be alphanumeric: {bad}")
    if len(stack.resources) > MAX_RESOURCES:
        raise InfraError(
            f"{stack.name}: {len(stack.resources)} resources, CloudFormation allows "
            f"{MAX_RESOURCES} a stack: split it"
        )
    size = len(stack.wire_body().encode())
    if size > TEMPLATE_URL_LIMIT:
        raise InfraError(f"{stack.name}: template of {size} bytes, at most {TEMPLATE_URL_LIMIT}")


def select(stacks: list[Stack], keys: list[str] | None) -> list[Stack]:
    """``keys`` (``--stack``) of ``stacks`` in apply order; all when none is given."""
    unknown = sorted(set(keys or ()) - set(STACKS))
    if unknown:
        raise InfraError(f"no stack {unknown}: choose from {', '.join(STACKS)}")
    return [s for s in stacks if not keys or s.key in keys]


def write_templates(stacks: list[Stack], folder: Path) -> list[Path]:
    """``<folder>/<stack name>.yaml`` for each stack; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stack in stacks:
        path = folder / f"{stack.name}.yaml"
        path.write_text(stack.body())
        written.append(path)
    return written
