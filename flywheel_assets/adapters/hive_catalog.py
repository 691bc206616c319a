"""Catalog port on Spark's embedded Hive metastore (local profile).

Reads go through Spark's external catalog (exact locations, properties, bucket spec);
writes are Hive DDL issued through Spark SQL. Partitions are added and dropped in
statements of at most 100, mirroring Glue's batch limit. The metastore lock
(``spark_session.acquire_metastore_lock``) makes this process the only reader, so the
drop-then-add repoint cannot be observed half-done. A history table (two partition keys)
is published one group at a time; a column added to it is an ``ADD COLUMNS``, any other
reshape drops and recreates it with all its partitions (metadata only).
"""

from __future__ import annotations

import json

from flywheel_assets.ports.catalog import (
    CatalogPort,
    Column,
    TableDefinition,
    TableInfo,
    chunked,
    require_group_key,
)

_TYPE_NAMES = {"EXTERNAL": "EXTERNAL_TABLE", "MANAGED": "MANAGED_TABLE", "VIEW": "VIRTUAL_VIEW"}


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def same_location(a: str, b: str) -> bool:
    """Hadoop stores ``file:///x/`` as ``file:/x``; compare locations modulo that."""

    def norm(uri: str) -> str:
        return uri.replace("file:///", "file:/").rstrip("/")

    return norm(a) == norm(b)


def _columns_sql(columns: tuple[Column, ...]) -> str:
    return ", ".join(f"`{c.name}` {c.type}" for c in columns)


class HiveCatalog(CatalogPort):
    def __init__(self, spark) -> None:
        self.spark = spark

    @property
    def _external(self):
        return self.spark._jsparkSession.sessionState().catalog().externalCatalog()

    def ensure_database(self, database: str) -> None:
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")

    def get_table(self, database: str, name: str) -> TableInfo | None:
        from pyspark.sql.types import StructType

        if not self._external.tableExists(database, name):
            return None
        table = self._external.getTable(database, name)
        storage = table.storage()
        schema = StructType.fromJson(json.loads(table.schema().json()))
        partition_names = _partition_names(table)
        columns = tuple(
            Column(f.name, f.dataType.simpleString())
            for f in schema.fields
            if f.name not in partition_names
        )
        partition_keys = tuple(
            Column(f.name, f.dataType.simpleString())
            for f in schema.fields
            if f.name in partition_names
        )
        properties: dict[str, str] = {}
        iterator = table.properties().iterator()
        while iterator.hasNext():
            entry = iterator.next()
            properties[entry._1()] = entry._2()
        bucket_columns: tuple[str, ...] = ()
        bucket_count = 0
        if table.bucketSpec().isDefined():
            spec = table.bucketSpec().get()
            bucket_count = spec.numBuckets()
            bucket_columns = tuple(spec.bucketColumnNames().mkString("\x1f").split("\x1f"))

        def opt(value) -> str:
            return value.get() if value.isDefined() else ""

        location = storage.locationUri()
        provider = opt(table.provider())
        serde = opt(storage.serde())
        if provider.lower() == "parquet" and not serde:
            serde = "parquet"
        return TableInfo(
            database=database,
            name=name,
            table_type=_TYPE_NAMES.get(table.tableType().name(), table.tableType().name()),
            location=location.get().toString() if location.isDefined() else "",
            columns=columns,
            partition_keys=partition_keys,
            serde=serde,
            input_format=opt(storage.inputFormat()),
            comment=opt(table.comment()),
            parameters=properties,
            bucket_columns=bucket_columns,
            bucket_count=bucket_count,
        )

    def list_tables(self, database: str, prefix: str = "") -> list[str]:
        names = self._external.listTables(database, f"{prefix}*" if prefix else "*")
        return sorted(names.apply(i) for i in range(names.size()))

    def publish_table(self, table: TableDefinition) -> None:
        self.ensure_database(table.database)
        current = self.get_table(table.database, table.name)
        same_shape = (
            current is not None
            and current.columns == table.columns
            and current.partition_keys == table.partition_keys
            and current.bucket_columns == table.bucket_columns
            and current.bucket_count == table.bucket_count
            and current.table_type == "EXTERNAL_TABLE"
        )
        if current is not None and not same_shape:
            self.spark.sql(f"DROP TABLE {_fqn(table)}")
        if not same_shape:
            self._create(table)
        else:
            self._repoint(table)
        if table.partition_keys:
            self._replace_partitions(table)

    def _create(self, table: TableDefinition) -> None:
        partitioned = (
            f" PARTITIONED BY ({_columns_sql(table.partition_keys)})"
            if table.partition_keys
            else ""
        )
        bucketed = (
            f" CLUSTERED BY ({', '.join(f'`{c}`' for c in table.bucket_columns)})"
            f" INTO {table.bucket_count} BUCKETS"
            if table.bucket_columns
            else ""
        )
        self.spark.sql(
            f"CREATE EXTERNAL TABLE {_fqn(table)} ({_columns_sql(table.columns)})"
            f" COMMENT {_quote(table.comment)}{partitioned}{bucketed}"
            f" STORED AS PARQUET LOCATION {_quote(table.location)}"
            f" TBLPROPERTIES ({_properties_sql(table)})"
        )

    def _repoint(self, table: TableDefinition) -> None:
        self.spark.sql(f"ALTER TABLE {_fqn(table)} SET LOCATION {_quote(table.location)}")
        self.spark.sql(f"ALTER TABLE {_fqn(table)} SET TBLPROPERTIES ({_properties_sql(table)})")

    def _replace_partitions(self, table: TableDefinition) -> None:
        keys = [c.name for c in table.partition_keys]
        current = self.list_partitions(table.database, table.name)
        stale = [
            v for v, loc in current.items() if not same_location(table.partitions.get(v, ""), loc)
        ]
        self._drop_specs(table.database, table.name, keys, [(v,) for v in sorted(stale)])
        missing = {v: loc for v, loc in table.partitions.items() if v in stale or v not in current}
        self.add_partitions(table.database, table.name, missing)

    def _partition_values(self, database: str, name: str) -> dict[tuple[str, ...], str]:
        """Every registered partition: its values in key order -> location."""
        keys = _partition_names(self._external.getTable(database, name))
        parts = self._external.listPartitions(database, name, self.spark._jvm.scala.Option.empty())
        found: dict[tuple[str, ...], str] = {}
        for i in range(parts.size()):
            part = parts.apply(i)
            spec = part.spec()
            found[tuple(spec.apply(k) for k in keys)] = part.location().toString()
        return found

    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        return {"/".join(v): loc for v, loc in self._partition_values(database, name).items()}

    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        table = self.get_table(database, name)
        if table is None or not table.partition_keys:
            raise ValueError(f"{database}.{name} is not a partitioned table")
        keys = [table.partition_keys[0].name]
        self._add_specs(database, name, keys, {(v,): loc for v, loc in partitions.items()})

    def _add_specs(
        self, database: str, name: str, keys: list[str], partitions: dict[tuple[str, ...], str]
    ) -> None:
        """``ALTER TABLE ADD`` of at most 100 partitions a statement, in value order."""
        ordered = sorted(partitions.items(), key=lambda kv: _value_order(kv[0]))
        for batch in chunked(ordered):
            specs = " ".join(f"{_spec_sql(keys, v)} LOCATION {_quote(loc)}" for v, loc in batch)
            self.spark.sql(f"ALTER TABLE `{database}`.`{name}` ADD IF NOT EXISTS {specs}")

    def _drop_specs(
        self, database: str, name: str, keys: list[str], values: list[tuple[str, ...]]
    ) -> None:
        for batch in chunked(sorted(values, key=_value_order)):
            specs = ", ".join(_spec_sql(keys, v) for v in batch)
            self.spark.sql(f"ALTER TABLE `{database}`.`{name}` DROP IF EXISTS {specs}")

    def publish_partition_group(self, table: TableDefinition, leading: str) -> None:
        require_group_key(table, leading)
        self.ensure_database(table.database)
        current = self.get_table(table.database, table.name)
        if current is None or not _extends(current, table):
            self._recreate(table, current)
        else:
            added = table.columns[len(current.columns) :]
            if added:
                self.spark.sql(f"ALTER TABLE {_fqn(table)} ADD COLUMNS ({_columns_sql(added)})")
            self._repoint(table)
        keys = [c.name for c in table.partition_keys]
        registered = self._group(table.database, table.name, leading)
        stale = [
            b
            for b, loc in registered.items()
            if not same_location(table.partitions.get(b, ""), loc)
        ]
        self._drop_specs(table.database, table.name, keys, [(leading, b) for b in stale])
        missing = {
            (leading, b): loc
            for b, loc in table.partitions.items()
            if b in stale or b not in registered
        }
        self._add_specs(table.database, table.name, keys, missing)

    def _recreate(self, table: TableDefinition, current: TableInfo | None) -> None:
        """A new table, or a reshaped one (Spark cannot retype or reorder columns in
        place): dropped and created again with every partition it had (metadata only;
        the metastore lock keeps readers out meanwhile)."""
        kept = self._partition_values(table.database, table.name) if current else {}
        if current is not None:
            self.spark.sql(f"DROP TABLE {_fqn(table)}")
        self._create(table)
        self._add_specs(table.database, table.name, [c.name for c in table.partition_keys], kept)

    def _group(self, database: str, name: str, leading: str) -> dict[str, str]:
        """Second value -> location of the partitions whose first value is ``leading``."""
        found = self._partition_values(database, name)
        return {v[1]: loc for v, loc in found.items() if v[0] == leading}

    def drop_partition_group(self, database: str, name: str, leading: str) -> int:
        current = self.get_table(database, name)
        if current is None:
            return 0
        require_group_key(current, leading)
        group = self._group(database, name, leading)
        keys = [c.name for c in current.partition_keys]
        self._drop_specs(database, name, keys, [(leading, b) for b in group])
        return len(group)

    def drop_table(self, database: str, name: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{name}`")


def _fqn(table: TableDefinition) -> str:
    return f"`{table.database}`.`{table.name}`"


def _properties_sql(table: TableDefinition) -> str:
    properties = {**table.parameters, "comment": table.comment}
    return ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in properties.items())


def _partition_names(catalog_table) -> list[str]:
    names = catalog_table.partitionColumnNames().mkString("\x1f").split("\x1f")
    return [n for n in names if n]


def _spec_sql(keys: list[str], values: tuple[str, ...]) -> str:
    pairs = ", ".join(f"`{k}` = {_quote(v)}" for k, v in zip(keys, values, strict=True))
    return f"PARTITION ({pairs})"


def _value_order(values: tuple[str, ...]) -> tuple:
    """Numbers in numeric order (id_bucket 2 before 10), everything else as text."""
    return tuple((0, int(v), "") if v.isdigit() else (1, 0, v) for v in values)


def _extends(current: TableInfo, table: TableDefinition) -> bool:
    """``table`` is ``current`` with columns appended at most: ALTER can make it so."""
    return (
        current.table_type == "EXTERNAL_TABLE"
        and current.partition_keys == table.partition_keys
        and not current.bucket_columns
        and not table.bucket_columns
        and table.columns[: len(current.columns)] == current.columns
    )
