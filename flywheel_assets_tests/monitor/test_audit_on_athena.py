"""The audit's Athena path with recording fakes: a temporary projection table over the
snapshot directory, one key-column aggregate, the table dropped afterwards."""

from __future__ import annotations

import dataclasses
from typing import Any

from flywheel_assets import layout
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.builds import read_audit
from flywheel_assets.checks import rules
from flywheel_assets.checks.audit import INTEGRITY_CHECKS, audit_build, audit_checks
from flywheel_assets.config.thresholds import DriftThresholds
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import TableDefinition
from flywheel_assets.ports.sql import SqlPort
from flywheel_assets_tests.conftest import make_settings
from glue_jobs.transforms import Manifest

SNAPSHOT = "2025-01-15"
BUILD = "20250115T000000Z-abcd1234"
AUDIT_CHECKS = INTEGRITY_CHECKS["split_part"]


def audit_dataset(platform, table, snapshot):
    """The split_part audit as the Dagster check runs it (default thresholds)."""
    return audit_build(platform, "split_part", table, snapshot, DriftThresholds())


class RecordingCatalog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def publish_table(self, table: TableDefinition) -> None:
        self.calls.append(("publish", table))

    def drop_table(self, database: str, name: str) -> None:
        self.calls.append(("drop", f"{database}.{name}"))

    def get_table(self, database: str, name: str):
        return None  # nothing in service: the drift rules see a first snapshot


class RecordingSql(SqlPort):
    def __init__(self, row: dict[str, int]) -> None:
        self.row, self.statements = row, []

    def query(self, statement: str) -> list[dict[str, Any]]:
        self.statements.append(statement)
        return [self.row] if "count_part" in statement else [{"k": "CU1", "c": 2}]

    def execute(self, statement: str) -> None:
        self.statements.append(statement)

    def bucket_expr(self, column: str, bucket_count: int) -> str:
        raise NotImplementedError

    def create_bucketed_table_as(self, *args: Any) -> None:
        raise NotImplementedError


def written_snapshot(tmp_path, small_registry, rows: int, raw_rows: int, dropped: int):
    settings = make_settings(tmp_path, env="dev")
    lake = LocalLake(tmp_path / "lake")
    table = small_registry.get("ibe_01_a")
    prefix = layout.dataset_build_prefix(settings, "split_part", table, SNAPSHOT, BUILD)
    for bucket in range(settings.bucket_count):
        lake.write_text(f"{prefix}id_bucket={bucket}/part-0.parquet", "x")
    manifest = Manifest(
        table=table.name,
        kind="split_part",
        snapshot_dt=SNAPSHOT,
        location=lake.uri(prefix),
        row_count=rows,
        raw_rows=raw_rows,
        duplicates_dropped=dropped,
        target_files=1,
        columns=[["customer_user_id", "string"]],
        files=settings.bucket_count,
        bytes=settings.bucket_count,
        column_nulls={"customer_user_id": 0},
        key_sketch=[1, 2, 3],
        sketch_k=4096,
    )
    lake.write_text(
        layout.manifest_key(settings, "split_part", table, SNAPSHOT, BUILD), manifest.to_json()
    )
    return settings, lake, table, prefix


def test_audit_reads_the_directory_through_a_temporary_projection_table(tmp_path, small_registry):
    settings, lake, table, prefix = written_snapshot(tmp_path, small_registry, 600, 603, 3)
    catalog = RecordingCatalog()
    sql = RecordingSql({"count_part": 600, "pk_nulls": 0, "pk_dupes": 2})
    platform = Platform(settings, small_registry, lake=lake, catalog=catalog, sql=sql)

    results = {r.check: r for r in audit_dataset(platform, table, SNAPSHOT)}

    assert list(results) == list(audit_checks("split_part"))
    assert [c for c, r in results.items() if not r.passed] == [rules.CHECK_PK_DUPES]
    record = read_audit(lake, settings, "split_part", table, SNAPSHOT, BUILD)
    assert not record.passed and record.failed_checks == [rules.CHECK_PK_DUPES]
    assert results[rules.CHECK_PK_DUPES].examples == ("CU1 (2 rows)",)
    (kind, staged), (drop, dropped) = catalog.calls
    name = f"{settings.glue_database}.audit_split_part_ibe_01_a_20250115"
    assert (kind, drop, dropped) == ("publish", "drop", name)
    assert [c.name for c in staged.columns] == ["customer_user_id"]  # the key column only
    assert staged.location == lake.uri(prefix) and staged.partitions == {}
    assert staged.parameters["projection.enabled"] == "true"
    assert staged.parameters["projection.id_bucket.range"] == "0,255"
    assert staged.parameters["storage.location.template"].endswith("/id_bucket=${id_bucket}/")
    assert all(f"FROM {name}" in s for s in sql.statements) and len(sql.statements) == 2


def test_audit_fails_without_a_manifest(tmp_path, small_registry):
    settings = make_settings(tmp_path, env="dev")
    platform = Platform(
        settings,
        small_registry,
        lake=LocalLake(tmp_path / "lake"),
        catalog=RecordingCatalog(),
        sql=RecordingSql({}),
    )
    results = audit_dataset(platform, small_registry.get("ibe_01_a"), SNAPSHOT)
    assert [r.check for r in results] == list(audit_checks("split_part"))
    assert all(not r.passed and r.severity is rules.Severity.ERROR for r in results)
    assert "the snapshot was not written" in results[0].summary
    assert not lake_has_audit(platform)


def lake_has_audit(platform) -> bool:
    return any(o.key.endswith("_flywheel_audit.json") for o in platform.lake.list_objects(""))


def test_row_count_audit_catches_lost_rows(tmp_path, small_registry):
    settings, lake, table, _ = written_snapshot(tmp_path, small_registry, 600, 603, 3)
    sql = RecordingSql({"count_part": 590, "pk_nulls": 0, "pk_dupes": 0})
    platform = Platform(settings, small_registry, lake=lake, catalog=RecordingCatalog(), sql=sql)
    results = {r.check: r for r in audit_dataset(platform, table, SNAPSHOT)}
    rows = results[rules.CHECK_RAW_ROWS]
    assert not rows.passed and (rows.observed, rows.expected) == (590, 600)
    assert [c for c, r in results.items() if not r.passed] == [rules.CHECK_RAW_ROWS]


class ServingCatalog(RecordingCatalog):
    """A catalog whose part_ibe_01_a serves one build (set by the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.serving: tuple[str, str, str] | None = None  # snapshot, build, location

    def get_table(self, database: str, name: str):
        from flywheel_assets.builds import BUILD_PARAMETER
        from flywheel_assets.ports.catalog import Column, TableInfo

        if self.serving is None or name != "part_ibe_01_a":
            return None
        snapshot, build, location = self.serving
        return TableInfo(
            database,
            name,
            "EXTERNAL_TABLE",
            location,
            (Column("customer_user_id", "string"),),
            (Column("id_bucket", "int"),),
            "serde",
            "input",
            parameters={"snapshot_dt": snapshot, BUILD_PARAMETER: build},
        )


def test_a_re_audit_of_the_build_in_service_keeps_its_month_over_month_figures(
    tmp_path, small_registry
):
    """`flywheel check` re-audits the served build: its drift is still measured against
    the month that was in service when it was first audited, not against itself."""
    settings, lake, table, _ = written_snapshot(tmp_path, small_registry, 600, 603, 3)
    february, build_b = "2025-02-15", "20250215T000000Z-feedbeef"
    prefix_b = layout.dataset_build_prefix(settings, "split_part", table, february, build_b)
    for bucket in range(settings.bucket_count):
        lake.write_text(f"{prefix_b}id_bucket={bucket}/part-0.parquet", "x")
    manifest_a = Manifest.from_json(
        lake.read_text(layout.manifest_key(settings, "split_part", table, SNAPSHOT, BUILD))
    )
    manifest_b = dataclasses.replace(
        manifest_a,
        snapshot_dt=february,
        location=lake.uri(prefix_b),
        row_count=570,
        raw_rows=573,
    )
    lake.write_text(prefix_b + "_flywheel_manifest.json", manifest_b.to_json())
    catalog = ServingCatalog()
    catalog.serving = (
        SNAPSHOT,
        BUILD,
        lake.uri(layout.dataset_build_prefix(settings, "split_part", table, SNAPSHOT, BUILD)),
    )
    sql = RecordingSql({"count_part": 570, "pk_nulls": 0, "pk_dupes": 0, "distinct_keys": 570})
    platform = Platform(settings, small_registry, lake=lake, catalog=catalog, sql=sql)

    def audit() -> tuple[dict, object]:
        results = audit_build(platform, "split_part", table, february, DriftThresholds())
        record = read_audit(lake, settings, "split_part", table, february, build_b)
        return {r.check: r for r in results}, record

    first, record = audit()
    assert first["row_count_drift"].figures["row_count_change_pct"] == -5.0
    assert record.compared_with == {"snapshot_dt": SNAPSHOT, "build": BUILD}

    catalog.serving = (february, build_b, lake.uri(prefix_b))  # February published
    again, record = audit()
    assert again["row_count_drift"].figures["row_count_change_pct"] == -5.0  # not 0
    assert record.compared_with == {"snapshot_dt": SNAPSHOT, "build": BUILD}
    assert record.drift["row_count_change_pct"] == -5.0
