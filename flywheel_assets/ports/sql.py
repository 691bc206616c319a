"""SQL port: statements in the subset Spark SQL and Athena (Trino) both accept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from flywheel_assets.checks.sql import msck_repair_sql


class SqlPort(ABC):
    @abstractmethod
    def query(self, statement: str) -> list[dict[str, Any]]:
        """Run a statement and return every result row (all pages) as dicts."""

    @abstractmethod
    def execute(self, statement: str) -> None:
        """Run a statement whose result is not needed (DDL, MSCK REPAIR, CTAS)."""

    @abstractmethod
    def bucket_expr(self, column: str, bucket_count: int) -> str:
        """SQL for the id_bucket function; equal to ``flywheel_assets.bucketing.id_bucket``."""

    @abstractmethod
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
        """CTAS a parquet/Snappy table bucketed on ``bucket_column`` at ``location``."""

    def parquet_relation(self, uri: str) -> str | None:
        """A relation reading a parquet directory with no table over it, where the engine
        can (Spark: ``parquet.`uri```); ``None`` where it needs a table (Athena)."""
        return None

    def msck_repair(self, database: str, table: str) -> None:
        self.execute(msck_repair_sql(database, table))
