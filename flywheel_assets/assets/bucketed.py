"""Pipeline 1 of the reference: raw -> ``split_cluster/<table>`` -> ``ext_<table>`` ->
``bucketed_<table>`` (256 Hive buckets on customer_user_id for Cleanroom joins).

``bucketed_*`` is rebuilt with a CTAS through the sql port (Athena on AWS, Spark SQL
locally). A CTAS cannot overwrite, so each build goes into a staging table at a fresh
location; only when it succeeded is the live table repointed (an in-place catalog
update, never a drop), and a failed CTAS is cleaned up while the previous snapshot
stays in service.
"""

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets import layout
from flywheel_assets.assets.catalog_table import build_dataset_table_asset
from flywheel_assets.assets.compaction import CompactedInput
from flywheel_assets.assets.partitioned import snapshot_comment
from flywheel_assets.assets.split import SplitInput, build_split_asset
from flywheel_assets.builds import BUILD_PARAMETER, new_build_id
from flywheel_assets.checks.sql import identifier, row_count_sql
from flywheel_assets.config.settings import Settings
from flywheel_assets.keys import bucketed_key, ext_key, split_cluster_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition, TableInfo
from flywheel_assets.publishing import PublishPolicy, require_in_order
from glue_jobs.registry import Registry, TableSpec
from glue_jobs.transforms import Manifest

SPLIT_CLUSTER_DESCRIPTION = (
    "Split & Bucket: the raw snapshot (addressable ids: the audited compaction build, "
    "unless addressable_bucket_input = raw) split into per-table parquet clustered by "
    "customer_user_id, file count by dynamic sizing (2 files per GB, 1..256), one "
    "immutable directory per snapshot."
)


class MaxColumnsExceeded(ValueError):
    pass


class BucketedBuildError(RuntimeError):
    pass


def ext_table_definition(
    platform: Platform, table: TableSpec, dataset: Manifest
) -> TableDefinition:
    """The register job: an external table over one snapshot directory of split_cluster.

    ``--MAX_COLS`` is enforced by refusing, never by truncating the column list.
    """
    if len(dataset.columns) > platform.settings.max_cols:
        raise MaxColumnsExceeded(
            f"{table.ext_table}: {len(dataset.columns)} columns exceed MAX_COLS="
            f"{platform.settings.max_cols}; refusing to register a truncated table"
        )
    location = dataset.location.rstrip("/") + "/"
    return TableDefinition(
        database=platform.database,
        name=table.ext_table,
        columns=tuple(Column(n, t) for n, t in dataset.columns),
        location=location,
        comment=snapshot_comment(dataset.snapshot_dt, location),
        parameters={"snapshot_dt": dataset.snapshot_dt, "classification": "parquet"},
    )


def require_source_snapshot(source: TableInfo, snapshot: str) -> None:
    """The CTAS reads whatever ``ext_*`` serves: it must serve this partition's month
    (an audited one, since ``ext_*`` is only ever published after its audit)."""
    served = source.parameters.get("snapshot_dt", "")
    if served != snapshot:
        raise BucketedBuildError(
            f"{source.name} serves snapshot_dt={served or '?'}, not {snapshot}: publish "
            f"{source.name} for {snapshot} first (its split_cluster audit must pass)"
        )


def staging_table_name(table: TableSpec, build_id: str) -> str:
    """The CTAS target of one build: ``bucketed_<table>__build_<build id>``."""
    return f"{table.bucketed_table}__build_{build_id.replace('-', '_').lower()}"


def rebuild_bucketed(
    platform: Platform, table: TableSpec, snapshot: str, source: TableInfo, build_id: str
) -> tuple[TableDefinition, int]:
    """CTAS into a staging table at a fresh location, audit its row count against the
    source, then describe the live table.

    Returns the definition the catalog IO manager publishes and the row count.
    """
    settings, catalog, lake, sql = platform.settings, platform.catalog, platform.lake, platform.sql
    database = platform.database
    require_source_snapshot(source, snapshot)
    staging = staging_table_name(table, build_id)
    # every name is checked before anything is dropped, deleted or queried
    count_staging = row_count_sql(database, staging)
    count_source = row_count_sql(database, source.name)
    identifier(settings.bucket_column, "bucket column")
    prefix = layout.bucketed_snapshot_prefix(settings, table, snapshot) + layout.build_folder(
        build_id
    )
    location = lake.uri(prefix)
    comment = snapshot_comment(snapshot, location)
    catalog.drop_table(database, staging)
    lake.delete_prefix(prefix)  # CTAS needs an empty location (a retried build may have left files)
    try:
        sql.create_bucketed_table_as(
            database=database,
            name=staging,
            source_database=database,
            source_table=source.name,
            location=location,
            bucket_column=settings.bucket_column,
            bucket_count=settings.bucket_count,
            comment=comment,
        )
        built = catalog.get_table(database, staging)
        if built is None:
            raise BucketedBuildError(f"CTAS reported success but {database}.{staging} is missing")
        rows = int(sql.query(count_staging)[0]["n"])
        expected = int(sql.query(count_source)[0]["n"])
        if rows != expected:
            raise BucketedBuildError(f"CTAS wrote {rows} rows, {source.name} holds {expected}")
    except Exception as exc:
        catalog.drop_table(database, staging)
        lake.delete_prefix(prefix)
        raise BucketedBuildError(
            f"{table.bucketed_table}: building snapshot {snapshot} failed; the previous "
            f"snapshot stays in service and the CTAS leftovers were removed: {exc}"
        ) from exc
    catalog.drop_table(database, staging)  # metadata only: the data stays at `location`
    definition = TableDefinition(
        database=database,
        name=table.bucketed_table,
        columns=built.columns,
        location=location,
        comment=comment,
        parameters={
            "snapshot_dt": snapshot,
            "classification": "parquet",
            BUILD_PARAMETER: build_id,
        },
        bucket_columns=(settings.bucket_column,),
        bucket_count=settings.bucket_count,
    )
    return definition, rows


def build_ext_asset(table: TableSpec) -> dg.AssetsDefinition:
    def definition(_context: AssetExecutionContext, platform: Platform, dataset: Manifest):
        return ext_table_definition(platform, table, dataset)

    return build_dataset_table_asset(
        table,
        key=ext_key(table),
        dataset_key=split_cluster_key(table),
        group_name="bucketed_pipeline",
        description=(
            f"Register Staged Tables: external table {table.ext_table} over split_cluster/"
            f"{table.name}, repointed to the audited build; the comment carries its snapshot "
            "(metadata/snapshot_dt.txt is written once it is published)."
        ),
        definition_fn=definition,
    )


def build_bucketed_asset(table: TableSpec, engine_kind: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=bucketed_key(table),
        ins={"source": dg.AssetIn(ext_key(table))},
        partitions_def=SNAPSHOT_PARTITIONS,
        io_manager_key="catalog_io_manager",
        group_name="bucketed_pipeline",
        kinds={engine_kind, "parquet"},
        description=(
            f"Create Bucketed Tables: {table.bucketed_table} rebuilt from {table.ext_table} "
            "by CTAS, Hive-bucketed on customer_user_id, parquet/Snappy, swapped in only "
            "after the CTAS succeeded."
        ),
        metadata={"table": table.name},
    )
    def _bucketed(
        context: AssetExecutionContext,
        source: TableInfo,
        platform: dg.ResourceParam[Platform],
        publish_policy: PublishPolicy,
    ) -> TableDefinition:
        current = platform.catalog.get_table(platform.database, table.bucketed_table)
        require_in_order(current, context.partition_key, publish_policy.rollback)
        definition, rows = rebuild_bucketed(
            platform, table, context.partition_key, source, new_build_id(context.run.run_id)
        )
        context.add_output_metadata(
            {
                "dagster/row_count": rows,
                "bucket_count": definition.bucket_count,
                "bucket_column": definition.bucket_columns[0],
                "snapshot_dt": context.partition_key,
            }
        )
        return definition

    return _bucketed


def split_cluster_inputs(settings: Settings) -> dict[str, SplitInput]:
    """Where ``split_cluster`` reads each source: the addressable ids from the audited
    compaction build when ``addressable_bucket_input = "compacted"`` (the reference's
    addressable bucket job reads ``addressable_ids_compaction_cr/``), else the raw
    snapshots. ``split_part`` always reads raw."""
    if settings.addressable_bucket_input == "compacted":
        return {"addressable_ids": CompactedInput("addressable_ids")}
    return {}


def build_bucketed_defs(registry: Registry, settings: Settings) -> dg.Definitions:
    split_cluster = build_split_asset(
        "split_cluster",
        registry,
        split_cluster_key,
        "bucketed_pipeline",
        SPLIT_CLUSTER_DESCRIPTION,
        inputs=split_cluster_inputs(settings),
    )
    engine = "spark" if settings.is_local else "athena"
    return dg.Definitions(
        assets=[
            split_cluster,
            *[build_ext_asset(t) for t in registry],
            *[build_bucketed_asset(t, engine) for t in registry],
        ]
    )
