"""The monitor's rules as Dagster asset checks, factories over the table registry.

* ``monitor_part_<table>``: one multi-asset check per ``part_*`` table, one check per
  rule, partitioned by ``snapshot_dt`` so the checks tab keeps a history per snapshot.
  Non-blocking: the table is already published; failures are reported.
* ``audit_split_part_<table>`` / ``audit_split_cluster_<table>``: the write-audit-publish
  gate (``checks/audit.py``), blocking checks on each dataset build. A failed audit
  skips ``part_<table>`` / ``ext_<table>`` in the same run (and the publish step refuses
  the build in any other run), so the month in service stays, and the run fails naming
  table and rule. ``--accept-drift`` (run config ``publish_policy``) lets the drift rules
  pass for named tables, recorded in the results.

One op per table (not per rule) because the rules share their observations: one
catalog read, one listing and one SQL statement serve all of them.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

import dagster as dg
from dagster import AssetCheckExecutionContext

from flywheel_assets.checks import drift, rules
from flywheel_assets.checks.audit import audit_build, audit_checks
from flywheel_assets.checks.monitor import TableMonitor, utc_now
from flywheel_assets.checks.rules import Figure, RuleResult, markdown_table
from flywheel_assets.checks.selection import monitor_check_names, monitored_tables
from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.config.thresholds import load_drift_thresholds
from flywheel_assets.keys import ext_key, part_key, split_cluster_key, split_part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.publishing import PublishPolicy
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.registry import Registry, TableSpec

Clock = Callable[[], dt.datetime]

DESCRIPTIONS = {
    rules.CHECK_STORAGE: "All bucket_count id_bucket=* folders of the snapshot exist in the "
    "lake (one delimited listing). ERROR.",
    rules.CHECK_CATALOG: "All bucket_count partitions are registered and point into the "
    "snapshot; auto_repair (athena: MSCK REPAIR, glue: batch register, off) runs first. "
    "Tables with partition projection are validated from their projection parameters. ERROR.",
    rules.CHECK_FRESHNESS: "metadata/snapshot_dt.txt present, a valid date, within "
    "freshness_window_days and not behind the newest raw input snapshot. ERROR when "
    "strict_snapshot, else WARN.",
    rules.CHECK_SCHEMA: "EXTERNAL_TABLE, parquet SerDe and input format, pk_column a data "
    "column, id_bucket the INT partition key. ERROR.",
    rules.CHECK_COUNT: "Row count within count_tolerance_pct of the source table "
    "(compare_source_type/compare_database): |count_part - count_src| * 100 / count_src. "
    "ERROR; WARN when the source table does not exist.",
    rules.CHECK_PK_NULL: "No NULL pk_column rows. ERROR.",
    rules.CHECK_PK_DUPES: "No duplicate pk_column values (SUM(c) over keys with COUNT > 1). ERROR.",
    rules.CHECK_FILE_SIZE: "Files of up to 5 sampled partitions lie within file_size_min_mb.."
    "file_size_max_mb (first 20 issues reported). WARN.",
    rules.CHECK_RAW_ROWS: "Rows written = raw rows - exact duplicates dropped (manifest and "
    "a count over the written files). ERROR, blocking.",
}
AUDIT_DESCRIPTIONS = {
    rules.CHECK_PK_NULL: "Audit before publishing: no NULL, empty or all-space "
    "customer_user_id. ERROR, blocking.",
    rules.CHECK_PK_DUPES: "Audit before publishing: no duplicate customer_user_id. ERROR, "
    "blocking.",
    rules.CHECK_STORAGE: "Audit before publishing: all bucket_count id_bucket=* folders "
    "written. ERROR, blocking.",
    rules.CHECK_RAW_ROWS: DESCRIPTIONS[rules.CHECK_RAW_ROWS],
    rules.CHECK_FILES: "Audit before publishing: the build holds exactly the parquet files "
    "(count, bytes) its manifest recorded. ERROR, blocking.",
    drift.CHECK_ROW_DRIFT: "Drift vs the month in service: rows dropped by more than "
    "drift_max_row_drop_pct or rose by more than drift_max_row_rise_pct. ERROR, blocking.",
    drift.CHECK_KEY_RETENTION: "Drift vs the month in service: share of its keys still "
    "present (bottom-k key sketches) below drift_min_key_retention_pct. ERROR, blocking.",
    drift.CHECK_NULL_DRIFT: "Drift vs the month in service: a column's null share rising by "
    "more than drift_null_rise_warn_points warns; a column entirely null where it was not "
    "blocks (ERROR).",
    drift.CHECK_SCHEMA_DRIFT: "Drift vs the month in service: columns added are reported; "
    "removed or retyped block. ERROR, blocking.",
}


def metadata_value(value: Figure) -> dg.MetadataValue:
    """Numbers stay numbers (bool before int: ``True`` is an ``int`` in Python)."""
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(str(value))


def check_result(asset_key: dg.AssetKey, result: RuleResult) -> dg.AssetCheckResult:
    """A rule result as Dagster shows it: observed / expected / threshold, every figure,
    a Markdown table of them, examples and the spec-format alert lines."""
    figures = {
        "observed": result.observed,
        "expected": result.expected,
        "threshold": result.threshold,
        **result.figures,
    }
    metadata: dict[str, dg.MetadataValue] = {"table": dg.MetadataValue.text(result.table)}
    metadata.update({name: metadata_value(value) for name, value in figures.items()})
    metadata["figures"] = dg.MetadataValue.md(
        markdown_table(
            ("figure", "value"), [(k, "" if v is None else v) for k, v in figures.items()]
        )
    )
    if result.details:
        metadata["details"] = dg.MetadataValue.md(result.details)
    if result.examples:
        metadata["examples"] = dg.MetadataValue.json(list(result.examples))
    if result.alerts:
        metadata["alerts"] = dg.MetadataValue.json(list(result.alerts))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=result.check,
        passed=result.passed,
        severity=dg.AssetCheckSeverity(result.severity.value),
        description=result.summary,
        metadata=metadata,
    )


def _count_source_deps(table: TableSpec, settings: Settings) -> list[dg.AssetKey]:
    """Order the count check after ``ext_<table>`` when that table is built here too
    (same database, ext comparison); a key nobody defines is a harmless external dep."""
    same_db = settings.compare_database in ("", settings.glue_database)
    return [ext_key(table)] if settings.compare_source_type == "ext" and same_db else []


def snapshot_check_specs(
    key: dg.AssetKey,
    names: Iterable[str],
    descriptions: Mapping[str, str],
    *,
    blocking: bool = False,
    additional_deps: Callable[[str], Sequence[dg.AssetKey]] = lambda name: (),
) -> list[dg.AssetCheckSpec]:
    """One spec per check name on ``key``, partitioned by snapshot like the asset."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=key,
            description=descriptions[name],
            partitions_def=SNAPSHOT_PARTITIONS,
            blocking=blocking,
            additional_deps=additional_deps(name),
        )
        for name in names
    ]


def build_monitor_check(
    table: TableSpec, settings: Settings, clock: Clock
) -> dg.AssetChecksDefinition:
    key = part_key(table)
    specs = snapshot_check_specs(
        key,
        monitor_check_names(settings),
        DESCRIPTIONS,
        additional_deps=lambda name: (
            _count_source_deps(table, settings) if name == rules.CHECK_COUNT else ()
        ),
    )

    @dg.multi_asset_check(
        name=f"monitor_{table.part_table}",
        specs=specs,
        can_subset=True,
        description=f"Data monitor rules for {table.part_table} (one op, shared observations).",
    )
    def _monitor(context: AssetCheckExecutionContext, platform: dg.ResourceParam[Platform]):
        snapshot = validate_snapshot(context.partition_key)
        selected = {k.name for k in context.selected_asset_check_keys}
        evaluation = TableMonitor(platform, table, snapshot, clock()).evaluate(selected)
        for result in evaluation.results:
            yield check_result(key, result)

    return _monitor


def build_audit_check(
    kind: str, table: TableSpec, key: dg.AssetKey, serves: str
) -> dg.AssetChecksDefinition:
    specs = snapshot_check_specs(key, audit_checks(kind), AUDIT_DESCRIPTIONS, blocking=True)

    @dg.multi_asset_check(
        name=f"audit_{kind}_{table.slug}",
        specs=specs,
        can_subset=True,
        description=f"Write-audit-publish gate for {table.name}: blocks {serves}.",
    )
    def _audit(
        context: AssetCheckExecutionContext,
        platform: dg.ResourceParam[Platform],
        publish_policy: PublishPolicy,
    ):
        snapshot = validate_snapshot(context.partition_key)
        unknown = publish_policy.unknown_tables(platform.registries)
        if unknown:
            raise ValueError(f"accept_drift names tables not in the registry: {unknown}")
        names = platform.registries.union  # drift_thresholds.csv names tables of either
        thresholds = load_drift_thresholds(platform.settings, names)[table.name]
        selected = {k.name for k in context.selected_asset_check_keys}
        results = audit_build(
            platform,
            kind,
            table,
            snapshot,
            thresholds,
            accept_drift=publish_policy.accepts_drift(table),
            run_id=context.run.run_id,
        )
        for result in results:
            if result.check in selected:
                yield check_result(key, result)

    return _audit


def build_monitor_checks(
    registry: Registry, settings: Settings, clock: Clock = utc_now
) -> list[dg.AssetChecksDefinition]:
    """The ``part_*`` checks of the monitored tables (``table_prefix``, ``max_tables``)."""
    return [build_monitor_check(t, settings, clock) for t in monitored_tables(registry, settings)]


def build_audit_checks(registry: Registry | Registries) -> list[dg.AssetChecksDefinition]:
    """The blocking audits, one per dataset: ``split_part`` of every table of the
    partitioned pipeline's registry, ``split_cluster`` of the bucketed one's."""
    registries = as_registries(registry)
    return [
        *(
            build_audit_check("split_part", t, split_part_key(t), t.part_table)
            for t in registries.split_part
        ),
        *(
            build_audit_check("split_cluster", t, split_cluster_key(t), t.ext_table)
            for t in registries.split_cluster
        ),
    ]
