"""id_bucket gives the same value in Python, Spark SQL and (by construction) Athena."""

from __future__ import annotations

import random
import zlib

import pytest

from glue_jobs.bucketing import athena_bucket_expr, id_bucket, spark_bucket_expr

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime


def sample_keys() -> list[str | None]:
    rng = random.Random(11)
    keys: list[str | None] = [f"CU{rng.getrandbits(48):012X}" for _ in range(2000)]
    return keys + ["", "ünïcødé-ключ-键", "a" * 300, " padded ", None]


def test_python_and_spark_agree_on_every_key(spark):
    keys = sample_keys()
    frame = spark.createDataFrame([(k,) for k in keys], "customer_user_id string")
    rows = frame.selectExpr(
        "customer_user_id", f"{spark_bucket_expr('customer_user_id', 256)} AS b"
    ).collect()
    spark_buckets = [r.b for r in rows]
    assert spark_buckets == [id_bucket(k, 256) for k in keys]
    assert all(0 <= b < 256 for b in spark_buckets)
    assert len(set(spark_buckets)) == 256  # the function spreads keys over every bucket


def test_bucket_count_is_configurable(spark):
    keys = sample_keys()[:100]
    frame = spark.createDataFrame([(k,) for k in keys], "k string")
    rows = frame.selectExpr(f"{spark_bucket_expr('k', 16)} AS b").collect()
    assert [r.b for r in rows] == [id_bucket(k, 16) for k in keys]


def test_null_keys_hash_as_empty_string_into_a_real_bucket():
    assert id_bucket(None, 256) == id_bucket("", 256) == zlib.crc32(b"") % 256


def test_athena_expression_uses_trinos_crc32_over_utf8():
    # Trino's crc32(varbinary) is the same IEEE CRC-32 as zlib and Spark's crc32
    expr = athena_bucket_expr("customer_user_id", 256)
    assert expr == (
        "CAST(crc32(to_utf8(coalesce(CAST(customer_user_id AS VARCHAR), ''))) % 256 AS INTEGER)"
    )
