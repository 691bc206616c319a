"""Retention on a local lake with a fake catalog: keep N, protect what tables read."""

from __future__ import annotations

import dagster as dg
import pytest

from flywheel_assets import layout
from flywheel_assets.automation.retention import (
    RetentionConfig,
    canonical,
    plan_retention,
    retention_job,
)
from flywheel_assets.builds import latest_build
from flywheel_assets.platform import Platform
from flywheel_assets_tests.automation.fakes import part_table
from glue_jobs.transforms import MANIFEST_NAME

SNAPSHOTS = ["2024-11-15", "2024-12-15", "2025-01-15", "2025-02-15", "2025-03-15"]


def write_dataset(
    platform: Platform, slug: str, snapshot: str, manifest: bool = True, build: str | None = None
) -> str:
    """Two bucket files and a manifest, in ``build=<build>/`` (None: the pre-build layout
    directly under ``snapshot_dt=D/``)."""
    table = platform.registry.get(slug)
    prefix = layout.dataset_build_prefix(platform.settings, "split_part", table, snapshot, build)
    for bucket in (0, 1):
        platform.lake.write_text(f"{prefix}id_bucket={bucket}/part-0.parquet", "rows")
    if manifest:
        platform.lake.write_text(prefix + MANIFEST_NAME, "{}")
    return prefix


@pytest.fixture
def retained(lake_platform) -> tuple[Platform, dict[str, str]]:
    """Five snapshots of IBE_01_A; part_ibe_01_a still points at the oldest (rollback)."""
    platform = lake_platform()
    prefixes = {s: write_dataset(platform, "IBE_01_A", s) for s in SNAPSHOTS}
    oldest = platform.lake.uri(prefixes[SNAPSHOTS[0]])
    platform.catalog.publish_table(
        part_table(platform.database, "part_ibe_01_a", oldest, SNAPSHOTS[0])
    )
    return platform, prefixes


def run_retention(platform: Platform, **config) -> dg.ExecuteInProcessResult:
    return retention_job.execute_in_process(
        run_config=dg.RunConfig(ops={"enforce_retention": RetentionConfig(**config)}),
        resources={"platform": platform},
    )


def test_keeps_newest_protects_referenced_and_deletes_the_rest(retained):
    platform, prefixes = retained

    result = run_retention(platform, keep=3, dry_run=False)

    assert result.success
    summary = result.output_for_node("enforce_retention")
    assert summary["dry_run"] is False
    assert summary["delete"] == [platform.lake.uri(prefixes["2024-12-15"])]
    assert [p["dir"] for p in summary["protected"]] == [platform.lake.uri(prefixes["2024-11-15"])]
    assert "part_ibe_01_a" in summary["protected"][0]["referenced_by"]
    assert summary["objects_deleted"] == 3  # two bucket files and the manifest
    assert platform.lake.list_objects(prefixes["2024-12-15"]) == []
    for snapshot in ("2024-11-15", "2025-01-15", "2025-02-15", "2025-03-15"):
        assert platform.lake.list_objects(prefixes[snapshot]), snapshot


def test_dry_run_lists_without_deleting(retained):
    platform, prefixes = retained

    result = run_retention(platform, keep=3, dry_run=True)

    summary = result.output_for_node("enforce_retention")
    assert summary["dry_run"] is True
    assert summary["delete"] == [platform.lake.uri(prefixes["2024-12-15"])]
    assert summary["objects_deleted"] == 0
    assert all(platform.lake.list_objects(p) for p in prefixes.values())
    output = next(
        e for e in result.all_node_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT
    )
    entries = output.event_specific_data.metadata
    assert entries["directories_to_delete"].value == 1
    assert "would delete (dry run)" in entries["plan"].value


def test_profile_default_is_dry_run_on_aws_profiles(lake_platform):
    platform = lake_platform(env="dev")
    prefixes = {s: write_dataset(platform, "IBE_02_A", s) for s in SNAPSHOTS}

    summary = run_retention(platform).output_for_node("enforce_retention")

    assert summary["dry_run"] is True and summary["keep"] == 3
    assert len(summary["delete"]) == 2
    assert all(platform.lake.list_objects(p) for p in prefixes.values())


def test_a_partition_location_alone_protects_its_snapshot(lake_platform):
    platform = lake_platform()
    prefixes = {s: write_dataset(platform, "IBE_01_A", s) for s in SNAPSHOTS}
    table = part_table(
        platform.database, "part_ibe_01_a", platform.lake.uri(prefixes["2025-03-15"]), "x"
    )
    stale_bucket = platform.lake.uri(prefixes["2024-12-15"]) + "id_bucket=1/"
    table.partitions["1"] = stale_bucket  # one partition left behind in an old snapshot
    platform.catalog.publish_table(table)

    plan = plan_retention(platform, keep=3)

    assert [d.snapshot for d, _ in plan.protected] == ["2024-12-15"]
    assert plan.protected[0][1] == ("part_ibe_01_a[id_bucket=1]",)
    assert [d.snapshot for d in plan.delete] == ["2024-11-15"]


def test_incomplete_and_malformed_folders_are_left_alone(lake_platform):
    platform = lake_platform()
    for snapshot in SNAPSHOTS[:4]:
        write_dataset(platform, "IBE_01_A", snapshot)
    write_dataset(platform, "IBE_01_A", SNAPSHOTS[4], manifest=False)  # in progress
    root = layout.dataset_root(platform.settings, "split_part", platform.registry.get("IBE_01_A"))
    platform.lake.write_text(root + "snapshot_dt=old-copy/x.parquet", "x")

    plan = plan_retention(platform, keep=3)

    # the in-progress newest does not count: three complete ones are kept below it
    assert [d.snapshot for d in plan.kept] == SNAPSHOTS[4:0:-1]
    assert [d.snapshot for d in plan.delete] == ["2024-11-15"]
    assert plan.ignored == [
        platform.lake.uri(root + "snapshot_dt=old-copy/") + " (not a snapshot folder)"
    ]


def test_nothing_old_means_the_catalog_is_not_read(lake_platform):
    platform = lake_platform()
    for snapshot in SNAPSHOTS[:3]:
        write_dataset(platform, "IBE_01_A", snapshot)

    plan = plan_retention(platform, keep=3)

    assert plan.delete == [] and plan.protected == []
    assert platform.catalog.reads == 0


def test_superseded_builds_of_a_kept_snapshot_are_deleted(lake_platform):
    """Within a kept snapshot, builds nobody reads go; the served build and the newest
    (in progress, or audited and about to be published) stay."""
    platform = lake_platform()
    for snapshot in SNAPSHOTS[2:4]:
        write_dataset(platform, "IBE_01_A", snapshot)  # kept, pre-build layout
    newest = SNAPSHOTS[4]
    failed, served, rebuilt, latest = (
        "20250315T010000Z-run1",  # e.g. its audit failed
        "20250315T020000Z-run2",  # the build part_ibe_01_a serves
        "20250316T010000Z-run3",  # a rebuild that was never published
        "20250317T010000Z-run4",  # the newest: not yet published
    )
    builds = {
        b: write_dataset(platform, "IBE_01_A", newest, build=b)
        for b in (failed, served, rebuilt, latest)
    }
    uri = platform.lake.uri
    platform.catalog.publish_table(
        part_table(platform.database, "part_ibe_01_a", uri(builds[served]), newest)
    )

    plan = plan_retention(platform, keep=3)

    assert [d.snapshot for d in plan.kept] == SNAPSHOTS[4:1:-1]
    assert plan.protected == []
    assert [(d.dataset, d.snapshot, d.uri) for d in plan.delete] == [
        ("split_part/IBE_01_A", newest, uri(builds[failed])),
        ("split_part/IBE_01_A", newest, uri(builds[rebuilt])),
    ]

    summary = run_retention(platform, keep=3, dry_run=False).output_for_node("enforce_retention")

    assert summary["delete"] == [uri(builds[failed]), uri(builds[rebuilt])]
    assert summary["objects_deleted"] == 6  # per build: two bucket files and the manifest
    for build in (failed, rebuilt):
        assert platform.lake.list_objects(builds[build]) == [], build
    for build in (served, latest):
        assert len(platform.lake.list_objects(builds[build])) == 3, build
    table = platform.registry.get("IBE_01_A")
    assert latest_build(platform.lake, platform.settings, "split_part", table, newest) == latest
    for snapshot in SNAPSHOTS[2:4]:
        prefix = layout.dataset_snapshot_prefix(platform.settings, "split_part", table, snapshot)
        assert platform.lake.list_objects(prefix), snapshot


def test_the_only_build_of_a_snapshot_is_never_superseded(lake_platform):
    """A single build (even unpublished) is the newest: nothing to delete, and the catalog
    is not read for it."""
    platform = lake_platform()
    for snapshot in SNAPSHOTS[2:]:
        write_dataset(
            platform, "IBE_01_A", snapshot, build=f"{snapshot.replace('-', '')}T000000Z-x"
        )

    plan = plan_retention(platform, keep=3)

    assert plan.delete == [] and plan.protected == []
    assert platform.catalog.reads == 0


def test_keep_must_be_positive(lake_platform):
    with pytest.raises(ValueError, match="keep at least"):
        plan_retention(lake_platform(), keep=0)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:/data/lake/x/snapshot_dt=2025-01-15", "file:///data/lake/x/snapshot_dt=2025-01-15/"),
        ("file:///data/lake/x/", "file:///data/lake/x/"),
        ("s3a://bucket/key/snapshot_dt=2025-01-15/", "s3://bucket/key/snapshot_dt=2025-01-15/"),
        ("s3://bucket/key", "s3://bucket/key/"),
    ],
)
def test_locations_are_compared_in_one_spelling(location, expected):
    assert canonical(location) == expected


def test_a_snapshot_prefix_does_not_match_a_longer_sibling():
    directory = canonical("s3://b/t/snapshot_dt=2025-01-1/")
    assert not canonical("s3://b/t/snapshot_dt=2025-01-15/id_bucket=0").startswith(directory)
