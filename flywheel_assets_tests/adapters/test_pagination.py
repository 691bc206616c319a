"""Every List/Get the project calls that can return a next-page token is paginated.

Each such operation is answered here in two pages by botocore's Stubber; the test
asserts that the second page was asked for with the first page's token (the recorder of
the ``aws_contract`` fixture) and that its items are in the result. A scan of the source
then checks that no pageable operation is called outside a paginator or a token loop.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.stub import Stubber

from flywheel_assets.adapters.athena_sql import AthenaSql
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets_tests.adapters.test_aws_contract import AWS_MODULES
from flywheel_assets_tests.aws_contract import (
    ContractRecorder,
    all_contract_operations,
    is_pageable,
)
from glue_jobs.s3_objects import S3Objects

REGION = "us-east-1"
DB = "omc_flywheel_test"
BUCKET = "omc-flywheel-data-us-east-1-test"
ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)

# pageable operation -> the test that answers it in two pages
TWO_PAGE_TESTS = {
    "glue:GetTables": "adapters/test_pagination.py::test_glue_get_tables",
    "glue:GetPartitions": "adapters/test_pagination.py::test_glue_get_partitions",
    "athena:GetQueryResults": "adapters/test_pagination.py::test_athena_get_query_results",
    "s3:ListObjectsV2": "adapters/test_pagination.py::test_s3_list_objects_v2",
    "cleanrooms:ListConfiguredTables": (
        "cleanrooms/test_reconcile_contract.py::"
        "test_cleanrooms_reconcile_makes_every_operation_within_the_contract"
    ),
    "cleanrooms:ListConfiguredTableAssociations": (
        "cleanrooms/test_reconcile_contract.py::"
        "test_cleanrooms_reconcile_makes_every_operation_within_the_contract"
    ),
    "entityresolution:ListSchemaMappings": (
        "cleanrooms/test_reconcile_contract.py::"
        "test_entity_resolution_reconcile_makes_every_operation_within_the_contract"
    ),
    "entityresolution:ListIdNamespaces": (
        "cleanrooms/test_reconcile_contract.py::"
        "test_entity_resolution_reconcile_makes_every_operation_within_the_contract"
    ),
}
# pageable operations read for one page on purpose
ONE_PAGE = {
    # dagster-aws's CloudWatch reader asks whether the run's one stream exists yet
    "logs:DescribeLogStreams",
}
# direct calls of a pageable operation allowed in the source: existence probes of one key
ONE_PAGE_CALL = re.compile(r"list_objects_v2\([^)]*MaxKeys=1\)")


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


def two_pages(
    stub: Stubber, operation: str, pages: list[dict], params: dict, token: tuple[str, str]
) -> None:
    """``pages[0]`` carries the output token; ``pages[1]`` answers only the request that
    passes it back as the input token. S3 also says ``IsTruncated`` (its paginator
    follows the token only then)."""
    output_token, input_token = token
    more = {"IsTruncated": True} if input_token == "ContinuationToken" else {}
    stub.add_response(operation, {**pages[0], output_token: "page-2", **more}, params)
    stub.add_response(operation, pages[1], {**params, input_token: "page-2"})


def followed(recorder: ContractRecorder, mark: int) -> None:
    calls = recorder.since(mark)
    assert len(calls) >= 2
    assert recorder.unfollowed_pages(calls) == []
    recorder.assert_clean()


def test_glue_get_tables(credentials: None, aws_contract: ContractRecorder) -> None:
    client, stub = stubbed("glue")
    two_pages(
        stub,
        "get_tables",
        [{"TableList": [{"Name": "part_a"}]}, {"TableList": [{"Name": "part_b"}]}],
        {"DatabaseName": DB, "MaxResults": 100},
        ("NextToken", "NextToken"),
    )
    mark = aws_contract.mark()
    with stub:
        assert GlueCatalog(REGION, client=client).list_tables(DB, "part_") == ["part_a", "part_b"]
    followed(aws_contract, mark)


def test_glue_get_partitions(credentials: None, aws_contract: ContractRecorder) -> None:
    client, stub = stubbed("glue")

    def part(v: str) -> dict[str, Any]:
        return {"Values": [v], "StorageDescriptor": {"Location": f"s3://b/id_bucket={v}/"}}

    two_pages(
        stub,
        "get_partitions",
        [{"Partitions": [part("0")]}, {"Partitions": [part("1")]}],
        {"DatabaseName": DB, "TableName": "t", "ExcludeColumnSchema": True, "MaxResults": 1000},
        ("NextToken", "NextToken"),
    )
    mark = aws_contract.mark()
    with stub:
        found = GlueCatalog(REGION, client=client).list_partitions(DB, "t")
    assert found == {"0": "s3://b/id_bucket=0/", "1": "s3://b/id_bucket=1/"}
    followed(aws_contract, mark)


def test_athena_get_query_results(credentials: None, aws_contract: ContractRecorder) -> None:
    client, stub = stubbed("athena")
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"StatementType": "DML", "Status": {"State": "SUCCEEDED"}}},
    )
    meta = {"ColumnInfo": [{"Name": "n", "Type": "bigint"}]}

    def rows(*values: str) -> dict[str, Any]:
        data = [{"Data": [{"VarCharValue": v}]} for v in values]
        return {"ResultSet": {"Rows": data, "ResultSetMetadata": meta}}

    two_pages(
        stub,
        "get_query_results",
        [rows("n", "1"), rows("2")],
        {"QueryExecutionId": "q-1", "MaxResults": 1000},
        ("NextToken", "NextToken"),
    )
    mark = aws_contract.mark()
    with stub:
        found = AthenaSql("primary", "", DB, REGION, client=client).query("SELECT n FROM t")
    assert found == [{"n": 1}, {"n": 2}]
    followed(aws_contract, mark)


def objects(*keys: str) -> dict[str, Any]:
    return {"Contents": [{"Key": k, "Size": 1, "LastModified": NOW} for k in keys]}


def folders(*prefixes: str) -> dict[str, Any]:
    return {"CommonPrefixes": [{"Prefix": p} for p in prefixes]}


def test_s3_list_objects_v2(credentials: None, aws_contract: ContractRecorder) -> None:
    """The lake (Dagster side) and ``S3Objects`` (inside the Glue job)."""
    client, stub = stubbed("s3")
    token = ("NextContinuationToken", "ContinuationToken")
    listing = {"Bucket": BUCKET, "Prefix": "raw/"}
    for _ in range(2):  # S3Lake.list_objects, then S3Objects.list_objects
        page = {**listing, "MaxKeys": 1000} if _ == 0 else listing
        two_pages(
            stub,
            "list_objects_v2",
            [objects("raw/a.parquet"), objects("raw/b.parquet")],
            page,
            token,
        )
    for _ in range(2):  # S3Lake.list_folders, then S3Objects.list_folders
        page = {**listing, "Delimiter": "/", **({"MaxKeys": 1000} if _ == 0 else {})}
        two_pages(stub, "list_objects_v2", [folders("raw/d=1/"), folders("raw/d=2/")], page, token)
    lake, job = S3Lake(BUCKET, REGION, client=client), S3Objects(client)
    mark = aws_contract.mark()

    with stub:
        assert [o.key for o in lake.list_objects("raw/")] == ["raw/a.parquet", "raw/b.parquet"]
        assert [k for k, _ in job.list_objects(f"s3://{BUCKET}/raw/")] == [
            "raw/a.parquet",
            "raw/b.parquet",
        ]
        assert lake.list_folders("raw/") == ["d=1/", "d=2/"]
        assert job.list_folders(f"s3://{BUCKET}/raw/") == ["d=1/", "d=2/"]
    stub.assert_no_pending_responses()
    followed(aws_contract, mark)


# ---- the source -------------------------------------------------------------------------------


def test_every_pageable_operation_we_call_has_a_two_page_test() -> None:
    pageable = {op for op in all_contract_operations() if is_pageable(*op.split(":"))}
    assert pageable - ONE_PAGE == set(TWO_PAGE_TESTS)
    for where in TWO_PAGE_TESTS.values():
        path, name = where.split("::")
        assert f"def {name}(" in (ROOT / "flywheel_assets_tests" / path).read_text(), where


def test_no_pageable_operation_is_called_for_one_page_only() -> None:
    """Pageable operations go through ``get_paginator`` or the ``paginate`` token loop
    (both name the operation in quotes); a direct call is allowed only as a one-key
    existence probe (``MaxKeys=1``)."""
    direct = []
    for path, services in AWS_MODULES.items():
        text = (ROOT / path).read_text()
        for op in all_contract_operations():
            service, name = op.split(":")
            method = xform_name(name)
            if service not in services or not is_pageable(service, name):
                continue
            for match in re.finditer(rf"\.{method}\([^)]*\)", text):
                if not ONE_PAGE_CALL.fullmatch(match.group(0)[1:]):
                    direct.append(f"{path}: {match.group(0)}")
    assert direct == []
