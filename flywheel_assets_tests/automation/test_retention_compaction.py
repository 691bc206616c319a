"""Retention of ``compacted/<source>``: superseded builds go like any dataset's; a
snapshot the ``*_compaction_cr`` table lists stays (the table keeps every month)."""

from __future__ import annotations

from flywheel_assets import layout
from flywheel_assets.automation.retention import plan_retention
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from glue_jobs.transforms import MANIFEST_NAME

SNAPSHOTS = ["2024-11-15", "2024-12-15", "2025-01-15", "2025-02-15", "2025-03-15"]
SOURCE = "addressable_ids"


def write_build(platform: Platform, snapshot: str, build: str) -> str:
    prefix = layout.compaction_build_prefix(platform.settings, SOURCE, snapshot, build)
    platform.lake.write_text(prefix + "part-00000.parquet", "rows")
    platform.lake.write_text(prefix + MANIFEST_NAME, "{}")
    return platform.lake.uri(prefix)


def test_superseded_compaction_builds_go_and_listed_months_stay(lake_platform) -> None:
    platform = lake_platform()
    served = {s: write_build(platform, s, f"{s.replace('-', '')}T000000Z-run1") for s in SNAPSHOTS}
    newest = SNAPSHOTS[-1]
    rebuilt = write_build(platform, newest, "20250316T000000Z-run2")  # audited, never published
    latest = write_build(platform, newest, "20250317T000000Z-run3")  # newest: may be in progress
    platform.catalog.publish_table(
        TableDefinition(
            database=platform.database,
            name="addressable_ids_compaction_cr",
            columns=(Column("customer_user_id", "string"),),
            location=platform.lake.uri(layout.compaction_root(platform.settings, SOURCE)),
            partition_keys=(Column("snapshot_dt", "string"),),
            partitions=served,
        )
    )

    plan = plan_retention(platform, keep=3)

    mine = "compacted/addressable_ids"
    assert [d.uri for d in plan.delete if d.dataset == mine] == [rebuilt]
    assert [d.snapshot for d in plan.kept if d.dataset == mine] == SNAPSHOTS[:1:-1]
    protected = {d.snapshot: tables for d, tables in plan.protected if d.dataset == mine}
    assert protected == {
        s: (f"addressable_ids_compaction_cr[snapshot_dt={s}]",) for s in SNAPSHOTS[:2]
    }
    assert latest not in {d.uri for d in plan.delete}
