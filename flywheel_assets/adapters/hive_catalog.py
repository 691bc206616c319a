"""Catalog port on Spark's embedded Hive metastore (local profile).

Reads go through Spark's external catalog (exact locations, properties, bucket spec);
writes are Hive DDL issued through Spark SQL. Partitions are added and dropped in
statements of at most 100, mirroring Glue's batch limit. The metastore lock
(``spark_session.acquire_metastore_lock``) makes this process the only reader, so the
drop-then-add repoint cannot be observed half-done.
"""

from __future__ import annotations

import json

from flywheel_assets.ports.catalog import (
    CatalogPort,
    Column,
    TableDefinition,
    TableInfo,
    chunked,
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
        partition_names = list(table.partitionColumnNames().mkString("\x1f").split("\x1f"))
        partition_names = [p for p in partition_names if p]
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
        fqn = f"`{table.database}`.`{table.name}`"
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
            self.spark.sql(f"DROP TABLE {fqn}")
        properties = {**table.parameters, "comment": table.comment}
        props_sql = ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in properties.items())
        if not same_shape:
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
                f"CREATE EXTERNAL TABLE {fqn} ({_columns_sql(table.columns)})"
                f" COMMENT {_quote(table.comment)}{partitioned}{bucketed}"
                f" STORED AS PARQUET LOCATION {_quote(table.location)}"
                f" TBLPROPERTIES ({props_sql})"
            )
        else:
            self.spark.sql(f"ALTER TABLE {fqn} SET LOCATION {_quote(table.location)}")
            self.spark.sql(f"ALTER TABLE {fqn} SET TBLPROPERTIES ({props_sql})")
        if table.partition_keys:
            self._replace_partitions(table)

    def _replace_partitions(self, table: TableDefinition) -> None:
        key = table.partition_keys[0].name
        current = self.list_partitions(table.database, table.name)
        stale = [
            v for v, loc in current.items() if not same_location(table.partitions.get(v, ""), loc)
        ]
        if stale:
            for batch in chunked(sorted(stale)):
                specs = ", ".join(f"PARTITION (`{key}` = {_quote(v)})" for v in batch)
                self.spark.sql(f"ALTER TABLE `{table.database}`.`{table.name}` DROP {specs}")
        missing = {v: loc for v, loc in table.partitions.items() if v in stale or v not in current}
        self.add_partitions(table.database, table.name, missing)

    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        parts = self._external.listPartitions(database, name, self.spark._jvm.scala.Option.empty())
        found: dict[str, str] = {}
        for i in range(parts.size()):
            part = parts.apply(i)
            spec = part.spec()
            value = spec.values().head()
            found[value] = part.location().toString()
        return found

    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        table = self.get_table(database, name)
        if table is None or not table.partition_keys:
            raise ValueError(f"{database}.{name} is not a partitioned table")
        key = table.partition_keys[0].name
        for batch in chunked(sorted(partitions.items(), key=lambda kv: int(kv[0]))):
            specs = " ".join(
                f"PARTITION (`{key}` = {_quote(v)}) LOCATION {_quote(loc)}" for v, loc in batch
            )
            self.spark.sql(f"ALTER TABLE `{database}`.`{name}` ADD IF NOT EXISTS {specs}")

    def drop_table(self, database: str, name: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{name}`")
