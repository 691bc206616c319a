"""One factory for both split steps (``split_part`` and ``split_cluster``).

Each step prepares a raw snapshot once per source with the shared transform
(lower-cased columns, registry columns checked) and hands one :class:`SplitFrame` per
selected table (``table_frame``: its columns, exact duplicates dropped, ``id_bucket``)
to the dataset IO manager, which runs and writes it. ``can_subset`` turns
the reference's ``--TABLES_FILTER`` into asset selection. A step reads each source
where its :class:`SplitInput` says: the raw snapshot, or (the bucketed pipeline's
addressable ids, ``addressable_bucket_input``) the audited compaction build.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets import layout
from flywheel_assets.builds import new_build_id
from flywheel_assets.checks.audit import drift_metadata
from flywheel_assets.io_managers.lake_dataset import SplitFrame
from flywheel_assets.keys import raw_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.raw_files import RawFile, RawSummary, data_files, reading_raw, validate_raw_files
from glue_jobs.registry import SOURCES, Registry, TableSpec
from glue_jobs.transforms import (
    Manifest,
    estimate_table_bytes,
    prepare_raw,
    table_frame,
    target_file_count,
)


class RawSnapshotNotReady(RuntimeError):
    pass


def checked_snapshot(
    platform: Platform,
    prefix: str,
    marker: str,
    what: str,
    tables: Sequence[TableSpec] = (),
    same_schema: bool = False,
) -> tuple[str, RawSummary]:
    """Spark URI and footers of the complete parquet folder ``prefix`` (``marker``
    present) whose every file's footer holds the key and the ``tables``' columns
    (``glue_jobs.raw_files``; ``same_schema``: and every column, alike): a bad delivery
    fails here, naming the file and column, before Spark reads it or anything is written."""
    lake = platform.lake
    if not lake.exists(prefix + marker):
        raise RawSnapshotNotReady(f"{what} is not complete: {lake.uri(prefix + marker)} is missing")
    data = data_files(prefix, ((o.key, o.size) for o in lake.list_objects(prefix)))
    if not data:
        raise RawSnapshotNotReady(f"{what} holds no parquet files")
    files = [RawFile(lake.uri(key), size, partial(lake.read_range, key)) for key, size in data]
    return lake.spark_uri(prefix), validate_raw_files(lake.uri(prefix), files, tables, same_schema)


def raw_snapshot(
    platform: Platform,
    source: str,
    snapshot: str,
    tables: Sequence[TableSpec] = (),
    same_schema: bool = False,
) -> tuple[str, RawSummary]:
    """:func:`checked_snapshot` of a raw delivery (complete when its marker is there)."""
    settings = platform.settings
    prefix = layout.raw_snapshot_prefix(settings, source, snapshot)
    what = f"raw {source} snapshot {snapshot}"
    return checked_snapshot(platform, prefix, settings.snapshot_marker, what, tables, same_schema)


def raw_snapshot_uri(
    platform: Platform, source: str, snapshot: str, tables: Sequence[TableSpec] = ()
) -> tuple[str, int]:
    """Spark URI and total bytes of a complete raw snapshot, checked file by file."""
    uri, summary = raw_snapshot(platform, source, snapshot, tables)
    return uri, summary.bytes


class SplitInput(Protocol):
    """Where a split step reads one source's snapshot: the raw delivery (:class:`RawInput`)
    or, for the bucketed pipeline's addressable ids, the compacted build."""

    @property
    def key(self) -> dg.AssetKey:
        """The asset the step depends on for this source."""

    def locate(
        self, platform: Platform, snapshot: str, tables: Sequence[TableSpec]
    ) -> tuple[str, int]:
        """Spark URI and bytes of the checked input (local profile)."""

    def glue_arguments(self, platform: Platform, snapshot: str) -> dict[str, str]:
        """Run arguments that point the Glue split job at it ({}: the deployed raw input)."""


@dataclass(frozen=True)
class RawInput:
    source: str

    @property
    def key(self) -> dg.AssetKey:
        return raw_key(self.source)

    def locate(
        self, platform: Platform, snapshot: str, tables: Sequence[TableSpec]
    ) -> tuple[str, int]:
        return raw_snapshot_uri(platform, self.source, snapshot, tables)

    def glue_arguments(self, platform: Platform, snapshot: str) -> dict[str, str]:
        return {}


def split_source(
    context: AssetExecutionContext,
    platform: Platform,
    kind: str,
    source: str,
    tables: list[TableSpec],
    snapshot: str,
    build: str,
    source_input: SplitInput,
) -> Iterator[dg.Output]:
    spark = platform.spark
    uri, raw_bytes = source_input.locate(platform, snapshot, tables)
    with reading_raw(uri, context.log):  # a file Spark cannot read: one line, not a JVM trace
        raw = spark.read.parquet(uri)
        raw_columns = len(raw.columns)
        raw_rows = raw.count()
    prepared = prepare_raw(raw, tables, origin=uri)
    context.log.info(f"{source} {snapshot}: {raw_rows} raw rows, {len(tables)} tables")
    for done, table in enumerate(tables, start=1):
        files = target_file_count(estimate_table_bytes(raw_bytes, table, raw_columns))
        frame = table_frame(prepared, table, kind, platform.settings.bucket_count, files)
        yield dg.Output(
            SplitFrame(table, kind, snapshot, frame, files, raw_rows, build),
            output_name=table.slug,
        )
        context.log.info(f"{kind}: {done}/{len(tables)} {source} tables written ({table.name})")


def with_drift_metadata(
    platform: Platform, kind: str, result: dg.MaterializeResult, snapshot: str, build: str
) -> dg.MaterializeResult:
    """A table the Glue job reported, with the figures against the month in service the
    local writer records too (the job cannot see the catalog; the code location can)."""
    table = platform.registries.of(kind).get(result.asset_key.path[-1])
    key = layout.manifest_key(platform.settings, kind, table, snapshot, build)
    try:
        manifest = Manifest.from_json(platform.lake.read_text(key))
    except FileNotFoundError:  # reported without a manifest: the audit fails the build
        return result._replace(metadata={**(result.metadata or {}), "build": build})
    extra = {**drift_metadata(platform, kind, table, manifest), "build": build}
    return result._replace(metadata={**(result.metadata or {}), **extra})


def build_split_asset(
    kind: str,
    registry: Registry,
    key_fn: Callable[[TableSpec], dg.AssetKey],
    group_name: str,
    description: str,
    inputs: Mapping[str, SplitInput] | None = None,
) -> dg.AssetsDefinition:
    """``inputs``: where each source is read (default: the raw snapshots); each output
    depends on its own source's input only."""
    source_inputs = {s: (inputs or {}).get(s) or RawInput(s) for s in SOURCES}
    outs = {
        table.slug: dg.AssetOut(
            key=key_fn(table),
            io_manager_key="dataset_io_manager",
            group_name=group_name,
            kinds={"spark", "parquet", "s3"},
            description=f"{description} Table {table.name}: {len(table.all_columns)} columns.",
            is_required=False,
            metadata={"table": table.name, "source": table.source},
        )
        for table in registry
    }

    @dg.multi_asset(
        name=kind,
        outs=outs,
        deps=[source_inputs[s].key for s in SOURCES],
        internal_asset_deps={t.slug: {source_inputs[t.source].key} for t in registry},
        partitions_def=SNAPSHOT_PARTITIONS,
        can_subset=True,
    )
    def _split(context: AssetExecutionContext, platform: dg.ResourceParam[Platform]):
        snapshot = validate_snapshot(context.partition_key)
        build = new_build_id(context.run.run_id)  # every table of this run writes here
        selected = [t for t in registry if key_fn(t) in context.selected_asset_keys]
        for source in SOURCES:
            tables = [t for t in selected if t.source == source]
            if not tables:
                continue
            if platform.settings.is_local:
                yield from split_source(
                    context, platform, kind, source, tables, snapshot, build, source_inputs[source]
                )
            else:
                # dev/prod: the same transforms as a Glue job through Dagster Pipes; the job
                # writes data and manifests itself and each reported table is a
                # MaterializeResult (no value, so the dataset IO manager is not called)
                arguments = source_inputs[source].glue_arguments(platform, snapshot)
                for result in platform.compute.run_split(
                    context, kind, source, tables, snapshot, build, arguments
                ):
                    yield with_drift_metadata(platform, kind, result, snapshot, build)

    return _split
