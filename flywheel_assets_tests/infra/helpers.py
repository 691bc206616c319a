"""Helpers of the infra tests: the profiles' stacks, their resources and policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flywheel_assets.config.registry import load_registries, load_registry_files
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.deploy.infra.template import Stack, build_stacks
from glue_jobs.registry import Registry

AWS_PROFILES = ("dev", "prod")


def infra_settings(env: str, **overrides: str) -> Settings:
    """The profile as ``flywheel infra`` reads it (``overrides`` as FLYWHEEL_* would)."""
    environ = {f"FLYWHEEL_{k.upper()}": v for k, v in overrides.items()}
    return load_settings(env, environ=environ)


def stacks_of(env: str, registry: Registry | None = None, **overrides: str) -> list[Stack]:
    """The stacks of ``env`` for ``registry`` (default: the profile's registries, as
    ``flywheel infra`` loads them)."""
    settings = infra_settings(env, **overrides)
    return build_stacks(settings, registry or load_registries(settings))


def by_key(stacks: list[Stack]) -> dict[str, Stack]:
    return {s.key: s for s in stacks}


def resources_of(stacks: list[Stack], kind: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource of every ``kind`` resource across ``stacks``."""
    return {k: r for s in stacks for k, r in s.resources.items() if r["Type"] == kind}


def role_documents(stacks: list[Stack]) -> dict[str, dict[str, Any]]:
    """Role name -> the inline policy document the stacks give it (``Fn::Sub`` left in)."""
    found = {}
    for role in resources_of(stacks, "AWS::IAM::Role").values():
        (policy,) = role["Properties"]["Policies"]
        found[role["Properties"]["RoleName"]] = policy["PolicyDocument"]
    return found


def resolve(value: Any, account: str, region: str) -> Any:
    """``value`` with ``Fn::Sub`` of the pseudo parameters done, as CloudFormation would."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, real in (("AccountId", account), ("Region", region), ("Partition", "aws")):
            text = text.replace(f"${{AWS::{name}}}", real)
        return text
    if isinstance(value, list):
        return [resolve(v, account, region) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, account, region) for k, v in value.items()}
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def registry_with_extra_table(tmp_path: Path, table: str, columns: list[str]) -> Registry:
    """A copy of the package registry with one more infobase table."""
    from flywheel_assets.config.registry import split_csv_paths

    copies = {}
    for source, path in split_csv_paths().items():
        copy = tmp_path / path.name
        text = path.read_text()
        if source == "infobase_attributes":
            text = text.rstrip("\n") + "\n" + "".join(f"{table},{c}\n" for c in columns)
        copy.write_text(text)
        copies[source] = copy
    return load_registry_files(copies)
