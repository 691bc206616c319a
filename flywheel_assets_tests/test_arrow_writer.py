"""The Arrow writer of split_part (local lake): one file per bucket, plain keys, retries;
and Spark's writer, which object stores keep, with the same key encoding."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.arrow_writer import bucket_runs, local_root, write_bucket_files, write_partitioned
from glue_jobs.transforms import write_split_part_spark

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

SCHEMA = pa.schema(
    [("customer_user_id", pa.string()), ("a1", pa.string()), ("id_bucket", pa.int32())]
)


def batch(keys: list[str], buckets: list[int]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"customer_user_id": keys, "a1": ["x"] * len(keys), "id_bucket": buckets}, schema=SCHEMA
    )


def write(batches, root: str) -> dict[int, int]:
    (summary,) = list(
        write_bucket_files(
            batches,
            root=root,
            file_name="part-00000-w.c000.snappy.parquet",
            bucket_column="id_bucket",
            plain_columns=("customer_user_id",),
        )
    )
    return dict(zip(summary.column(0).to_pylist(), summary.column(1).to_pylist(), strict=True))


def test_bucket_runs_split_a_sorted_array_into_runs():
    assert list(bucket_runs(np.array([1, 1, 4, 7, 7, 7]))) == [(1, 0, 2), (4, 2, 3), (7, 3, 6)]
    assert list(bucket_runs(np.array([], dtype=np.int32))) == []


def test_a_bucket_spread_over_batches_is_one_file_with_one_row_group(tmp_path):
    batches = [batch(["k1", "k3", "k2"], [0, 3, 0]), batch(["k5", "k4"], [9, 3])]

    rows = write(batches, str(tmp_path))

    assert rows == {0: 2, 3: 2, 9: 1}
    files = sorted(tmp_path.glob("id_bucket=*/*.parquet"))
    assert [f.parent.name for f in files] == ["id_bucket=0", "id_bucket=3", "id_bucket=9"]
    bucket3 = pq.ParquetFile(tmp_path / "id_bucket=3" / "part-00000-w.c000.snappy.parquet")
    assert bucket3.metadata.num_row_groups == 1
    assert sorted(bucket3.read().to_pydict()["customer_user_id"]) == ["k3", "k4"]
    assert bucket3.schema_arrow.names == ["customer_user_id", "a1"]
    key, attr = (bucket3.metadata.row_group(0).column(i) for i in (0, 1))
    assert key.compression == attr.compression == "SNAPPY"
    assert not any("DICTIONARY" in e for e in key.encodings)  # unique keys: plain
    assert any("DICTIONARY" in e for e in attr.encodings)
    assert key.statistics.min == "k3" and key.statistics.max == "k4"


def test_a_task_without_rows_writes_nothing(tmp_path):
    assert write([batch([], [])], str(tmp_path)) == {}
    assert write([], str(tmp_path)) == {}  # an empty partition sends no batch
    assert list(tmp_path.iterdir()) == []


def test_a_batch_without_the_bucket_column_is_refused(tmp_path):
    plain = pa.RecordBatch.from_pydict({"customer_user_id": ["a"]})
    with pytest.raises(ValueError, match="no 'id_bucket' column"):
        write([plain], str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_only_local_lake_uris_get_the_arrow_writer(tmp_path):
    assert local_root((tmp_path / "t").as_uri() + "/") == str(tmp_path / "t")
    assert local_root(str(tmp_path / "t")) == str(tmp_path / "t")
    assert local_root("s3a://data-bucket/split_part/t") is None
    assert local_root("s3://data-bucket/split_part/t") is None


def test_rewriting_a_snapshot_replaces_its_files(spark, tmp_path):
    """mode("overwrite"): a second write (a retry, or a rebuild) leaves no stale file."""
    frame = spark.createDataFrame(
        [("k1", "x", 1), ("k2", "y", 2), ("k3", "z", 2)],
        "customer_user_id string, a1 string, id_bucket int",
    ).repartition(2, "id_bucket")
    target = tmp_path / "t"
    (target / "id_bucket=7").mkdir(parents=True)
    (target / "id_bucket=7" / "stale.parquet").write_bytes(b"old")

    assert write_partitioned(frame, str(target), "id_bucket") == {1: 1, 2: 2}
    first = sorted(p.relative_to(target) for p in target.rglob("*.parquet"))
    assert write_partitioned(frame, str(target), "id_bucket") == {1: 1, 2: 2}
    second = sorted(p.relative_to(target) for p in target.rglob("*.parquet"))

    assert [p.parent.name for p in second] == ["id_bucket=1", "id_bucket=2"]
    assert len(first) == len(second) == 2 and first != second  # new write id, old files gone
    assert spark.read.parquet(target.as_uri()).count() == 3


def test_spark_writer_keeps_the_key_plain_and_the_attributes_in_dictionaries(spark, tmp_path):
    frame = spark.createDataFrame(
        # few distinct keys: parquet-mr would keep a dictionary for them if allowed to
        [(f"k{i % 6}", "x" if i % 2 else "y", i % 2) for i in range(60)],
        "customer_user_id string, a1 string, id_bucket int",
    ).repartition(2, "id_bucket")

    write_split_part_spark(frame, tmp_path.as_uri())

    files = sorted(tmp_path.glob("id_bucket=*/*.parquet"))
    assert [f.parent.name for f in files] == ["id_bucket=0", "id_bucket=1"]
    key, attr = (pq.ParquetFile(files[0]).metadata.row_group(0).column(i) for i in (0, 1))
    assert not any("DICTIONARY" in e for e in key.encodings)
    assert any("DICTIONARY" in e for e in attr.encodings)
