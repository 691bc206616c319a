"""Reconcile desired with actual Clean Rooms / Entity Resolution state.

Three steps, each testable alone:

* read: fetch the actual state with boto3 ``cleanrooms`` / ``entityresolution``
  clients (every list call paginated);
* plan: a pure diff that returns the exact requests ``(service, operation, params)``
  needed, plus what is unchanged and what is blocked;
* apply: send the requests in order, filling in ids of resources created earlier in
  the same plan.

Nothing is deleted unless a setting asks for it (``allow_replace`` for renames that
the API can only do by delete + create, ``delete_unmanaged`` for leftovers).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flywheel_assets.cleanrooms.desired import (
    ANALYSIS_RULE_TYPE,
    ID_NAMESPACE_PREFIX,
    SCHEMA_MAPPING_PREFIX,
    UNKNOWN_ACCOUNT,
    DesiredConfiguredTable,
    DesiredIdNamespace,
    DesiredSchemaMapping,
)

CLEANROOMS = "cleanrooms"
ENTITY_RESOLUTION = "entityresolution"
CONFIGURED_TABLE = "configured_table"
ANALYSIS_RULE = "analysis_rule"
ASSOCIATION = "association"
SCHEMA_MAPPING = "schema_mapping"
ID_NAMESPACE = "id_namespace"
CREATE, UPDATE, DELETE = "create", "update", "delete"
# Tables that look like ours (``part_*``) but are not in the registry are "unmanaged".
MANAGED_TABLE_PREFIX = "part_"

ClientFactory = Callable[[str], Any]


class ApplyError(RuntimeError):
    """A request failed; ``done`` lists what was applied before it (rerun to converge)."""

    def __init__(self, message: str, done: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.done = done


# --- plan model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """The id that an earlier request of the same plan returns (a table not created yet)."""

    key: str

    def __str__(self) -> str:
        return "${" + self.key + ".id}"


@dataclass(frozen=True)
class Request:
    """One exact boto3 call: ``clients(service).<operation>(**params)``."""

    service: str
    operation: str
    params: dict[str, Any]
    action: str
    resource: str
    table: str
    name: str
    reason: str = ""
    binds: str | None = None  # Ref key that this request's response id fills

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "params": render(self.params),
            "action": self.action,
            "resource": self.resource,
            "table": self.table,
            "name": self.name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Outcome:
    """A resource the plan leaves alone: unchanged, blocked (with why) or kept."""

    resource: str
    table: str
    name: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "table": self.table,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass
class Plan:
    requests: list[Request] = field(default_factory=list)
    unchanged: list[Outcome] = field(default_factory=list)
    blocked: list[Outcome] = field(default_factory=list)
    kept: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": sum(r.action == CREATE for r in self.requests),
            "updated": sum(r.action == UPDATE for r in self.requests),
            "deleted": sum(r.action == DELETE for r in self.requests),
            "unchanged": len(self.unchanged),
            "blocked": len(self.blocked),
            "unmanaged_kept": len(self.kept),
        }

    def for_table(self, slug: str) -> Plan:
        return Plan(
            [r for r in self.requests if r.table == slug],
            [o for o in self.unchanged if o.table == slug],
            [o for o in self.blocked if o.table == slug],
            [o for o in self.kept if o.table == slug],
            list(self.notes),
        )

    def extend(self, other: Plan) -> Plan:
        return Plan(
            self.requests + other.requests,
            self.unchanged + other.unchanged,
            self.blocked + other.blocked,
            self.kept + other.kept,
            self.notes + [n for n in other.notes if n not in self.notes],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "requests": [r.to_json() for r in self.requests],
            "unchanged": [o.to_json() for o in self.unchanged],
            "blocked": [o.to_json() for o in self.blocked],
            "unmanaged_kept": [o.to_json() for o in self.kept],
            "notes": list(self.notes),
        }

    def markdown(self, limit: int = 200) -> str:
        """A table a user reads in the Dagster UI before (local) or after (AWS) the change."""
        counts = ", ".join(f"{k}: {v}" for k, v in self.counts().items())
        lines = [f"**{counts}**", "", "| action | resource | table | name | detail |"]
        lines.append("| --- | --- | --- | --- | --- |")
        rows = [(r.action, r.resource, r.table, r.name, r.reason) for r in self.requests]
        rows += [("blocked", o.resource, o.table, o.name, o.detail) for o in self.blocked]
        rows += [("kept", o.resource, o.table, o.name, o.detail) for o in self.kept]
        rows += [("unchanged", o.resource, o.table, o.name, o.detail) for o in self.unchanged]
        for row in rows[:limit]:
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")
        if len(rows) > limit:
            lines.append(f"| ... | {len(rows) - limit} more rows | | | |")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def render(value: Any) -> Any:
    """JSON-ready params: a Ref shows as ``${configured_table:<name>.id}``."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, Mapping):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    return value


def resolve(value: Any, bindings: Mapping[str, str]) -> Any:
    if isinstance(value, Ref):
        if value.key not in bindings:
            raise KeyError(f"{value} is used before the request that creates it")
        return bindings[value.key]
    if isinstance(value, Mapping):
        return {k: resolve(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bindings) for v in value]
    return value


# --- actual state -----------------------------------------------------------------------


@dataclass(frozen=True)
class ActualConfiguredTable:
    id: str
    name: str
    allowed_columns: tuple[str, ...] = ()
    table_reference: dict[str, Any] = field(default_factory=dict)
    analysis_method: str = ""
    description: str = ""
    analysis_rule_types: tuple[str, ...] = ()
    custom_policy: dict[str, Any] | None = None  # analysisRule.policy.v1.custom


@dataclass(frozen=True)
class ActualAssociation:
    id: str
    name: str
    configured_table_id: str
    membership_id: str
    role_arn: str = ""
    description: str = ""


@dataclass
class CleanroomsActual:
    configured_tables: dict[str, ActualConfiguredTable] = field(default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)  # every configured table
    associations: list[ActualAssociation] = field(default_factory=list)  # in the membership
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # name -> ids not chosen

    def association_for(self, table_id: str) -> ActualAssociation | None:
        return next((a for a in self.associations if a.configured_table_id == table_id), None)


@dataclass(frozen=True)
class ActualSchemaMapping:
    name: str
    description: str = ""
    fields: tuple[dict[str, Any], ...] = ()
    has_workflows: bool = False
    arn: str = ""


@dataclass(frozen=True)
class ActualIdNamespace:
    name: str
    type: str = ""
    description: str = ""
    input_source_config: tuple[dict[str, Any], ...] = ()
    role_arn: str = ""
    arn: str = ""


@dataclass
class EntityResolutionActual:
    schema_mappings: dict[str, ActualSchemaMapping] = field(default_factory=dict)
    id_namespaces: dict[str, ActualIdNamespace] = field(default_factory=dict)
    schema_mapping_names: list[str] = field(default_factory=list)  # every mapping
    id_namespace_names: list[str] = field(default_factory=list)  # every namespace


# --- read -------------------------------------------------------------------------------


def paginate(client: Any, operation: str, result_key: str, **params: Any) -> list[dict]:
    """Every item of a ``nextToken`` listing (works with real, moto and stubbed clients).

    A token seen twice is an error, as in botocore's paginators, not an endless loop."""
    items: list[dict] = []
    token = None
    seen: set[str] = set()
    while True:
        kwargs = dict(params)
        if token:
            kwargs["nextToken"] = token
        page = getattr(client, operation)(**kwargs)
        items.extend(page.get(result_key, []))
        token = page.get("nextToken")
        if not token:
            return items
        if token in seen:
            raise RuntimeError(f"{operation} returned the page token {token!r} twice")
        seen.add(token)


def _is_not_found(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ResourceNotFoundException", "NotFoundException")


def read_cleanrooms(
    client: Any, names: Sequence[str], membership_id: str = "", page_size: int = 100
) -> CleanroomsActual:
    """Configured tables named in ``names`` (details, CUSTOM rule) and the membership's
    associations. Calls are made in ``names`` order so they are predictable."""
    summaries = paginate(
        client, "list_configured_tables", "configuredTableSummaries", maxResults=page_size
    )
    associations_raw = (
        paginate(
            client,
            "list_configured_table_associations",
            "configuredTableAssociationSummaries",
            membershipIdentifier=membership_id,
            maxResults=page_size,
        )
        if membership_id
        else []
    )
    associated_ids = {a["configuredTableId"] for a in associations_raw}
    actual = CleanroomsActual(summaries=summaries)
    for name in names:
        candidates = [s for s in summaries if s["name"] == name]
        if not candidates:
            continue
        # Duplicates exist in the reference's history: prefer the associated one, else oldest.
        candidates.sort(key=lambda s: (s["id"] not in associated_ids, str(s.get("createTime"))))
        chosen = candidates[0]
        if len(candidates) > 1:
            actual.duplicates[name] = [c["id"] for c in candidates[1:]]
        detail = client.get_configured_table(configuredTableIdentifier=chosen["id"])
        table = detail["configuredTable"]
        try:
            rule = client.get_configured_table_analysis_rule(
                configuredTableIdentifier=chosen["id"], analysisRuleType=ANALYSIS_RULE_TYPE
            )
            custom = rule["analysisRule"]["policy"].get("v1", {}).get("custom")
        except Exception as exc:  # botocore ClientError; moto/stub raise the same shape
            if not _is_not_found(exc):
                raise
            custom = None
        actual.configured_tables[name] = ActualConfiguredTable(
            id=table["id"],
            name=table["name"],
            allowed_columns=tuple(table.get("allowedColumns", ())),
            table_reference=table.get("tableReference", {}),
            analysis_method=table.get("analysisMethod", ""),
            description=table.get("description", ""),
            analysis_rule_types=tuple(table.get("analysisRuleTypes", ())),
            custom_policy=custom,
        )
    managed_ids = {t.id for t in actual.configured_tables.values()}
    for summary in associations_raw:
        role_arn = description = ""
        if summary["configuredTableId"] in managed_ids:
            detail = client.get_configured_table_association(
                configuredTableAssociationIdentifier=summary["id"],
                membershipIdentifier=membership_id,
            )["configuredTableAssociation"]
            role_arn, description = detail.get("roleArn", ""), detail.get("description", "")
        actual.associations.append(
            ActualAssociation(
                id=summary["id"],
                name=summary["name"],
                configured_table_id=summary["configuredTableId"],
                membership_id=summary.get("membershipId", membership_id),
                role_arn=role_arn,
                description=description,
            )
        )
    return actual


def read_entity_resolution(
    client: Any,
    mapping_names: Sequence[str],
    namespace_names: Sequence[str],
    page_size: int = 25,
) -> EntityResolutionActual:
    """Schema mappings and ID namespaces named here (details); names of all the others."""
    mappings = paginate(client, "list_schema_mappings", "schemaList", maxResults=page_size)
    namespaces = paginate(
        client, "list_id_namespaces", "idNamespaceSummaries", maxResults=page_size
    )
    actual = EntityResolutionActual(
        schema_mapping_names=[m["schemaName"] for m in mappings],
        id_namespace_names=[n["idNamespaceName"] for n in namespaces],
    )
    for name in mapping_names:
        if name in actual.schema_mapping_names:
            got = client.get_schema_mapping(schemaName=name)
            actual.schema_mappings[name] = ActualSchemaMapping(
                name=got["schemaName"],
                description=got.get("description", ""),
                fields=tuple(got.get("mappedInputFields", ())),
                has_workflows=bool(got.get("hasWorkflows", False)),
                arn=got.get("schemaArn", ""),
            )
    for name in namespace_names:
        if name in actual.id_namespace_names:
            got = client.get_id_namespace(idNamespaceName=name)
            actual.id_namespaces[name] = ActualIdNamespace(
                name=got["idNamespaceName"],
                type=got.get("type", ""),
                description=got.get("description", ""),
                input_source_config=tuple(got.get("inputSourceConfig", ())),
                role_arn=got.get("roleArn", ""),
                arn=got.get("idNamespaceArn", ""),
            )
    return actual


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


# --- plan -------------------------------------------------------------------------------


def _column_diff(actual: Iterable[str], desired: Iterable[str]) -> str:
    actual_set, desired_set = set(actual), set(desired)
    missing = sorted(desired_set - actual_set)
    extra = sorted(actual_set - desired_set)
    return f"allowed columns: missing {missing}, extra {extra}"


def plan_cleanrooms(
    desired: Sequence[DesiredConfiguredTable],
    actual: CleanroomsActual,
    *,
    managed_names: Collection[str] | None = None,
    allow_replace: bool = False,
    delete_unmanaged: bool = False,
) -> Plan:
    """Requests that make configured tables, CUSTOM rules and associations match ``desired``.

    ``managed_names`` is the whole registry (a subset run must not treat the other
    tables as leftovers); it defaults to the names in ``desired``.
    """
    plan = Plan()
    managed = set(managed_names if managed_names is not None else [d.name for d in desired])
    for d in desired:
        _plan_table(plan, d, actual, allow_replace)
    if desired and not any(d.association for d in desired):
        plan.notes.append("cleanrooms_membership_id is not set: no associations are desired")
    for name, ids in actual.duplicates.items():
        plan.notes.append(f"{name}: duplicate configured tables {ids} left untouched")
    membership_id = next((d.association.membership_id for d in desired if d.association), "")
    for summary in actual.summaries:
        name = summary["name"]
        if not name.startswith(MANAGED_TABLE_PREFIX) or name in managed:
            continue
        slug = name[len(MANAGED_TABLE_PREFIX) :]
        if not delete_unmanaged:
            plan.kept.append(
                Outcome(CONFIGURED_TABLE, slug, name, "not in the registry; kept (deletes off)")
            )
            continue
        reason = "not in the registry and cleanrooms_delete_unmanaged is on"
        for assoc in actual.associations:
            if assoc.configured_table_id == summary["id"] and membership_id:
                plan.requests.append(
                    Request(
                        CLEANROOMS,
                        "delete_configured_table_association",
                        {
                            "configuredTableAssociationIdentifier": assoc.id,
                            "membershipIdentifier": assoc.membership_id,
                        },
                        DELETE,
                        ASSOCIATION,
                        slug,
                        assoc.name,
                        reason,
                    )
                )
        for rule_type in summary.get("analysisRuleTypes", []):
            plan.requests.append(
                Request(
                    CLEANROOMS,
                    "delete_configured_table_analysis_rule",
                    {"configuredTableIdentifier": summary["id"], "analysisRuleType": rule_type},
                    DELETE,
                    ANALYSIS_RULE,
                    slug,
                    name,
                    reason,
                )
            )
        plan.requests.append(
            Request(
                CLEANROOMS,
                "delete_configured_table",
                {"configuredTableIdentifier": summary["id"]},
                DELETE,
                CONFIGURED_TABLE,
                slug,
                name,
                reason,
            )
        )
    return plan


def _plan_table(
    plan: Plan, d: DesiredConfiguredTable, actual: CleanroomsActual, allow_replace: bool
) -> None:
    current = actual.configured_tables.get(d.name)
    if current is None:
        ref = Ref(f"{CONFIGURED_TABLE}:{d.name}")
        plan.requests.append(
            Request(
                CLEANROOMS,
                "create_configured_table",
                d.create_table_params(),
                CREATE,
                CONFIGURED_TABLE,
                d.slug,
                d.name,
                "missing",
                binds=ref.key,
            )
        )
        plan.requests.append(
            Request(
                CLEANROOMS,
                "create_configured_table_analysis_rule",
                d.analysis_rule_params(ref, d.custom_policy()),
                CREATE,
                ANALYSIS_RULE,
                d.slug,
                d.name,
                "missing",
            )
        )
        if d.association:
            plan.requests.append(
                Request(
                    CLEANROOMS,
                    "create_configured_table_association",
                    d.create_association_params(ref),
                    CREATE,
                    ASSOCIATION,
                    d.slug,
                    d.association.name,
                    "missing",
                )
            )
        return

    # configured table
    changes: dict[str, Any] = {}
    reasons = []
    if set(current.allowed_columns) != set(d.allowed_columns) or len(
        current.allowed_columns
    ) != len(d.allowed_columns):
        changes["allowedColumns"] = list(d.allowed_columns)
        reasons.append(_column_diff(current.allowed_columns, d.allowed_columns))
    current_glue = current.table_reference.get("glue", {})
    desired_glue = d.table_reference["glue"]
    if any(current_glue.get(k) != v for k, v in desired_glue.items()):
        changes["tableReference"] = d.table_reference
        reasons.append(f"table reference {current_glue} != {desired_glue}")
    if current.analysis_method != d.analysis_method:
        changes["analysisMethod"] = d.analysis_method
        reasons.append(f"analysis method {current.analysis_method} != {d.analysis_method}")
    if changes:
        plan.requests.append(
            Request(
                CLEANROOMS,
                "update_configured_table",
                {"configuredTableIdentifier": current.id, **changes},
                UPDATE,
                CONFIGURED_TABLE,
                d.slug,
                d.name,
                "; ".join(reasons),
            )
        )
    else:
        plan.unchanged.append(Outcome(CONFIGURED_TABLE, d.slug, d.name, current.id))

    # CUSTOM analysis rule
    desired_custom = d.custom_policy()
    if current.custom_policy is None:
        plan.requests.append(
            Request(
                CLEANROOMS,
                "create_configured_table_analysis_rule",
                d.analysis_rule_params(current.id, desired_custom),
                CREATE,
                ANALYSIS_RULE,
                d.slug,
                d.name,
                "missing",
            )
        )
    else:
        drift = [
            f"{key}: {sorted(current.custom_policy.get(key) or [])} -> {sorted(value)}"
            for key, value in desired_custom.items()
            if set(current.custom_policy.get(key) or []) != set(value)
        ]
        if drift:
            # Keep settings we do not manage (disallowedOutputColumns, ...) as they are.
            merged = {**current.custom_policy, **desired_custom}
            plan.requests.append(
                Request(
                    CLEANROOMS,
                    "update_configured_table_analysis_rule",
                    d.analysis_rule_params(current.id, merged),
                    UPDATE,
                    ANALYSIS_RULE,
                    d.slug,
                    d.name,
                    "; ".join(drift),
                )
            )
        else:
            plan.unchanged.append(Outcome(ANALYSIS_RULE, d.slug, d.name, ANALYSIS_RULE_TYPE))

    # association
    if d.association is None:
        return
    assoc = actual.association_for(current.id)
    if assoc is None:
        plan.requests.append(
            Request(
                CLEANROOMS,
                "create_configured_table_association",
                d.create_association_params(current.id),
                CREATE,
                ASSOCIATION,
                d.slug,
                d.association.name,
                "missing",
            )
        )
    elif assoc.name != d.association.name:
        reason = f"named {assoc.name!r}, convention says {d.association.name!r}"
        if not allow_replace:
            plan.blocked.append(
                Outcome(
                    ASSOCIATION,
                    d.slug,
                    assoc.name,
                    f"{reason}; the API cannot rename, set cleanrooms_allow_replace to delete "
                    "and recreate it (its collaboration analysis rule must then be re-added)",
                )
            )
            return
        plan.requests.append(
            Request(
                CLEANROOMS,
                "delete_configured_table_association",
                {
                    "configuredTableAssociationIdentifier": assoc.id,
                    "membershipIdentifier": assoc.membership_id,
                },
                DELETE,
                ASSOCIATION,
                d.slug,
                assoc.name,
                f"rename: {reason}",
            )
        )
        plan.requests.append(
            Request(
                CLEANROOMS,
                "create_configured_table_association",
                d.create_association_params(current.id),
                CREATE,
                ASSOCIATION,
                d.slug,
                d.association.name,
                f"rename: {reason}",
            )
        )
    elif assoc.role_arn != d.association.role_arn:
        plan.requests.append(
            Request(
                CLEANROOMS,
                "update_configured_table_association",
                {
                    "configuredTableAssociationIdentifier": assoc.id,
                    "membershipIdentifier": assoc.membership_id,
                    "roleArn": d.association.role_arn,
                },
                UPDATE,
                ASSOCIATION,
                d.slug,
                assoc.name,
                f"role {assoc.role_arn} -> {d.association.role_arn}",
            )
        )
    else:
        plan.unchanged.append(Outcome(ASSOCIATION, d.slug, assoc.name, assoc.id))


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
    return plan


def _plan_mapping(plan: Plan, d: DesiredSchemaMapping, actual: EntityResolutionActual) -> None:
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
    reasons = []
    if _normalize_sources(current.input_source_config) != _normalize_sources(
        d.input_source_config()
    ):
        reasons.append("input source differs")
    if d.role_arn and current.role_arn != d.role_arn:
        reasons.append(f"role {current.role_arn} -> {d.role_arn}")
    if (current.description or "") != d.description:
        reasons.append("description differs")
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


# --- apply ------------------------------------------------------------------------------

_CREATED_ID = {"create_configured_table": ("configuredTable", "id")}


def _already_exists(exc: Exception) -> bool:
    """Clean Rooms answers ConflictException (reason ALREADY_EXISTS), Entity Resolution
    ConflictException, for a create whose resource exists."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    reason = response.get("reason", "ALREADY_EXISTS")  # Entity Resolution gives no reason
    return code == "ConflictException" and reason == "ALREADY_EXISTS"


def _update_instead(operation: str, *, drop: tuple[str, ...] = ()) -> Callable[..., Any]:
    def send(client: Any, params: dict[str, Any]) -> Any:
        return getattr(client, operation)(**{k: v for k, v in params.items() if k not in drop})

    return send


def _update_association(client: Any, params: dict[str, Any]) -> Any:
    """The association named ``params["name"]`` exists: update it if it is this table's;
    a name held by another table's association is not ours to take."""
    membership = params["membershipIdentifier"]
    summaries = paginate(
        client,
        "list_configured_table_associations",
        "configuredTableAssociationSummaries",
        membershipIdentifier=membership,
    )
    same = [s for s in summaries if s["name"] == params["name"]]
    if not same or same[0]["configuredTableId"] != params["configuredTableIdentifier"]:
        raise RuntimeError(
            f"association {params['name']!r} exists in membership {membership} for another "
            "configured table"
        )
    return client.update_configured_table_association(
        configuredTableAssociationIdentifier=same[0]["id"],
        membershipIdentifier=membership,
        description=params["description"],
        roleArn=params["roleArn"],
    )


# A create that meets "already exists" converges: the resource appeared after the read (a
# listing that lagged behind the previous run's create, another process), so the desired
# state is written with the update call. Configured tables are not here: Clean Rooms does
# not make their names unique (duplicates are reported by the read instead).
_CONVERGE = {
    "create_configured_table_analysis_rule": _update_instead(
        "update_configured_table_analysis_rule"
    ),
    "create_configured_table_association": _update_association,
    "create_schema_mapping": _update_instead("update_schema_mapping"),
    "create_id_namespace": _update_instead("update_id_namespace", drop=("type",)),
}


def _send(client: Any, operation: str, params: dict[str, Any]) -> tuple[Any, bool]:
    """The response, and whether the request converged on an existing resource."""
    try:
        return getattr(client, operation)(**params), False
    except Exception as exc:
        if operation not in _CONVERGE or not _already_exists(exc):
            raise
    return _CONVERGE[operation](client, params), True


def apply_plan(plan: Plan, clients: ClientFactory) -> list[dict[str, Any]]:
    """Send every request in order; stop at the first failure (a rerun converges)."""
    bindings: dict[str, str] = {}
    done: list[dict[str, Any]] = []
    for request in plan.requests:
        params = resolve(request.params, bindings)
        try:
            response, converged = _send(clients(request.service), request.operation, params)
        except Exception as exc:
            raise ApplyError(
                f"{request.operation} for {request.table} ({request.name}) failed after "
                f"{len(done)} of {len(plan.requests)} requests: {exc}",
                done,
            ) from exc
        if request.binds:
            outer, key = _CREATED_ID[request.operation]
            bindings[request.binds] = response[outer][key]
        entry = {"operation": request.operation, "table": request.table, "name": request.name}
        if converged:
            entry["converged"] = "existed; updated instead"
        done.append(entry)
    return done


# --- local profile: the state a plan would leave -------------------------------------------


def planned_cleanrooms_state(desired: Sequence[DesiredConfiguredTable]) -> CleanroomsActual:
    """What Clean Rooms would hold after applying ``desired`` (ids are placeholders)."""
    actual = CleanroomsActual()
    for d in desired:
        table_id = f"planned:{d.name}"
        actual.configured_tables[d.name] = ActualConfiguredTable(
            id=table_id,
            name=d.name,
            allowed_columns=d.allowed_columns,
            table_reference=d.table_reference,
            analysis_method=d.analysis_method,
            description=d.description,
            analysis_rule_types=(ANALYSIS_RULE_TYPE,),
            custom_policy=d.custom_policy(),
        )
        actual.summaries.append({"id": table_id, "name": d.name})
        if d.association:
            actual.associations.append(
                ActualAssociation(
                    id=f"planned:{d.association.name}",
                    name=d.association.name,
                    configured_table_id=table_id,
                    membership_id=d.association.membership_id,
                    role_arn=d.association.role_arn,
                    description=d.association.description,
                )
            )
    return actual


def planned_entity_resolution_state(
    mappings: Sequence[DesiredSchemaMapping], namespaces: Sequence[DesiredIdNamespace]
) -> EntityResolutionActual:
    actual = EntityResolutionActual()
    for m in mappings:
        actual.schema_mappings[m.name] = ActualSchemaMapping(m.name, m.description, m.fields)
        actual.schema_mapping_names.append(m.name)
    for n in namespaces:
        actual.id_namespaces[n.name] = ActualIdNamespace(
            n.name, n.type, n.description, tuple(n.input_source_config()), n.role_arn
        )
        actual.id_namespace_names.append(n.name)
    return actual
