"""In-memory catalog and recording alerts for automation tests (no Spark, no AWS)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flywheel_assets.ports.alerts import AlertsPort
from flywheel_assets.ports.catalog import CatalogPort, Column, TableDefinition, TableInfo


@dataclass
class RecordingAlerts(AlertsPort):
    sent: list[tuple[str, str]] = field(default_factory=list)
    fail_after: int | None = None  # raise on the send after this many

    def send(self, subject: str, message: str) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("alerts backend unavailable")
        self.sent.append((subject, message))


class FakeCatalog(CatalogPort):
    """Tables as published, read back as TableInfo; enough for retention and the monitor."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], TableDefinition] = {}
        self.reads = 0

    def ensure_database(self, database: str) -> None:
        return None

    def get_table(self, database: str, name: str) -> TableInfo | None:
        self.reads += 1
        table = self.tables.get((database, name))
        if table is None:
            return None
        return TableInfo(
            database=database,
            name=name,
            table_type="EXTERNAL_TABLE",
            location=table.location,
            columns=table.columns,
            partition_keys=table.partition_keys,
            serde="parquet",
            input_format="",
            comment=table.comment,
            parameters=dict(table.parameters),
        )

    def list_tables(self, database: str, prefix: str = "") -> list[str]:
        return sorted(n for d, n in self.tables if d == database and n.startswith(prefix))

    def publish_table(self, table: TableDefinition) -> None:
        self.tables[(table.database, table.name)] = table

    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        return dict(self.tables[(database, name)].partitions)

    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        raise NotImplementedError

    def publish_partition_group(self, table: TableDefinition, leading: str) -> None:
        """Partitions kept as ``<leading>/<value>`` (how list_partitions answers)."""
        current = self.tables.get((table.database, table.name))
        kept = {
            k: v
            for k, v in (current.partitions if current else {}).items()
            if not k.startswith(f"{leading}/")
        }
        group = {f"{leading}/{b}": loc for b, loc in table.partitions.items()}
        self.tables[(table.database, table.name)] = replace(table, partitions={**kept, **group})

    def drop_partition_group(self, database: str, name: str, leading: str) -> int:
        table = self.tables.get((database, name))
        group = [k for k in (table.partitions if table else {}) if k.startswith(f"{leading}/")]
        for key in group:
            del table.partitions[key]  # type: ignore[union-attr]
        return len(group)

    def drop_table(self, database: str, name: str) -> None:
        self.tables.pop((database, name), None)


def part_table(
    database: str, name: str, location: str, snapshot: str, buckets: int = 2
) -> TableDefinition:
    """A part_* table whose location and ``buckets`` partitions point into ``location``."""
    location = location.rstrip("/") + "/"
    return TableDefinition(
        database=database,
        name=name,
        columns=(Column("customer_user_id", "string"),),
        location=location,
        partition_keys=(Column("id_bucket", "int"),),
        partitions={str(b): f"{location}id_bucket={b}/" for b in range(buckets)},
        parameters={"snapshot_dt": snapshot},
    )
