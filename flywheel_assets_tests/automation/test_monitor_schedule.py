"""The monitor schedule: checks only, on the snapshot in service."""

import datetime as dt

import dagster as dg

from flywheel_assets.automation.defs import monitor_job
from flywheel_assets.automation.monitor_schedule import (
    MONITOR_JOB_NAME,
    MONITOR_SCHEDULE_NAME,
    PARTITION_TAG,
    SOURCE_TAG,
    build_monitor_schedule,
)
from flywheel_assets.automation.selection import MONITOR_REPORT_KEY
from flywheel_assets.keys import part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets_tests.automation.fakes import part_table
from glue_jobs.registry import Registry

TICK = dt.datetime(2025, 3, 20, 6, 0, tzinfo=dt.UTC)


def evaluate(platform: Platform, instance: dg.DagsterInstance):
    schedule = build_monitor_schedule(
        monitor_job(platform.registry), platform.registry, "0 6 * * *"
    )
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, resources={"platform": platform}
    )
    return schedule(context)


def test_aws_profiles_monitor_what_the_catalog_serves(lake_platform, instance):
    platform = lake_platform(env="dev")
    tables = [t.part_table for t in platform.registry]
    for name, snapshot in zip(tables, ["2025-02-15", "2025-02-15", "2025-03-15"], strict=True):
        platform.catalog.publish_table(
            part_table(platform.database, name, f"s3://b/{name}/snapshot_dt={snapshot}/", snapshot)
        )

    request = evaluate(platform, instance)

    assert isinstance(request, dg.RunRequest)
    assert request.tags[PARTITION_TAG] == "2025-02-15"  # two tables of three
    assert request.tags[SOURCE_TAG] == "catalog"
    assert request.run_key == f"2025-02-15@{TICK.isoformat()}"
    # the partition is registered so the run's checks can resolve it
    assert instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, "2025-02-15")


def test_local_profile_follows_the_latest_materialization_including_a_rollback(
    lake_platform, instance
):
    platform = lake_platform()
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, ["2025-01-15", "2025-02-15"])
    for snapshot in ("2025-01-15", "2025-02-15", "2025-01-15"):  # A, B, rollback to A
        for table in platform.registry:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(part_key(table), partition=snapshot)
            )

    request = evaluate(platform, instance)

    assert request.tags[PARTITION_TAG] == "2025-01-15"
    assert request.tags[SOURCE_TAG] == "dagster"
    assert platform.catalog.reads == 0  # no JVM next to a running pipeline


def test_nothing_in_service_skips(lake_platform, instance):
    result = evaluate(lake_platform(), instance)
    assert isinstance(result, dg.SkipReason)
    assert "no part_* table" in result.skip_message


def monitor_defs(registry: Registry, with_report: bool) -> dg.Definitions:
    """Stand-ins: every part_* table with a partitioned check, and maybe a report."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(part_key(t), partitions_def=SNAPSHOT_PARTITIONS, skippable=True)
            for t in registry
        ],
        partitions_def=SNAPSHOT_PARTITIONS,
    )
    def tables():
        raise AssertionError("the monitor must not rebuild tables")

    def pk_unique(key: dg.AssetKey) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=key, name="pk_unique", partitions_def=SNAPSHOT_PARTITIONS)
        def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            return dg.AssetCheckResult(passed=True, metadata={"partition": context.partition_key})

        return _check

    assets = [tables]
    if with_report:

        @dg.asset(key=MONITOR_REPORT_KEY, deps=[part_key(t) for t in registry])
        def monitor_report() -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"ok": True})

        assets.append(monitor_report)
    return dg.Definitions(
        assets=assets,
        asset_checks=[pk_unique(part_key(t)) for t in registry],
        jobs=[monitor_job(registry)],
    )


def test_monitor_job_runs_only_checks_and_the_report_for_the_tagged_partition(
    small_registry, instance
):
    defs = monitor_defs(small_registry, with_report=True)
    job = defs.resolve_job_def(MONITOR_JOB_NAME)
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, ["2025-02-15"])

    result = job.execute_in_process(instance=instance, tags={PARTITION_TAG: "2025-02-15"})

    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert sorted(e.asset_key for e in evaluations) == sorted(part_key(t) for t in small_registry)
    assert {e.partition for e in evaluations} == {"2025-02-15"}
    assert {e.metadata["partition"].value for e in evaluations} == {"2025-02-15"}
    materialized = [e.asset_key for e in result.get_asset_materialization_events()]
    assert materialized == [MONITOR_REPORT_KEY]  # no part_* table was rebuilt


def test_monitor_job_resolves_without_a_report_asset(small_registry):
    defs = monitor_defs(small_registry, with_report=False)
    job = defs.resolve_job_def(MONITOR_JOB_NAME)
    assert job.asset_layer.selected_asset_keys == set()


def test_schedule_uses_the_profile_cron(lake_platform):
    platform = lake_platform(monitor_cron="30 5 * * 1")
    schedule = build_monitor_schedule(
        monitor_job(platform.registry), platform.registry, platform.settings.monitor_cron
    )
    assert schedule.name == MONITOR_SCHEDULE_NAME
    assert schedule.cron_schedule == "30 5 * * 1"
    assert schedule.job_name == MONITOR_JOB_NAME
