"""AthenaSql: moto for the happy path, Stubber for states and pages moto cannot produce.

Moto's queries always end SUCCEEDED at the first poll and its results come in one page,
so polling back-off, FAILED/CANCELLED, timeouts and result pagination use botocore's
Stubber, which also checks every request against the Athena service model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from flywheel_assets.adapters.athena_sql import (
    AthenaQueryError,
    AthenaSql,
    ctas_statement,
    drop_table_statement,
)
from glue_jobs.bucketing import athena_bucket_expr

REGION = "us-east-1"
DB = "omc_flywheel_test"
WORKGROUP = "primary"
RESULTS = "s3://omc-flywheel-test-analysis-data/query-results/"
QID = "11111111-2222-3333-4444-555555555555"
START_PARAMS = {
    "QueryExecutionContext": {"Database": DB},
    "ResultConfiguration": {"OutputLocation": RESULTS},
    "WorkGroup": WORKGROUP,
}


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ATHENA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def moto_athena(fake_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield athena_backends[DEFAULT_ACCOUNT_ID][REGION]


class FakeTime:
    """Injected sleep + clock: records the back-off and advances time without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def stubbed(fake_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("athena", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def athena(client: Any, fake: FakeTime | None = None, **kwargs: Any) -> AthenaSql:
    fake = fake or FakeTime()
    return AthenaSql(
        workgroup=WORKGROUP,
        output_location=RESULTS,
        database=DB,
        region=REGION,
        client=client,
        sleep=fake.sleep,
        clock=fake.clock,
        **kwargs,
    )


def expect_start(stub: Stubber, statement: str) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": QID},
        {"QueryString": statement, **START_PARAMS},
    )


def expect_state(stub: Stubber, state: str, statement_type: str = "DML", **status: Any) -> None:
    stub.add_response(
        "get_query_execution",
        {
            "QueryExecution": {
                "QueryExecutionId": QID,
                "StatementType": statement_type,
                "Status": {"State": state, **status},
            }
        },
        {"QueryExecutionId": QID},
    )


def columns(*specs: tuple[str, str]) -> dict[str, Any]:
    return {"ColumnInfo": [{"Name": n, "Type": t} for n, t in specs]}


def row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


# ---- moto ---------------------------------------------------------------------------


def test_execute_starts_in_workgroup_database_and_result_location(moto_athena: Any) -> None:
    sql = athena(boto3.client("athena", region_name=REGION))

    sql.msck_repair(DB, "part_ibe_01")

    (execution,) = moto_athena.executions.values()
    assert execution.query == f"MSCK REPAIR TABLE {DB}.part_ibe_01"
    assert execution.context == {"Database": DB}
    assert execution.config["OutputLocation"].startswith(RESULTS)
    assert execution.workgroup.name == WORKGROUP


def test_query_skips_header_and_types_values_by_column(moto_athena: Any) -> None:
    moto_athena.query_results_queue.append(
        QueryResults(
            rows=[
                row("table_name", "n", "ratio", "ok"),
                row("part_ibe_01", "1000000", "0.5", None),
            ],
            column_info=columns(
                ("table_name", "varchar"), ("n", "bigint"), ("ratio", "double"), ("ok", "boolean")
            )["ColumnInfo"],
        )
    )
    sql = athena(boto3.client("athena", region_name=REGION))

    rows = sql.query("SELECT 'part_ibe_01' AS table_name, COUNT(*) AS n")

    assert rows == [{"table_name": "part_ibe_01", "n": 1_000_000, "ratio": 0.5, "ok": None}]


def test_create_bucketed_table_as_runs_the_ctas(moto_athena: Any) -> None:
    sql = athena(boto3.client("athena", region_name=REGION))

    sql.create_bucketed_table_as(
        DB,
        "bucketed_ibe_01",
        DB,
        "part_ibe_01",
        "s3://b/bucketed/bucketed_ibe_01/snapshot_dt=2025-01-15/",
        "customer_user_id",
        256,
        comment="never in the SQL",
    )

    (execution,) = moto_athena.executions.values()
    assert execution.query == ctas_statement(
        DB,
        "bucketed_ibe_01",
        DB,
        "part_ibe_01",
        "s3://b/bucketed/bucketed_ibe_01/snapshot_dt=2025-01-15/",
        "customer_user_id",
        256,
    )
    assert "never in the SQL" not in execution.query


# ---- statements ---------------------------------------------------------------------


def test_ctas_statement_is_hive_bucketed_snappy_parquet_at_the_location() -> None:
    statement = ctas_statement(
        "omc_flywheel_prod",
        "bucketed_ibe_01",
        "omc_flywheel_prod",
        "part_ibe_01",
        "s3://omc-flywheel-data-us-east-1-prod/omc_cleanroom_data/cleanroom_tables/bucketed/"
        "bucketed_ibe_01/snapshot_dt=2025-01-15/",
        "customer_user_id",
        256,
    )
    assert statement == (
        "CREATE TABLE omc_flywheel_prod.bucketed_ibe_01 WITH ("
        "format = 'PARQUET', write_compression = 'SNAPPY', "
        "external_location = 's3://omc-flywheel-data-us-east-1-prod/omc_cleanroom_data/"
        "cleanroom_tables/bucketed/bucketed_ibe_01/snapshot_dt=2025-01-15/', "
        "bucketed_by = ARRAY['customer_user_id'], bucket_count = 256) "
        "AS SELECT * FROM omc_flywheel_prod.part_ibe_01"
    )


def test_drop_table_statement_and_bucket_expr() -> None:
    assert drop_table_statement("db", "t") == "DROP TABLE IF EXISTS db.t"
    sql = AthenaSql(WORKGROUP, RESULTS, DB, REGION, client=object())
    assert sql.bucket_expr("customer_user_id", 256) == athena_bucket_expr("customer_user_id", 256)
    assert "crc32(to_utf8(" in sql.bucket_expr("customer_user_id", 256)


# ---- Stubber: polling, failures, pagination -----------------------------------------


def test_poll_backs_off_exponentially_then_pages_results(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    statement = "SELECT customer_user_id, n FROM t"
    expect_start(stub, statement)
    for state in ("QUEUED", "RUNNING", "RUNNING"):
        expect_state(stub, state)
    expect_state(stub, "SUCCEEDED")
    meta = columns(("customer_user_id", "varchar"), ("n", "integer"))
    stub.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [row("customer_user_id", "n"), row("a", "1"), row("b", "2")],
                "ResultSetMetadata": meta,
            },
            "NextToken": "page-2",
        },
        {"QueryExecutionId": QID, "MaxResults": 3},
    )
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [row(None, "3")], "ResultSetMetadata": meta}},
        {"QueryExecutionId": QID, "MaxResults": 3, "NextToken": "page-2"},
    )
    fake = FakeTime()

    rows = athena(client, fake, results_page_size=3).query(statement)

    assert rows == [
        {"customer_user_id": "a", "n": 1},
        {"customer_user_id": "b", "n": 2},
        {"customer_user_id": None, "n": 3},
    ]
    assert fake.sleeps == [0.2, 0.4, 0.8]


def test_back_off_is_capped_at_poll_max(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_start(stub, "MSCK REPAIR TABLE db.t")
    for _ in range(5):
        expect_state(stub, "RUNNING", statement_type="DDL")
    expect_state(stub, "SUCCEEDED", statement_type="DDL")
    fake = FakeTime()

    athena(client, fake, poll_initial_seconds=1, poll_max_seconds=3).execute(
        "MSCK REPAIR TABLE db.t"
    )

    assert fake.sleeps == [1, 2, 3, 3, 3]


def test_utility_statement_results_have_no_header_to_skip(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_start(stub, "SHOW TABLES")
    expect_state(stub, "SUCCEEDED", statement_type="UTILITY")
    stub.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [row("part_ibe_01"), row("part_ibe_02")],
                "ResultSetMetadata": columns(("tab_name", "string")),
            }
        },
        {"QueryExecutionId": QID, "MaxResults": 1000},
    )

    assert athena(client).query("SHOW TABLES") == [
        {"tab_name": "part_ibe_01"},
        {"tab_name": "part_ibe_02"},
    ]


def test_failed_query_raises_with_state_reason_error_and_id(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_start(stub, "SELECT * FROM missing")
    expect_state(
        stub,
        "FAILED",
        StateChangeReason="TABLE_NOT_FOUND: line 1:15: Table 'missing' does not exist",
        AthenaError={
            "ErrorCategory": 2,
            "ErrorType": 1301,
            "Retryable": False,
            "ErrorMessage": "TABLE_NOT_FOUND",
        },
    )

    with pytest.raises(AthenaQueryError) as info:
        athena(client).query("SELECT * FROM missing")

    message = str(info.value)
    assert QID in message and "FAILED" in message
    assert "Table 'missing' does not exist" in message
    assert "type 1301" in message and "TABLE_NOT_FOUND" in message
    assert (info.value.query_id, info.value.state) == (QID, "FAILED")


def test_cancelled_query_raises(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_start(stub, "DROP TABLE IF EXISTS db.t")
    expect_state(stub, "CANCELLED", statement_type="DDL", StateChangeReason="Query cancelled")

    with pytest.raises(AthenaQueryError, match=f"{QID} CANCELLED; reason: Query cancelled"):
        athena(client).execute("DROP TABLE IF EXISTS db.t")


def test_timeout_stops_the_query_and_raises(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_start(stub, "SELECT 1")
    for _ in range(5):  # polls at t = 0, 0.2, 0.6, 1.4 and, shortened, at the 2.0 deadline
        expect_state(stub, "RUNNING")
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    fake = FakeTime()

    with pytest.raises(AthenaQueryError, match="still RUNNING after 2s; stopped") as info:
        athena(client, fake, timeout_seconds=2).execute("SELECT 1")

    assert fake.sleeps == pytest.approx([0.2, 0.4, 0.8, 0.6])
    assert info.value.state == "RUNNING"
