"""The code location exposes the automation by name, resolved against the full graph."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.automation.conditions import AUTOMATION_SENSOR_NAME
from flywheel_assets.automation.defs import BUILD_JOB_NAME, SNAPSHOT_JOB_NAME
from flywheel_assets.automation.monitor_schedule import MONITOR_JOB_NAME, MONITOR_SCHEDULE_NAME
from flywheel_assets.automation.raw_sensor import RAW_SENSOR_NAME
from flywheel_assets.automation.retention import RETENTION_JOB_NAME
from flywheel_assets.automation.selection import monitor_selection
from flywheel_assets.config.registry import load_registry
from flywheel_assets.keys import part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS


def test_definitions_expose_sensors_schedule_and_jobs():
    from flywheel_assets.definitions import defs as load_defs

    defs = load_defs()

    repo = defs.get_repository_def()
    sensors = {s.name for s in repo.sensor_defs}
    assert {
        RAW_SENSOR_NAME,
        AUTOMATION_SENSOR_NAME,
        "run_failure_alerts",
        "check_failure_alerts",
    } <= sensors
    schedule = defs.resolve_schedule_def(MONITOR_SCHEDULE_NAME)
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.job_name == MONITOR_JOB_NAME
    for name in (SNAPSHOT_JOB_NAME, BUILD_JOB_NAME, MONITOR_JOB_NAME, RETENTION_JOB_NAME):
        assert defs.resolve_job_def(name).name == name


def test_snapshot_pipeline_is_every_partitioned_materializable_asset():
    from flywheel_assets.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def(SNAPSHOT_JOB_NAME)
    expected = {
        node.key
        for node in graph.asset_nodes
        if node.is_materializable and node.partitions_def == SNAPSHOT_PARTITIONS
    }
    selected = set(job.asset_layer.selected_asset_keys)
    assert selected == expected
    assert job.partitions_def == SNAPSHOT_PARTITIONS
    assert dg.AssetKey(["raw", "infobase_attributes"]) not in selected  # external
    assert dg.AssetKey(["cleanrooms_report"]) not in selected  # unpartitioned
    assert {part_key(t) for t in load_registry()} <= selected


def test_automation_sensor_targets_catalog_tables_not_datasets():
    from flywheel_assets.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR_NAME)
    targets = sensor.asset_selection.resolve(graph)
    names = {key.to_user_string() for key in targets}
    assert {part_key(t) for t in load_registry()} <= targets
    assert all(
        n.startswith(("part_", "ext_", "bucketed_")) or n.endswith("_compaction_cr") for n in names
    )
    assert len(targets) <= 500  # Dagster's cap for user-code automation sensors


def test_monitor_job_is_the_part_checks_and_the_report_only():
    from flywheel_assets.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    registry = load_registry()
    job = defs.resolve_job_def(MONITOR_JOB_NAME)
    report = dg.AssetKey(["monitor_report"])
    expected_assets = {report} if graph.has(report) else set()
    assert set(job.asset_layer.selected_asset_keys) == expected_assets  # no table rebuilt
    part_keys = {part_key(t) for t in registry}
    checks = monitor_selection(registry).resolve_checks(graph)
    assert checks == {ck for ck in graph.asset_check_keys if ck.asset_key in part_keys}
