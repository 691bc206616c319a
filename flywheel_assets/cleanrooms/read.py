"""Read what exists in Clean Rooms and Entity Resolution into ``state.py``'s records.

Every listing goes through botocore's paginator (``list_all``); details are fetched only
for the names Flywheel manages, in the order given, so the calls are predictable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flywheel_assets.cleanrooms.desired import ANALYSIS_RULE_TYPE
from flywheel_assets.cleanrooms.state import (
    ActualAssociation,
    ActualConfiguredTable,
    ActualIdNamespace,
    ActualSchemaMapping,
    CleanroomsActual,
    EntityResolutionActual,
)


def list_all(
    client: Any, operation: str, result_key: str, page_size: int | None = None, **params: Any
) -> list[dict]:
    """Every item of a ``nextToken`` listing, through ``client.get_paginator(operation)``
    (real, moto and stubbed clients alike).

    botocore stops on the same token twice in a row only; a token seen twice anywhere is
    an error here too, not an endless listing."""
    config = {"PageSize": page_size} if page_size else {}
    items: list[dict] = []
    seen: set[str] = set()
    for page in client.get_paginator(operation).paginate(**params, PaginationConfig=config):
        items.extend(page.get(result_key, []))
        token = page.get("nextToken")
        if token in seen:
            raise RuntimeError(f"{operation} returned the page token {token!r} twice")
        if token:
            seen.add(token)
    return items


def list_associations(
    client: Any, membership_id: str, page_size: int | None = None
) -> list[dict[str, Any]]:
    """Every configured table association summary of the membership."""
    return list_all(
        client,
        "list_configured_table_associations",
        "configuredTableAssociationSummaries",
        page_size,
        membershipIdentifier=membership_id,
    )


def _is_not_found(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ResourceNotFoundException", "NotFoundException")


def read_cleanrooms(
    client: Any, names: Sequence[str], membership_id: str = "", page_size: int = 100
) -> CleanroomsActual:
    """Configured tables named in ``names`` (details, CUSTOM rule) and the membership's
    associations. Calls are made in ``names`` order so they are predictable."""
    summaries = list_all(client, "list_configured_tables", "configuredTableSummaries", page_size)
    associations = list_associations(client, membership_id, page_size) if membership_id else []
    associated_ids = {a["configuredTableId"] for a in associations}
    actual = CleanroomsActual(summaries=summaries)
    for name in names:
        candidates = [s for s in summaries if s["name"] == name]
        if not candidates:
            continue
        # Duplicates exist in the reference's history: prefer the associated one, else oldest.
        candidates.sort(key=lambda s: (s["id"] not in associated_ids, str(s.get("createTime"))))
        if len(candidates) > 1:
            actual.duplicates[name] = [c["id"] for c in candidates[1:]]
        actual.configured_tables[name] = _read_configured_table(client, candidates[0]["id"])
    managed_ids = {t.id for t in actual.configured_tables.values()}
    actual.associations = [
        _read_association(client, summary, membership_id, managed_ids) for summary in associations
    ]
    return actual


def _read_configured_table(client: Any, table_id: str) -> ActualConfiguredTable:
    """One configured table with its CUSTOM analysis rule (None when it has none)."""
    table = client.get_configured_table(configuredTableIdentifier=table_id)["configuredTable"]
    try:
        rule = client.get_configured_table_analysis_rule(
            configuredTableIdentifier=table_id, analysisRuleType=ANALYSIS_RULE_TYPE
        )
        custom = rule["analysisRule"]["policy"].get("v1", {}).get("custom")
    except Exception as exc:  # botocore ClientError; moto/stub raise the same shape
        if not _is_not_found(exc):
            raise
        custom = None
    return ActualConfiguredTable(
        id=table["id"],
        name=table["name"],
        allowed_columns=tuple(table.get("allowedColumns", ())),
        table_reference=table.get("tableReference", {}),
        analysis_method=table.get("analysisMethod", ""),
        description=table.get("description", ""),
        analysis_rule_types=tuple(table.get("analysisRuleTypes", ())),
        custom_policy=custom,
    )


def _read_association(
    client: Any, summary: dict[str, Any], membership_id: str, managed_ids: set[str]
) -> ActualAssociation:
    """An association; role and description (not in the summary) only for managed tables."""
    role_arn = description = ""
    if summary["configuredTableId"] in managed_ids:
        detail = client.get_configured_table_association(
            configuredTableAssociationIdentifier=summary["id"],
            membershipIdentifier=membership_id,
        )["configuredTableAssociation"]
        role_arn, description = detail.get("roleArn", ""), detail.get("description", "")
    return ActualAssociation(
        id=summary["id"],
        name=summary["name"],
        configured_table_id=summary["configuredTableId"],
        membership_id=summary.get("membershipId", membership_id),
        role_arn=role_arn,
        description=description,
    )


def read_entity_resolution(
    client: Any,
    mapping_names: Sequence[str],
    namespace_names: Sequence[str],
    page_size: int = 25,
) -> EntityResolutionActual:
    """Schema mappings and ID namespaces named here (details); names of all the others."""
    mappings = list_all(client, "list_schema_mappings", "schemaList", page_size)
    namespaces = list_all(client, "list_id_namespaces", "idNamespaceSummaries", page_size)
    actual = EntityResolutionActual(
        schema_mapping_names=[m["schemaName"] for m in mappings],
        id_namespace_names=[n["idNamespaceName"] for n in namespaces],
    )
    for name in mapping_names:
        if name in actual.schema_mapping_names:
            got = client.get_schema_mapping(schemaName=name)
            actual.schema_mappings[name] = _schema_mapping(got)
    for name in namespace_names:
        if name in actual.id_namespace_names:
            actual.id_namespaces[name] = _id_namespace(
                client.get_id_namespace(idNamespaceName=name)
            )
    return actual


def _schema_mapping(got: dict[str, Any]) -> ActualSchemaMapping:
    return ActualSchemaMapping(
        name=got["schemaName"],
        description=got.get("description", ""),
        fields=tuple(got.get("mappedInputFields", ())),
        has_workflows=bool(got.get("hasWorkflows", False)),
        arn=got.get("schemaArn", ""),
    )


def _id_namespace(got: dict[str, Any]) -> ActualIdNamespace:
    return ActualIdNamespace(
        name=got["idNamespaceName"],
        type=got.get("type", ""),
        description=got.get("description", ""),
        input_source_config=tuple(got.get("inputSourceConfig", ())),
        role_arn=got.get("roleArn", ""),
        arn=got.get("idNamespaceArn", ""),
    )


def read_membership(client: Any, membership_id: str) -> dict[str, Any]:
    """Collaboration id and name for the report; empty when no membership is configured."""
    if not membership_id:
        return {}
    membership = client.get_membership(membershipIdentifier=membership_id)["membership"]
    return {
        "membership_id": membership["id"],
        "collaboration_id": membership.get("collaborationId", ""),
        "collaboration_name": membership.get("collaborationName", ""),
        "status": membership.get("status", ""),
    }
