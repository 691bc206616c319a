"""One factory for catalog tables registered over a dataset build (``part_*``, ``ext_*``).

The asset loads the newest build's manifest, passes the publish gate
(``flywheel_assets.publishing``: a passing audit, no silent rollback), builds a
TableDefinition with a stage-specific function and leaves publishing, and the reader
marker written after it, to the catalog IO manager.
"""

from collections.abc import Callable
from dataclasses import replace

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets import builds, layout
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import TableDefinition
from flywheel_assets.publishing import Publication, PublishPolicy, require_in_order
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import Manifest

DefinitionFn = Callable[[AssetExecutionContext, Platform, Manifest], TableDefinition]


def gated_publication(
    platform: Platform, policy: PublishPolicy, table: TableSpec, dataset: Manifest, name: str
) -> tuple[builds.AuditRecord, str]:
    """The audit record of the build to publish and the build id; raises when the
    build's audit did not pass or when ``name`` would go back to an older month."""
    build = builds.build_of(dataset.location)
    if not build:
        raise builds.UnauditedBuildError(
            f"{dataset.kind}/{table.slug} snapshot {dataset.snapshot_dt} at "
            f"{dataset.location} is not a build: rebuild it to publish it"
        )
    record = builds.require_passed_audit(
        platform.lake, platform.settings, dataset.kind, table, dataset.snapshot_dt, build
    )
    current = platform.catalog.get_table(platform.database, name)
    require_in_order(current, dataset.snapshot_dt, policy.rollback)
    return record, build


def build_dataset_table_asset(
    table: TableSpec,
    key: dg.AssetKey,
    dataset_key: dg.AssetKey,
    group_name: str,
    description: str,
    definition_fn: DefinitionFn,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        ins={"dataset": dg.AssetIn(dataset_key)},
        partitions_def=SNAPSHOT_PARTITIONS,
        io_manager_key="catalog_io_manager",
        group_name=group_name,
        kinds={"glue", "parquet"},
        description=description,
        metadata={"table": table.name},
    )
    def _table(
        context: AssetExecutionContext,
        dataset: Manifest,
        platform: dg.ResourceParam[Platform],
        publish_policy: PublishPolicy,
    ) -> Publication:
        record, build = gated_publication(platform, publish_policy, table, dataset, key.path[-1])
        definition = definition_fn(context, platform, dataset)
        definition = replace(
            definition, parameters={**definition.parameters, builds.BUILD_PARAMETER: build}
        )
        context.add_output_metadata(
            {
                "dagster/row_count": dataset.row_count,
                "snapshot_dt": dataset.snapshot_dt,
                "build": build,
                "drift_accepted": record.accepted_drift,
                "rollback_allowed": publish_policy.rollback,
            }
        )
        marker = layout.snapshot_marker_key(platform.settings, dataset.kind, table.source)
        return Publication(definition, {marker: dataset.snapshot_dt})

    return _table
