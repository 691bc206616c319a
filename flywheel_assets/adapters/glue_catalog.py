"""Catalog port on the AWS Glue Data Catalog.

Publishing repoints a table in place (UpdateTable, then partition batches) so readers
never find it missing, and registers partitions through the Glue API in batches: the
fast path compared with ``MSCK REPAIR TABLE`` on S3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    def _partition_input(cls, table: TableDefinition, value: str, location: str) -> dict:
        return {
            "Values": [value],
            "StorageDescriptor": cls._storage_descriptor(table, location),
        }

    def publish_table(self, table: TableDefinition) -> None:
        if table.partitions and len(table.partition_keys) != 1:
            raise ValueError(
                f"{table.database}.{table.name}: partitions need exactly one partition key, "
                f"got {[c.name for c in table.partition_keys]}"
            )
        table_input = self.table_input(table)
        existing = self._raw_table(table.database, table.name)
        registered: dict[str, str] = {}
        if existing is None:
            try:
                self.client.create_table(DatabaseName=table.database, TableInput=table_input)
            except ClientError as exc:
                if _error_code(exc) != "AlreadyExistsException":
                    raise
                # Created concurrently since our read: fall through to an update.
                existing = {"PartitionKeys": table_input["PartitionKeys"]}
        if existing is not None:
            # Read the registered partitions before the update can change the keys.
            if existing.get("PartitionKeys"):
                registered = self.list_partitions(table.database, table.name)
            self.client.update_table(DatabaseName=table.database, TableInput=table_input)
        self._sync_partitions(table, registered)

    def _sync_partitions(self, table: TableDefinition, registered: dict[str, str]) -> None:
        """Repoint kept partitions, create new ones, then delete stale ones, in that order
        so a reader mid-publish sees old or new data for a value, never a gap for values
        that stay."""
        wanted = table.partitions
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
        for batch in chunked(stale, DELETE_BATCH_SIZE):
            response = self.client.batch_delete_partition(
                DatabaseName=table.database,
                TableName=table.name,
                PartitionsToDelete=[{"Values": [v]} for v in batch],
            )
            self._check_batch("BatchDeletePartition", table.database, table.name, response)

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
        """All pages of GetPartitions; column schemas are left out of the answer because
        only values and locations are read (a 100-column table x 256 partitions)."""
        partitions: dict[str, str] = {}
        paginator = self.client.get_paginator("get_partitions")
        try:
            for page in paginator.paginate(
                DatabaseName=database,
                TableName=name,
                ExcludeColumnSchema=True,
                PaginationConfig={"PageSize": self.partitions_page_size},
            ):
                for part in page.get("Partitions", []):
                    location = part.get("StorageDescriptor", {}).get("Location", "")
                    partitions[part["Values"][0]] = location
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
