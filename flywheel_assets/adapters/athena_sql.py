"""SQL port on Athena: start a query, poll it with back-off, page through its results."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.checks.sql import identifier, table_name
from flywheel_assets.ports.sql import SqlPort
from glue_jobs.bucketing import athena_bucket_expr

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
# Athena's default DML timeout is 30 minutes; a query still running then is stuck.
DEFAULT_TIMEOUT_SECONDS = 30 * 60
# GetQueryResults returns at most 1000 rows a page.
RESULTS_PAGE_SIZE = 1000

_INT_TYPES = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOAT_TYPES = {"float", "real", "double"}


class AthenaQueryError(RuntimeError):
    """An Athena query ended FAILED or CANCELLED, or did not finish in time."""

    def __init__(self, message: str, query_id: str, state: str) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.state = state


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def ctas_statement(
    database: str,
    name: str,
    source_database: str,
    source_table: str,
    location: str,
    bucket_column: str,
    bucket_count: int,
) -> str:
    """Athena CTAS (run by its Trino engine) writing a Hive-bucketed parquet/Snappy table
    at ``location``. Every name is checked by ``identifier`` (SqlIdentifierError before
    any query is started); the location is an escaped string literal.

    Athena's CTAS has no COMMENT clause; the caller sets the comment in the catalog.
    """
    target = table_name(database, name)
    source = table_name(source_database, source_table)
    column = identifier(bucket_column, "bucket column")
    if not location.startswith("s3://"):
        raise ValueError(f"CTAS external_location {location!r}: Athena writes only to s3://")
    if not isinstance(bucket_count, int) or isinstance(bucket_count, bool) or bucket_count < 1:
        raise ValueError(f"CTAS bucket_count {bucket_count!r}: expected a positive integer")
    return (
        f"CREATE TABLE {target} WITH ("
        f"format = 'PARQUET', write_compression = 'SNAPPY', "
        f"external_location = '{_sql_literal(location)}', "
        f"bucketed_by = ARRAY['{column}'], "
        f"bucket_count = {bucket_count}) "
        f"AS SELECT * FROM {source}"
    )


def drop_table_statement(database: str, name: str) -> str:
    """Athena DDL (Hive engine). The pipeline drops staging tables through the catalog
    (Glue DeleteTable); this is the SQL form, for operators and tests."""
    return f"DROP TABLE IF EXISTS {table_name(database, name)}"


def _convert(value: str | None, athena_type: str) -> Any:
    """Athena returns every value as text; give numbers and booleans back their type so
    rows compare equal to the Spark adapter's (``COUNT(*)`` is an int on both)."""
    if value is None:
        return None
    kind = athena_type.lower()
    if kind in _INT_TYPES:
        return int(value)
    if kind in _FLOAT_TYPES:
        return float(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "boolean":
        return value.lower() == "true"
    return value


class AthenaSql(SqlPort):
    def __init__(
        self,
        workgroup: str,
        output_location: str,
        database: str,
        region: str,
        client: Any | None = None,
        poll_initial_seconds: float = 0.2,
        poll_max_seconds: float = 5.0,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        results_page_size: int = RESULTS_PAGE_SIZE,
    ) -> None:
        self.workgroup = workgroup
        self.output_location = output_location
        self.database = database
        self.region = region
        self.client = client if client is not None else aws_client("athena", region)
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.clock = clock
        self.results_page_size = results_page_size

    # ---- running ------------------------------------------------------------------

    def _start(self, statement: str) -> str:
        params: dict[str, Any] = {
            "QueryString": statement,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:  # a workgroup may enforce its own result location
            params["ResultConfiguration"] = {"OutputLocation": self.output_location}
        return self.client.start_query_execution(**params)["QueryExecutionId"]

    def _wait(self, query_id: str) -> dict[str, Any]:
        """Poll until a terminal state, doubling the interval up to ``poll_max_seconds``."""
        deadline = self.clock() + self.timeout_seconds
        delay = self.poll_initial_seconds
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                raise AthenaQueryError(self._failure_message(query_id, status), query_id, state)
            remaining = deadline - self.clock()
            if remaining <= 0:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise AthenaQueryError(
                    f"Athena query {query_id} still {state or 'pending'} after "
                    f"{self.timeout_seconds:g}s; stopped it",
                    query_id,
                    state,
                )
            self.sleep(min(delay, remaining))  # the last poll lands on the deadline
            delay = min(delay * 2, self.poll_max_seconds)

    @staticmethod
    def _failure_message(query_id: str, status: dict[str, Any]) -> str:
        parts = [f"Athena query {query_id} {status.get('State')}"]
        if status.get("StateChangeReason"):
            parts.append(f"reason: {status['StateChangeReason']}")
        error = status.get("AthenaError") or {}
        if error:
            parts.append(
                f"AthenaError type {error.get('ErrorType', '?')} "
                f"category {error.get('ErrorCategory', '?')}: {error.get('ErrorMessage', '')}"
            )
        return "; ".join(parts)

    def execute(self, statement: str) -> None:
        self._wait(self._start(statement))

    def query(self, statement: str) -> list[dict[str, Any]]:
        query_id = self._start(statement)
        execution = self._wait(query_id)
        # SELECTs (DML) carry a header row first; SHOW/DESCRIBE (UTILITY) and DDL do not.
        skip_header = execution.get("StatementType", "DML") == "DML"
        rows: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("get_query_results")
        for page in paginator.paginate(
            QueryExecutionId=query_id,
            PaginationConfig={"PageSize": self.results_page_size},
        ):
            result_set = page.get("ResultSet", {})
            columns = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            names = [c["Name"] for c in columns]
            types = [c.get("Type", "varchar") for c in columns]
            page_rows = result_set.get("Rows", [])
            if skip_header:  # only the first page carries the header
                page_rows = page_rows[1:]
                skip_header = False
            for row in page_rows:
                values = [d.get("VarCharValue") for d in row.get("Data", [])]
                rows.append(
                    {n: _convert(v, t) for n, v, t in zip(names, values, types, strict=False)}
                )
        return rows

    # ---- SQL dialect --------------------------------------------------------------

    def bucket_expr(self, column: str, bucket_count: int) -> str:
        return athena_bucket_expr(identifier(column, "bucket column"), int(bucket_count))

    def create_bucketed_table_as(
        self,
        database: str,
        name: str,
        source_database: str,
        source_table: str,
        location: str,
        bucket_column: str,
        bucket_count: int,
        comment: str,
    ) -> None:
        """Run the CTAS; ``comment`` is not in the SQL (Athena CTAS cannot carry one)."""
        self.execute(
            ctas_statement(
                database,
                name,
                source_database,
                source_table,
                location,
                bucket_column,
                bucket_count,
            )
        )
