"""What the split does alike on every Spark it runs on: pyspark 4 in the local profile and
Spark 3.5 on AWS Glue 5.0 (``make test-glue-runtime`` runs this module there as well)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import Observation
from pyspark.sql import functions as F

from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN, TableSpec
from glue_jobs.transforms import (
    _hash_partitions,
    cluster_partitions,
    prepare_raw,
    table_frame,
    write_table,
)

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

A = TableSpec("T_A", "infobase_attributes", ("a1",))
BUCKETS = 16
ROWS = [(f"k{i % 40}", i % 40 % 3) for i in range(120)] + [(None, 7), ("", 8)]  # 42 distinct


@pytest.fixture
def raw(spark):
    frame = spark.createDataFrame(ROWS, "Customer_User_id string, A1 long")
    return prepare_raw(frame, [A], origin="test")


@pytest.fixture
def s3a_lake(spark, tmp_path: Path):
    """``s3a://lake/...`` backed by a local directory (Hadoop's ViewFileSystemOverloadScheme,
    as the Glue stand-in mounts its buckets): a URI the split treats as an object store."""
    root = tmp_path / "lake"
    root.mkdir()
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    settings = {
        "fs.s3a.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
        "fs.s3a.impl.disable.cache": "true",
        "fs.viewfs.mounttable.lake.linkFallback": root.as_uri(),
    }
    previous = {name: conf.get(name) for name in settings}
    for name, value in settings.items():
        conf.set(name, value)
    try:
        yield root
    finally:
        for name, value in previous.items():
            if value is None:
                conf.unset(name)
            else:
                conf.set(name, value)


def writers(root: Path) -> set[str]:
    """The ``created_by`` of every parquet file below ``root``, without versions."""
    return {
        pq.ParquetFile(path).metadata.created_by.split(" version")[0]
        for path in root.rglob("*.parquet")
    }


def test_the_local_lake_gets_the_arrow_writer_and_an_object_store_sparks_own(
    spark, raw, tmp_path: Path, s3a_lake: Path
) -> None:
    local = tmp_path / "local"
    remote = "s3a://lake/split_part/T_A/"

    on_disk = write_table(
        table_frame(raw, A, "split_part", BUCKETS, 2), "split_part", local.as_uri(), 2
    )
    on_s3 = write_table(table_frame(raw, A, "split_part", BUCKETS, 2), "split_part", remote, 2)

    assert writers(local) == {"parquet-cpp-arrow"}  # glue_jobs.arrow_writer, mapInArrow
    assert writers(s3a_lake / "split_part" / "T_A") == {"parquet-mr"}  # Spark's writer
    # the same rows, counted alike, in the same id_bucket=N/ layout
    assert on_disk == on_s3
    assert on_disk.rows == 42 and on_disk.column_nulls == {"customer_user_id": 2, "a1": 0}
    read = [
        sorted(map(tuple, spark.read.parquet(uri).collect()), key=str)
        for uri in (local.as_uri(), remote)
    ]
    assert read[0] == read[1] and len(read[0]) == 42


def test_the_writers_see_the_table_frames_partitioning_and_shuffle_once(spark, raw) -> None:
    """``_hash_partitions`` reads the physical plan through the JVM and answers None to
    anything it does not recognise, which costs a second shuffle, silently: the class
    names it matches must hold on each Spark, also behind ``observe`` (``write_table``)."""
    cases = (
        ("split_part", PARTITION_COLUMN, 1, cluster_partitions(spark, BUCKETS)),
        ("split_cluster", KEY_COLUMN, 3, 3),
    )
    for kind, column, files, partitions in cases:
        frame = table_frame(raw, A, kind, BUCKETS, files)
        observed = frame.observe(Observation(), F.count(F.lit(1)).alias("rows"))
        assert _hash_partitions(frame, column) == partitions, kind
        assert _hash_partitions(observed, column) == partitions, kind


def test_key_hashes_do_not_depend_on_the_spark_version(spark) -> None:
    """The drift audit compares the key sketch (``xxhash64``) of a month split on one
    runtime, e.g. Glue's Spark 3.5, with one split on another, e.g. a local Spark 4."""
    keys = ["k1", "CU0000ABC", ""]
    frame = spark.createDataFrame([(k,) for k in keys], "k string")
    assert [r[0] for r in frame.select(F.xxhash64("k")).collect()] == [
        -624868313088425599,
        7889061671336145042,
        -7444071767201028348,
    ]
