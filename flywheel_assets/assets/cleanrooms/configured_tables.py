"""``cleanrooms_table/<table>``: one multi-asset that reconciles Clean Rooms configured
tables, their CUSTOM analysis rules and their collaboration associations."""

# No ``from __future__ import annotations``: Dagster reads the ``context`` and resource
# annotations of the decorated functions as types when the definitions are built.

from collections.abc import Iterator, Sequence

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.assets.cleanrooms.keys import CR_GROUP, configured_table_key
from flywheel_assets.assets.cleanrooms.session import (
    CleanroomsSession,
    execute_plan,
    plan_metadata,
)
from flywheel_assets.cleanrooms.apply import ClientFactory
from flywheel_assets.cleanrooms.desired import configured_table_name, desired_configured_tables
from flywheel_assets.cleanrooms.plan import CLEANROOMS
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.read import read_cleanrooms
from flywheel_assets.cleanrooms.state import CleanroomsActual
from flywheel_assets.keys import part_key
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec

CLEANROOMS_PLAN_FILE = "cleanrooms_plan.json"


def configured_table_specs(
    tables: Sequence[TableSpec], owners: Sequence[str]
) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            configured_table_key(t),
            deps=[part_key(t)],
            group_name=CR_GROUP,
            kinds={"cleanrooms"},
            owners=list(owners),
            description=(
                f"Clean Rooms configured table over {t.part_table} with its CUSTOM analysis "
                "rule and its association to the collaboration membership."
            ),
        )
        for t in tables
    ]


def configured_tables_asset(
    tables: Sequence[TableSpec], owners: Sequence[str], client_factory: ClientFactory | None
) -> dg.AssetsDefinition:
    # the whole registry: a subset run must not treat the other tables as leftovers
    all_names = [configured_table_name(t) for t in tables]

    specs = configured_table_specs(tables, owners)

    @dg.multi_asset(name="cleanrooms_configured_tables", specs=specs, can_subset=True)
    def cleanrooms_configured_tables(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> Iterator[dg.MaterializeResult]:
        session = CleanroomsSession(platform, client_factory)
        selected = [t for t in tables if configured_table_key(t) in context.selected_asset_keys]
        desired = desired_configured_tables(selected, session.config)  # validates first
        if session.local:
            actual = CleanroomsActual()
        else:
            actual = read_cleanrooms(
                session.client(CLEANROOMS), [d.name for d in desired], session.config.membership_id
            )
        plan = plan_cleanrooms(
            desired,
            actual,
            managed_names=all_names,
            allow_replace=session.config.allow_replace,
            delete_unmanaged=session.config.delete_unmanaged,
        )
        mode, uri = execute_plan(context, session, plan, CLEANROOMS_PLAN_FILE)
        for t in selected:
            yield dg.MaterializeResult(
                asset_key=configured_table_key(t),
                metadata=plan_metadata(plan.for_table(t.slug), mode, uri, plan),
            )

    return cleanrooms_configured_tables
