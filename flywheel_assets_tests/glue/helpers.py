"""Helpers of the Glue tests: seeding moto, recording calls, running the split step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from flywheel_assets.config.settings import Settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from glue_jobs.registry import Registry


def upload_tree(s3: Any, root: Path, bucket: str) -> int:
    """Put every file below ``root`` into ``bucket`` under its relative path."""
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, path.relative_to(root).as_posix())
        count += 1
    return count


def record_operations(client: Any) -> list[str]:
    """Names of the API operations ``client`` calls from now on (``GetJob``, ...)."""
    calls: list[str] = []
    client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def materialize_without_checks(
    settings: Settings,
    registry: Registry,
    compute: Any,
    instance: dg.DagsterInstance,
    keys: list[dg.AssetKey],
    snapshot: str,
) -> dg.ExecuteInProcessResult:
    """Materialize ``keys`` for ``snapshot`` on the profile of ``settings`` with ``compute``
    as the platform's compute adapter. Asset checks are left out: the monitor's audits
    count rows through Athena, and moto records Athena queries without executing them."""
    platform = Platform(settings, registry)
    platform.compute = compute  # type: ignore[attr-defined]
    job = dg.define_asset_job(
        "glue_test_run", selection=dg.AssetSelection.assets(*keys).without_checks()
    )
    defs = dg.Definitions.merge(
        build_definitions(settings, registry, platform), dg.Definitions(jobs=[job])
    )
    if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, snapshot):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
    return defs.resolve_job_def(job.name).execute_in_process(
        instance=instance, partition_key=snapshot, raise_on_error=False
    )
