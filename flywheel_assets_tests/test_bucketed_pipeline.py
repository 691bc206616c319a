"""Pipeline 1 on the local profile: split_cluster -> ext_* -> bucketed_* (Spark + Hive)."""

from __future__ import annotations

import pytest

from flywheel_assets import layout
from flywheel_assets.ports.sql import SqlPort
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.transforms import GB, target_file_count

# split_cluster/addressable_ids reads the audited compaction (addressable_bucket_input)
BUCKETED = "key:compacted/addressable_ids or key:split_cluster/* or key:ext_* or key:bucketed_*"


@pytest.mark.parametrize(
    ("size", "files"),
    [
        (0, 1),  # empty table: still one file
        (10 * 1024**2, 1),  # tiny table
        (GB // 2, 1),  # half a GB rounds down, floor of 1
        (GB, 2),  # 2 files per GB
        (int(1.6 * GB), 3),
        (128 * GB, 256),  # exactly at the cap
        (129 * GB, 256),  # above: capped
        (10_000 * GB, 256),
    ],
)
def test_file_count_rule_at_its_edges(size, files):
    assert target_file_count(size) == files


def describe(platform, table: str) -> dict[str, str]:
    rows = platform.spark.sql(f"DESCRIBE FORMATTED {platform.database}.{table}").collect()
    return {r.col_name.strip(): (r.data_type or "").strip() for r in rows}


def count(platform, table: str) -> int:
    return platform.sql.query(f"SELECT COUNT(*) AS n FROM {platform.database}.{table}")[0]["n"]


def test_bucketed_tables_have_256_buckets_and_ext_row_counts(local_platform, instance):
    platform = local_platform()
    summary = run_pipeline(platform, instance, "2025-01-15", BUCKETED, rows=500)
    assert summary.exit_code == 0, summary.to_json()
    assets = assets_by_key(summary)
    for table in platform.registry:
        ext_rows = assets[table.ext_table]["metadata"]["dagster/row_count"]
        assert ext_rows == 500 == count(platform, table.ext_table)
        assert assets[table.bucketed_table]["metadata"]["dagster/row_count"] == ext_rows
        assert count(platform, table.bucketed_table) == ext_rows
        info = describe(platform, table.bucketed_table)
        assert info["Num Buckets"] == "256"
        assert info["Bucket Columns"] == "[`customer_user_id`]"
        assert "snapshot_dt=2025-01-15" in info["Comment"]
        assert info["Serde Library"].endswith("ParquetHiveSerDe")
        ext = platform.catalog.get_table(platform.database, table.ext_table)
        assert "snapshot_dt=2025-01-15" in ext.comment
        assert ext.partition_keys == ()
    # the reference's metadata file and layout (addressable ids in their own subfolder)
    marker = layout.snapshot_marker_key(platform.settings, "split_cluster", "addressable_ids")
    assert platform.lake.read_text(marker) == "2025-01-15"
    ids = platform.registry.get("addressable_ids")
    root = layout.dataset_root(platform.settings, "split_cluster", ids)
    assert root.endswith("split_cluster/addressable_ids/addressable_ids/")
    assert assets["split_cluster/addressable_ids"]["metadata"]["files"] == 1


class FailingCtas(SqlPort):
    """Delegates to the real port but fails the CTAS after leaving files behind."""

    def __init__(self, inner: SqlPort, lake) -> None:
        self.inner, self.lake = inner, lake

    def query(self, statement):
        return self.inner.query(statement)

    def execute(self, statement):
        self.inner.execute(statement)

    def bucket_expr(self, column, bucket_count):
        return self.inner.bucket_expr(column, bucket_count)

    def create_bucketed_table_as(self, **kwargs):
        path = kwargs["location"].removeprefix("file://") + "part-00000-partial.parquet"
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"half a file")
        raise RuntimeError("Query exhausted resources at this scale factor")


def test_failed_ctas_leaves_previous_snapshot_in_service(local_platform, instance):
    platform = local_platform()
    one = "key:split_cluster/ibe_01_a or key:ext_ibe_01_a or key:bucketed_ibe_01_a"
    assert run_pipeline(platform, instance, "2025-01-15", one, rows=400).exit_code == 0
    before = platform.catalog.get_table(platform.database, "bucketed_ibe_01_a")

    platform.__dict__["sql"] = FailingCtas(platform.sql, platform.lake)
    # 10% fewer rows from the same keys: within the drift audit's limits, so February
    # passes its audit and ext_* serves it; only the CTAS fails
    failed = run_pipeline(platform, instance, "2025-02-15", one, rows=360)
    assert failed.exit_code == 1
    assert assets_by_key(failed)["bucketed_ibe_01_a"]["status"] == "failed"
    assert assets_by_key(failed)["ext_ibe_01_a"]["status"] == "materialized"
    assert count(platform, "ext_ibe_01_a") == 360

    after = platform.catalog.get_table(platform.database, "bucketed_ibe_01_a")
    assert after.location == before.location
    assert "snapshot_dt=2025-01-15" in after.comment
    assert count(platform, "bucketed_ibe_01_a") == 400
    # no staging table and no partial files left behind
    assert platform.catalog.list_tables(platform.database, "bucketed_ibe_01_a__") == []
    table = platform.registry.get("IBE_01_A")
    feb = layout.bucketed_snapshot_prefix(platform.settings, table, "2025-02-15")
    assert platform.lake.list_objects(feb) == []


def test_filtered_run_touches_only_the_selected_tables(local_platform, instance):
    platform = local_platform()
    selection = "key:split_cluster/ibe_02_a or key:ext_ibe_02_a or key:bucketed_ibe_02_a"
    summary = run_pipeline(platform, instance, "2025-01-15", selection, rows=300)
    assert summary.exit_code == 0
    assert set(assets_by_key(summary)) == {
        "split_cluster/ibe_02_a",
        "ext_ibe_02_a",
        "bucketed_ibe_02_a",
    }
    assert platform.catalog.get_table(platform.database, "ext_ibe_01_a") is None
    assert platform.catalog.get_table(platform.database, "bucketed_addressable_ids") is None
    other = layout.dataset_root(
        platform.settings, "split_cluster", platform.registry.get("IBE_01_A")
    )
    assert platform.lake.list_objects(other) == []


def test_max_cols_is_enforced_with_a_clear_error(local_platform, instance):
    from flywheel_assets.assets.bucketed import MaxColumnsExceeded, ext_table_definition
    from glue_jobs.transforms import Manifest

    platform = local_platform(max_cols="3")
    manifest = Manifest(
        table="IBE_02_A",
        kind="split_cluster",
        snapshot_dt="2025-01-15",
        location="file:///lake/x/",
        row_count=1,
        raw_rows=1,
        duplicates_dropped=0,
        target_files=1,
        columns=[["customer_user_id", "string"], ["a", "string"], ["b", "string"], ["c", "int"]],
    )
    with pytest.raises(MaxColumnsExceeded, match="ext_ibe_02_a: 4 columns exceed MAX_COLS=3"):
        ext_table_definition(platform, platform.registry.get("IBE_02_A"), manifest)
