"""Plan Clean Rooms: configured tables, their CUSTOM analysis rules and associations.

Pure: desired state and actual state in, a ``Plan`` out. Each table is planned in three
parts (configured table, analysis rule, association); a table that does not exist yet
gets all three creates, the later two pointing at the first by ``Ref``. Nothing is
deleted unless a setting asks for it (``allow_replace`` for a rename the API can only do
by delete + create, ``delete_unmanaged`` for leftovers).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from flywheel_assets.cleanrooms.desired import (
    ANALYSIS_RULE_TYPE,
    DesiredAssociation,
    DesiredConfiguredTable,
)
from flywheel_assets.cleanrooms.plan import (
    ANALYSIS_RULE,
    ASSOCIATION,
    CLEANROOMS,
    CONFIGURED_TABLE,
    CREATE,
    DELETE,
    UPDATE,
    Outcome,
    Plan,
    Ref,
    Request,
)
from flywheel_assets.cleanrooms.state import (
    ActualAssociation,
    ActualConfiguredTable,
    CleanroomsActual,
)

# Tables that look like ours (``part_*``) but are not in the registry are "unmanaged".
MANAGED_TABLE_PREFIX = "part_"


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
        current = actual.configured_tables.get(d.name)
        if current is None:
            _plan_missing_table(plan, d)
            continue
        _plan_configured_table(plan, d, current)
        _plan_analysis_rule(plan, d, current)
        _plan_association(plan, d, current, actual, allow_replace)
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
        if delete_unmanaged:
            _plan_unmanaged_delete(plan, summary, slug, actual, membership_id)
        else:
            plan.kept.append(
                Outcome(CONFIGURED_TABLE, slug, name, "not in the registry; kept (deletes off)")
            )
    return plan


def _plan_missing_table(plan: Plan, d: DesiredConfiguredTable) -> None:
    """Create the table, its rule and its association; the later two by ``Ref`` to it."""
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
    plan.requests.append(_create_rule(d, ref, d.custom_policy()))
    if d.association:
        plan.requests.append(_create_association(d, d.association, ref))


def _create_rule(d: DesiredConfiguredTable, table_id: str | Ref, policy: dict[str, Any]) -> Request:
    return Request(
        CLEANROOMS,
        "create_configured_table_analysis_rule",
        d.analysis_rule_params(table_id, policy),
        CREATE,
        ANALYSIS_RULE,
        d.slug,
        d.name,
        "missing",
    )


def _create_association(
    d: DesiredConfiguredTable,
    association: DesiredAssociation,
    table_id: str | Ref,
    reason: str = "missing",
) -> Request:
    return Request(
        CLEANROOMS,
        "create_configured_table_association",
        d.create_association_params(table_id),
        CREATE,
        ASSOCIATION,
        d.slug,
        association.name,
        reason,
    )


def _column_diff(actual: Iterable[str], desired: Iterable[str]) -> str:
    actual_set, desired_set = set(actual), set(desired)
    missing = sorted(desired_set - actual_set)
    extra = sorted(actual_set - desired_set)
    return f"allowed columns: missing {missing}, extra {extra}"


def _plan_configured_table(
    plan: Plan, d: DesiredConfiguredTable, current: ActualConfiguredTable
) -> None:
    """Update columns, table reference or analysis method where they drifted."""
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
    if not changes:
        plan.unchanged.append(Outcome(CONFIGURED_TABLE, d.slug, d.name, current.id))
        return
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


def _plan_analysis_rule(
    plan: Plan, d: DesiredConfiguredTable, current: ActualConfiguredTable
) -> None:
    """Create the CUSTOM rule, or update the settings we manage where they drifted."""
    desired_custom = d.custom_policy()
    if current.custom_policy is None:
        plan.requests.append(_create_rule(d, current.id, desired_custom))
        return
    drift = [
        f"{key}: {sorted(current.custom_policy.get(key) or [])} -> {sorted(value)}"
        for key, value in desired_custom.items()
        if set(current.custom_policy.get(key) or []) != set(value)
    ]
    if not drift:
        plan.unchanged.append(Outcome(ANALYSIS_RULE, d.slug, d.name, ANALYSIS_RULE_TYPE))
        return
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


def _plan_association(
    plan: Plan,
    d: DesiredConfiguredTable,
    current: ActualConfiguredTable,
    actual: CleanroomsActual,
    allow_replace: bool,
) -> None:
    """Create the association, rename it (delete + create) or update its role."""
    if d.association is None:
        return
    assoc = actual.association_for(current.id)
    if assoc is None:
        plan.requests.append(_create_association(d, d.association, current.id))
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
        plan.requests.append(_delete_association(assoc, d.slug, f"rename: {reason}"))
        plan.requests.append(_create_association(d, d.association, current.id, f"rename: {reason}"))
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


def _delete_association(assoc: ActualAssociation, slug: str, reason: str) -> Request:
    return Request(
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


def _plan_unmanaged_delete(
    plan: Plan, summary: dict[str, Any], slug: str, actual: CleanroomsActual, membership_id: str
) -> None:
    """Delete a leftover table: its associations, then its rules, then the table."""
    name = summary["name"]
    reason = "not in the registry and cleanrooms_delete_unmanaged is on"
    for assoc in actual.associations:
        if assoc.configured_table_id == summary["id"] and membership_id:
            plan.requests.append(_delete_association(assoc, slug, reason))
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
