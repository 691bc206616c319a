"""The raw and compacted tables in the catalog (what the four crawlers did), on local
Spark and the Hive metastore: every delivered snapshot a partition, the schema from the
data, a column added upstream added, a column removed kept and logged."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import layout
from flywheel_assets.assets.raw_tables import (
    SchemaEvolutionError,
    compacted_table,
    compacted_table_name,
    delivered_snapshots,
    evolve_schema,
    hive_type,
    raw_table_name,
)
from flywheel_assets.config.settings import SettingsError
from flywheel_assets.ports.catalog import Column
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.registry import SOURCES

A, B, C = "2025-01-15", "2025-02-15", "2025-03-15"
TABLES = "key:compacted/* or key:*_raw_input or key:*_compaction_cr"
RAW = "addressable_raw_input"
COMPACTED = "addressable_ids_compaction_cr"


def reshape_addressable(platform, snapshot: str) -> None:
    """Upstream adds ``Segment`` and stops delivering ``Hashed_Email``."""
    folder = platform.lake.path(
        layout.raw_snapshot_prefix(platform.settings, "addressable_ids", snapshot)
    )
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path).drop_columns(["Hashed_Email"])
        segments = pa.array([f"s{i % 4}" for i in range(table.num_rows)])
        pq.write_table(table.append_column("Segment", segments), path)


def per_snapshot(platform, table: str) -> dict[str, tuple]:
    rows = platform.spark.sql(
        f"SELECT snapshot_dt, COUNT(*) AS n, COUNT(maid) AS maid, "
        f"COUNT(hashed_email) AS email, COUNT(segment) AS segment "
        f"FROM {platform.database}.{table} GROUP BY snapshot_dt"
    ).collect()
    return {r.snapshot_dt: (r.n, r.maid > 0, r.email > 0, r.segment > 0) for r in rows}


def test_names_follow_the_crawlers(local_platform) -> None:
    settings = local_platform().settings
    assert [raw_table_name(settings, s) for s in SOURCES] == [
        "infobase_attributes_raw_input",
        "addressable_raw_input",
    ]
    assert [compacted_table_name(settings, s) for s in SOURCES] == [
        "infobase_attributes_compaction_cr",
        "addressable_ids_compaction_cr",
    ]


def test_tables_list_every_snapshot_and_follow_columns_added_and_removed(
    local_platform, instance
) -> None:
    platform = local_platform()
    settings, catalog, database = platform.settings, platform.catalog, platform.database
    write_sample_snapshot(settings, platform.registry, platform.lake, A, 200)
    assert run_pipeline(platform, instance, A, TABLES, rows=None).exit_code == 0
    write_sample_snapshot(settings, platform.registry, platform.lake, B, 220)
    reshape_addressable(platform, B)
    # a delivery still in progress (no marker yet) is no partition
    write_sample_snapshot(settings, platform.registry, platform.lake, C, 50)
    for source in SOURCES:
        platform.lake.delete_prefix(
            layout.raw_snapshot_prefix(settings, source, C) + settings.snapshot_marker
        )

    second = run_pipeline(platform, instance, B, TABLES, rows=None)

    assert second.exit_code == 0, second.to_json()
    assets = assets_by_key(second)
    for table in (RAW, COMPACTED):
        metadata = assets[table]["metadata"]
        assert metadata["dagster/row_count"] == 221  # snapshot B's rows, duplicates included
        assert metadata["columns_added"] == ["segment"]
        assert metadata["columns_removed_kept"] == ["hashed_email"]
        info = catalog.get_table(database, table)
        assert [c.name for c in info.columns] == [
            "customer_user_id",
            "maid",
            "hashed_email",
            "segment",
        ]
        assert info.partition_keys == (Column("snapshot_dt", "string"),)
        assert sorted(catalog.list_partitions(database, table)) == [A, B]
        # each month reads its own columns; what a month lacks is null, never lost
        assert per_snapshot(platform, table) == {
            A: (201, True, True, False),
            B: (221, True, False, True),
        }
    assert metadata["snapshots"] == [A, B] and metadata["partitions_registered"] == 2
    infobase = catalog.list_partitions(database, "infobase_attributes_raw_input")
    assert sorted(infobase) == [A, B]
    assert (
        infobase[A]
        .rstrip("/")
        .endswith("opus/infobase_attributes/raw_input/snapshot_dt=2025-01-15")
    )
    compacted = catalog.list_partitions(database, COMPACTED)
    assert all("/addressable_ids_compaction_cr/snapshot_dt=" in loc for loc in compacted.values())
    assert all("/build=" in loc for loc in compacted.values())  # the audited build

    # republishing the older month keeps the newer month's columns (nothing is dropped)
    again = run_pipeline(platform, instance, A, f"key:{RAW}", rows=None)
    assert assets_by_key(again)[RAW]["metadata"]["columns_removed_kept"] == ["segment"]
    assert len(catalog.get_table(database, RAW).columns) == 4


def test_a_malformed_snapshot_folder_is_named_and_nothing_is_published(
    local_platform, instance
) -> None:
    platform = local_platform()
    write_sample_snapshot(platform.settings, platform.registry, platform.lake, A, 100)
    bad = platform.settings.raw_prefix("addressable_ids") + "snapshot_dt=2025-13-01/"
    platform.lake.write_text(bad + "part-0.parquet", "not parquet")

    summary = run_pipeline(platform, instance, A, f"key:{RAW}", rows=None)

    assert summary.exit_code == 1
    assert platform.catalog.get_table(platform.database, RAW) is None
    with pytest.raises(ValueError, match="2025-13-01"):
        delivered_snapshots(platform, "addressable_ids")


def test_schema_evolution_rules() -> None:
    current = (Column("customer_user_id", "string"), Column("age", "bigint"))
    change = evolve_schema("t", current, (Column("customer_user_id", "string"),), "D")
    assert change.columns == current and change.removed == ("age",) and change.added == ()
    with pytest.raises(SchemaEvolutionError, match=r"age \(bigint -> string\)"):
        evolve_schema("t", current, (Column("age", "string"),), "D")
    with pytest.raises(SchemaEvolutionError, match="partition key"):
        evolve_schema("t", (), (Column("snapshot_dt", "string"),), "D")


@pytest.mark.parametrize(
    ("arrow", "hive"),
    [
        (pa.int64(), "bigint"),
        (pa.string(), "string"),
        (pa.uint64(), "decimal(20,0)"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.date32(), "date"),
        (pa.list_(pa.int32()), "array<int>"),
        (
            pa.struct([("A", pa.string()), ("b", pa.list_(pa.float64()))]),
            "struct<a:string,b:array<double>>",
        ),
        (pa.map_(pa.string(), pa.int64()), "map<string,bigint>"),
    ],
)
def test_arrow_types_map_to_hive(arrow, hive) -> None:
    assert hive_type(str(arrow)) == hive
    with pytest.raises(ValueError, match="no Hive equivalent"):
        hive_type(str(pa.time64("us")))


def test_compacted_tables_refuse_msck_registration(local_platform) -> None:
    """MSCK REPAIR would register snapshot_dt=D/ itself, every build under it at once."""
    platform = local_platform(partition_registration="msck")
    with pytest.raises(SettingsError, match="partition_registration='msck'"):
        compacted_table(platform, "addressable_ids", A)
