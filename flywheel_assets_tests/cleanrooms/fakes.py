"""Test doubles for the Clean Rooms tests: an in-memory catalog, service-shaped responses
for botocore's Stubber, and a client that routes to moto what moto implements."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.stub import Stubber

from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.ports.catalog import CatalogPort, Column, TableDefinition, TableInfo

REGION = "us-east-1"
ACCOUNT = "123456789012"
MEMBERSHIP_ID = "6610c9aa-9002-475c-8695-d833485741bc"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/cleanrooms-glue-s3-access"
PROVIDERS = ["921290734397", "657425294073"]
NOW = dt.datetime(2025, 1, 15, 12, 0, 0, tzinfo=dt.UTC)


def settings_for(home: Path, env: str = "dev", **overrides: Any) -> Settings:
    """A profile's settings with a private home; never reads the real environment."""
    settings = load_settings(env, environ={"FLYWHEEL_HOME": str(home)})
    return dataclasses.replace(settings, **overrides)


def aws_settings(home: Path, **overrides: Any) -> Settings:
    values = {"cleanrooms_membership_id": MEMBERSHIP_ID, "cleanrooms_role_arn": ROLE_ARN}
    return settings_for(home, "dev", **{**values, **overrides})


def ct_arn(table_id: str) -> str:
    return f"arn:aws:cleanrooms:{REGION}:{ACCOUNT}:configuredtable/{table_id}"


def ct_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"configured-table/{name}"))


def assoc_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"association/{name}"))


# --- Clean Rooms response shapes -----------------------------------------------------------


def configured_table(
    name: str,
    columns: Sequence[str],
    database: str,
    *,
    table_id: str | None = None,
    custom: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``configuredTable`` body; ``custom`` (test-only key) is its CUSTOM rule policy."""
    table_id = table_id or ct_id(name)
    body = {
        "id": table_id,
        "arn": ct_arn(table_id),
        "name": name,
        "description": f"{database}.{name} (managed by flywheel)",
        "tableReference": {"glue": {"tableName": name, "databaseName": database}},
        "createTime": NOW,
        "updateTime": NOW,
        "analysisRuleTypes": ["CUSTOM"] if custom is not None else [],
        "analysisMethod": "DIRECT_QUERY",
        "allowedColumns": list(columns),
    }
    if custom is not None:
        body["_custom"] = custom
    return body


def _public(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if not k.startswith("_")}


def table_summary(table: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "arn", "name", "createTime", "updateTime", "analysisRuleTypes", "analysisMethod")
    return {k: table[k] for k in keys}


def analysis_rule_response(table_id: str, custom: dict[str, Any]) -> dict[str, Any]:
    return {
        "analysisRule": {
            "configuredTableId": table_id,
            "configuredTableArn": ct_arn(table_id),
            "policy": {"v1": {"custom": custom}},
            "type": "CUSTOM",
            "createTime": NOW,
            "updateTime": NOW,
        }
    }


def association(
    name: str,
    table_id: str,
    membership_id: str = MEMBERSHIP_ID,
    role_arn: str = ROLE_ARN,
    *,
    association_id: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    association_id = association_id or assoc_id(name)
    return {
        "arn": (
            f"arn:aws:cleanrooms:{REGION}:{ACCOUNT}:configuredtableassociation/"
            f"{membership_id}/{association_id}"
        ),
        "id": association_id,
        "configuredTableId": table_id,
        "configuredTableArn": ct_arn(table_id),
        "membershipId": membership_id,
        "membershipArn": f"arn:aws:cleanrooms:{REGION}:{ACCOUNT}:membership/{membership_id}",
        "roleArn": role_arn,
        "name": name,
        "description": description,
        "createTime": NOW,
        "updateTime": NOW,
    }


def association_summary(assoc: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "configuredTableId",
        "membershipId",
        "membershipArn",
        "name",
        "createTime",
        "updateTime",
        "id",
        "arn",
    )
    return {k: assoc[k] for k in keys}


def stub_cleanrooms_reads(
    stubber: Stubber,
    tables: Sequence[dict[str, Any]],
    associations: Sequence[dict[str, Any]],
    names: Iterable[str],
    membership_id: str = MEMBERSHIP_ID,
    page_size: int = 100,
) -> None:
    """The reads ``read_cleanrooms`` makes, in its order, answered from ``tables``."""
    stubber.add_response(
        "list_configured_tables",
        {"configuredTableSummaries": [table_summary(t) for t in tables]},
        {"maxResults": page_size},
    )
    if membership_id:
        stubber.add_response(
            "list_configured_table_associations",
            {"configuredTableAssociationSummaries": [association_summary(a) for a in associations]},
            {"membershipIdentifier": membership_id, "maxResults": page_size},
        )
    by_name = {t["name"]: t for t in tables}
    managed = set()
    for name in names:
        table = by_name.get(name)
        if table is None:
            continue
        managed.add(table["id"])
        stubber.add_response(
            "get_configured_table",
            {"configuredTable": _public(table)},
            {"configuredTableIdentifier": table["id"]},
        )
        if "_custom" in table:
            stubber.add_response(
                "get_configured_table_analysis_rule",
                analysis_rule_response(table["id"], table["_custom"]),
                {"configuredTableIdentifier": table["id"], "analysisRuleType": "CUSTOM"},
            )
        else:
            stubber.add_client_error(
                "get_configured_table_analysis_rule",
                service_error_code="ResourceNotFoundException",
                http_status_code=404,
                expected_params={
                    "configuredTableIdentifier": table["id"],
                    "analysisRuleType": "CUSTOM",
                },
            )
    for assoc in associations:
        if assoc["configuredTableId"] in managed:
            stubber.add_response(
                "get_configured_table_association",
                {"configuredTableAssociation": assoc},
                {
                    "configuredTableAssociationIdentifier": assoc["id"],
                    "membershipIdentifier": membership_id,
                },
            )


# --- Entity Resolution response shapes --------------------------------------------------


def schema_mapping(document: dict[str, Any], *, has_workflows: bool = False) -> dict[str, Any]:
    """A GetSchemaMapping body for ``document`` (the create request)."""
    return {
        "schemaName": document["schemaName"],
        "schemaArn": (
            f"arn:aws:entityresolution:{REGION}:{ACCOUNT}:schemamapping/{document['schemaName']}"
        ),
        "description": document.get("description", ""),
        "mappedInputFields": [dict(f) for f in document["mappedInputFields"]],
        "createdAt": NOW,
        "updatedAt": NOW,
        "hasWorkflows": has_workflows,
    }


def id_namespace(params: dict[str, Any]) -> dict[str, Any]:
    """A GetIdNamespace body for ``params`` (the create request)."""
    body = {
        "idNamespaceName": params["idNamespaceName"],
        "idNamespaceArn": (
            f"arn:aws:entityresolution:{REGION}:{ACCOUNT}:idnamespace/{params['idNamespaceName']}"
        ),
        "description": params.get("description", ""),
        "inputSourceConfig": params["inputSourceConfig"],
        "type": params["type"],
        "createdAt": NOW,
        "updatedAt": NOW,
    }
    if "roleArn" in params:
        body["roleArn"] = params["roleArn"]
    return body


def stub_er_reads(
    stubber: Stubber,
    mappings: Sequence[dict[str, Any]],
    namespaces: Sequence[dict[str, Any]],
    mapping_names: Iterable[str],
    namespace_names: Iterable[str],
) -> None:
    """The reads ``read_entity_resolution`` makes, in its order."""
    stubber.add_response(
        "list_schema_mappings",
        {
            "schemaList": [
                {k: m[k] for k in ("schemaName", "schemaArn", "createdAt", "updatedAt")}
                | {"hasWorkflows": m["hasWorkflows"]}
                for m in mappings
            ]
        },
        {"maxResults": 25},
    )
    stubber.add_response(
        "list_id_namespaces",
        {
            "idNamespaceSummaries": [
                {
                    k: n[k]
                    for k in ("idNamespaceName", "idNamespaceArn", "type", "createdAt", "updatedAt")
                }
                for n in namespaces
            ]
        },
        {"maxResults": 25},
    )
    by_mapping = {m["schemaName"]: m for m in mappings}
    for name in mapping_names:
        if name in by_mapping:
            stubber.add_response("get_schema_mapping", by_mapping[name], {"schemaName": name})
    by_namespace = {n["idNamespaceName"]: n for n in namespaces}
    for name in namespace_names:
        if name in by_namespace:
            stubber.add_response("get_id_namespace", by_namespace[name], {"idNamespaceName": name})


# --- moto + Stubber ----------------------------------------------------------------------

# What moto 5.2's cleanrooms backend implements (collaborations, memberships, tables).
MOTO_CLEANROOMS_OPERATIONS = frozenset(
    {
        "create_collaboration",
        "get_collaboration",
        "list_collaborations",
        "create_membership",
        "get_membership",
        "list_memberships",
        "create_configured_table",
        "get_configured_table",
        "list_configured_tables",
        "update_configured_table",
        "delete_configured_table",
    }
)


class MotoWithStubs:
    """One ``cleanrooms`` client: moto for what moto implements, a Stubber for the rest
    (analysis rules and associations)."""

    def __init__(self, moto_client: Any, stubbed_client: Any) -> None:
        self.moto = moto_client
        self.stubbed = stubbed_client
        self.stubbed_calls: list[tuple[str, dict[str, Any]]] = []
        # every request of the stubbed client, called directly or through a paginator
        stubbed_client.meta.events.register("before-parameter-build.cleanrooms", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.stubbed_calls.append((xform_name(model.name), dict(params)))

    def _client(self, operation: str) -> Any:
        return self.moto if operation in MOTO_CLEANROOMS_OPERATIONS else self.stubbed

    def get_paginator(self, operation: str) -> Any:
        return self._client(operation).get_paginator(operation)

    def __getattr__(self, operation: str) -> Any:
        return getattr(self._client(operation), operation)


# --- catalog -----------------------------------------------------------------------------


class FakeCatalog(CatalogPort):
    """In-memory catalog: publish_table stores the definition as-is."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], TableDefinition] = {}
        self.published: list[TableDefinition] = []

    def ensure_database(self, database: str) -> None:
        return None

    def get_table(self, database: str, name: str) -> TableInfo | None:
        table = self.tables.get((database, name))
        if table is None:
            return None
        return TableInfo(
            database=table.database,
            name=table.name,
            table_type="EXTERNAL_TABLE",
            location=table.location,
            columns=table.columns,
            partition_keys=table.partition_keys,
            serde="parquet",
            input_format="parquet",
            comment=table.comment,
            parameters=dict(table.parameters),
        )

    def list_tables(self, database: str, prefix: str = "") -> list[str]:
        return sorted(n for d, n in self.tables if d == database and n.startswith(prefix))

    def publish_table(self, table: TableDefinition) -> None:
        self.tables[(table.database, table.name)] = table
        self.published.append(table)

    def list_partitions(self, database: str, name: str) -> dict[str, str]:
        return dict(self.tables[(database, name)].partitions)

    def add_partitions(self, database: str, name: str, partitions: dict[str, str]) -> None:
        self.tables[(database, name)].partitions.update(partitions)

    def publish_partition_group(self, table: TableDefinition, leading: str) -> None:
        raise NotImplementedError("history tables are not part of the Clean Rooms tests")

    def drop_partition_group(self, database: str, name: str, leading: str) -> int:
        raise NotImplementedError("history tables are not part of the Clean Rooms tests")

    def drop_table(self, database: str, name: str) -> None:
        self.tables.pop((database, name), None)


def part_table_definition(
    database: str, name: str, columns: Sequence[str], snapshot: str, buckets: int = 4
) -> TableDefinition:
    """A ``part_*`` table as the catalog asset publishes it: one snapshot, id_bucket parts."""
    location = f"s3://bucket/omc_cleanroom_data/split_part/{name}/snapshot_dt={snapshot}/"
    return TableDefinition(
        database=database,
        name=name,
        columns=tuple(Column(c, "string") for c in columns),
        location=location,
        partition_keys=(Column("id_bucket", "int"),),
        partitions={str(b): f"{location}id_bucket={b}/" for b in range(buckets)},
    )
