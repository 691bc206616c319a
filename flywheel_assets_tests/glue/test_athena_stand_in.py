"""The Athena stand-in (``local_glue.AthenaOnSpark``) answers like Athena, through the
real ``AthenaSql`` adapter and a boto3 client on moto: rows typed as Athena types them,
a failing statement FAILED with Athena's kind of reason and the query id, a CTAS refused
when its location holds objects, and Hive's bucketing as Trino computes it."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets.adapters.athena_sql import AthenaQueryError, AthenaSql, ctas_statement
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.local_glue import AthenaOnSpark, hive_bucket

BUCKET = "lake"
DATABASE = "stand_in_db"


def test_hive_bucket_is_trinos_hive_v1_hash_of_a_string():
    assert hive_bucket(None, 16) == 0
    assert hive_bucket("", 16) == 0
    assert hive_bucket("abc", 2**31 - 1) == 96354  # 31 * (31 * 97 + 98) + 99
    # bytes are signed: "é" is C3 A9 -> (31 * -61 - 87) & 0x7FFFFFFF
    assert hive_bucket("é", 2**31 - 1) == (-1978 & 0x7FFFFFFF) % (2**31 - 1)
    assert {hive_bucket(f"key-{i}", 8) for i in range(200)} == set(range(8))


@pytest.fixture
def athena(tmp_path, spark, clients, aws_endpoint):
    glue, s3 = clients("glue"), clients("s3")
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    stand_in = AthenaOnSpark(
        spark=spark, glue=glue, s3=s3, endpoint_url=aws_endpoint, workdir=tmp_path, region=REGION
    )
    sql = AthenaSql(
        workgroup="primary",
        output_location=f"s3://{BUCKET}/results/",
        database=DATABASE,
        region=REGION,
        client=stand_in.attach(clients("athena")),
        poll_initial_seconds=0.01,
    )
    table = pa.table({"customer_user_id": ["a", "b", "b", None], "score": [1, 2, 3, 4]})
    out = io.BytesIO()
    pq.write_table(table, out)
    s3.put_object(Bucket=BUCKET, Key="t/part-0.parquet", Body=out.getvalue())
    s3.put_object(Bucket=BUCKET, Key="t/_flywheel_manifest.json", Body=b"{}")  # skipped
    GlueCatalog(REGION, client=glue).publish_table(
        TableDefinition(
            DATABASE,
            "t",
            (Column("customer_user_id", "string"), Column("score", "bigint")),
            f"s3://{BUCKET}/t/",
        )
    )
    return stand_in, sql, glue, s3


def test_a_query_returns_rows_typed_as_athena_types_them(athena):
    stand_in, sql, _, _ = athena
    rows = sql.query(
        f"SELECT customer_user_id AS k, COUNT(*) AS n, SUM(score) AS s FROM {DATABASE}.t "
        "GROUP BY customer_user_id ORDER BY n DESC, k NULLS LAST"
    )
    assert rows == [
        {"k": "b", "n": 2, "s": 5},
        {"k": "a", "n": 1, "s": 1},
        {"k": None, "n": 1, "s": 4},
    ]
    assert stand_in.statements[-1].startswith("SELECT customer_user_id")


def test_a_failing_statement_is_a_failed_query_with_its_id_and_reason(athena):
    stand_in, sql, _, _ = athena
    with pytest.raises(AthenaQueryError) as failed:
        sql.query(f"SELECT COUNT(*) AS n FROM {DATABASE}.missing")
    assert failed.value.state == "FAILED" and failed.value.query_id in stand_in.failures
    assert "TABLE_NOT_FOUND" in str(failed.value) and failed.value.query_id in str(failed.value)


def test_a_ctas_writes_hive_buckets_and_registers_the_table_but_never_over_objects(athena):
    _, sql, glue, s3 = athena
    location = f"s3://{BUCKET}/bucketed/build=1/"
    sql.execute(ctas_statement(DATABASE, "b", DATABASE, "t", location, "customer_user_id", 4))

    table = glue.get_table(DatabaseName=DATABASE, Name="b")["Table"]["StorageDescriptor"]
    assert (table["Location"], table["NumberOfBuckets"]) == (location, 4)
    assert table["BucketColumns"] == ["customer_user_id"]
    assert [c["Name"] for c in table["Columns"]] == ["customer_user_id", "score"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="bucketed/")["Contents"]]
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        values = pq.read_table(io.BytesIO(body)).column("customer_user_id").to_pylist()
        bucket = int(key.rsplit("/", 1)[1].split("_", 1)[0])
        assert {hive_bucket(v, 4) for v in values} == {bucket}
    assert sql.query(f"SELECT COUNT(*) AS n FROM {DATABASE}.b") == [{"n": 4}]

    with pytest.raises(AthenaQueryError, match="HIVE_PATH_ALREADY_EXISTS"):
        sql.execute(ctas_statement(DATABASE, "c", DATABASE, "t", location, "customer_user_id", 4))
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=DATABASE, Name="c")
