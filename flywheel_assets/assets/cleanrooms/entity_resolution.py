"""Entity Resolution: the ``part_<table>_er`` tables, schema mappings and ID namespaces.

* ``part_<table>_er`` (partitioned by ``snapshot_dt``): the Entity Resolution view of each
  ``part_*`` table, published through the catalog port.
* ``er_schema_mapping/<table>`` and ``er_id_namespace/<table>``: one multi-asset that
  reconciles schema mappings and SOURCE ID namespaces (and writes each mapping's JSON).
"""

# No ``from __future__ import annotations``: Dagster reads the ``context`` and resource
# annotations of the decorated functions as types when the definitions are built.

import json
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.assets.cleanrooms.keys import ER_GROUP, id_namespace_key, schema_mapping_key
from flywheel_assets.assets.cleanrooms.session import (
    CleanroomsSession,
    execute_plan,
    plan_metadata,
)
from flywheel_assets.cleanrooms.apply import ClientFactory
from flywheel_assets.cleanrooms.desired import (
    UNKNOWN_ACCOUNT,
    CleanroomsConfig,
    DesiredIdNamespace,
    DesiredSchemaMapping,
    desired_entity_resolution,
)
from flywheel_assets.cleanrooms.er_tables import publish_er_table
from flywheel_assets.cleanrooms.plan import ENTITY_RESOLUTION, ID_NAMESPACE, SCHEMA_MAPPING, Plan
from flywheel_assets.cleanrooms.plan_entity_resolution import plan_entity_resolution
from flywheel_assets.cleanrooms.read import read_entity_resolution
from flywheel_assets.cleanrooms.report import SCHEMA_MAPPING_FILE
from flywheel_assets.cleanrooms.state import EntityResolutionActual
from flywheel_assets.keys import er_key, part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec

ENTITY_RESOLUTION_PLAN_FILE = "entity_resolution_plan.json"


def er_table_asset(table: TableSpec, owners: Sequence[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=er_key(table),
        deps=[part_key(table)],
        partitions_def=SNAPSHOT_PARTITIONS,
        group_name=ER_GROUP,
        kinds={"glue"},
        owners=list(owners),
        description=(
            f"Entity Resolution view of {table.part_table}: same location and partitions, "
            "only the unique id and the matching columns declared (no data copy)."
        ),
    )
    def _asset(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> dg.MaterializeResult:
        config = CleanroomsConfig.from_settings(platform.settings)
        definition = publish_er_table(
            platform.catalog,
            platform.settings.glue_database,
            table,
            context.partition_key,
            config.er_max_match_fields,
        )
        return dg.MaterializeResult(
            metadata={
                "table": f"{definition.database}.{definition.name}",
                "location": definition.location,
                "columns": dg.MetadataValue.json([c.name for c in definition.columns]),
                "column_count": len(definition.columns),
                "partition_count": len(definition.partitions),
                "source_table": table.part_table,
            }
        )

    return _asset


def entity_resolution_specs(
    tables: Sequence[TableSpec], owners: Sequence[str]
) -> list[dg.AssetSpec]:
    """A schema mapping and a SOURCE ID namespace (over the ``_er`` table) per table."""

    def spec(key: dg.AssetKey, deps: list[dg.AssetKey], description: str) -> dg.AssetSpec:
        return dg.AssetSpec(
            key,
            deps=deps,
            group_name=ER_GROUP,
            kinds={"entityresolution"},
            owners=list(owners),
            description=description,
        )

    specs: list[dg.AssetSpec] = []
    for t in tables:
        mapping, namespace = schema_mapping_key(t), id_namespace_key(t)
        specs.append(
            spec(mapping, [er_key(t)], f"Entity Resolution schema mapping of {t.er_table}.")
        )
        specs.append(
            spec(
                namespace,
                [mapping, er_key(t)],
                f"SOURCE ID namespace over the Glue table {t.er_table}.",
            )
        )
    return specs


def entity_resolution_resources_asset(
    tables: Sequence[TableSpec], owners: Sequence[str], client_factory: ClientFactory | None
) -> dg.AssetsDefinition:
    all_slugs = [t.slug for t in tables]

    specs = entity_resolution_specs(tables, owners)

    @dg.multi_asset(name="entity_resolution_resources", specs=specs, can_subset=True)
    def entity_resolution_resources(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> Iterator[dg.MaterializeResult]:
        selected = context.selected_asset_keys
        wanted = [t for t in tables if {schema_mapping_key(t), id_namespace_key(t)} & set(selected)]
        session = CleanroomsSession(platform, client_factory)
        mappings, namespaces = _selected_resources(session, wanted, selected)
        if session.local:
            actual = EntityResolutionActual()
        else:
            actual = read_entity_resolution(
                session.client(ENTITY_RESOLUTION),
                [m.name for m in mappings],
                [n.name for n in namespaces],
            )
        plan = plan_entity_resolution(
            mappings,
            namespaces,
            actual,
            managed_slugs=all_slugs,
            allow_replace=session.config.allow_replace,
            delete_unmanaged=session.config.delete_unmanaged,
        )
        sink = session.sink()
        files = {
            m.slug: sink.write(SCHEMA_MAPPING_FILE, m.filename, json.dumps(m.document(), indent=2))
            for m in mappings
        }
        mode, uri = execute_plan(context, session, plan, ENTITY_RESOLUTION_PLAN_FILE)
        yield from _results(plan, wanted, selected, mode, uri, files)

    return entity_resolution_resources


def _selected_resources(
    session: CleanroomsSession,
    wanted: Sequence[TableSpec],
    selected: AbstractSet[dg.AssetKey],
) -> tuple[tuple[DesiredSchemaMapping, ...], tuple[DesiredIdNamespace, ...]]:
    """The desired mappings and namespaces of the selected keys, all validated first."""
    # Validate every mapping before anything (even an STS lookup) is sent.
    desired_entity_resolution(wanted, session.config, UNKNOWN_ACCOUNT)
    mappings, namespaces = desired_entity_resolution(wanted, session.config, session.account_id())
    return (
        tuple(
            m for m, t in zip(mappings, wanted, strict=True) if schema_mapping_key(t) in selected
        ),
        tuple(
            n for n, t in zip(namespaces, wanted, strict=True) if id_namespace_key(t) in selected
        ),
    )


def _results(
    plan: Plan,
    wanted: Sequence[TableSpec],
    selected: AbstractSet[dg.AssetKey],
    mode: str,
    uri: str,
    files: Mapping[str, str],
) -> Iterator[dg.MaterializeResult]:
    """One result per selected key, with its table's part of the plan for that resource."""
    for t in wanted:
        table_plan = plan.for_table(t.slug)
        for key, resource in (
            (schema_mapping_key(t), SCHEMA_MAPPING),
            (id_namespace_key(t), ID_NAMESPACE),
        ):
            if key not in selected:
                continue
            part = Plan(
                [r for r in table_plan.requests if r.resource == resource],
                [o for o in table_plan.unchanged if o.resource == resource],
                [o for o in table_plan.blocked if o.resource == resource],
                [],
                table_plan.notes,
            )
            metadata = plan_metadata(part, mode, uri, plan)
            if resource == SCHEMA_MAPPING:
                metadata["schema_mapping_file"] = dg.MetadataValue.url(files[t.slug])
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
