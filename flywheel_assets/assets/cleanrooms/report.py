"""``cleanrooms_report``: the reference's JSON + two CSV report, from the actual state on
AWS and from the planned state on the local profile."""

# No ``from __future__ import annotations``: Dagster reads the ``context`` and resource
# annotations of the decorated functions as types when the definitions are built.

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.assets.cleanrooms.keys import (
    CR_GROUP,
    REPORT_KEY,
    configured_table_key,
    id_namespace_key,
)
from flywheel_assets.assets.cleanrooms.session import CleanroomsSession
from flywheel_assets.cleanrooms.apply import ClientFactory
from flywheel_assets.cleanrooms.desired import (
    DesiredConfiguredTable,
    DesiredIdNamespace,
    DesiredSchemaMapping,
    configured_table_name,
    desired_configured_tables,
    desired_entity_resolution,
)
from flywheel_assets.cleanrooms.plan import CLEANROOMS, ENTITY_RESOLUTION
from flywheel_assets.cleanrooms.read import (
    read_cleanrooms,
    read_entity_resolution,
    read_membership,
)
from flywheel_assets.cleanrooms.report import REPORT, build_report, report_files, summary_markdown
from flywheel_assets.cleanrooms.state import (
    CleanroomsActual,
    EntityResolutionActual,
    planned_cleanrooms_state,
    planned_entity_resolution_state,
)
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec


def report_asset(
    tables: Sequence[TableSpec],
    owners: Sequence[str],
    client_factory: ClientFactory | None,
    now: Callable[[], dt.datetime],
) -> dg.AssetsDefinition:
    all_names = [configured_table_name(t) for t in tables]

    @dg.asset(
        key=REPORT_KEY,
        deps=[configured_table_key(t) for t in tables] + [id_namespace_key(t) for t in tables],
        group_name=CR_GROUP,
        kinds={"cleanrooms"},
        owners=list(owners),
        description=(
            "ACX_Cleanroom_Report_<UTC timestamp>: JSON, _Tables.csv and "
            "_IdentityResolution.csv (table status, associations, providers, readiness; "
            "ID namespaces, schema mappings, unique id, input fields, match keys)."
        ),
    )
    def cleanrooms_report(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> dg.MaterializeResult:
        session = CleanroomsSession(platform, client_factory)
        config = session.config
        desired = desired_configured_tables(tables, config)
        mappings, namespaces = desired_entity_resolution(tables, config, session.account_id())
        cleanrooms, entity_resolution, membership, source = _state(
            session, all_names, desired, mappings, namespaces
        )
        generated_at = now()
        report = build_report(
            generated_at=generated_at,
            database=session.settings.glue_database,
            membership=membership,
            glue_tables={t.part_table: session.glue_table(t) for t in tables},
            configured=desired,
            cleanrooms=cleanrooms,
            namespaces=namespaces,
            entity_resolution=entity_resolution,
            state_source=source,
        )
        sink = session.sink()
        uris = {
            name: sink.write(REPORT, name, text)
            for name, text in report_files(report, generated_at).items()
        }
        summary = report["summary"]
        return dg.MaterializeResult(
            metadata={
                "state_source": source,
                "ready_for_analysis": dg.MetadataValue.int(summary["ready_for_analysis"]),
                "tables": dg.MetadataValue.int(summary["tables"]),
                "id_namespaces": dg.MetadataValue.int(summary["id_namespaces_count"]),
                "files": dg.MetadataValue.json(uris),
                "summary": dg.MetadataValue.md(summary_markdown(report)),
            }
        )

    return cleanrooms_report


def _state(
    session: CleanroomsSession,
    all_names: Sequence[str],
    desired: Sequence[DesiredConfiguredTable],
    mappings: Sequence[DesiredSchemaMapping],
    namespaces: Sequence[DesiredIdNamespace],
) -> tuple[CleanroomsActual, EntityResolutionActual, dict[str, Any], str]:
    """What the report describes, the membership and where that came from: the planned
    state on the local profile (nothing is applied there), the actual state on AWS."""
    config = session.config
    if session.local:
        return (
            planned_cleanrooms_state(desired),
            planned_entity_resolution_state(mappings, namespaces),
            {"membership_id": config.membership_id},
            "planned (local profile: nothing applied)",
        )
    cleanrooms = read_cleanrooms(session.client(CLEANROOMS), all_names, config.membership_id)
    entity_resolution = read_entity_resolution(
        session.client(ENTITY_RESOLUTION),
        [m.name for m in mappings],
        [n.name for n in namespaces],
    )
    membership = read_membership(session.client(CLEANROOMS), config.membership_id)
    return cleanrooms, entity_resolution, membership, "actual"
