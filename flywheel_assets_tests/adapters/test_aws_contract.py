"""The AWS request contract (``flywheel_assets_tests/aws_contract.py``).

First the checker itself: each limit AWS enforces and botocore does not is refused.
Then each adapter is driven through its AWS calls (moto, a Stubber where moto lacks the
state) with every request recorded and checked, and must make exactly the operations
``CONTRACT_OPERATIONS`` lists; Glue compute, deploy, Clean Rooms and Entity Resolution
are driven the same way in ``glue/test_glue_runs_on_aws.py``,
``adapters/test_aws_behaviour.py`` and ``cleanrooms/test_reconcile_contract.py``.
Last, the source may call no AWS operation outside ``CONTRACT_OPERATIONS``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from flywheel_assets.adapters.athena_sql import AthenaQueryError, AthenaSql
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.adapters.sns_alerts import SnsAlerts
from flywheel_assets.assets.cleanrooms.session import CleanroomsSession as _Session
from flywheel_assets.assets.monitor import write_report_files
from flywheel_assets.cleanrooms.report import PLAN
from flywheel_assets.config.registry import load_registry
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.aws_contract import (
    CONTRACT_OPERATIONS,
    ContractRecorder,
    all_contract_operations,
    check_request,
    operation_model,
    python_pattern,
)
from flywheel_assets_tests.conftest import make_settings
from glue_jobs.s3_objects import S3Objects

REGION = "us-east-1"
DB = "omc_flywheel_test"
BUCKET = "omc-flywheel-data-us-east-1-test"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


# ---- the checker ---------------------------------------------------------------------------


def partitions(n: int) -> list[dict[str, Any]]:
    return [{"Values": [str(v)]} for v in range(n)]


def field(name: str, kind: str = "STRING") -> dict[str, str]:
    return {"fieldName": name, "type": kind}


def mapping(n: int, **extra: Any) -> dict[str, Any]:
    fields = [field("customer_user_id", "UNIQUE_ID")] + [field(f"a{i}") for i in range(n - 1)]
    return {"schemaName": "ACX_SCHEMA_IBE_01_A", "mappedInputFields": fields, **extra}


def configured_table(columns: list[str]) -> dict[str, Any]:
    return {
        "name": "part_ibe_01_a",
        "tableReference": {"glue": {"tableName": "part_ibe_01_a", "databaseName": DB}},
        "allowedColumns": columns,
        "analysisMethod": "DIRECT_QUERY",
    }


def table_input(name: str, column: str = "customer_user_id") -> dict[str, Any]:
    return {
        "DatabaseName": DB,
        "TableInput": {"Name": name, "StorageDescriptor": {"Columns": [{"Name": column}]}},
    }


# (service, operation, params, what the message must say): requests botocore sends and
# AWS refuses.
REFUSED = [
    ("glue", "BatchCreatePartition", {"DatabaseName": DB, "TableName": "t",
     "PartitionInputList": partitions(101)}, "101 entries, at most 100"),
    ("glue", "BatchUpdatePartition", {"DatabaseName": DB, "TableName": "t", "Entries": [
        {"PartitionValueList": p["Values"], "PartitionInput": p} for p in partitions(101)]},
     "101 entries, at most 100"),
    ("glue", "BatchDeletePartition", {"DatabaseName": DB, "TableName": "t",
     "PartitionsToDelete": partitions(26)}, "26 entries, at most 25"),
    ("glue", "GetTables", {"DatabaseName": DB, "MaxResults": 101}, "101, at most 100"),
    ("glue", "CreateTable", table_input("Part_IBE_01_A"), "Athena reads only lower-case"),
    ("glue", "CreateTable", table_input("part_ibe_01_a", "Customer User Id"),
     "Athena reads only lower-case"),
    ("glue", "CreateJob", {"Name": "j", "Role": "r", "Command": {"Name": "glueetl"},
     "WorkerType": "G.3X"}, "is not one of"),
    ("cleanrooms", "CreateConfiguredTable", configured_table([f"c{i}" for i in range(101)]),
     "101 columns, Clean Rooms allows 100"),
    ("cleanrooms", "CreateConfiguredTable", configured_table(["customer_user_id", "Age"]),
     "'Age' does not match"),
    ("cleanrooms", "CreateConfiguredTable", configured_table(["age", "age"]), "listed twice"),
    ("cleanrooms", "CreateConfiguredTableAssociation", {
        "name": "acx part/ibe", "membershipIdentifier": "6610c9aa-9002-475c-8695-d833485741bc",
        "configuredTableIdentifier": "6610c9aa-9002-475c-8695-d833485741bd",
        "roleArn": "arn:aws:iam::123456789012:role/reader"}, "does not match"),
    ("entityresolution", "CreateSchemaMapping", mapping(61), "61 entries, at most 60"),
    ("entityresolution", "CreateSchemaMapping", mapping(3, schemaName="ACX SCHEMA"),
     "does not match"),
    ("entityresolution", "CreateSchemaMapping",
     {"schemaName": "S", "mappedInputFields": [field("a"), field("b")]},
     "0 UNIQUE_ID fields"),
    ("entityresolution", "CreateSchemaMapping",
     {"schemaName": "S", "mappedInputFields": [field("id", "UNIQUE_ID"), field("e", "EMAIL")]},
     "'EMAIL' is not one of"),
    ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m",
     "Subject": "x" * 100}, "1..99 characters"),
    ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m",
     "Subject": "two\nlines"}, "without control characters"),
    ("s3", "DeleteObjects", {"Bucket": BUCKET, "Delete": {"Objects": [
        {"Key": f"k{i}"} for i in range(1001)]}}, "1001 keys, at most 1000"),
    ("s3", "PutObject", {"Bucket": BUCKET, "Key": "é" * 513}, "1026 bytes"),
    ("athena", "StartQueryExecution", {"QueryString": "SELECT 1", "WorkGroup": "my group"},
     "does not match"),
    ("athena", "StartQueryExecution", {"QueryString": "SELECT '" + "é" * 140_000 + "'"},
     "bytes, at most 262144"),
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "params", "expected"), REFUSED)
def test_the_checker_refuses_what_aws_refuses_and_botocore_sends(
    service: str, operation: str, params: dict[str, Any], expected: str
) -> None:
    shape = operation_model(service, operation).input_shape
    assert not ParamValidator().validate(params, shape).has_errors()  # botocore would send it

    errors = check_request(service, operation, params).errors

    assert any(expected in e for e in errors), errors


def test_the_checker_accepts_the_limits_themselves() -> None:
    at_limit = [
        ("glue", "BatchCreatePartition", {"DatabaseName": DB, "TableName": "part_ibe_01",
         "PartitionInputList": partitions(100)}),
        ("glue", "BatchDeletePartition", {"DatabaseName": DB, "TableName": "part_ibe_01",
         "PartitionsToDelete": partitions(25)}),
        ("cleanrooms", "CreateConfiguredTable", configured_table([f"c{i}" for i in range(100)])),
        ("entityresolution", "CreateSchemaMapping", mapping(60)),
        ("entityresolution", "CreateSchemaMapping", mapping(2)),
        ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m",
         "Subject": "x" * 99}),
    ]  # fmt: skip
    for service, operation, params in at_limit:
        assert check_request(service, operation, params).errors == (), (operation, params)


def test_botocore_itself_refuses_below_the_minimum() -> None:
    """One field is refused by botocore already (``min``); the checker reports it too."""
    errors = check_request("entityresolution", "CreateSchemaMapping", mapping(1)).errors
    assert any("valid min length: 2" in e for e in errors)


def test_every_model_pattern_of_our_services_is_read_or_left_to_aws() -> None:
    """Java regexes of the models compile for Python; only Unicode property classes
    (\\p{L}, in tag and a few Glue shapes we never send) are left to AWS."""
    session = botocore.session.get_session()
    services = {op.split(":")[0] for op in all_contract_operations()}
    unread = set()
    for service in services:
        model = session.get_service_model(service)
        for name in model.operation_names:
            for pattern in _patterns(model.operation_model(name).input_shape):
                if python_pattern(pattern) is None:
                    unread.add(pattern)
    assert all(r"\p{" in p for p in unread)
    supplementary = python_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert supplementary is not None and supplementary.fullmatch("part_ibe_01 \U0001f600")
    assert not supplementary.fullmatch("two\nlines")


def _patterns(shape: Any, seen: frozenset[str] = frozenset()) -> Iterator[str]:
    if shape is None or shape.name in seen:
        return
    if "pattern" in shape.metadata:
        yield shape.metadata["pattern"]
    seen = seen | {shape.name}
    if shape.type_name == "structure":
        for member in shape.members.values():
            yield from _patterns(member, seen)
    elif shape.type_name == "list":
        yield from _patterns(shape.member, seen)
    elif shape.type_name == "map":
        yield from _patterns(shape.key, seen)
        yield from _patterns(shape.value, seen)


# ---- each adapter, every request checked -------------------------------------------------------


def made(recorder: ContractRecorder, mark: int) -> set[str]:
    recorder.assert_clean()
    return recorder.operations(recorder.since(mark))


def part_table(dt: str, values: range) -> TableDefinition:
    location = f"s3://{BUCKET}/omc_cleanroom_data/split_part/part_ibe_01/snapshot_dt={dt}/"
    return TableDefinition(
        database=DB,
        name="part_ibe_01",
        columns=(Column("customer_user_id", "string"), Column("ibe01_attr_01", "string")),
        location=location,
        partition_keys=(Column("id_bucket", "int"),),
        partitions={str(v): f"{location}id_bucket={v}/" for v in values},
        comment=f"snapshot_dt={dt}",
    )


def test_glue_catalog(moto: None, aws_contract: ContractRecorder) -> None:
    mark = aws_contract.mark()
    catalog = GlueCatalog(REGION)

    catalog.ensure_database(DB)
    catalog.publish_table(part_table("2025-01-15", range(256)))
    catalog.publish_table(part_table("2025-02-15", range(56, 300)))  # update, create, delete
    catalog.add_partitions(DB, "part_ibe_01", {"300": f"s3://{BUCKET}/p/id_bucket=300/"})
    assert catalog.list_tables(DB) == ["part_ibe_01"]
    assert catalog.get_table(DB, "absent") is None
    catalog.drop_table(DB, "part_ibe_01")

    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["glue_catalog"]
    sizes: dict[str, int] = {}
    for call in aws_contract.since(mark):
        if call.operation.startswith("Batch"):
            entries = max(len(v) for v in call.params.values() if isinstance(v, list))
            sizes[call.operation] = max(sizes.get(call.operation, 0), entries)
    assert sizes == {
        "BatchCreatePartition": 100,
        "BatchUpdatePartition": 100,
        "BatchDeletePartition": 25,
    }


def test_athena_sql(moto: None, aws_contract: ContractRecorder) -> None:
    mark = aws_contract.mark()
    sql = AthenaSql("primary", "s3://results/athena/", DB, REGION, sleep=lambda _: None)
    sql.execute(f"MSCK REPAIR TABLE {DB}.part_ibe_01")
    assert sql.query("SELECT 1 AS n") == []  # moto executes nothing

    stubbed = AthenaSql("primary", "", DB, REGION, timeout_seconds=0, clock=lambda: 0.0)
    with Stubber(stubbed.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        running = {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {"State": "RUNNING"}}}
        stub.add_response("get_query_execution", running, {"QueryExecutionId": "q-1"})
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
        with pytest.raises(AthenaQueryError, match="q-1 still RUNNING"):
            stubbed.execute("SELECT 1")

    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["athena_sql"]


def test_s3_lake(moto: None, aws_contract: ContractRecorder) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    mark = aws_contract.mark()
    lake = S3Lake(BUCKET, REGION, page_size=2)

    for n in range(3):
        lake.write_text(f"split_part/t/snapshot_dt=2025-01-15/part-{n}.parquet", "x" * n)
    assert lake.read_text("split_part/t/snapshot_dt=2025-01-15/part-2.parquet") == "xx"
    assert lake.read_range("split_part/t/snapshot_dt=2025-01-15/part-2.parquet", 1, 1) == b"x"
    assert lake.exists("split_part/t/snapshot_dt=2025-01-15/part-0.parquet")
    assert lake.exists("split_part/t/")
    assert lake.list_folders("split_part/t") == ["snapshot_dt=2025-01-15/"]
    assert len(lake.list_objects("split_part/t/")) == 3
    assert lake.newest_modified("split_part/t/") is not None
    assert lake.delete_prefix("split_part/t/") == 3

    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["s3_lake"]


def test_sns_alerts(moto: None, aws_contract: ContractRecorder) -> None:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
    mark = aws_contract.mark()

    SnsAlerts(topic, REGION).send("[DATA MONITOR] two\nlines " + "x" * 200, "body")

    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["sns_alerts"]


def test_glue_job_s3_calls(moto: None, aws_contract: ContractRecorder) -> None:
    """``glue_jobs/runtime.py`` inside the Glue job (its client is plain ``boto3``)."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    mark = aws_contract.mark()
    objects = S3Objects(boto3.client("s3", region_name=REGION))
    raw = f"s3://{BUCKET}/opus/infobase_attributes/raw_input/"

    objects.write_text(f"{raw}snapshot_dt=2025-01-15/_SUCCESS", "")
    objects.write_text(f"{raw}snapshot_dt=2025-01-15/part-0.parquet", "abc")
    assert objects.list_folders(raw) == ["snapshot_dt=2025-01-15/"]
    assert len(objects.list_objects(f"{raw}snapshot_dt=2025-01-15/")) == 2
    assert objects.exists(f"{raw}snapshot_dt=2025-01-15/_SUCCESS")
    assert objects.read_text(f"{raw}snapshot_dt=2025-01-15/part-0.parquet") == "abc"
    assert objects.read_range(f"{raw}snapshot_dt=2025-01-15/part-0.parquet", 1, 2) == b"bc"
    objects.delete(f"{raw}snapshot_dt=2025-01-15/_SUCCESS")

    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["glue_job"]


def test_monitor_report_and_cleanrooms_session(
    moto: None, aws_contract: ContractRecorder, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        make_settings(tmp_path, env="dev"), cleanrooms_role_arn="", entity_resolution_role_arn=""
    )
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=settings.report_bucket)
    mark = aws_contract.mark()

    write_report_files(settings, {"report.json": "{}", "report.csv": "a\n"})
    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["monitor_report"]

    mark = aws_contract.mark()
    session = _Session(Platform(settings, load_registry()), None)
    assert re.fullmatch(r"\d{12}", session.account_id())
    session.sink().write(PLAN, "plan.json", "{}")
    assert made(aws_contract, mark) == CONTRACT_OPERATIONS["cleanrooms_assets"]


# ---- the source calls nothing outside the contract ---------------------------------------------

# The modules that hold AWS clients, and the services each one's clients are for.
AWS_MODULES = {
    "flywheel_assets/adapters/glue_catalog.py": ("glue",),
    "flywheel_assets/adapters/athena_sql.py": ("athena",),
    "flywheel_assets/adapters/s3_lake.py": ("s3",),
    "flywheel_assets/adapters/sns_alerts.py": ("sns",),
    "flywheel_assets/adapters/glue_compute.py": ("glue", "s3", "logs"),
    "flywheel_assets/deploy/apply.py": ("glue", "s3"),
    "flywheel_assets/cleanrooms/read.py": ("cleanrooms", "entityresolution"),
    "flywheel_assets/cleanrooms/plan_cleanrooms.py": ("cleanrooms",),
    "flywheel_assets/cleanrooms/plan_entity_resolution.py": ("entityresolution",),
    "flywheel_assets/cleanrooms/apply.py": ("cleanrooms", "entityresolution"),
    "flywheel_assets/cleanrooms/report.py": ("s3",),
    "flywheel_assets/assets/cleanrooms/session.py": ("sts", "s3"),
    "flywheel_assets/assets/monitor.py": ("s3",),
    "glue_jobs/runtime.py": ("s3",),
    "glue_jobs/s3_objects.py": ("s3",),
    "glue_jobs/raw_files.py": ("s3",),
}
# ``client.get_table(``, ``glue.get_job(``, ``self.client("sts").get_caller_identity(`` and
# operation names in quotes (``get_paginator("get_tables")``, plan requests).
_CALL = re.compile(r"(?:\bclient|\bglue|\bs3|_client|client\([^()]*\))\.(\w+)\(")
_QUOTED = re.compile(r"[\"'](\w+)[\"']")


def source_operations() -> set[str]:
    session = botocore.session.get_session()
    found = set()
    for path, services in AWS_MODULES.items():
        text = (ROOT / path).read_text()
        names = set(_CALL.findall(text)) | set(_QUOTED.findall(text))
        for service in services:
            by_method = {
                xform_name(op): op for op in session.get_service_model(service).operation_names
            }
            found |= {f"{service}:{by_method[n]}" for n in names if n in by_method}
    return found


def test_the_source_calls_no_operation_outside_the_contract() -> None:
    found = source_operations()
    assert len(found) >= 50  # the scan still finds the calls
    assert found <= all_contract_operations(), sorted(found - all_contract_operations())
    # and every operation of the contract exists in the service models
    for op in all_contract_operations():
        service, name = op.split(":")
        assert operation_model(service, name).name == name
    # the number reported in the closing note
    assert len(all_contract_operations()) == 56
