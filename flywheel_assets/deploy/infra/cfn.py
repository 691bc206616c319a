"""Small builders for CloudFormation template fragments (plain dicts, dumped by
``template.py``), so every module writes resources, tags and waivers the same way."""

from __future__ import annotations

import re
from typing import Any

from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import names

ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
PARTITION_ARN = "arn:${AWS::Partition}:"
LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")  # CloudFormation: alphanumeric, unique


class InfraError(ValueError):
    """The profile cannot be turned into stacks, or a stack cannot be planned or applied;
    shown as a CLI error."""


def logical_id(*parts: str) -> str:
    """``("reader", "part_ibe_01_a")`` -> ``ReaderPartIbe01A``."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not LOGICAL_ID.fullmatch(name):
        raise InfraError(f"{parts!r} gives no valid logical id ({name!r})")
    return name


def deployable(value: Any) -> Any:
    """``value`` (a policy, an ARN) as a template writes it, recursively: ARNs in the
    stack's partition (``arn:${AWS::Partition}:``), and every string that holds a
    ``${...}`` variable (``${AWS::AccountId}``) wrapped in ``Fn::Sub``."""
    if isinstance(value, str):
        value = value.replace("arn:aws:", PARTITION_ARN)
        return {"Fn::Sub": value} if "${" in value else value
    if isinstance(value, list):
        return [deployable(v) for v in value]
    if isinstance(value, dict):
        return {k: deployable(v) for k, v in value.items()}
    return value


def tags(settings: Settings) -> list[dict[str, str]]:
    return [
        {"Key": "flywheel:project", "Value": names.project(settings)},
        {"Key": "flywheel:env", "Value": settings.env},
        {"Key": "flywheel:managed-by", "Value": "flywheel infra"},
    ]


def resource(
    kind: str,
    properties: dict[str, Any],
    *,
    retain: bool = False,
    waivers: dict[str, str] | None = None,
    depends_on: list[str] | None = None,
) -> dict[str, Any]:
    """One resource. ``retain``: kept (not deleted) when it leaves the stack or is
    replaced, for what holds data or grants access someone relies on. ``waivers``:
    checkov check id -> why this resource is an accepted exception (``Metadata``)."""
    body: dict[str, Any] = {"Type": kind}
    if depends_on:
        body["DependsOn"] = depends_on
    if retain:
        body["DeletionPolicy"] = "Retain"
        body["UpdateReplacePolicy"] = "Retain"
    if waivers:
        body["Metadata"] = {
            "checkov": {"skip": [{"id": k, "comment": v} for k, v in sorted(waivers.items())]}
        }
    body["Properties"] = properties
    return body


def output(value: Any, description: str) -> dict[str, Any]:
    return {"Description": description, "Value": value}
