"""Retention and ``part_*_history`` on a local lake with a fake catalog (no Spark).

A deleted snapshot takes its history partitions with it (dropped first); history alone
never keeps a snapshot, but it does keep an older build of a retained month."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.automation.retention import RetentionConfig, plan_retention, retention_job
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.automation.fakes import part_table
from flywheel_assets_tests.automation.test_retention import write_dataset

A, B, C = "2025-01-15", "2025-02-15", "2025-03-15"
BUILD = "20250101T000000Z-aaaaaaaa"
NEWER = "20250301T000000Z-bbbbbbbb"
HISTORY = "part_ibe_01_a_history"


def publish_history(platform: Platform, snapshot: str, prefix: str) -> None:
    location = platform.lake.uri(prefix)
    group = TableDefinition(
        database=platform.database,
        name=HISTORY,
        columns=(Column("customer_user_id", "string"),),
        location=location,
        partition_keys=(Column("snapshot_dt", "string"), Column("id_bucket", "int")),
        partitions={str(b): f"{location}id_bucket={b}/" for b in (0, 1)},
    )
    platform.catalog.publish_partition_group(group, snapshot)


def months(platform: Platform) -> list[str]:
    partitions = platform.catalog.list_partitions(platform.database, HISTORY)
    return sorted({k.split("/")[0] for k in partitions})


def served_history(lake_platform) -> tuple[Platform, dict[str, str]]:
    """Three published months of IBE_01_A, each in history; part_ibe_01_a serves C."""
    platform = lake_platform()
    prefixes = {s: write_dataset(platform, "IBE_01_A", s, build=BUILD) for s in (A, B, C)}
    for snapshot, prefix in prefixes.items():
        publish_history(platform, snapshot, prefix)
    newest = platform.lake.uri(prefixes[C])
    platform.catalog.publish_table(part_table(platform.database, "part_ibe_01_a", newest, C))
    return platform, prefixes


def run_retention(platform: Platform, **config) -> dict:
    result = retention_job.execute_in_process(
        run_config=dg.RunConfig(ops={"enforce_retention": RetentionConfig(**config)}),
        resources={"platform": platform},
    )
    return result.output_for_node("enforce_retention")


def test_a_dry_run_lists_the_history_months_and_drops_nothing(lake_platform):
    platform, prefixes = served_history(lake_platform)

    summary = run_retention(platform, keep=1, dry_run=True)

    assert summary["history"] == [f"{HISTORY}[snapshot_dt={B}]", f"{HISTORY}[snapshot_dt={A}]"]
    assert months(platform) == [A, B, C]
    assert all(platform.lake.list_objects(p, limit=1) for p in prefixes.values())


def test_history_partitions_go_first_then_the_data(lake_platform, monkeypatch):
    platform, prefixes = served_history(lake_platform)
    order: list[tuple[str, str]] = []

    def traced(name: str, call):
        def wrapper(*args):
            order.append((name, args[-1]))
            return call(*args)

        return wrapper

    catalog, lake = platform.catalog, platform.lake
    monkeypatch.setattr(
        catalog, "drop_partition_group", traced("drop", catalog.drop_partition_group)
    )
    monkeypatch.setattr(lake, "delete_prefix", traced("delete", lake.delete_prefix))

    summary = run_retention(platform, keep=1, dry_run=False)

    assert months(platform) == [C]
    assert summary["protected"] == []
    snapshot_dir = {s: p.rsplit("build=", 1)[0] for s, p in prefixes.items()}
    assert order == [  # newest first, each month's history before its data
        ("drop", B),
        ("delete", snapshot_dir[B]),
        ("drop", A),
        ("delete", snapshot_dir[A]),
    ]
    assert platform.lake.list_objects(prefixes[C], limit=1)


def test_history_keeps_an_older_build_it_still_reads(lake_platform):
    platform, prefixes = served_history(lake_platform)
    # A and B rebuilt since; A's rebuild was published again, B's not: B's history still
    # reads the first build, A's reads the rebuild
    rebuilt = {s: write_dataset(platform, "IBE_01_A", s, build=NEWER) for s in (A, B)}
    publish_history(platform, A, rebuilt[A])

    plan = plan_retention(platform, keep=3)

    assert [d.uri for d in plan.delete] == [platform.lake.uri(prefixes[A])]
