"""IO manager for dataset assets: writes Spark DataFrames as snapshot directories.

``handle_output`` takes a :class:`SplitFrame`, writes it with the shared transform
writers, reads back what landed (rows per bucket, files, bytes) and writes the
snapshot's manifest last. ``load_input`` returns that :class:`Manifest`: downstream
catalog assets need the location and schema, not the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from flywheel_assets import layout
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import (
    Manifest,
    describe_written,
    write_table,
)


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
    }


class LakeDatasetIOManager(dg.IOManager):
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _table(self, key: dg.AssetKey) -> tuple[str, TableSpec]:
        kind, slug = key.path[0], key.path[-1]
        return kind, self.platform.registry.get(slug)

    def handle_output(self, context: dg.OutputContext, obj: SplitFrame | None) -> None:
        if obj is None:  # materialized remotely (Glue via Pipes); nothing to write here
            return
        settings, lake = self.platform.settings, self.platform.lake
        prefix = layout.dataset_snapshot_prefix(settings, obj.kind, obj.table, obj.snapshot_dt)
        manifest_key = layout.manifest_key(settings, obj.kind, obj.table, obj.snapshot_dt)
        if lake.exists(manifest_key):
            lake.delete_prefix(manifest_key)  # rewriting: the old manifest no longer vouches
        uri = lake.spark_uri(prefix)
        kept = write_table(obj.frame, obj.kind, uri, obj.target_files)
        rows, per_bucket, columns = describe_written(
            self.platform.spark, uri, partitioned=obj.kind == "split_part"
        )
        objects = [o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
        manifest = Manifest(
            table=obj.table.name,
            kind=obj.kind,
            snapshot_dt=obj.snapshot_dt,
            location=lake.uri(prefix),
            row_count=rows,
            raw_rows=obj.raw_rows,
            duplicates_dropped=obj.raw_rows - kept,
            target_files=obj.target_files,
            columns=columns,
            bucket_rows=per_bucket,
            files=len(objects),
            bytes=sum(o.size for o in objects),
            written_at=_now(),
        )
        lake.write_text(manifest_key, manifest.to_json())
        lake.write_text(
            layout.snapshot_marker_key(settings, obj.kind, obj.table.source), obj.snapshot_dt
        )
        context.add_output_metadata(
            {**dataset_metadata(manifest, manifest.location), "dagster/table_name": obj.table.name}
        )

    def load_input(self, context: dg.InputContext) -> Manifest:
        kind, table = self._table(context.asset_key)
        snapshot = context.asset_partition_key
        key = layout.manifest_key(self.platform.settings, kind, table, snapshot)
        try:
            return Manifest.from_json(self.platform.lake.read_text(key))
        except FileNotFoundError:
            raise DatasetNotWrittenError(
                f"{kind}/{table.name} has no complete snapshot {snapshot}: {key} is missing "
                f"(materialize {kind}/{table.slug} for this partition first)"
            ) from None


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
