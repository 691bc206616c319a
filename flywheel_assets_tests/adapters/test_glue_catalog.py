"""GlueCatalog against moto (and Stubber where moto does not paginate).

Moto accepts any number of partitions a batch, so batching is asserted by counting the
calls and their entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber

from flywheel_assets.adapters.glue_catalog import (
    GlueCatalog,
    GlueCatalogError,
    GlueDatabaseNotFoundError,
)
from flywheel_assets.ports.catalog import (
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    Column,
    TableDefinition,
)
from flywheel_assets_tests.adapters.conftest import DB, REGION

ROOT = "s3://omc-flywheel-data-us-east-1-test/omc_cleanroom_data/split_part/part_ibe_01"
COLUMNS = (Column("customer_user_id", "string"), Column("age", "int"))
ID_BUCKET = (Column("id_bucket", "int"),)
BATCH_OPERATIONS = ("BatchCreatePartition", "BatchUpdatePartition", "BatchDeletePartition")

# fixtures ``fake_credentials``, ``glue`` (moto) and ``catalog``: adapters/conftest.py


def record_calls(client: Any, *operations: str) -> dict[str, list[dict[str, Any]]]:
    """API parameters of each call to ``operations`` from now on, by operation."""
    calls: dict[str, list[dict[str, Any]]] = {op: [] for op in operations}
    for operation in operations:

        def record(params: dict[str, Any], _op: str = operation, **_: Any) -> None:
            calls[_op].append(dict(params))

        client.meta.events.register(f"before-parameter-build.glue.{operation}", record)
    return calls


def snapshot(dt: str) -> str:
    return f"{ROOT}/snapshot_dt={dt}/"


def definition(dt: str, values: range, **overrides: Any) -> TableDefinition:
    fields: dict[str, Any] = {
        "database": DB,
        "name": "part_ibe_01",
        "columns": COLUMNS,
        "location": snapshot(dt),
        "partition_keys": ID_BUCKET,
        "partitions": {str(v): f"{snapshot(dt)}id_bucket={v}/" for v in values},
        "comment": f"snapshot_dt={dt}",
    }
    fields.update(overrides)
    return TableDefinition(**fields)


def test_publish_new_table_registers_256_partitions_in_3_batches(
    catalog: GlueCatalog, glue: Any
) -> None:
    calls = record_calls(glue, "CreateTable", "UpdateTable", *BATCH_OPERATIONS)

    catalog.publish_table(definition("2025-01-15", range(256), parameters={"owner": "de"}))

    assert len(calls["CreateTable"]) == 1 and calls["UpdateTable"] == []
    assert [len(c["PartitionInputList"]) for c in calls["BatchCreatePartition"]] == [100, 100, 56]
    assert calls["BatchUpdatePartition"] == [] and calls["BatchDeletePartition"] == []
    partitions = catalog.list_partitions(DB, "part_ibe_01")
    assert len(partitions) == 256
    assert partitions["255"] == f"{snapshot('2025-01-15')}id_bucket=255/"

    info = catalog.get_table(DB, "part_ibe_01")
    assert info is not None
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == snapshot("2025-01-15")
    assert info.columns == COLUMNS and info.partition_keys == ID_BUCKET
    assert (info.serde, info.input_format) == (PARQUET_SERDE, PARQUET_INPUT_FORMAT)
    assert info.comment == "snapshot_dt=2025-01-15"
    assert info.parameters["EXTERNAL"] == "TRUE"
    assert info.parameters["classification"] == "parquet"
    assert info.parameters["owner"] == "de"
    raw = glue.get_partition(DatabaseName=DB, TableName="part_ibe_01", PartitionValues=["7"])
    sd = raw["Partition"]["StorageDescriptor"]
    assert sd["OutputFormat"] == PARQUET_OUTPUT_FORMAT
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert sd["Columns"] == [
        {"Name": "customer_user_id", "Type": "string"},
        {"Name": "age", "Type": "int"},
    ]


def test_republish_repoints_in_place_and_never_drops_the_table(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_table(definition("2025-01-15", range(256)))
    calls = record_calls(glue, "CreateTable", "UpdateTable", "DeleteTable", *BATCH_OPERATIONS)

    catalog.publish_table(definition("2025-02-15", range(256)))

    assert calls["CreateTable"] == [] and calls["DeleteTable"] == []
    assert len(calls["UpdateTable"]) == 1
    assert [len(c["Entries"]) for c in calls["BatchUpdatePartition"]] == [100, 100, 56]
    assert calls["BatchCreatePartition"] == [] and calls["BatchDeletePartition"] == []
    partitions = catalog.list_partitions(DB, "part_ibe_01")
    assert partitions == {str(v): f"{snapshot('2025-02-15')}id_bucket={v}/" for v in range(256)}
    info = catalog.get_table(DB, "part_ibe_01")
    assert info is not None and info.location == snapshot("2025-02-15")
    assert info.comment == "snapshot_dt=2025-02-15"


def test_republish_adds_new_and_removes_stale_partitions_within_glue_limits(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_table(definition("2025-01-15", range(0, 130)))
    calls = record_calls(glue, *BATCH_OPERATIONS)

    catalog.publish_table(definition("2025-02-15", range(30, 160)))

    assert [len(c["Entries"]) for c in calls["BatchUpdatePartition"]] == [100]
    assert [len(c["PartitionInputList"]) for c in calls["BatchCreatePartition"]] == [30]
    # BatchDeletePartition takes at most 25 partitions a call.
    assert [len(c["PartitionsToDelete"]) for c in calls["BatchDeletePartition"]] == [25, 5]
    partitions = catalog.list_partitions(DB, "part_ibe_01")
    assert sorted(partitions, key=int) == [str(v) for v in range(30, 160)]
    assert set(partitions.values()) == {
        f"{snapshot('2025-02-15')}id_bucket={v}/" for v in range(30, 160)
    }


def test_publish_unpartitioned_bucketed_table(catalog: GlueCatalog) -> None:
    table = TableDefinition(
        database=DB,
        name="bucketed_ibe_01",
        columns=COLUMNS,
        location="s3://b/bucketed/bucketed_ibe_01/snapshot_dt=2025-01-15/",
        bucket_columns=("customer_user_id",),
        bucket_count=256,
    )
    catalog.publish_table(table)
    info = catalog.get_table(DB, "bucketed_ibe_01")
    assert info is not None
    assert (info.bucket_columns, info.bucket_count) == (("customer_user_id",), 256)
    assert info.partition_keys == () and info.comment == ""
    assert catalog.list_partitions(DB, "bucketed_ibe_01") == {}


def test_partitions_without_exactly_one_key_are_rejected(catalog: GlueCatalog) -> None:
    with pytest.raises(ValueError, match="exactly one partition key"):
        catalog.publish_table(definition("2025-01-15", range(2), partition_keys=()))
    assert catalog.get_table(DB, "part_ibe_01") is None


def test_list_partitions_follows_next_token_across_pages() -> None:
    client = boto3.client(
        "glue", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    request = {
        "DatabaseName": DB,
        "TableName": "part_ibe_01",
        "ExcludeColumnSchema": True,
        "MaxResults": 2,
    }

    def part(v: str) -> dict[str, Any]:
        return {"Values": [v], "StorageDescriptor": {"Location": f"{snapshot('d')}id_bucket={v}/"}}

    with Stubber(client) as stub:
        stub.add_response(
            "get_partitions", {"Partitions": [part("0"), part("1")], "NextToken": "t1"}, request
        )
        stub.add_response(
            "get_partitions", {"Partitions": [part("2")]}, {**request, "NextToken": "t1"}
        )

        partitions = GlueCatalog(REGION, client=client, partitions_page_size=2).list_partitions(
            DB, "part_ibe_01"
        )

        stub.assert_no_pending_responses()
    assert partitions == {v: f"{snapshot('d')}id_bucket={v}/" for v in ("0", "1", "2")}


def test_throttled_batch_is_retried_by_botocore(
    catalog: GlueCatalog, glue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stubber answers before botocore's retry handler runs (a stubbed throttle surfaces
    as an error at once), so the throttle is injected at ``before-send`` instead.

    botocore calls every ``before-send`` handler, moto's too, and uses the first answer:
    the throttled attempt is sent to a URL moto does not serve, so that, as on AWS, the
    throttled batch is not applied and only the retry registers it.
    """
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    sends: list[str] = []

    class ThrottleBody:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'

    def throttle_first(request: Any, **_: Any) -> AWSResponse | None:
        sends.append(request.url)
        if len(sends) == 1:
            request.url = "http://throttled.invalid/"
            return AWSResponse(request.url, 400, {}, ThrottleBody())
        return None  # let moto answer

    glue.meta.events.register_first("before-send.glue.BatchCreatePartition", throttle_first)

    catalog.publish_table(definition("2025-01-15", range(150)))

    assert len(sends) == 3  # throttled + retried first batch, then the second batch
    assert len(catalog.list_partitions(DB, "part_ibe_01")) == 150


def test_batch_errors_are_raised_with_the_partition_and_reason(catalog: GlueCatalog) -> None:
    catalog.publish_table(definition("2025-01-15", range(3)))
    with pytest.raises(GlueCatalogError, match=r"BatchCreatePartition .*\['1'\]: AlreadyExists"):
        catalog.add_partitions(DB, "part_ibe_01", {"1": "s3://elsewhere/", "9": "s3://x/"})


def test_add_partitions_batches_by_100_and_reuses_the_table_format(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_table(definition("2025-01-15", range(0)))
    calls = record_calls(glue, "BatchCreatePartition")

    catalog.add_partitions(
        DB, "part_ibe_01", {str(v): f"s3://b/p/id_bucket={v}/" for v in range(150)}
    )

    assert [len(c["PartitionInputList"]) for c in calls["BatchCreatePartition"]] == [100, 50]
    partitions = catalog.list_partitions(DB, "part_ibe_01")
    assert len(partitions) == 150 and partitions["149"] == "s3://b/p/id_bucket=149/"
    sd = calls["BatchCreatePartition"][0]["PartitionInputList"][0]["StorageDescriptor"]
    assert sd["InputFormat"] == PARQUET_INPUT_FORMAT
    assert sd["Location"] == "s3://b/p/id_bucket=0/"


def test_missing_database_is_a_clear_error(glue: Any) -> None:
    catalog = GlueCatalog(REGION, client=glue)
    message = "Glue database 'nope' does not exist (region us-east-1)"
    with pytest.raises(
        GlueDatabaseNotFoundError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        catalog.publish_table(definition("2025-01-15", range(2), database="nope"))
    with pytest.raises(GlueDatabaseNotFoundError, match="'nope' does not exist"):
        catalog.get_table("nope", "t")
    with pytest.raises(GlueDatabaseNotFoundError, match="'nope' does not exist"):
        catalog.list_tables("nope")
    with pytest.raises(GlueDatabaseNotFoundError, match="'nope' does not exist"):
        catalog.list_partitions("nope", "t")
    with pytest.raises(GlueDatabaseNotFoundError, match="'nope' does not exist"):
        catalog.drop_table("nope", "t")


def test_missing_table_reads_as_none_and_drop_is_idempotent(catalog: GlueCatalog) -> None:
    assert catalog.get_table(DB, "absent") is None
    catalog.drop_table(DB, "absent")
    catalog.publish_table(definition("2025-01-15", range(2)))
    catalog.drop_table(DB, "part_ibe_01")
    assert catalog.get_table(DB, "part_ibe_01") is None


def test_list_tables_filters_by_prefix_and_ensure_database_is_idempotent(
    catalog: GlueCatalog,
) -> None:
    catalog.ensure_database(DB)
    for name in ("part_ibe_02", "ext_ibe_01", "part_ibe_01"):
        catalog.publish_table(definition("2025-01-15", range(0), name=name))
    assert catalog.list_tables(DB, prefix="part_") == ["part_ibe_01", "part_ibe_02"]
    assert catalog.list_tables(DB) == ["ext_ibe_01", "part_ibe_01", "part_ibe_02"]
