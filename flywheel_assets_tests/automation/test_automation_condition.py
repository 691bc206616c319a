"""Catalog tables follow their parent dataset only after its blocking checks passed."""

import dagster as dg

from flywheel_assets.automation.conditions import (
    AUTOMATION_SENSOR_NAME,
    EAGER_AFTER_BLOCKING_CHECKS,
    automation_sensor,
)
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS

SNAPSHOT = "2025-01-15"
AUDIT = {"passes": False}
DATASET = dg.AssetKey(["split_part", "ibe_01_a"])
TABLE = dg.AssetKey(["part_ibe_01_a"])


@dg.asset(key=DATASET, partitions_def=SNAPSHOT_PARTITIONS)
def dataset() -> None:
    return None


@dg.asset_check(asset=DATASET, blocking=True, partitions_def=SNAPSHOT_PARTITIONS)
def rows_match() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=AUDIT["passes"])


@dg.asset(key=TABLE, deps=[DATASET], partitions_def=SNAPSHOT_PARTITIONS)
def table() -> None:
    return None


def stand_in_defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[dataset, table], asset_checks=[rows_match], sensors=[automation_sensor()]
    )


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR_NAME)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    data = sensor.evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


def requested(requests: list[dg.RunRequest]) -> set[tuple[dg.AssetKey, str | None]]:
    return {(key, r.partition_key) for r in requests for key in (r.asset_selection or [])}


def materialize_dataset(instance: dg.DagsterInstance, passes: bool) -> None:
    AUDIT["passes"] = passes
    result = dg.materialize(
        [dataset, rows_match, table],
        selection=[DATASET],
        instance=instance,
        partition_key=SNAPSHOT,
        raise_on_error=False,
    )
    assert result.get_asset_check_evaluations()[0].passed is passes


def test_failed_blocking_check_holds_the_table_and_a_pass_releases_it(instance):
    defs = stand_in_defs()
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])
    requests, cursor = tick(defs, instance, None)
    assert requested(requests) == set()  # the dataset is missing: nothing to publish

    materialize_dataset(instance, passes=False)
    requests, cursor = tick(defs, instance, cursor)
    assert requested(requests) == set()  # audit failed: the previous month stays

    materialize_dataset(instance, passes=True)
    requests, cursor = tick(defs, instance, cursor)
    assert requested(requests) == {(TABLE, SNAPSHOT)}


def test_plain_eager_would_not_have_waited(instance):
    """Documents why the blocking-check clause is needed (Dagster 1.13 semantics)."""
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])
    eager_table = table.with_attributes(automation_condition=dg.AutomationCondition.eager())
    defs = dg.Definitions(assets=[dataset, eager_table], asset_checks=[rows_match])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    materialize_dataset(instance, passes=False)

    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)

    assert result.get_requested_partitions(TABLE) == {SNAPSHOT}


def test_the_sensor_targets_catalog_tables_only():
    defs = stand_in_defs()
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR_NAME)
    graph = defs.resolve_asset_graph()
    assert sensor.asset_selection.resolve(graph) == {TABLE}
    assert sensor.default_condition is EAGER_AFTER_BLOCKING_CHECKS
