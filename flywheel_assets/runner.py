"""Run a selection for one snapshot through Dagster's own APIs; shared by the CLI and tests.

Partitioned assets run for the snapshot; unpartitioned control-plane assets (Clean
Rooms) in the same selection run in a second, unpartitioned run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.snapshots import validate_snapshot

INSTANCE_YAML = """\
# Local Dagster instance for the flywheel CLI and `make dev` (FLYWHEEL_HOME/dagster).
telemetry:
  enabled: false
run_queue:
  # the embedded metastore allows one JVM: one local run at a time
  max_concurrent_runs: 1
"""


RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def local_instance(dagster_home: Path) -> dg.DagsterInstance:
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dg.DagsterInstance.get()


def jsonable(value: Any) -> Any:
    """Metadata values as plain JSON (numbers stay numbers)."""
    if isinstance(value, dg.MetadataValue):
        value = value.value
    if isinstance(value, dg.TableSchema):
        return [{"name": c.name, "type": c.type} for c in value.columns]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "_asdict"):
        return jsonable(value._asdict())
    return str(value)


@dataclass
class RunSummary:
    snapshot: str
    success: bool = True
    assets: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    @property
    def failed_error_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"] and c["severity"] == "ERROR"]

    @property
    def exit_code(self) -> int:
        failed_assets = [a for a in self.assets if a["status"] != "materialized"]
        return 1 if (not self.success or failed_assets or self.failed_error_checks) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "success": self.exit_code == 0,
            "assets": self.assets,
            "checks": self.checks,
        }


def _selected_keys(defs: dg.Definitions, selection: str | None, checks_only: bool):
    graph = defs.resolve_asset_graph()
    asset_selection = (
        dg.AssetSelection.from_string(selection) if selection else dg.AssetSelection.all()
    )
    keys = asset_selection.resolve(graph)
    materializable = {k for k in keys if graph.get(k).is_materializable}
    if not materializable and not checks_only:
        raise ValueError(f"selection {selection!r} matches no materializable asset")
    return graph, materializable


def run_snapshot(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    snapshot: str,
    selection: str | None = None,
    checks_only: bool = False,
) -> RunSummary:
    """Materialize ``selection`` (default everything) with its checks for ``snapshot``.

    ``checks_only`` runs the selected assets' checks without rebuilding anything.
    """
    validate_snapshot(snapshot)
    graph, keys = _selected_keys(defs, selection, checks_only)
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    unpartitioned = keys - partitioned
    if partitioned and not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, snapshot):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
    summary = RunSummary(snapshot=snapshot)
    for group, partition_key in ((partitioned, snapshot), (unpartitioned, None)):
        if not group:
            continue
        if checks_only:
            check_keys = {ck for ck in graph.asset_check_keys if ck.asset_key in group}
            if not check_keys:
                continue
            job = dg.define_asset_job(
                "flywheel_checks", selection=dg.AssetSelection.checks(*check_keys)
            )
        else:
            job = dg.define_asset_job("flywheel_run", selection=dg.AssetSelection.assets(*group))
        resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
        # A checks-only job has no partitions definition in Dagster 1.13; the partition
        # reaches partitioned checks through the run tag instead.
        partition_args = (
            {"tags": {"dagster/partition": partition_key}}
            if checks_only and partition_key
            else {"partition_key": partition_key}
        )
        result = resolved.execute_in_process(
            run_config=RUN_CONFIG, instance=instance, raise_on_error=False, **partition_args
        )
        summary.run_ids.append(result.run_id)
        summary.success = summary.success and result.success
        materialized = {
            e.asset_key: e.materialization for e in result.get_asset_materialization_events()
        }
        if not checks_only:
            for key in sorted(group, key=lambda k: k.to_user_string()):
                mat = materialized.get(key)
                summary.assets.append(
                    {
                        "key": "/".join(key.path),
                        "status": "materialized" if mat else "failed",
                        "metadata": {
                            k: jsonable(v) for k, v in (mat.metadata if mat else {}).items()
                        },
                    }
                )
        for evaluation in result.get_asset_check_evaluations():
            summary.checks.append(
                {
                    "asset": "/".join(evaluation.asset_key.path),
                    "name": evaluation.check_name,
                    "passed": evaluation.passed,
                    "severity": evaluation.severity.value,
                    "metadata": {k: jsonable(v) for k, v in evaluation.metadata.items()},
                }
            )
    return summary
