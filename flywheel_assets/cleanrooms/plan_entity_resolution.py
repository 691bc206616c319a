"""Plan Entity Resolution: schema mappings and SOURCE ID namespaces.

Pure: desired and actual state in, a ``Plan`` out. A mapping used by a workflow is
blocked (Entity Resolution refuses the update); a namespace whose type changed can only
be replaced (``allow_replace``); leftovers are deleted only with ``delete_unmanaged``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from flywheel_assets.cleanrooms.desired import (
    ID_NAMESPACE_PREFIX,
    SCHEMA_MAPPING_PREFIX,
    UNKNOWN_ACCOUNT,
    DesiredIdNamespace,
    DesiredSchemaMapping,
)
from flywheel_assets.cleanrooms.plan import (
    CREATE,
    DELETE,
    ENTITY_RESOLUTION,
    ID_NAMESPACE,
    SCHEMA_MAPPING,
    UPDATE,
    Outcome,
    Plan,
    Request,
)
from flywheel_assets.cleanrooms.state import ActualIdNamespace, EntityResolutionActual

_FIELD_KEYS = ("fieldName", "type", "matchKey", "groupName", "subType", "hashed")


def normalize_fields(fields: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mapped fields compared by value: order-free, absent == empty == False."""
    normalized = [
        {k: f[k] for k in _FIELD_KEYS if f.get(k) not in (None, "", False)} for f in fields
    ]
    return sorted(normalized, key=lambda f: f["fieldName"])


def _normalize_sources(sources: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return sorted((s.get("inputSourceARN", ""), s.get("schemaName", "")) for s in sources)


def plan_entity_resolution(
    mappings: Sequence[DesiredSchemaMapping],
    namespaces: Sequence[DesiredIdNamespace],
    actual: EntityResolutionActual,
    *,
    managed_slugs: Collection[str] | None = None,
    allow_replace: bool = False,
    delete_unmanaged: bool = False,
) -> Plan:
    """Requests that make schema mappings and SOURCE ID namespaces match ``desired``."""
    plan = Plan()
    by_slug = {n.slug: n for n in namespaces}
    for mapping in mappings:
        _plan_mapping(plan, mapping, actual)
        if mapping.slug in by_slug:
            _plan_namespace(plan, by_slug.pop(mapping.slug), actual, allow_replace)
    for namespace in by_slug.values():
        _plan_namespace(plan, namespace, actual, allow_replace)
    if any(UNKNOWN_ACCOUNT in n.input_source_arn for n in namespaces):
        plan.notes.append(
            "AWS account unknown (no role ARN, local profile): input sources show "
            f"{UNKNOWN_ACCOUNT}"
        )
    if any(not n.role_arn for n in namespaces):
        plan.notes.append("no Entity Resolution role ARN set: ID namespaces carry no roleArn")

    slugs = set(managed_slugs if managed_slugs is not None else [m.slug for m in mappings])
    _plan_unmanaged(plan, actual, slugs, delete_unmanaged)
    return plan


def _plan_unmanaged(
    plan: Plan, actual: EntityResolutionActual, slugs: set[str], delete_unmanaged: bool
) -> None:
    """``ACX_*`` mappings and namespaces of no registry table: deleted or kept."""
    managed_mappings = {SCHEMA_MAPPING_PREFIX + s.upper() for s in slugs}
    managed_namespaces = {ID_NAMESPACE_PREFIX + s.upper() for s in slugs}
    leftovers = [
        (ID_NAMESPACE, n, "delete_id_namespace", {"idNamespaceName": n}, ID_NAMESPACE_PREFIX)
        for n in actual.id_namespace_names
        if n.startswith(ID_NAMESPACE_PREFIX) and n not in managed_namespaces
    ] + [
        (SCHEMA_MAPPING, n, "delete_schema_mapping", {"schemaName": n}, SCHEMA_MAPPING_PREFIX)
        for n in actual.schema_mapping_names
        if n.startswith(SCHEMA_MAPPING_PREFIX) and n not in managed_mappings
    ]
    for resource, name, operation, params, prefix in leftovers:  # namespaces first
        slug = name[len(prefix) :].lower()
        if delete_unmanaged:
            plan.requests.append(
                Request(
                    ENTITY_RESOLUTION,
                    operation,
                    params,
                    DELETE,
                    resource,
                    slug,
                    name,
                    "not in the registry and cleanrooms_delete_unmanaged is on",
                )
            )
        else:
            plan.kept.append(Outcome(resource, slug, name, "not in the registry; kept"))


def _plan_mapping(plan: Plan, d: DesiredSchemaMapping, actual: EntityResolutionActual) -> None:
    """Create the mapping, update it where it drifted, or block when a workflow uses it."""
    current = actual.schema_mappings.get(d.name)
    if current is None:
        plan.requests.append(
            Request(
                ENTITY_RESOLUTION,
                "create_schema_mapping",
                d.document(),
                CREATE,
                SCHEMA_MAPPING,
                d.slug,
                d.name,
                "missing",
            )
        )
        return
    reasons = []
    if normalize_fields(current.fields) != normalize_fields(d.fields):
        now = {f["fieldName"] for f in current.fields}
        want = {f["fieldName"] for f in d.fields}
        reasons.append(
            f"fields: missing {sorted(want - now)}, extra {sorted(now - want)}"
            if now != want
            else "field types or match keys differ"
        )
    if (current.description or "") != d.description:
        reasons.append("description differs")
    if not reasons:
        plan.unchanged.append(Outcome(SCHEMA_MAPPING, d.slug, d.name, current.arn))
    elif current.has_workflows:
        plan.blocked.append(
            Outcome(
                SCHEMA_MAPPING,
                d.slug,
                d.name,
                "; ".join(reasons) + "; used by a workflow, Entity Resolution refuses updates",
            )
        )
    else:
        plan.requests.append(
            Request(
                ENTITY_RESOLUTION,
                "update_schema_mapping",
                d.document(),
                UPDATE,
                SCHEMA_MAPPING,
                d.slug,
                d.name,
                "; ".join(reasons),
            )
        )


def _plan_namespace(
    plan: Plan, d: DesiredIdNamespace, actual: EntityResolutionActual, allow_replace: bool
) -> None:
    """Create the namespace, replace it when its (immutable) type changed, or update it."""
    current = actual.id_namespaces.get(d.name)
    create = Request(
        ENTITY_RESOLUTION,
        "create_id_namespace",
        d.create_params(),
        CREATE,
        ID_NAMESPACE,
        d.slug,
        d.name,
        "missing",
    )
    if current is None:
        plan.requests.append(create)
        return
    if current.type != d.type:
        reason = f"type {current.type} -> {d.type} (immutable)"
        if not allow_replace:
            plan.blocked.append(
                Outcome(ID_NAMESPACE, d.slug, d.name, reason + "; set cleanrooms_allow_replace")
            )
            return
        plan.requests.append(
            Request(
                ENTITY_RESOLUTION,
                "delete_id_namespace",
                {"idNamespaceName": d.name},
                DELETE,
                ID_NAMESPACE,
                d.slug,
                d.name,
                reason,
            )
        )
        plan.requests.append(replace(create, reason=reason))
        return
    reasons = _namespace_drift(current, d)
    if not reasons:
        plan.unchanged.append(Outcome(ID_NAMESPACE, d.slug, d.name, current.arn))
        return
    params: dict[str, Any] = {
        "idNamespaceName": d.name,
        "description": d.description,
        "inputSourceConfig": d.input_source_config(),
    }
    if d.role_arn:
        params["roleArn"] = d.role_arn
    plan.requests.append(
        Request(
            ENTITY_RESOLUTION,
            "update_id_namespace",
            params,
            UPDATE,
            ID_NAMESPACE,
            d.slug,
            d.name,
            "; ".join(reasons),
        )
    )


def _namespace_drift(current: ActualIdNamespace, d: DesiredIdNamespace) -> list[str]:
    """What an update must change; the role only when one is desired."""
    reasons = []
    if _normalize_sources(current.input_source_config) != _normalize_sources(
        d.input_source_config()
    ):
        reasons.append("input source differs")
    if d.role_arn and current.role_arn != d.role_arn:
        reasons.append(f"role {current.role_arn} -> {d.role_arn}")
    if (current.description or "") != d.description:
        reasons.append("description differs")
    return reasons
