"""End to end on the local profile: raw snapshot -> split_part -> part_* (Spark + Hive)."""

from __future__ import annotations

import pytest

from flywheel_assets import layout
from flywheel_assets.assets.split import RawSnapshotNotReady
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.transforms import RawInputError

SELECT_PARTITIONED = "key:split_part/* or (key:part_* and not key:*_er)"


def part_rows(platform, table: str) -> list[tuple]:
    return sorted(
        tuple(r) for r in platform.spark.sql(f"SELECT * FROM {platform.database}.{table}").collect()
    )


def test_pipeline_publishes_every_part_table_with_256_partitions(local_platform, instance):
    platform = local_platform()
    summary = run_pipeline(platform, instance, "2025-01-15", SELECT_PARTITIONED, rows=600)
    assert summary.exit_code == 0, summary.to_json()
    assets = assets_by_key(summary)
    raw = write_sample_snapshot  # the sample has 600 distinct rows + 3 exact duplicates
    del raw
    for table in platform.registry:
        meta = assets[f"split_part/{table.slug}"]["metadata"]
        assert meta["dagster/row_count"] == 600
        assert meta["duplicates_dropped"] == 3
        assert meta["files"] == 256  # one file per bucket, every bucket present
        info = platform.catalog.get_table(platform.database, table.part_table)
        assert info.table_type == "EXTERNAL_TABLE"
        assert [c.name for c in info.partition_keys] == ["id_bucket"]
        assert [c.type for c in info.partition_keys] == ["int"]
        assert info.columns[0].name == "customer_user_id"
        assert info.parameters["snapshot_dt"] == "2025-01-15"
        assert "snapshot_dt=2025-01-15" in info.comment
        assert len(platform.catalog.list_partitions(platform.database, table.part_table)) == 256
        count = platform.sql.query(
            f"SELECT COUNT(*) AS n FROM {platform.database}.{table.part_table}"
        )
        assert count[0]["n"] == 600
    # columns are lower-cased (the raw data says Customer_User_id / Ibe01_Attr_01)
    cols = platform.spark.table(f"{platform.database}.part_ibe_01_a").columns
    assert cols == ["customer_user_id", "ibe01_attr_01", "ibe01_attr_02", "id_bucket"]
    marker = layout.snapshot_marker_key(platform.settings, "split_part", "infobase_attributes")
    assert platform.lake.read_text(marker) == "2025-01-15"


def test_rerun_is_idempotent_and_next_snapshot_repoints(local_platform, instance):
    platform = local_platform()
    first = run_pipeline(platform, instance, "2025-01-15", SELECT_PARTITIONED, rows=400)
    assert first.exit_code == 0
    before = part_rows(platform, "part_ibe_02_a")
    again = run_pipeline(platform, instance, "2025-01-15", SELECT_PARTITIONED, rows=400)
    assert again.exit_code == 0
    assert part_rows(platform, "part_ibe_02_a") == before

    # a month later: the same population, 5% fewer rows (within the drift audit's limits)
    nxt = run_pipeline(platform, instance, "2025-02-15", SELECT_PARTITIONED, rows=380)
    assert nxt.exit_code == 0
    info = platform.catalog.get_table(platform.database, "part_ibe_02_a")
    assert "snapshot_dt=2025-02-15" in info.location
    partitions = platform.catalog.list_partitions(platform.database, "part_ibe_02_a")
    assert len(partitions) == 256
    assert all("snapshot_dt=2025-02-15" in loc for loc in partitions.values())
    assert len(part_rows(platform, "part_ibe_02_a")) == 380
    # the January directory is still there (only retention deletes snapshots)
    jan = layout.dataset_snapshot_prefix(
        platform.settings, "split_part", platform.registry.get("IBE_02_A"), "2025-01-15"
    )
    assert platform.lake.list_objects(jan, limit=1)


def test_subset_run_touches_only_selected_tables(local_platform, instance):
    platform = local_platform()
    summary = run_pipeline(
        platform, instance, "2025-01-15", "key:split_part/ibe_01_a or key:part_ibe_01_a"
    )
    assert summary.exit_code == 0
    assert sorted(assets_by_key(summary)) == ["part_ibe_01_a", "split_part/ibe_01_a"]
    assert platform.catalog.get_table(platform.database, "part_ibe_02_a") is None
    other = layout.dataset_root(platform.settings, "split_part", platform.registry.get("IBE_02_A"))
    assert platform.lake.list_objects(other) == []


def test_missing_key_column_fails_with_clear_error(local_platform, instance):
    import pyarrow as pa
    import pyarrow.parquet as pq

    platform = local_platform()
    prefix = layout.raw_snapshot_prefix(platform.settings, "infobase_attributes", "2025-03-15")
    path = platform.lake.path(prefix + "part-0.parquet")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"Some_Id": ["a"], "Ibe01_Attr_01": [1]}), path)
    platform.lake.write_text(prefix + "_SUCCESS", "")
    summary = run_pipeline(platform, instance, "2025-03-15", "key:split_part/ibe_01_a", rows=None)
    assert summary.exit_code == 1
    assert assets_by_key(summary)["split_part/ibe_01_a"]["status"] == "failed"
    with pytest.raises(RawInputError, match="no customer_user_id column"):
        from glue_jobs.registry import TableSpec
        from glue_jobs.transforms import require_columns

        require_columns(
            platform.spark.read.parquet(platform.lake.spark_uri(prefix)).toDF("some_id", "x"),
            [TableSpec("IBE_01_A", "infobase_attributes", ("x",))],
            origin=prefix,
        )


def test_snapshot_without_success_marker_is_not_split(local_platform, instance):
    platform = local_platform()
    write_sample_snapshot(platform.settings, platform.registry, platform.lake, "2025-04-15", 300)
    marker = layout.raw_snapshot_prefix(platform.settings, "infobase_attributes", "2025-04-15")
    platform.lake.delete_prefix(marker + "_SUCCESS")
    from flywheel_assets.assets.split import raw_snapshot_uri

    with pytest.raises(RawSnapshotNotReady, match="_SUCCESS is missing"):
        raw_snapshot_uri(platform, "infobase_attributes", "2025-04-15")
