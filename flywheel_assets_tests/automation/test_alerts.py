"""Failure alerts: one message per failed run and per failed ERROR check, with links."""

import json

import dagster as dg
import pytest

from flywheel_assets.automation.alerts import (
    WEBSERVER_URL_ENV,
    build_check_failure_sensor,
    build_run_failure_sensor,
)
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets_tests.automation.fakes import RecordingAlerts

UI = "https://dagster.example.internal"


@pytest.fixture(autouse=True)
def webserver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEBSERVER_URL_ENV, UI + "/")


@dg.op
def split_raw() -> int:
    raise RuntimeError("raw snapshot 2025-01-15 holds no parquet files")


@dg.job(name="snapshot_pipeline_stand_in")
def failing_job() -> None:
    split_raw()


def test_a_failed_run_sends_one_alert_with_ids_and_link(lake_platform, instance):
    platform = lake_platform()
    result = failing_job.execute_in_process(
        instance=instance, raise_on_error=False, tags={"dagster/partition": "2025-01-15"}
    )
    assert not result.success
    sensor = build_run_failure_sensor()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"platform": platform},
    ).for_run_failure()

    sensor(context)

    alerts: RecordingAlerts = platform.alerts
    assert len(alerts.sent) == 1
    subject, body = alerts.sent[0]
    assert subject == "[FLYWHEEL] run failed: snapshot_pipeline_stand_in (2025-01-15)"
    assert f"run id: {result.run_id}" in body
    assert "job: snapshot_pipeline_stand_in" in body
    assert "failed step: split_raw" in body
    assert "raw snapshot 2025-01-15 holds no parquet files" in body
    assert f"link: {UI}/runs/{result.run_id}" in body


@dg.asset(partitions_def=SNAPSHOT_PARTITIONS)
def part_ibe_01_a() -> int:
    return 1


@dg.asset_check(asset=part_ibe_01_a, partitions_def=SNAPSHOT_PARTITIONS)
def pk_dupes() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="2 duplicate ids", metadata={"dupes": 2})


@dg.asset_check(asset=part_ibe_01_a, partitions_def=SNAPSHOT_PARTITIONS)
def file_sizes() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=part_ibe_01_a, partitions_def=SNAPSHOT_PARTITIONS)
def pk_nulls() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(partitions_def=SNAPSHOT_PARTITIONS, deps=[part_ibe_01_a])
def broken_downstream() -> None:
    raise RuntimeError("fails the run")


def materialize(instance: dg.DagsterInstance, snapshot: str) -> dg.ExecuteInProcessResult:
    if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, snapshot):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
    return dg.materialize(
        [part_ibe_01_a, pk_dupes, file_sizes, pk_nulls],
        instance=instance,
        partition_key=snapshot,
        raise_on_error=False,
    )


def check_tick(platform, instance, cursor):
    sensor = build_check_failure_sensor()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"platform": platform}
    )
    return sensor(context)


def test_failed_error_checks_alert_once_each_and_history_is_not_replayed(lake_platform, instance):
    platform = lake_platform()
    alerts: RecordingAlerts = platform.alerts
    materialize(instance, "2025-01-15")  # before the sensor existed

    first = check_tick(platform, instance, None)
    assert alerts.sent == []
    assert json.loads(first.cursor)["PIPELINE_SUCCESS"] is not None  # starts after history

    run = materialize(instance, "2025-02-15")
    second = check_tick(platform, instance, first.cursor)

    assert len(alerts.sent) == 1  # the WARN failure and the passing check send nothing
    subject, body = alerts.sent[0]
    assert subject == "[FLYWHEEL] check failed: part_ibe_01_a:pk_dupes (2025-02-15)"
    for line in (
        "asset: part_ibe_01_a",
        "check: pk_dupes",
        "partition: 2025-02-15",
        f"run id: {run.run_id}",
        "step: part_ibe_01_a_pk_dupes",
        f"run link: {UI}/runs/{run.run_id}",
        f"check link: {UI}/assets/part_ibe_01_a?view=checks",
        "description: 2 duplicate ids",
        "  dupes: 2",
    ):
        assert line in body, line
    assert second.cursor != first.cursor

    third = check_tick(platform, instance, second.cursor)
    assert len(alerts.sent) == 1
    assert third.cursor == second.cursor


def test_checks_of_failed_runs_are_alerted_too(lake_platform, instance):
    platform = lake_platform()
    start = check_tick(platform, instance, None).cursor
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, ["2025-01-15"])
    result = dg.materialize(
        [part_ibe_01_a, pk_dupes, broken_downstream],
        instance=instance,
        partition_key="2025-01-15",
        raise_on_error=False,
    )
    assert not result.success

    check_tick(platform, instance, start)

    assert [s for s, _ in platform.alerts.sent] == [
        "[FLYWHEEL] check failed: part_ibe_01_a:pk_dupes (2025-01-15)"
    ]


def test_an_unsent_alert_is_retried_on_the_next_tick(lake_platform, instance):
    platform = lake_platform()
    alerts: RecordingAlerts = platform.alerts
    start = check_tick(platform, instance, None).cursor
    materialize(instance, "2025-01-15")
    materialize(instance, "2025-02-15")

    alerts.fail_after = 1  # the second run's alert cannot be sent
    partial = check_tick(platform, instance, start)
    assert [s for s, _ in alerts.sent] == [
        "[FLYWHEEL] check failed: part_ibe_01_a:pk_dupes (2025-01-15)"
    ]

    alerts.fail_after = None
    check_tick(platform, instance, partial.cursor)
    assert [s.rsplit(" ", 1)[-1] for s, _ in alerts.sent] == ["(2025-01-15)", "(2025-02-15)"]
