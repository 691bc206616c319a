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
from flywheel_assets.publishing import POLICY_TAG_ACCEPT, POLICY_TAG_ROLLBACK
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
    """The selected materializable keys; a selection that parses badly or selects nothing
    to run is a ValueError (one line for the CLI), never a silent all clear."""
    graph = defs.resolve_asset_graph()
    try:
        asset_selection = (
            dg.AssetSelection.from_string(selection) if selection else dg.AssetSelection.all()
        )
    except dg.DagsterError:
        raise ValueError(
            f"selection {selection!r} does not parse (syntax: key:, group:, kind:, tag:, "
            "owner:, and, or, not, +)"
        ) from None
    try:
        keys = asset_selection.resolve(graph)
    except dg.DagsterError as exc:
        raise ValueError(f"selection {selection!r}: {exc}") from None
    materializable = {k for k in keys if graph.get(k).is_materializable}
    if not materializable:
        raise ValueError(f"selection {selection!r} matches no materializable asset")
    if checks_only and not any(ck.asset_key in materializable for ck in graph.asset_check_keys):
        raise ValueError(f"selection {selection!r} matches no asset with checks")
    return graph, materializable


@dataclass(frozen=True)
class Policy:
    """The run's publish policy (``flywheel_assets.publishing.PublishPolicy``)."""

    accept_drift: tuple[str, ...] = ()
    rollback: bool = False

    def run_config(self) -> dict[str, Any]:
        config = {"accept_drift": list(self.accept_drift), "rollback": self.rollback}
        return {**RUN_CONFIG, "resources": {"publish_policy": {"config": config}}}

    def tags(self) -> dict[str, str]:
        tags = {POLICY_TAG_ACCEPT: ",".join(self.accept_drift)} if self.accept_drift else {}
        return {**tags, POLICY_TAG_ROLLBACK: "true"} if self.rollback else tags


def audited_first(graph, keys: set[dg.AssetKey]) -> tuple[set[dg.AssetKey], set[dg.AssetKey]]:
    """Split a selection into the datasets that carry blocking audits (written and
    audited first) and everything else (published in a second run, only downstream of
    audits that passed). A blocked table is then never planned, so its page keeps
    showing the month it serves, not a failed materialization."""
    audited = {
        ck.asset_key
        for ck in graph.asset_check_keys
        if ck.asset_key in keys and graph.get_check_spec(ck).blocking
    }
    return audited, keys - audited


def _blocked(graph, result, audited: set[dg.AssetKey]) -> set[dg.AssetKey]:
    """Datasets whose write or blocking audit failed, and everything downstream."""
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    failed = {k for k in audited if k not in materialized}
    failed |= {
        e.asset_key
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }
    if not failed:
        return set()
    return dg.AssetSelection.assets(*failed).downstream().resolve(graph)


def run_snapshot(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    snapshot: str,
    selection: str | None = None,
    checks_only: bool = False,
    policy: Policy = Policy(),
) -> RunSummary:
    """Materialize ``selection`` (default everything) with its checks for ``snapshot``.

    Write and audit first, then publish what passed (``audited_first``); assets held
    back by a failed audit are reported as ``blocked``. ``checks_only`` runs the
    selected assets' checks without rebuilding anything.
    """
    validate_snapshot(snapshot)
    graph, keys = _selected_keys(defs, selection, checks_only)
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    unpartitioned = keys - partitioned
    if partitioned and not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, snapshot):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
    summary = RunSummary(snapshot=snapshot)
    if checks_only:
        for group, partition_key in ((partitioned, snapshot), (unpartitioned, None)):
            check_keys = {ck for ck in graph.asset_check_keys if ck.asset_key in group}
            if check_keys:
                selected = dg.AssetSelection.checks(*check_keys)
                # A checks-only job has no partitions definition in Dagster 1.13; the
                # partition reaches partitioned checks through the run tag instead.
                tags = {"dagster/partition": partition_key} if partition_key else {}
                _execute(defs, instance, "flywheel_checks", selected, policy, summary, tags=tags)
        return summary
    audited, publish = audited_first(graph, partitioned)
    blocked: set[dg.AssetKey] = set()
    if audited:
        result = _execute(
            defs,
            instance,
            "flywheel_write_audit",
            dg.AssetSelection.assets(*audited),
            policy,
            summary,
            partition_key=snapshot,
            group=audited,
        )
        blocked = _blocked(graph, result, audited)
    for key in sorted(publish & blocked, key=lambda k: k.to_user_string()):
        summary.assets.append({"key": "/".join(key.path), "status": "blocked", "metadata": {}})
    for group, partition_key in ((publish - blocked, snapshot), (unpartitioned, None)):
        if group:
            _execute(
                defs,
                instance,
                "flywheel_run",
                dg.AssetSelection.assets(*group),
                policy,
                summary,
                partition_key=partition_key,
                group=group,
            )
    return summary


def _execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    selection: dg.AssetSelection,
    policy: Policy,
    summary: RunSummary,
    partition_key: str | None = None,
    group: set[dg.AssetKey] | None = None,
    tags: dict[str, str] | None = None,
):
    """One in-process run; its assets (``group``) and check results join ``summary``."""
    job = dg.define_asset_job(name, selection=selection)
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
    result = resolved.execute_in_process(
        run_config=policy.run_config(),
        instance=instance,
        raise_on_error=False,
        partition_key=partition_key,
        tags={**policy.tags(), **(tags or {})},
    )
    summary.run_ids.append(result.run_id)
    summary.success = summary.success and result.success
    materialized = {
        e.asset_key: e.materialization for e in result.get_asset_materialization_events()
    }
    for key in sorted(group or (), key=lambda k: k.to_user_string()):
        mat = materialized.get(key)
        summary.assets.append(
            {
                "key": "/".join(key.path),
                "status": "materialized" if mat else "failed",
                "metadata": {k: jsonable(v) for k, v in (mat.metadata if mat else {}).items()},
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
    return result
