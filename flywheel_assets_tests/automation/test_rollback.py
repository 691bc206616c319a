"""Rollback on the local profile (Spark + Hive): re-materializing an older snapshot's
catalog assets repoints the tables; retention then protects the directory they read."""

from __future__ import annotations

from flywheel_assets import layout
from flywheel_assets.automation.monitor_schedule import (
    in_service_from_catalog,
    in_service_from_instance,
)
from flywheel_assets.automation.retention import plan_retention
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline

A, B = "2025-01-15", "2025-02-15"
ROWS_A, ROWS_B = 300, 260  # >= 256 rows, so the audit finds every id_bucket folder
PIPELINE = "key:split_part/* or key:part_*"
ROLLBACK = "key:part_*"  # the documented rollback selection: catalog assets only


def row_count(platform, table: str) -> int:
    return platform.sql.query(f"SELECT COUNT(*) AS n FROM {platform.database}.{table}")[0]["n"]


def test_rollback_from_b_to_a_repoints_every_part_table(local_platform, instance):
    platform = local_platform()
    for snapshot, rows in ((A, ROWS_A), (B, ROWS_B)):
        built = run_pipeline(platform, instance, snapshot, PIPELINE, rows=rows)
        assert built.exit_code == 0, built.failed_error_checks
    assert in_service_from_catalog(platform, platform.registry).snapshot == B

    rollback = run_pipeline(platform, instance, A, ROLLBACK, rows=None)

    assert rollback.exit_code == 0, rollback.to_json()
    assert not [k for k in assets_by_key(rollback) if k.startswith("split_part/")]  # no rebuild
    for table in platform.registry:
        info = platform.catalog.get_table(platform.database, table.part_table)
        assert f"snapshot_dt={A}" in info.location
        assert info.parameters["snapshot_dt"] == A
        partitions = platform.catalog.list_partitions(platform.database, table.part_table)
        assert len(partitions) == 256
        assert all(f"snapshot_dt={A}/" in loc for loc in partitions.values())
        assert row_count(platform, table.part_table) == ROWS_A
    assert in_service_from_catalog(platform, platform.registry).snapshot == A
    assert in_service_from_instance(instance, platform.registry).snapshot == A

    # B stays retained, and retention (keep 1: only B) must not delete what tables read
    plan = plan_retention(platform, keep=1)
    assert plan.delete == []
    protected = {(d.dataset, d.snapshot): tables for d, tables in plan.protected}
    for table in platform.registry:
        tables = protected[(f"split_part/{table.name}", A)]
        assert table.part_table in tables
        assert f"{table.part_table}[id_bucket=0]" in tables
    b_dir = layout.dataset_snapshot_prefix(
        platform.settings, "split_part", platform.registry.get("IBE_01_A"), B
    )
    assert platform.lake.list_objects(b_dir, limit=1)
