"""``compacted/<source>``: the reference's compaction jobs as assets, with a blocking audit.

Each raw snapshot is rewritten, row for row (no de-duplication: that is the splits'
job), into the reference's number of files (2 files per GB of input, 1..256) under
``<compaction_prefix>snapshot_dt=D/build=<id>/``, the manifest written last. Locally the
shared transform (``glue_jobs/compaction.py``) runs in process; on AWS the same
transform runs as the source's Glue job (``glue_jobs/compaction_job.py``) through the
compute port and Dagster Pipes. The build's blocking audit
(``checks/compaction_audit.py``) must pass before anything reads it: the bucketed
pipeline's addressable split (``addressable_bucket_input = "compacted"``, the reference's
run sequence: :class:`CompactedInput`) and the ``*_compaction_cr`` tables
(``assets/raw_tables.py``).

Every input file must hold the same columns alike (``raw_files.validate_raw_files``
with ``same_schema``): Spark takes one file's schema, so a file that differs would lose
or null-fill columns in the rewrite; such a delivery fails naming the file and column.
"""

# no ``from __future__ import annotations``: Dagster reads the context annotation
from collections.abc import Sequence
from dataclasses import dataclass, replace

import dagster as dg
from dagster import AssetCheckExecutionContext, AssetExecutionContext

from flywheel_assets import layout
from flywheel_assets.assets.raw_tables import COMPACTED_GROUP, build_raw_table_assets
from flywheel_assets.assets.split import checked_snapshot, raw_snapshot
from flywheel_assets.builds import UnauditedBuildError, new_build_id
from flywheel_assets.checks.asset_checks import check_result, snapshot_check_specs
from flywheel_assets.checks.compaction_audit import (
    COMPACTION_CHECKS,
    DESCRIPTIONS,
    audit_compaction,
)
from flywheel_assets.compaction import (
    CompactionNotPublishedError,
    compaction_job,
    dataset_name,
    published_build,
)
from flywheel_assets.config.settings import Settings
from flywheel_assets.io_managers.lake_dataset import dataset_metadata
from flywheel_assets.keys import compacted_key, raw_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.compaction import JOB_KIND, compact_snapshot
from glue_jobs.registry import SOURCES, TableSpec
from glue_jobs.transforms import MANIFEST_NAME, Manifest


def compact_locally(platform: Platform, source: str, snapshot: str, build: str) -> Manifest:
    """The local profile's compaction: checked raw snapshot in, a fresh build out, the
    manifest last (as ``glue_jobs/compaction_job.py`` does on Glue)."""
    settings, lake = platform.settings, platform.lake
    uri, summary = raw_snapshot(platform, source, snapshot, same_schema=True)
    prefix = layout.compaction_build_prefix(settings, source, snapshot, build)
    if lake.list_objects(prefix, limit=1):  # ids are unique per run and second
        raise FileExistsError(f"build directory {lake.uri(prefix)} is not empty")
    manifest = compact_snapshot(
        platform.spark,
        raw_uri=uri,
        target_uri=lake.spark_uri(prefix),
        raw_bytes=summary.bytes,
        table=source,
        snapshot_dt=snapshot,
    )
    parquet = [o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
    manifest = replace(
        manifest,
        location=lake.uri(prefix),
        files=len(parquet),
        bytes=sum(o.size for o in parquet),
    )
    lake.write_text(prefix + MANIFEST_NAME, manifest.to_json())
    return manifest


def compact_on_glue(
    context: AssetExecutionContext, platform: Platform, source: str, snapshot: str, build: str
) -> dg.MaterializeResult:
    """The source's compaction job through Pipes; its one report is the result."""
    settings, job = platform.settings, compaction_job(source)
    (result,) = platform.compute.run_job(
        context,
        job.name(settings),
        job.run_arguments(settings, snapshot, build),
        {"kind": JOB_KIND, "source": source, "build": build},
        [compacted_key(source)],
        job.timeout_minutes,
    )
    return result


def build_compaction_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=compacted_key(source),
        deps=[raw_key(source)],
        partitions_def=SNAPSHOT_PARTITIONS,
        group_name=COMPACTED_GROUP,
        kinds={"spark", "parquet", "s3"},
        description=(
            f"Compaction: the raw {source} snapshot rewritten row for row (no "
            "de-duplication) into 2 files per GB (1..256), one immutable build per run under "
            f"{source}'s *_compaction_cr root; read only once its audit passed."
        ),
        metadata={"source": source},
    )
    def _compact(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> dg.MaterializeResult:
        snapshot = validate_snapshot(context.partition_key)
        build = new_build_id(context.run.run_id)
        if not platform.settings.is_local:
            return compact_on_glue(context, platform, source, snapshot, build)
        manifest = compact_locally(platform, source, snapshot, build)
        context.log.info(
            f"{dataset_name(source)} {snapshot}: {manifest.row_count} rows in "
            f"{manifest.files} file(s) (target {manifest.target_files})"
        )
        return dg.MaterializeResult(metadata=dataset_metadata(manifest, manifest.location))

    return _compact


def build_compaction_check(source: str) -> dg.AssetChecksDefinition:
    key = compacted_key(source)
    specs = snapshot_check_specs(key, COMPACTION_CHECKS, DESCRIPTIONS, blocking=True)

    @dg.multi_asset_check(
        name=f"audit_compacted_{source}",
        specs=specs,
        can_subset=True,
        description=f"Write-audit-publish gate of {dataset_name(source)}: blocks its readers.",
    )
    def _audit(context: AssetCheckExecutionContext, platform: dg.ResourceParam[Platform]):
        snapshot = validate_snapshot(context.partition_key)
        selected = {k.name for k in context.selected_asset_check_keys}
        for result in audit_compaction(platform, source, snapshot, context.run.run_id):
            if result.check in selected:
                yield check_result(key, result)

    return _audit


@dataclass(frozen=True)
class CompactedInput:
    """A split step's input read from the audited compaction build (``split.SplitInput``)."""

    source: str

    @property
    def key(self) -> dg.AssetKey:
        return compacted_key(self.source)

    def published(self, platform: Platform, snapshot: str) -> str:
        """The build to read; refused naming the setting that made the split read it."""
        try:
            return published_build(platform.lake, platform.settings, self.source, snapshot)
        except (CompactionNotPublishedError, UnauditedBuildError) as exc:
            raise type(exc)(
                f"{exc} (the split reads {dataset_name(self.source)} because "
                "addressable_bucket_input = 'compacted')"
            ) from None

    def locate(
        self, platform: Platform, snapshot: str, tables: Sequence[TableSpec]
    ) -> tuple[str, int]:
        settings = platform.settings
        build = self.published(platform, snapshot)
        prefix = layout.compaction_build_prefix(settings, self.source, snapshot, build)
        what = f"{dataset_name(self.source)} snapshot {snapshot} build {build}"
        uri, summary = checked_snapshot(platform, prefix, MANIFEST_NAME, what, tables)
        return uri, summary.bytes

    def glue_arguments(self, platform: Platform, snapshot: str) -> dict[str, str]:
        build = self.published(platform, snapshot)
        root = platform.lake.uri(layout.compaction_root(platform.settings, self.source))
        return {"--SOURCE_PATH": root, "--SOURCE_BUILD": build}


def build_compaction_defs(settings: Settings) -> dg.Definitions:
    """``compacted/<source>`` with its audit, for both sources, and the four catalog
    tables over the raw and compacted snapshots (``assets/raw_tables.py``)."""
    return dg.Definitions(
        assets=[
            *[build_compaction_asset(s) for s in SOURCES],
            *build_raw_table_assets(settings),
        ],
        asset_checks=[build_compaction_check(s) for s in SOURCES],
    )
