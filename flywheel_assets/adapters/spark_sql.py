"""SQL port on Spark SQL (local profile)."""

from __future__ import annotations

from typing import Any

from flywheel_assets.ports.sql import SqlPort
from glue_jobs.bucketing import spark_bucket_expr


class SparkSql(SqlPort):
    def __init__(self, spark) -> None:
        self.spark = spark
        self.statements: list[str] = []  # every statement issued, for plans and tests

    def query(self, statement: str) -> list[dict[str, Any]]:
        self.statements.append(statement)
        return [row.asDict() for row in self.spark.sql(statement).collect()]

    def execute(self, statement: str) -> None:
        self.statements.append(statement)
        self.spark.sql(statement)

    def parquet_relation(self, uri: str) -> str | None:
        return f"parquet.`{uri}`"

    def bucket_expr(self, column: str, bucket_count: int) -> str:
        return spark_bucket_expr(column, bucket_count)

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
        escaped = comment.replace("'", "\\'")
        self.execute(
            f"CREATE TABLE `{database}`.`{name}` USING PARQUET"
            f" OPTIONS ('compression' = 'snappy')"
            f" CLUSTERED BY (`{bucket_column}`) INTO {bucket_count} BUCKETS"
            f" LOCATION '{location}' COMMENT '{escaped}'"
            f" AS SELECT * FROM `{source_database}`.`{source_table}`"
        )
