"""Pipeline 2 of the reference: raw snapshot -> ``split_part/<table>`` -> ``part_<table>``
-> ``part_<table>_history``.

``part_<table>`` is an external parquet table partitioned by ``id_bucket`` whose
location and 256 partitions point into one snapshot directory; publishing a new month
repoints it (write, audit, then publish). Its history table (``assets/history.py``)
keeps every published month. The factories take the partitioned pipeline's registry.
"""

import dagster as dg

from flywheel_assets.assets.catalog_table import build_dataset_table_asset
from flywheel_assets.assets.history import build_history_assets
from flywheel_assets.assets.split import build_split_asset
from flywheel_assets.keys import part_key, split_part_key
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from glue_jobs.registry import PARTITION_COLUMN, Registry, TableSpec
from glue_jobs.transforms import Manifest

SPLIT_PART_DESCRIPTION = (
    "Split & Part: the raw snapshot split into per-table parquet, lower-cased columns, "
    "exact duplicates dropped, partitioned into id_bucket=0..255 by CRC32 of "
    "customer_user_id, one immutable directory per snapshot."
)


def snapshot_comment(snapshot: str, location: str) -> str:
    return f"snapshot_dt={snapshot}; source={location}"


def part_table_definition(
    platform: Platform, table: TableSpec, dataset: Manifest
) -> TableDefinition:
    location = dataset.location.rstrip("/") + "/"
    partitions = {
        b: f"{location}{PARTITION_COLUMN}={b}/" for b in sorted(dataset.bucket_rows, key=int)
    }
    return TableDefinition(
        database=platform.database,
        name=table.part_table,
        columns=tuple(Column(n, t) for n, t in dataset.columns),
        partition_keys=(Column(PARTITION_COLUMN, "int"),),
        location=location,
        partitions=partitions,
        comment=snapshot_comment(dataset.snapshot_dt, location),
        parameters={"snapshot_dt": dataset.snapshot_dt, "classification": "parquet"},
    )


def build_part_asset(table: TableSpec) -> dg.AssetsDefinition:
    return build_dataset_table_asset(
        table,
        key=part_key(table),
        dataset_key=split_part_key(table),
        group_name="partitioned_pipeline",
        description=(
            f"Register Part Tables: external table {table.part_table} over split_part/"
            f"{table.name}, partition key id_bucket INT, repointed to the audited snapshot."
        ),
        definition_fn=lambda _context, platform, dataset: part_table_definition(
            platform, table, dataset
        ),
    )


def build_partitioned_defs(registry: Registry) -> dg.Definitions:
    split_part = build_split_asset(
        "split_part", registry, split_part_key, "partitioned_pipeline", SPLIT_PART_DESCRIPTION
    )
    return dg.Definitions(
        assets=[
            split_part,
            *[build_part_asset(t) for t in registry],
            *build_history_assets(registry),
        ]
    )
