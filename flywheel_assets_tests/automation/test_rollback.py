"""Rollback on the local profile (Spark + Hive): re-materializing an older snapshot's
catalog assets repoints the tables only when the run allows a rollback
(``Policy(rollback=True)``, ``flywheel run --rollback``); retention then protects the
build directories they read."""

from __future__ import annotations

from flywheel_assets import layout
from flywheel_assets.automation.monitor_schedule import (
    in_service_from_catalog,
    in_service_from_instance,
)
from flywheel_assets.automation.retention import canonical, plan_retention
from flywheel_assets.builds import served_build
from flywheel_assets.checks import rules
from flywheel_assets.definitions import build_definitions
from flywheel_assets.runner import Policy, run_snapshot
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline

A, B = "2025-01-15", "2025-02-15"
# >= 256 rows, so the audit finds every id_bucket folder; B is 13% smaller than A and
# draws from the same keys, within the drift audit's limits (20% drop, 80% retention)
ROWS_A, ROWS_B = 300, 260
PIPELINE = "key:split_part/* or key:part_*"
ROLLBACK = "key:part_*"  # the documented rollback selection: catalog assets only


def row_count(platform, table: str) -> int:
    return platform.sql.query(f"SELECT COUNT(*) AS n FROM {platform.database}.{table}")[0]["n"]


def step_errors(instance, run_id: str) -> str:
    """Every step failure's message, causes included (the op's own exception)."""
    found = []
    for e in instance.all_logs(run_id):
        if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE":
            error = e.dagster_event.event_specific_data.error
            while error is not None:
                found.append(error.message)
                error = error.cause
    return "\n".join(found)


def test_rollback_from_b_to_a_repoints_every_part_table(local_platform, instance):
    platform = local_platform()
    settings = platform.settings
    for snapshot, rows in ((A, ROWS_A), (B, ROWS_B)):
        built = run_pipeline(platform, instance, snapshot, PIPELINE, rows=rows)
        assert built.exit_code == 0, built.failed_error_checks
    assert in_service_from_catalog(platform, platform.registry).snapshot == B
    served_b = {
        t.part_table: platform.catalog.get_table(platform.database, t.part_table)
        for t in platform.registry
    }
    defs = build_definitions(settings, platform.registry, platform)

    # without the rollback policy the older month is refused: every table keeps B
    refused = run_snapshot(defs, instance, A, ROLLBACK)
    assert refused.exit_code == 1
    statuses = {k: a["status"] for k, a in assets_by_key(refused).items()}
    assert {t.part_table for t in platform.registry} <= set(statuses)
    assert set(statuses.values()) == {"failed"}  # and the part_*_er views built on them
    errors = step_errors(instance, refused.run_ids[0])
    for table in platform.registry:
        assert f"{table.part_table} serves snapshot_dt={B}, newer than {A}" in errors
        info = platform.catalog.get_table(platform.database, table.part_table)
        assert info == served_b[table.part_table]
        assert row_count(platform, table.part_table) == ROWS_B
    assert "--rollback" in errors  # the message says how to do it on purpose
    assert in_service_from_catalog(platform, platform.registry).snapshot == B
    assert in_service_from_instance(instance, platform.registry).snapshot == B
    for source in {t.source for t in platform.registry}:
        marker = layout.snapshot_marker_key(settings, "split_part", source)
        assert platform.lake.read_text(marker) == B

    rollback = run_snapshot(defs, instance, A, ROLLBACK, policy=Policy(rollback=True))

    assets = assets_by_key(rollback)
    assert all(a["status"] == "materialized" for a in assets.values()), assets
    assert not [k for k in assets if k.startswith("split_part/")]  # no rebuild
    # the only ERROR left is the documented one (docs/operations.md): snapshot_fresh
    # (strict locally) reports the served month behind the newest raw snapshot
    stale = {c["asset"]: c["metadata"] for c in rollback.failed_error_checks}
    assert {c["name"] for c in rollback.failed_error_checks} == {rules.CHECK_FRESHNESS}
    assert set(stale) == {t.part_table for t in platform.registry}
    for figures in stale.values():
        assert (figures["raw_input_snapshot_dt"], figures["latest_raw_snapshot_dt"]) == (A, B)
    assert rollback.exit_code == 1  # what `flywheel run --rollback` then exits with
    for table in platform.registry:
        info = platform.catalog.get_table(platform.database, table.part_table)
        # A's audited build, the one A was first published from
        build = served_build(info)
        assert build is not None and build != served_build(served_b[table.part_table])
        a_dir = layout.dataset_build_prefix(settings, "split_part", table, A, build)
        assert canonical(info.location) == canonical(platform.lake.uri(a_dir))
        assert info.parameters["snapshot_dt"] == A
        partitions = platform.catalog.list_partitions(platform.database, table.part_table)
        assert len(partitions) == 256
        assert all(f"snapshot_dt={A}/build={build}/" in loc for loc in partitions.values())
        assert row_count(platform, table.part_table) == ROWS_A
        metadata = assets[table.part_table]["metadata"]
        assert metadata["rollback_allowed"] is True and metadata["build"] == build
    assert in_service_from_catalog(platform, platform.registry).snapshot == A
    assert in_service_from_instance(instance, platform.registry).snapshot == A
    for source in {t.source for t in platform.registry}:  # readers' marker follows
        marker = layout.snapshot_marker_key(settings, "split_part", source)
        assert platform.lake.read_text(marker) == A

    # B stays retained, and retention (keep 1: only B) must not delete what tables read
    plan = plan_retention(platform, keep=1)
    assert plan.delete == []
    protected = {(d.dataset, d.snapshot): tables for d, tables in plan.protected}
    for table in platform.registry:
        tables = protected[(f"split_part/{table.name}", A)]
        assert table.part_table in tables
        assert f"{table.part_table}[id_bucket=0]" in tables
    b_dir = layout.dataset_snapshot_prefix(
        settings, "split_part", platform.registry.get("IBE_01_A"), B
    )
    assert platform.lake.list_objects(b_dir, limit=1)
