"""Verify a configured table (the reference's ``verify-collaboration-table-config``).

Pure: desired and actual (or, locally, planned) state in, a ``Verdict`` out, whose
metadata says what was expected and what was found. The Dagster checks that report the
verdicts live in ``flywheel_assets.assets.cleanrooms.verification``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flywheel_assets.cleanrooms.desired import DesiredConfiguredTable
from flywheel_assets.cleanrooms.report import GlueTable
from flywheel_assets.cleanrooms.state import ActualConfiguredTable, CleanroomsActual

CHECK_PROVIDERS = "analysis_providers_match"
CHECK_COLUMNS = "allowed_columns_match_part_table"
CHECK_ASSOCIATION = "association_named_by_convention"
CHECK_NAMES = (CHECK_PROVIDERS, CHECK_COLUMNS, CHECK_ASSOCIATION)
CHECK_DESCRIPTIONS = {
    CHECK_PROVIDERS: "The CUSTOM rule allows exactly the configured providers.",
    CHECK_COLUMNS: "Allowed columns equal the part_* table's columns.",
    CHECK_ASSOCIATION: "The association exists and follows the naming convention.",
}
NO_MEMBERSHIP = "cleanrooms_membership_id is not set: no association is desired"


@dataclass(frozen=True)
class Verdict:
    """One check's outcome; list values of ``metadata`` are JSON documents."""

    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


def verification_check_names(membership_id: str) -> tuple[str, ...]:
    """The checks declared per configured table.

    Without a membership no association is desired (none is planned or applied), so the
    association check could never apply: it is not declared at all, rather than failing
    on every table of every run.
    """
    if membership_id:
        return CHECK_NAMES
    return tuple(name for name in CHECK_NAMES if name != CHECK_ASSOCIATION)


def verify(
    name: str,
    desired: DesiredConfiguredTable,
    actual: CleanroomsActual,
    glue_table: Callable[[], GlueTable],
) -> Verdict:
    """The verdict of check ``name``; ``glue_table`` is asked only by the columns check."""
    current = actual.configured_tables.get(desired.name)
    if current is None:
        return Verdict(False, description=f"configured table {desired.name} does not exist")
    if name == CHECK_PROVIDERS:
        return providers_match(desired, current)
    if name == CHECK_COLUMNS:
        return columns_match(desired, current, glue_table())
    return association_named_by_convention(desired, current, actual)


def providers_match(desired: DesiredConfiguredTable, current: ActualConfiguredTable) -> Verdict:
    found = sorted((current.custom_policy or {}).get("allowedAnalysisProviders") or [])
    expected = sorted(desired.providers)
    return Verdict(
        found == expected,
        {
            "expected": expected,
            "found": found,
            "missing": sorted(set(expected) - set(found)),
            "extra": sorted(set(found) - set(expected)),
        },
    )


def columns_match(
    desired: DesiredConfiguredTable, current: ActualConfiguredTable, glue: GlueTable
) -> Verdict:
    """The catalog's columns when the ``part_*`` table exists, else the registry's."""
    expected_cols = glue.columns if glue.exists else desired.allowed_columns
    expected_set = {c.lower() for c in expected_cols}
    found_set = set(current.allowed_columns)
    return Verdict(
        found_set == expected_set and len(current.allowed_columns) == len(found_set),
        {
            "expected_from": "catalog" if glue.exists else "registry",
            "expected_count": len(expected_set),
            "found_count": len(current.allowed_columns),
            "missing": sorted(expected_set - found_set),
            "extra": sorted(found_set - expected_set),
        },
    )


def association_named_by_convention(
    desired: DesiredConfiguredTable, current: ActualConfiguredTable, actual: CleanroomsActual
) -> Verdict:
    if desired.association is None:
        # Only reachable when the definitions were built with a membership and the run's
        # settings have none: nothing to verify, so not applicable rather than failed.
        return Verdict(True, {"applicable": False}, f"not applicable: {NO_MEMBERSHIP}")
    assoc = actual.association_for(current.id)
    return Verdict(
        assoc is not None and assoc.name == desired.association.name,
        {
            "expected_name": desired.association.name,
            "found_name": assoc.name if assoc else "(no association)",
            "membership_id": desired.association.membership_id,
        },
    )
