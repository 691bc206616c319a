"""The raw-snapshot sensor over a local lake: arrival rules, cursor, bounded listing."""

from __future__ import annotations

import json
import os
import time

import dagster as dg
import pytest

from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.automation import BUILD_JOB_NAME
from flywheel_assets.automation.raw_sensor import (
    RAW_SENSOR_NAME,
    SNAPSHOT_TAG,
    SensorCursor,
    plan_tick,
)
from flywheel_assets.definitions import build_definitions
from flywheel_assets.keys import part_key, split_cluster_key, split_part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform

INFOBASE = "infobase_attributes"
ADDRESSABLE = "addressable_ids"
A, B, C, D = "2025-01-15", "2025-02-15", "2025-03-15", "2025-04-15"


def put_snapshot(
    platform: Platform, source: str, snapshot: str, marker: bool = True, folder: str = ""
) -> str:
    """A raw snapshot folder with one data file (and the marker unless told not to)."""
    prefix = platform.settings.raw_prefix(source) + (folder or f"snapshot_dt={snapshot}/")
    platform.lake.write_text(prefix + "part-00000.parquet", "data")
    if marker:
        platform.lake.write_text(prefix + platform.settings.snapshot_marker, "")
    return prefix


def defs_for(platform: Platform) -> dg.Definitions:
    """The code location's real definitions around this platform."""
    return build_definitions(platform.settings, platform.registry, platform)


def tick(platform: Platform, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    defs = defs_for(platform)
    sensor = defs.resolve_sensor_def(RAW_SENSOR_NAME)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"platform": platform}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def added_partitions(result: dg.SensorResult) -> list[str]:
    return [k for r in result.dynamic_partitions_requests or [] for k in r.partition_keys]


@pytest.fixture
def mixed_lake(lake_platform) -> Platform:
    """A complete; B without marker in one source; C in one source only; junk folders."""
    platform = lake_platform()
    for source in (INFOBASE, ADDRESSABLE):
        put_snapshot(platform, source, A)
    put_snapshot(platform, INFOBASE, B)
    put_snapshot(platform, ADDRESSABLE, B, marker=False)
    put_snapshot(platform, INFOBASE, C)
    put_snapshot(platform, INFOBASE, "", folder="snapshot_dt=2025-13-01/")  # not a date
    put_snapshot(platform, ADDRESSABLE, "", folder="snapshot_dt=latest/")
    put_snapshot(platform, ADDRESSABLE, "", folder="_tmp/")
    return platform


def test_first_tick_launches_complete_snapshot_and_waits_for_the_rest(mixed_lake, instance):
    result = tick(mixed_lake, instance, None)

    assert [(r.run_key, r.partition_key) for r in result.run_requests] == [(A, A)]
    request = result.run_requests[0]
    assert request.asset_selection is None  # the whole snapshot_build job
    assert request.tags[SNAPSHOT_TAG] == A
    assert added_partitions(result) == [A]
    cursor = json.loads(result.cursor)
    assert cursor["last"] == A
    assert cursor["pending"] == [B, C]  # B lacks a marker, C lacks a source
    assert cursor["invalid"] == [
        f"{ADDRESSABLE}/_tmp/",
        f"{ADDRESSABLE}/snapshot_dt=latest/",
        f"{INFOBASE}/snapshot_dt=2025-13-01/",
    ]


def test_malformed_folders_are_warned_about_once(mixed_lake):
    first = plan_tick(mixed_lake.lake, mixed_lake.settings, None)
    warned = [m for m in first.messages if "not a snapshot_dt=YYYY-MM-DD folder" in m]
    assert len(warned) == 3
    assert any("snapshot_dt=2025-13-01/" in m for m in warned)
    again = plan_tick(mixed_lake.lake, mixed_lake.settings, first.cursor)
    assert not [m for m in again.messages if "not a snapshot_dt" in m]


def test_second_tick_with_nothing_new_requests_nothing_and_keeps_the_cursor(mixed_lake, instance):
    first = tick(mixed_lake, instance, None)
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, added_partitions(first))

    second = tick(mixed_lake, instance, first.cursor)

    assert second.run_requests == []
    assert added_partitions(second) == []
    assert second.cursor == first.cursor
    assert second.skip_reason is not None


def test_marker_and_second_source_release_waiting_snapshots(mixed_lake, instance):
    first = tick(mixed_lake, instance, None)
    mixed_lake.lake.write_text(
        mixed_lake.settings.raw_prefix(ADDRESSABLE) + f"snapshot_dt={B}/_SUCCESS", ""
    )
    second = tick(mixed_lake, instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [B]
    assert json.loads(second.cursor)["pending"] == [C]

    put_snapshot(mixed_lake, ADDRESSABLE, C)
    third = tick(mixed_lake, instance, second.cursor)
    assert [r.run_key for r in third.run_requests] == [C]
    assert added_partitions(third) == [C]
    cursor = json.loads(third.cursor)
    assert (cursor["last"], cursor["pending"], cursor["partial"]) == (C, [], {})


def test_a_newer_complete_snapshot_supersedes_a_waiting_older_one(mixed_lake):
    first = plan_tick(mixed_lake.lake, mixed_lake.settings, None)
    put_snapshot(mixed_lake, ADDRESSABLE, C)  # C completes while B still lacks a marker

    plan = plan_tick(mixed_lake.lake, mixed_lake.settings, first.cursor)

    assert [launch.snapshot for launch in plan.launches] == [C]
    assert plan.cursor.last == C and plan.cursor.pending == ()
    assert any(f"snapshot {B} was still incomplete" in m for m in plan.messages)


def test_only_the_newest_complete_snapshot_runs_on_the_first_tick(lake_platform, instance):
    platform = lake_platform()
    for snapshot in (A, B, C):
        for source in (INFOBASE, ADDRESSABLE):
            put_snapshot(platform, source, snapshot)
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [A])  # e.g. built by hand

    result = tick(platform, instance, None)

    assert [r.partition_key for r in result.run_requests] == [C]
    assert added_partitions(result) == [B, C]  # A exists already; B is rebuildable later
    # once something was launched, every new snapshot is built, in date order
    for snapshot in (D, "2025-05-15"):
        put_snapshot(platform, INFOBASE, snapshot)
        put_snapshot(platform, ADDRESSABLE, snapshot)
    later = tick(platform, instance, result.cursor)
    assert [r.partition_key for r in later.run_requests] == [D, "2025-05-15"]


def test_bootstrap_also_applies_after_ticks_that_found_nothing(lake_platform):
    platform = lake_platform()
    empty = plan_tick(platform.lake, platform.settings, None)
    assert empty.launches == [] and empty.cursor.last is None
    for snapshot in (A, B):
        for source in (INFOBASE, ADDRESSABLE):
            put_snapshot(platform, source, snapshot)

    plan = plan_tick(platform.lake, platform.settings, empty.cursor)

    assert [launch.snapshot for launch in plan.launches] == [B]
    assert plan.register == [A, B]


def test_sources_are_built_separately_when_not_all_are_required(lake_platform, instance):
    platform = lake_platform(require_all_sources="false")
    put_snapshot(platform, INFOBASE, A)

    first = tick(platform, instance, None)

    assert [r.run_key for r in first.run_requests] == [f"{A}:{INFOBASE}"]
    selected = set(first.run_requests[0].asset_selection)
    ibe = platform.registry.get("IBE_01_A")
    addressable = platform.registry.get("addressable_ids")
    assert {split_part_key(ibe), split_cluster_key(ibe)} <= selected
    assert not {split_part_key(addressable), split_cluster_key(addressable)} & selected
    assert part_key(ibe) not in selected  # published by automation once audited
    assert json.loads(first.cursor)["partial"] == {A: [INFOBASE]}

    put_snapshot(platform, ADDRESSABLE, A)
    second = tick(platform, instance, first.cursor)
    assert [r.run_key for r in second.run_requests] == [f"{A}:{ADDRESSABLE}"]
    assert split_part_key(addressable) in set(second.run_requests[0].asset_selection)
    assert split_part_key(ibe) not in set(second.run_requests[0].asset_selection)
    assert json.loads(second.cursor)["partial"] == {}


def test_quiet_period_counts_a_snapshot_without_marker_once_nothing_changed(lake_platform):
    platform = lake_platform(snapshot_quiet_seconds="600")
    for source in (INFOBASE, ADDRESSABLE):
        old = put_snapshot(platform, source, A, marker=False)
        path = platform.lake.path(old + "part-00000.parquet")
        stamp = time.time() - 3600
        os.utime(path, (stamp, stamp))
        put_snapshot(platform, source, B, marker=False)  # written just now

    plan = plan_tick(platform.lake, platform.settings, None)

    assert [launch.snapshot for launch in plan.launches] == [A]
    assert plan.cursor.pending == (B,)
    # a marker still counts at once in quiet mode
    platform.lake.write_text(
        platform.settings.raw_prefix(INFOBASE) + f"snapshot_dt={B}/_SUCCESS", ""
    )
    platform.lake.write_text(
        platform.settings.raw_prefix(ADDRESSABLE) + f"snapshot_dt={B}/_SUCCESS", ""
    )
    assert [
        x.snapshot for x in plan_tick(platform.lake, platform.settings, plan.cursor).launches
    ] == [B]


def test_quiet_period_needs_a_lake_that_reports_modification_times(lake_platform):
    platform = lake_platform(snapshot_quiet_seconds="60")

    class NoTimes(LocalLake):
        newest_modified = None  # type: ignore[assignment]

    put_snapshot(platform, INFOBASE, A, marker=False)
    put_snapshot(platform, ADDRESSABLE, A, marker=False)
    lake = NoTimes(platform.settings.lake_root)
    with pytest.raises(TypeError, match="newest_modified"):
        plan_tick(lake, platform.settings, None)


class CountingLake(LocalLake):
    """Counts every lake call a tick makes."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def list_folders(self, prefix: str) -> list[str]:
        self.calls.append(("list_folders", prefix))
        return super().list_folders(prefix)

    def list_objects(self, prefix: str, limit: int | None = None):
        self.calls.append(("list_objects", prefix))
        return super().list_objects(prefix, limit)

    def exists(self, key: str) -> bool:
        self.calls.append(("exists", key))
        return super().exists(key)


def test_a_tick_lists_each_root_once_and_probes_only_new_folders(lake_platform):
    platform = lake_platform()
    dates = [
        f"{year}-{month:02d}-15" for year in (2021, 2022, 2023, 2024) for month in range(1, 13)
    ]
    for snapshot in dates:
        for source in (INFOBASE, ADDRESSABLE):
            put_snapshot(platform, source, snapshot)
    lake = CountingLake(platform.settings.lake_root)
    first = plan_tick(lake, platform.settings, None)
    assert [launch.snapshot for launch in first.launches] == [dates[-1]]

    lake.calls.clear()
    put_snapshot(platform, INFOBASE, A)
    put_snapshot(platform, ADDRESSABLE, A, marker=False)
    plan = plan_tick(lake, platform.settings, first.cursor)

    assert plan.launches == [] and plan.cursor.pending == (A,)
    assert [c for c in lake.calls if c[0] == "list_folders"] == [
        ("list_folders", platform.settings.raw_infobase_prefix),
        ("list_folders", platform.settings.raw_addressable_prefix),
    ]
    assert not [c for c in lake.calls if c[0] == "list_objects"]  # no walk of any folder
    probed = {c[1] for c in lake.calls if c[0] == "exists"}
    assert probed == {
        platform.settings.raw_prefix(s) + f"snapshot_dt={A}/_SUCCESS"
        for s in (INFOBASE, ADDRESSABLE)
    }


def test_cursor_round_trips():
    cursor = SensorCursor(last=A, pending=(B,), partial={C: (INFOBASE,)}, invalid=("x/",))
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    assert SensorCursor.from_json(None) is None


def test_the_sensor_targets_the_write_and_audit_job(lake_platform):
    """The sensor writes and audits; publishing follows only where audits passed
    (automation), so a blocked table is never planned in the sensor's run."""
    defs = defs_for(lake_platform())
    sensor = defs.resolve_sensor_def(RAW_SENSOR_NAME)
    assert sensor.job_name == BUILD_JOB_NAME
    job = defs.resolve_job_def(BUILD_JOB_NAME)
    selected = job.asset_layer.selected_asset_keys
    datasets = ("split_part", "split_cluster", "compacted")  # and the raw snapshots' tables
    assert selected and all(
        k.path[0] in datasets or k.path[0].endswith("_raw_input") for k in selected
    )
