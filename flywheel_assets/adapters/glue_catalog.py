"""Catalog port on the AWS Glue Data Catalog.

Publishing repoints a table in place (UpdateTable, then partition batches) so readers
never find it missing, and registers partitions through the Glue API in batches: the
fast path compared with ``MSCK REPAIR TABLE`` on S3. A history table (two partition
keys) is published one group at a time: a GetPartitions filtered by an ``Expression`` on
the first key reads only that group, so publishing a month never lists or rewrites the
table's other months.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.ports.catalog import (
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    CatalogPort,
    Column,
    TableDefinition,
    TableInfo,
    chunked,
    require_group_key,
)

# Limits from the Glue service model (botocore): BatchCreatePartition.PartitionInputList
# and BatchUpdatePartition.Entries take at most 100, BatchDeletePartition at most 25.
CREATE_BATCH_SIZE = 100
UPDATE_BATCH_SIZE = 100
DELETE_BATCH_SIZE = 25
# GetPartitions.MaxResults may be 1000; GetTables.MaxResults at most 100.
PARTITIONS_PAGE_SIZE = 1000
TABLES_PAGE_SIZE = 100


class GlueCatalogError(RuntimeError):
    """A Glue call failed in a way the caller should see in plain words."""


class GlueDatabaseNotFoundError(GlueCatalogError, LookupError):
    pass


class GlueTableNotFoundError(GlueCatalogError, LookupError):
    pass


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_already_exists(batch_error: dict[str, Any]) -> bool:
    return batch_error.get("ErrorDetail", {}).get("ErrorCode") == "AlreadyExistsException"


def _columns(columns: Iterable[Column]) -> list[dict[str, str]]:
    return [{"Name": c.name, "Type": c.type} for c in columns]


def _read_columns(raw: Iterable[dict[str, Any]]) -> tuple[Column, ...]:
    return tuple(Column(c["Name"], c.get("Type", "")) for c in raw)


class GlueCatalog(CatalogPort):
    def __init__(
        self,
        region: str,
        client: Any | None = None,
        partitions_page_size: int = PARTITIONS_PAGE_SIZE,
    ) -> None:
        self.region = region
        self.client = client if client is not None else aws_client("glue", region)
        self.partitions_page_size = partitions_page_size

    # ---- errors -------------------------------------------------------------------

    def _database_missing(self, database: str) -> GlueDatabaseNotFoundError:
        return GlueDatabaseNotFoundError(
            f"Glue database '{database}' does not exist (region {self.region})"
        )

    def _not_found(self, database: str, name: str, exc: ClientError) -> GlueCatalogError:
        """Glue answers EntityNotFoundException for a missing database and for a missing
        table alike; one GetDatabase tells the two apart so the message names the cause."""
        try:
            self.client.get_database(Name=database)
        except ClientError as db_exc:
            if _error_code(db_exc) == "EntityNotFoundException":
                return self._database_missing(database)
            raise
        return GlueTableNotFoundError(
            f"Glue table '{database}.{name}' does not exist (region {self.region}): {exc}"
        )

    def _check_batch(self, operation: str, database: str, name: str, response: dict) -> None:
        errors = response.get("Errors") or []
        if not errors:
            return
        details = []
        for err in errors[:5]:
            values = err.get("PartitionValues") or err.get("PartitionValueList") or []
            detail = err.get("ErrorDetail", {})
            details.append(
                f"{values}: {detail.get('ErrorCode', '?')}: {detail.get('ErrorMessage', '')}"
            )
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise GlueCatalogError(
            f"{operation} on {database}.{name} failed for {len(errors)} partition(s): "
            + "; ".join(details)
            + more
        )

    # ---- databases and tables -----------------------------------------------------

    def ensure_database(self, database: str) -> None:
        try:
            self.client.get_database(Name=database)
            return
        except ClientError as exc:
            if _error_code(exc) != "EntityNotFoundException":
                raise
        try:
            self.client.create_database(DatabaseInput={"Name": database})
        except ClientError as exc:
            if _error_code(exc) != "AlreadyExistsException":  # created concurrently
                raise

    def _raw_table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_table(DatabaseName=database, Name=name)["Table"]
        except ClientError as exc:
            if _error_code(exc) != "EntityNotFoundException":
                raise
            error = self._not_found(database, name, exc)
            if isinstance(error, GlueDatabaseNotFoundError):
                raise error from exc
            return None

    def get_table(self, database: str, name: str) -> TableInfo | None:
        raw = self._raw_table(database, name)
        if raw is None:
            return None
        sd = raw.get("StorageDescriptor", {})
        params = dict(raw.get("Parameters", {}))
        return TableInfo(
            database=database,
            name=raw["Name"],
            table_type=raw.get("TableType", ""),
            location=sd.get("Location", ""),
            columns=_read_columns(sd.get("Columns", [])),
            partition_keys=_read_columns(raw.get("PartitionKeys", [])),
            serde=sd.get("SerdeInfo", {}).get("SerializationLibrary", ""),
            input_format=sd.get("InputFormat", ""),
            comment=params.get("comment", raw.get("Description", "")),
            parameters=params,
            bucket_columns=tuple(sd.get("BucketColumns", [])),
            # Glue reports -1 for "not bucketed" on tables made by Hive/Athena DDL.
            bucket_count=max(0, int(sd.get("NumberOfBuckets", 0) or 0)),
        )

    def list_tables(self, database: str, prefix: str = "") -> list[str]:
        """All pages of GetTables, filtered here: Glue's ``Expression`` is a regex dialect
        in which ``_`` and ``.`` would need escaping, a plain prefix test is exact."""
        names: list[str] = []
        paginator = self.client.get_paginator("get_tables")
        try:
            for page in paginator.paginate(
                DatabaseName=database, PaginationConfig={"PageSize": TABLES_PAGE_SIZE}
            ):
                names.extend(t["Name"] for t in page.get("TableList", []))
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                raise self._database_missing(database) from exc
            raise
        return sorted(n for n in names if n.startswith(prefix))

    @staticmethod
    def _storage_descriptor(table: TableDefinition, location: str) -> dict[str, Any]:
        sd: dict[str, Any] = {
            "Columns": _columns(table.columns),
            "Location": location,
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "Compressed": False,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
        }
        if table.bucket_columns:
            sd["BucketColumns"] = list(table.bucket_columns)
            sd["NumberOfBuckets"] = table.bucket_count
        return sd

    @classmethod
    def table_input(cls, table: TableDefinition) -> dict[str, Any]:
        """The Glue TableInput for ``table`` (public so tests and docs can show it)."""
        parameters = {"EXTERNAL": "TRUE", "classification": "parquet"}
        if table.comment:
            parameters["comment"] = table.comment
        parameters.update(table.parameters)
        table_input: dict[str, Any] = {
            "Name": table.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "StorageDescriptor": cls._storage_descriptor(table, table.location),
            "PartitionKeys": _columns(table.partition_keys),
        }
        if table.comment:
            table_input["Description"] = table.comment[:2048]  # Glue's Description limit
        return table_input

    @classmethod
    def _partition_input(cls, table: TableDefinition, values: Sequence[str], location: str) -> dict:
        return {
            "Values": list(values),
            "StorageDescriptor": cls._storage_descriptor(table, location),
        }

    def _put_table(
        self,
        table: TableDefinition,
        on_existing: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """CreateTable, or UpdateTable in place when it exists (also when it was created
        concurrently since our read); ``on_existing(raw)`` runs before the update."""
        table_input = self.table_input(table)
        existing = self._raw_table(table.database, table.name)
        if existing is None:
            try:
                self.client.create_table(DatabaseName=table.database, TableInput=table_input)
                return
            except ClientError as exc:
                if _error_code(exc) != "AlreadyExistsException":
                    raise
                # Created concurrently since our read: fall through to an update.
                existing = {"PartitionKeys": table_input["PartitionKeys"]}
        if on_existing is not None:
            on_existing(existing)
        self.client.update_table(DatabaseName=table.database, TableInput=table_input)

    def publish_table(self, table: TableDefinition) -> None:
        if table.partitions and len(table.partition_keys) != 1:
            raise ValueError(
                f"{table.database}.{table.name}: partitions need exactly one partition key, "
                f"got {[c.name for c in table.partition_keys]}"
            )
        registered: dict[tuple[str, ...], str] = {}

        def read_partitions(existing: dict[str, Any]) -> None:
            # before the update can change the keys
            if existing.get("PartitionKeys"):
                registered.update(self._partition_values(table.database, table.name))

        self._put_table(table, read_partitions)
        self._sync_partitions(table, {(v,): loc for v, loc in table.partitions.items()}, registered)

    def publish_partition_group(self, table: TableDefinition, leading: str) -> None:
        """UpdateTable in place, then only this group's partitions: one filtered
        GetPartitions, and batch calls for the partitions that are new, moved or gone
        (a re-publish of an unchanged group changes nothing)."""
        require_group_key(table, leading)
        self._put_table(table)
        registered = self._group(table, leading)
        wanted = {(leading, b): loc for b, loc in table.partitions.items()}
        unchanged = {
            v for v, loc in wanted.items() if registered.get(v, "").rstrip("/") == loc.rstrip("/")
        }
        self._sync_partitions(
            table,
            {v: loc for v, loc in wanted.items() if v not in unchanged},
            {v: loc for v, loc in registered.items() if v not in unchanged},
        )

    def _group(self, table: TableDefinition | TableInfo, leading: str) -> dict[tuple, str]:
        expression = f"{table.partition_keys[0].name} = '{leading}'"
        return self._partition_values(table.database, table.name, expression)

    def drop_partition_group(self, database: str, name: str, leading: str) -> int:
        table = self.get_table(database, name)
        if table is None:
            return 0
        require_group_key(table, leading)
        group = list(self._group(table, leading))
        self._delete_partitions(database, name, group)
        return len(group)

    def _sync_partitions(
        self,
        table: TableDefinition,
        wanted: dict[tuple[str, ...], str],
        registered: dict[tuple[str, ...], str],
    ) -> None:
        """Repoint kept partitions, create new ones, then delete stale ones, in that order
        so a reader mid-publish sees old or new data for a value, never a gap for values
        that stay."""
        keep = [v for v in wanted if v in registered]
        new = [v for v in wanted if v not in registered]
        stale = [v for v in registered if v not in wanted]
        self._update_partitions(
            table.database,
            table.name,
            [self._partition_input(table, v, wanted[v]) for v in keep],
        )
        self._create_partitions(
            table.database,
            table.name,
            [self._partition_input(table, v, wanted[v]) for v in new],
            converge=True,
        )
        self._delete_partitions(table.database, table.name, stale)

    def _delete_partitions(self, database: str, name: str, values: Sequence[tuple]) -> None:
        for batch in chunked(values, DELETE_BATCH_SIZE):
            response = self.client.batch_delete_partition(
                DatabaseName=database,
                TableName=name,
                PartitionsToDelete=[{"Values": list(v)} for v in batch],
            )
            self._check_batch("BatchDeletePartition", database, name, response)

    def _update_partitions(self, database: str, name: str, inputs: Sequence[dict]) -> None:
        for batch in chunked(inputs, UPDATE_BATCH_SIZE):
            response = self.client.batch_update_partition(
                DatabaseName=database,
                TableName=name,
                Entries=[{"PartitionValueList": p["Values"], "PartitionInput": p} for p in batch],
            )
            self._check_batch("BatchUpdatePartition", database, name, response)

    def _create_partitions(
        self, database: str, name: str, inputs: Sequence[dict], converge: bool = False
    ) -> None:
        """``converge``: a partition registered since the listing was read (a concurrent
        publish) is updated to its input instead of failing the publish."""
        for batch in chunked(inputs, CREATE_BATCH_SIZE):
            response = self.client.batch_create_partition(
                DatabaseName=database, TableName=name, PartitionInputList=list(batch)
            )
            errors = response.get("Errors") or []
            exists = [e for e in errors if _is_already_exists(e)] if converge else []
            if exists:
                values = [e.get("PartitionValues") for e in exists]
                self._update_partitions(database, name, [p for p in batch if p["Values"] in values])
                response = {"Errors": [e for e in errors if e not in exists]}
            self._check_batch("BatchCreatePartition", database, name, response)

    # ---- partitions ---------------------------------------------------------------

    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        return {"/".join(v): loc for v, loc in self._partition_values(database, name).items()}

    def _partition_values(
        self, database: str, name: str, expression: str = ""
    ) -> dict[tuple[str, ...], str]:
        """All pages of GetPartitions (only those ``expression`` selects); column schemas
        are left out of the answer because only values and locations are read (a
        100-column table x 256 partitions)."""
        partitions: dict[tuple[str, ...], str] = {}
        paginator = self.client.get_paginator("get_partitions")
        extra = {"Expression": expression} if expression else {}
        try:
            for page in paginator.paginate(
                DatabaseName=database,
                TableName=name,
                ExcludeColumnSchema=True,
                PaginationConfig={"PageSize": self.partitions_page_size},
                **extra,
            ):
                for part in page.get("Partitions", []):
                    location = part.get("StorageDescriptor", {}).get("Location", "")
                    partitions[tuple(part["Values"])] = location
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                raise self._not_found(database, name, exc) from exc
            raise
        return partitions

    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        """Register partitions with the table's own storage descriptor (formats, SerDe,
        columns) and the given locations; already registered values are an error."""
        if not partitions:
            return
        raw = self._raw_table(database, name)
        if raw is None:
            raise GlueTableNotFoundError(
                f"Glue table '{database}.{name}' does not exist (region {self.region})"
            )
        if len(raw.get("PartitionKeys", [])) != 1:
            raise ValueError(f"{database}.{name} is not partitioned by exactly one key")
        base_sd = raw.get("StorageDescriptor", {})
        inputs = [
            {"Values": [value], "StorageDescriptor": {**base_sd, "Location": location}}
            for value, location in partitions.items()
        ]
        self._create_partitions(database, name, inputs)

    def drop_table(self, database: str, name: str) -> None:
        """Idempotent: a missing table is already dropped; a missing database is an error."""
        try:
            self.client.delete_table(DatabaseName=database, Name=name)
        except ClientError as exc:
            if _error_code(exc) != "EntityNotFoundException":
                raise
            error = self._not_found(database, name, exc)
            if isinstance(error, GlueDatabaseNotFoundError):
                raise error from exc
