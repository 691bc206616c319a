"""Write-audit-publish: the blocking audit of a dataset build before any table reads it.

Every ``split_part/<table>`` and ``split_cluster/<table>`` build is audited the same way:

* integrity: no missing key (NULL, empty, all-space), no duplicate key, rows = raw rows
  less exact duplicates, the files its manifest recorded (and, for ``split_part``,
  every ``id_bucket`` folder);
* drift against the month in service (``checks/drift.py``): row count, key retention,
  null fractions, schema. The served month is the build the published table
  (``part_*`` / ``ext_*``) points at, read from its manifest: no table is re-read.

The audit writes its figures back into the build's manifest (distinct keys, missing
keys) and its verdict beside it (``builds.AuditRecord``), which the publish step
requires, whichever run publishes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from flywheel_assets import builds, layout
from flywheel_assets.checks import drift, rules
from flywheel_assets.checks.rules import RuleResult, Severity
from flywheel_assets.checks.selection import guarded
from flywheel_assets.checks.sql import (
    KeyProfile,
    key_examples,
    key_profile_sql,
    parse_key_profile,
    table_name,
)
from flywheel_assets.config.thresholds import DriftThresholds
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN, TableSpec
from glue_jobs.transforms import MANIFEST_NAME, Manifest

INTEGRITY_CHECKS = {
    "split_part": (
        rules.CHECK_PK_NULL,
        rules.CHECK_PK_DUPES,
        rules.CHECK_STORAGE,
        rules.CHECK_RAW_ROWS,
        rules.CHECK_FILES,
    ),
    "split_cluster": (
        rules.CHECK_PK_NULL,
        rules.CHECK_PK_DUPES,
        rules.CHECK_RAW_ROWS,
        rules.CHECK_FILES,
    ),
}
SERVING_TABLE = {"split_part": "part_table", "split_cluster": "ext_table"}
# drift figures kept in the audit record (and shown by the monitor report)
DRIFT_FIGURES = (
    "row_count_change_pct",
    "key_retention_pct",
    "max_null_rise_points",
    "columns_added",
    "columns_removed",
    "columns_retyped",
)


def audit_checks(kind: str) -> tuple[str, ...]:
    return INTEGRITY_CHECKS[kind] + drift.DRIFT_CHECKS


def audit_label(kind: str, table: TableSpec) -> str:
    return f"{kind}/{table.slug}"


@contextmanager
def dataset_relation(
    platform: Platform, kind: str, table: TableSpec, snapshot: str, prefix: str
) -> Iterator[str]:
    """Something SQL can read a build directory through, before any table points at it.

    Spark reads a directory directly (``parquet.`<uri>```). Athena needs a table: a
    temporary one over the directory declaring only the key column (``split_part``: with
    partition projection on ``id_bucket``, so no partition calls), dropped afterwards.
    """
    direct = platform.sql.parquet_relation(platform.lake.spark_uri(prefix))
    if direct is not None:
        yield direct
        return
    database = platform.database
    name = f"audit_{kind}_{table.slug}_{snapshot.replace('-', '')}"
    relation = table_name(database, name)  # checked before the table is created
    location = platform.lake.uri(prefix)
    partitioned = kind == "split_part"
    count = platform.settings.bucket_count
    projection = {
        "projection.enabled": "true",
        f"projection.{PARTITION_COLUMN}.type": "integer",
        f"projection.{PARTITION_COLUMN}.range": f"0,{count - 1}",
        "storage.location.template": (
            f"{location.rstrip('/')}/{PARTITION_COLUMN}=${{{PARTITION_COLUMN}}}/"
        ),
    }
    platform.catalog.publish_table(
        TableDefinition(
            database=database,
            name=name,
            columns=(Column(KEY_COLUMN, "string"),),
            location=location,
            partition_keys=(Column(PARTITION_COLUMN, "int"),) if partitioned else (),
            comment=f"temporary: audit of {kind}/{table.name} snapshot_dt={snapshot}",
            parameters=projection if partitioned else {},
        )
    )
    try:
        yield relation
    finally:
        platform.catalog.drop_table(database, name)


def served_manifest(platform: Platform, kind: str, table: TableSpec) -> Manifest | None:
    """The manifest of the build the published table serves (None: nothing published).

    A table published before builds existed serves ``snapshot_dt=D/`` directly; its
    manifest lies there. A served table whose manifest is gone counts as unmeasured."""
    info = platform.catalog.get_table(platform.database, getattr(table, SERVING_TABLE[kind]))
    if info is None:
        return None
    snapshot = info.parameters.get("snapshot_dt", "")
    if not snapshot:
        return None
    key = layout.manifest_key(platform.settings, kind, table, snapshot, builds.served_build(info))
    try:
        return Manifest.from_json(platform.lake.read_text(key))
    except FileNotFoundError:
        return Manifest(
            table=table.name,
            kind=kind,
            snapshot_dt=snapshot,
            location=info.location,
            row_count=-1,
            raw_rows=-1,
            duplicates_dropped=0,
            target_files=0,
            columns=[[c.name, c.type] for c in info.columns],
        )


def comparison_manifest(
    platform: Platform, kind: str, table: TableSpec, snapshot: str, build: str
) -> Manifest | None:
    """The month a build's drift is measured against: the month in service, except when
    that is this very build (re-audited after it was published, e.g. by `flywheel
    check`): then the month its first audit compared with, so the figures stay the
    month-over-month ones instead of a build against itself."""
    served = served_manifest(platform, kind, table)
    if served is None or (served.snapshot_dt, builds.build_of(served.location)) != (
        snapshot,
        build,
    ):
        return served
    settings, lake = platform.settings, platform.lake
    first = builds.read_audit(lake, settings, kind, table, snapshot, build)
    if first is None or first.compared_with is None:
        return served
    if not first.compared_with:
        return None  # it was the table's first snapshot
    then = first.compared_with
    key = layout.manifest_key(settings, kind, table, then["snapshot_dt"], then["build"] or None)
    try:
        return Manifest.from_json(lake.read_text(key))
    except FileNotFoundError:
        return served


def compared_with(manifest: Manifest | None) -> dict[str, str]:
    if manifest is None:
        return {}
    return {"snapshot_dt": manifest.snapshot_dt, "build": builds.build_of(manifest.location)}


def drift_metadata(
    platform: Platform, kind: str, table: TableSpec, manifest: Manifest
) -> dict[str, float | int]:
    """Numeric figures of a new build against the month in service, for the dataset's
    materialization metadata (the UI plots them per partition). The blocking verdict on
    them is the audit's; this is what a reader scanning the asset page sees."""
    new = drift.SnapshotFigures.from_manifest(manifest)
    figures: dict[str, float | int] = {
        "null_columns": sum(1 for c, _ in manifest.columns if new.entirely_null(c)),
    }
    served = served_manifest(platform, kind, table)
    if served is None:
        return figures
    old = drift.SnapshotFigures.from_manifest(served)
    change = drift.row_count_change_pct(old.row_count, new.row_count)
    retention = drift.estimate_retention(old, new)
    if change is not None and old.row_count >= 0:
        figures["row_count_change_pct"] = round(change, 2)
    if retention is not None:
        figures["key_retention_pct"] = round(100 * retention, 2)
    return figures


def _integrity(
    platform: Platform, kind: str, table: TableSpec, manifest: Manifest, prefix: str
) -> tuple[list[RuleResult], KeyProfile]:
    """The integrity rules from one listing and one key-only statement (examples only
    when there is a problem)."""
    label, sql, lake = audit_label(kind, table), platform.sql, platform.lake
    found = {}
    sizes = [o.size for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
    found[rules.CHECK_FILES] = rules.files_complete(
        label, manifest.files, manifest.bytes, sizes, manifest.row_count
    )
    if kind == "split_part":
        found[rules.CHECK_STORAGE] = rules.storage_partitions(
            label, lake.list_folders(prefix), platform.settings.bucket_count
        )
    with dataset_relation(platform, kind, table, manifest.snapshot_dt, prefix) as relation:
        profile = parse_key_profile(sql.query(key_profile_sql(relation, KEY_COLUMN)))
        nulls, dupes = key_examples(
            sql.query, relation, KEY_COLUMN, profile, nulls=kind == "split_part"
        )
    found[rules.CHECK_PK_NULL] = rules.pk_nulls(
        label, KEY_COLUMN, profile.pk_nulls, profile.count_part, nulls
    )
    found[rules.CHECK_PK_DUPES] = rules.pk_dupes(
        label, KEY_COLUMN, profile.pk_dupes, profile.count_part, dupes
    )
    found[rules.CHECK_RAW_ROWS] = rules.raw_row_count(
        label,
        profile.count_part,
        manifest.row_count,
        manifest.raw_rows,
        manifest.duplicates_dropped,
    )
    return [found[c] for c in INTEGRITY_CHECKS[kind]], profile


def blocks(result: RuleResult) -> bool:
    return not result.passed and result.severity is Severity.ERROR


def audit_build(
    platform: Platform,
    kind: str,
    table: TableSpec,
    snapshot: str,
    thresholds: DriftThresholds,
    accept_drift: bool = False,
    run_id: str = "",
) -> list[RuleResult]:
    """Audit the newest build of ``snapshot`` and record the verdict beside it."""
    settings, lake = platform.settings, platform.lake
    label = audit_label(kind, table)
    build = builds.latest_build(lake, settings, kind, table, snapshot)
    if build is None:
        where = lake.uri(layout.dataset_snapshot_prefix(settings, kind, table, snapshot))
        reason = f"no complete build under {where}: the snapshot was not written"
        return [rules.not_evaluated(c, label, Severity.ERROR, reason) for c in audit_checks(kind)]
    prefix = layout.dataset_build_prefix(settings, kind, table, snapshot, build)
    manifest = Manifest.from_json(lake.read_text(prefix + MANIFEST_NAME))
    profiles: list[KeyProfile] = []

    def integrity() -> list[RuleResult]:
        results, profile = _integrity(platform, kind, table, manifest, prefix)
        profiles.append(profile)
        return results

    results = guarded(INTEGRITY_CHECKS[kind], label, integrity)
    if profiles:  # the audit's figures join the writer's in the manifest
        manifest = dataclasses.replace(
            manifest,
            distinct_keys=profiles[0].distinct_keys or 0,
            key_nulls=profiles[0].pk_nulls,
        )
        lake.write_text(prefix + MANIFEST_NAME, manifest.to_json())

    baseline: list[Manifest | None] = []

    def compare() -> list[RuleResult]:
        served = comparison_manifest(platform, kind, table, snapshot, build)
        baseline.append(served)
        return drift.drift_results(
            label,
            drift.SnapshotFigures.from_manifest(served) if served else None,
            drift.SnapshotFigures.from_manifest(manifest),
            thresholds,
            accepted=accept_drift,
        )

    results += guarded(drift.DRIFT_CHECKS, label, compare)
    compared = compared_with(baseline[0]) if baseline else None
    record = audit_record(label, snapshot, build, results, compared, run_id)
    lake.write_text(builds.audit_key(settings, kind, table, snapshot, build), record.to_json())
    return results


def audit_record(
    label: str,
    snapshot: str,
    build: str,
    results: list[RuleResult],
    compared: dict[str, str] | None,
    run_id: str,
) -> builds.AuditRecord:
    """The verdict the publish step requires: passed unless a rule blocks, with the
    drift figures and alerts the monitor report shows and the month compared with
    (``{}``: none in service; None: the drift rules could not read it)."""
    failed = [r.check for r in results if blocks(r)]
    kept = {
        name: r.figures[name]
        for r in results
        if r.check in drift.DRIFT_CHECKS
        for name in DRIFT_FIGURES
        if name in r.figures
    }
    return builds.AuditRecord(
        dataset=label,
        snapshot_dt=snapshot,
        build=build,
        passed=not failed,
        audited_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        failed_checks=failed,
        accepted_drift=any(r.figures.get("drift_accepted") for r in results),
        run_id=run_id,
        drift=kept,
        alerts=[a for r in results if r.check in drift.DRIFT_CHECKS for a in r.alerts],
        compared_with=compared,
    )
