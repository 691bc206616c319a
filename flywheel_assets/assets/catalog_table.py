"""One factory for catalog tables registered over a dataset snapshot (``part_*``, ``ext_*``).

The asset loads the dataset's manifest, builds a TableDefinition with a stage-specific
function, and leaves publishing to the catalog IO manager.
"""

from collections.abc import Callable

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import TableDefinition
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import Manifest

DefinitionFn = Callable[[AssetExecutionContext, Platform, Manifest], TableDefinition]


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
        required_resource_keys={"platform"},
        metadata={"table": table.name},
    )
    def _table(context: AssetExecutionContext, dataset: Manifest) -> TableDefinition:
        definition = definition_fn(context, context.resources.platform, dataset)
        context.add_output_metadata(
            {"dagster/row_count": dataset.row_count, "snapshot_dt": dataset.snapshot_dt}
        )
        return definition

    return _table
