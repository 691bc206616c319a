"""Catalog port: tables, partitions and their properties (Hive metastore or Glue)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# Glue's BatchCreatePartition / BatchUpdatePartition take at most 100 entries a call.
PARTITION_BATCH_SIZE = 100


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Hive type name: string, bigint, int, double, ...


@dataclass(frozen=True)
class TableDefinition:
    """Everything needed to publish one external parquet table."""

    database: str
    name: str
    columns: tuple[Column, ...]
    location: str
    partition_keys: tuple[Column, ...] = ()
    # partition value (as string) -> location
    partitions: dict[str, str] = field(default_factory=dict)
    comment: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    bucket_columns: tuple[str, ...] = ()
    bucket_count: int = 0


@dataclass(frozen=True)
class TableInfo:
    """What the catalog says about a table (the subset the platform reads back)."""

    database: str
    name: str
    table_type: str
    location: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    serde: str
    input_format: str
    comment: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    bucket_columns: tuple[str, ...] = ()
    bucket_count: int = 0


class CatalogPort(ABC):
    @abstractmethod
    def ensure_database(self, database: str) -> None: ...

    @abstractmethod
    def get_table(self, database: str, name: str) -> TableInfo | None: ...

    @abstractmethod
    def list_tables(self, database: str, prefix: str = "") -> list[str]: ...

    @abstractmethod
    def publish_table(self, table: TableDefinition) -> None:
        """Create the table or repoint it (schema, location, comment, partitions).

        After this returns the table and every partition in ``table.partitions`` point
        at the new locations; partitions not in the definition are removed. Readers
        never see the table missing: existing tables are updated, not dropped.
        """

    @abstractmethod
    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        """Registered partitions: value -> location. A table with two partition keys
        (``part_*_history``) answers the values joined by ``/`` in key order
        (``2025-01-15/3``)."""

    @abstractmethod
    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        """Register partitions (value -> location), in batches of at most 100."""

    @abstractmethod
    def publish_partition_group(self, table: TableDefinition, leading: str) -> None:
        """Publish one group of a table partitioned by two keys (``part_*_history``:
        ``snapshot_dt``, ``id_bucket``), without rewriting the others.

        Creates the table or updates it in place (schema, location, comment,
        parameters); then the partitions whose first value is ``leading`` become exactly
        ``table.partitions`` (second value -> location): new ones created, moved ones
        repointed, the rest of the group removed, in batches of at most 100. Partitions
        of other first values are not changed (and on Glue not even read).
        """

    @abstractmethod
    def drop_partition_group(self, database: str, name: str, leading: str) -> int:
        """Remove the partitions whose first value is ``leading`` (batches within the
        service's limits); how many there were. A missing table has none."""

    @abstractmethod
    def drop_table(self, database: str, name: str) -> None: ...


def chunked(items: Sequence, size: int = PARTITION_BATCH_SIZE) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def require_group_key(table: TableDefinition | TableInfo, leading: str) -> None:
    """A partition group needs a table with exactly two partition keys and a plain
    leading value (it is quoted into a Glue expression and Hive DDL)."""
    if len(table.partition_keys) != 2:
        raise ValueError(
            f"{table.database}.{table.name}: partition groups need two partition keys, got "
            f"{[c.name for c in table.partition_keys]}"
        )
    if not leading or any(c in leading for c in "'\\/"):
        raise ValueError(f"{table.database}.{table.name}: bad partition value {leading!r}")
