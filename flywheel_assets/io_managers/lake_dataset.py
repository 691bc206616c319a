"""IO manager for dataset assets: writes Spark DataFrames as snapshot builds.

``handle_output`` takes a :class:`SplitFrame`, writes it to a fresh ``build=<id>/``
directory with the shared transform writers (never where a reader looks), reads back
what landed (rows per bucket, files, bytes, key sketch) and writes the build's
manifest last. ``load_input`` returns the newest complete build's :class:`Manifest`:
downstream catalog assets need the location, schema and figures, not the rows; they
publish it only if its audit passed (``flywheel_assets.builds``).
"""

# no ``from __future__ import annotations``: Dagster reads the ResourceDependency
# annotation at class creation
from dataclasses import dataclass, replace

import dagster as dg

from flywheel_assets import builds, layout
from flywheel_assets.checks.audit import drift_metadata
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import MANIFEST_NAME, Manifest, write_snapshot_table


class DatasetNotWrittenError(RuntimeError):
    pass


@dataclass
class SplitFrame:
    """One table's ``table_frame`` of a raw snapshot, ready to run and write."""

    table: TableSpec
    kind: str
    snapshot_dt: str
    frame: object  # pyspark DataFrame
    target_files: int
    raw_rows: int
    build: str  # builds.new_build_id(...): a directory no reader uses


def dataset_metadata(manifest: Manifest, uri: str) -> dict[str, dg.MetadataValue]:
    return {
        "dagster/row_count": dg.MetadataValue.int(manifest.row_count),
        "dagster/uri": dg.MetadataValue.path(uri),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, type_) for name, type_ in manifest.columns]
        ),
        "snapshot_dt": dg.MetadataValue.text(manifest.snapshot_dt),
        "files": dg.MetadataValue.int(manifest.files),
        "bytes": dg.MetadataValue.int(manifest.bytes),
        "target_files": dg.MetadataValue.int(manifest.target_files),
        "buckets_written": dg.MetadataValue.int(len(manifest.bucket_rows)),
        "raw_rows": dg.MetadataValue.int(manifest.raw_rows),
        "duplicates_dropped": dg.MetadataValue.int(manifest.duplicates_dropped),
        "build": dg.MetadataValue.text(builds.build_of(manifest.location)),
    }


class LakeDatasetIOManager(dg.ConfigurableIOManager):
    """Writes and loads builds through the run's ``platform`` resource."""

    platform: dg.ResourceDependency[Platform]

    def _table(self, key: dg.AssetKey) -> tuple[str, TableSpec]:
        """``split_part/ibe_01_a`` -> the table in the registry of the pipeline that
        ``split_part`` (or ``split_cluster``) feeds."""
        kind, slug = key.path[0], key.path[-1]
        return kind, self.platform.registries.of(kind).get(slug)

    def handle_output(self, context: dg.OutputContext, obj: SplitFrame | None) -> None:
        if obj is None:  # materialized remotely (Glue via Pipes); nothing to write here
            return
        settings, lake = self.platform.settings, self.platform.lake
        prefix = layout.dataset_build_prefix(
            settings, obj.kind, obj.table, obj.snapshot_dt, obj.build
        )
        if lake.list_objects(prefix, limit=1):  # ids are unique per run and second
            raise FileExistsError(f"build directory {lake.uri(prefix)} is not empty")
        written = write_snapshot_table(
            self.platform.spark,
            obj.frame,
            obj.table,
            obj.kind,
            obj.snapshot_dt,
            lake.spark_uri(prefix),
            obj.target_files,
            obj.raw_rows,
        )
        objects = [o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
        manifest = replace(
            written,
            location=lake.uri(prefix),
            files=len(objects),
            bytes=sum(o.size for o in objects),
        )
        # last: a manifest vouches for complete data. The source's snapshot_dt.txt is
        # written when a table is published, after the audit (assets/catalog_table.py).
        lake.write_text(prefix + MANIFEST_NAME, manifest.to_json())
        context.add_output_metadata(
            {
                **dataset_metadata(manifest, manifest.location),
                **drift_metadata(self.platform, obj.kind, obj.table, manifest),
                "dagster/table_name": obj.table.name,
            }
        )

    def load_input(self, context: dg.InputContext) -> Manifest:
        kind, table = self._table(context.asset_key)
        snapshot = context.asset_partition_key
        settings, lake = self.platform.settings, self.platform.lake
        build = builds.latest_build(lake, settings, kind, table, snapshot)
        if build is None:
            raise DatasetNotWrittenError(
                f"{kind}/{table.name} has no complete build of snapshot {snapshot} under "
                f"{lake.uri(layout.dataset_snapshot_prefix(settings, kind, table, snapshot))} "
                f"(materialize {kind}/{table.slug} for this partition first)"
            )
        key = layout.manifest_key(settings, kind, table, snapshot, build)
        return Manifest.from_json(lake.read_text(key))
