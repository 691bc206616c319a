"""``cleanrooms_verification``: the reference's verify script as asset checks on the
configured tables (the comparisons themselves are ``flywheel_assets.cleanrooms.
verification``). The association check is declared only when
``cleanrooms_membership_id`` is set: without a membership no association is desired, so
there is nothing it could verify."""

# No ``from __future__ import annotations``: Dagster reads the ``context`` and resource
# annotations of the decorated functions as types when the definitions are built.

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from dagster import AssetCheckExecutionContext

from flywheel_assets.assets.cleanrooms.keys import configured_table_key
from flywheel_assets.assets.cleanrooms.session import CleanroomsSession
from flywheel_assets.cleanrooms.apply import ClientFactory
from flywheel_assets.cleanrooms.desired import desired_configured_tables
from flywheel_assets.cleanrooms.plan import CLEANROOMS
from flywheel_assets.cleanrooms.read import read_cleanrooms
from flywheel_assets.cleanrooms.state import planned_cleanrooms_state
from flywheel_assets.cleanrooms.verification import (
    CHECK_DESCRIPTIONS,
    Verdict,
    verification_check_names,
    verify,
)
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec


def verification_checks(
    tables: Sequence[TableSpec], membership_id: str, client_factory: ClientFactory | None
) -> dg.AssetChecksDefinition:
    check_names = verification_check_names(membership_id)
    specs = [
        dg.AssetCheckSpec(name, asset=configured_table_key(t), description=CHECK_DESCRIPTIONS[name])
        for t in tables
        for name in check_names
    ]

    @dg.multi_asset_check(name="cleanrooms_verification", specs=specs, can_subset=True)
    def cleanrooms_verification(
        context: AssetCheckExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> Iterator[dg.AssetCheckResult]:
        session = CleanroomsSession(platform, client_factory)
        selected = context.selected_asset_check_keys
        wanted = [
            t for t in tables if any(k.asset_key == configured_table_key(t) for k in selected)
        ]
        desired = desired_configured_tables(wanted, session.config)
        if session.local:
            actual, source = planned_cleanrooms_state(desired), "planned (local profile)"
        else:
            actual = read_cleanrooms(
                session.client(CLEANROOMS), [d.name for d in desired], session.config.membership_id
            )
            source = "actual"
        for t, d in zip(wanted, desired, strict=True):
            key = configured_table_key(t)
            for name in check_names:
                if dg.AssetCheckKey(key, name) in selected:
                    verdict = verify(name, d, actual, lambda t=t: session.glue_table(t))
                    yield _check_result(key, name, verdict, source)

    return cleanrooms_verification


def _check_result(
    key: dg.AssetKey, name: str, verdict: Verdict, source: str
) -> dg.AssetCheckResult:
    """The verdict as a check result; list values shown as JSON."""
    metadata: dict[str, Any] = {"state_source": source}
    for field, value in verdict.metadata.items():
        metadata[field] = dg.MetadataValue.json(value) if isinstance(value, list) else value
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=verdict.passed,
        description=verdict.description,
        metadata=metadata,
    )
