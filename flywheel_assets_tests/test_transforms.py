"""The split transform on a hand-made raw frame: per-table de-duplication and layout."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from glue_jobs.bucketing import id_bucket
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import (
    RawInputError,
    WriteStats,
    prepare_raw,
    table_frame,
    write_table,
)

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

A = TableSpec("T_A", "infobase_attributes", ("a1", "a2"))
B = TableSpec("T_B", "infobase_attributes", ("b1",))
BUCKETS = 16

# (Customer_User_id, A1, A2, B1): k1 twice exactly; k2 agrees in A's columns but not in
# B's; k3 conflicts in A's columns; a null key twice exactly.
ROWS = [
    ("k1", 1, "x", 10),
    ("k1", 1, "x", 10),
    ("k2", 2, "y", 20),
    ("k2", 2, "y", 21),
    ("k3", 3, "z", 30),
    ("k3", 4, "z", 30),
    (None, 5, "n", 50),
    (None, 5, "n", 50),
    ("k4", 6, None, None),
]


@pytest.fixture
def raw(spark, tmp_path):
    uri = (tmp_path / "raw").as_uri()
    schema = "Customer_User_id string, A1 long, A2 string, B1 long"
    spark.createDataFrame(ROWS, schema).coalesce(2).write.parquet(uri)
    return prepare_raw(spark.read.parquet(uri), [A, B], origin="test")


def rows_of(spark, uri: str) -> list[tuple]:
    return sorted(
        (tuple(r) for r in spark.read.parquet(uri).collect()), key=lambda r: tuple(map(str, r))
    )


def test_each_table_drops_its_own_exact_duplicates_and_keeps_conflicts(spark, raw, tmp_path):
    a_uri, b_uri = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    stats_a = write_table(table_frame(raw, A, "split_part", BUCKETS, 1), "split_part", a_uri, 1)
    stats_b = write_table(table_frame(raw, B, "split_part", BUCKETS, 1), "split_part", b_uri, 1)
    kept_a, kept_b = stats_a.rows, stats_b.rows
    # A: k1 and k2 collapse (identical in A's columns), k3 keeps both versions, null twice -> once
    assert kept_a == 6
    # B: k2 differs in b1 so both stay; k3 is identical in B's columns
    assert kept_b == 6
    # null rows per written column, counted in the same pass (id_bucket is the layout's)
    assert stats_a.column_nulls == {"customer_user_id": 1, "a1": 0, "a2": 1}
    assert stats_b.column_nulls == {"customer_user_id": 1, "b1": 1}
    a_rows = rows_of(spark, a_uri)
    assert len(a_rows) == kept_a
    assert sorted(r[0] or "" for r in a_rows) == ["", "k1", "k2", "k3", "k3", "k4"]
    assert [r for r in a_rows if r[0] == "k3"] == [
        ("k3", 3, "z", id_bucket("k3", BUCKETS)),
        ("k3", 4, "z", id_bucket("k3", BUCKETS)),
    ]
    b_rows = rows_of(spark, b_uri)
    assert sorted(r[1] for r in b_rows if r[0] == "k2") == [20, 21]
    assert [r for r in b_rows if r[0] is None] == [(None, 50, id_bucket(None, BUCKETS))]
    # one directory per bucket present, one file in each
    for path in (tmp_path / "a").glob("id_bucket=*"):
        assert len(list(path.glob("*.parquet"))) == 1


def test_split_part_frame_reads_only_its_columns_with_one_shuffle(raw):
    frame = table_frame(raw, A, "split_part", BUCKETS, 1)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1, plan
    read = [line for line in plan.splitlines() if "FileScan parquet" in line]
    assert (
        len(read) == 1
        and "ReadSchema: struct<Customer_User_id:string,A1:bigint,A2:string>" in read[0]
    )
    assert frame.columns == ["customer_user_id", "a1", "a2", "id_bucket"]


def test_split_cluster_frame_dedups_in_the_key_partitions(spark, raw, tmp_path):
    uri = (tmp_path / "c").as_uri()
    frame = table_frame(raw, A, "split_cluster", BUCKETS, 3)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1, plan
    stats = write_table(frame, "split_cluster", uri, 3)
    assert stats == WriteStats(rows=6, column_nulls={"customer_user_id": 1, "a1": 0, "a2": 1})
    assert len(list((tmp_path / "c").glob("*.parquet"))) <= 3
    written = spark.read.parquet(uri)
    assert written.columns == ["customer_user_id", "a1", "a2"]
    assert written.count() == 6
    # the key column is written without a dictionary, even where keys repeat (k3 twice)
    for path in (tmp_path / "c").glob("*.parquet"):
        key = pq.ParquetFile(path).metadata.row_group(0).column(0)
        assert key.path_in_schema == "customer_user_id"
        assert not any("DICTIONARY" in e for e in key.encodings), key.encodings


def test_missing_table_column_is_a_clear_error(spark):
    frame = spark.createDataFrame([("k1", 1)], "Customer_User_id string, A1 long")
    with pytest.raises(RawInputError, match="T_A: a2"):
        prepare_raw(frame, [A], origin="test")


def test_write_counts_empty_and_blank_keys_as_missing(spark, tmp_path):
    """An empty or all-space key joins nothing, so it counts as a missing key; in other
    columns only NULL is null."""
    c = TableSpec("T_C", "infobase_attributes", ("c1",))
    rows = [("k1", "x"), ("", "y"), ("  ", ""), (None, None)]
    raw = spark.createDataFrame(rows, "Customer_User_id string, C1 string")
    frame = table_frame(prepare_raw(raw, [c], origin="test"), c, "split_cluster", BUCKETS, 1)
    stats = write_table(frame, "split_cluster", (tmp_path / "blank").as_uri(), 1)
    assert stats == WriteStats(rows=4, column_nulls={"customer_user_id": 3, "c1": 1})
