"""Where every dataset lives in the lake (bucket-relative keys).

``<split_prefix>/<source>/<TABLE>/snapshot_dt=YYYY-MM-DD/build=<id>/[id_bucket=N/]`` —
one immutable directory per build of a snapshot, so publishing a month (or a rebuild of
the month in service) is repointing a table, never writing where readers read. The
compacted raw snapshots follow the same rule under their own roots
(``<compaction_prefix>snapshot_dt=YYYY-MM-DD/build=<id>/``).
"""

from __future__ import annotations

from flywheel_assets.config.settings import Settings
from flywheel_assets.snapshots import snapshot_folder
from glue_jobs.build_ids import BUILD_LEVEL, build_folder
from glue_jobs.registry import TableSpec

__all__ = ["BUILD_LEVEL", "build_folder"]
from glue_jobs.transforms import MANIFEST_NAME

SNAPSHOT_MARKER_FILE = "metadata/snapshot_dt.txt"


def kind_prefix(settings: Settings, kind: str) -> str:
    return {
        "split_part": settings.split_part_prefix,
        "split_cluster": settings.split_cluster_prefix,
    }[kind]


def raw_snapshot_prefix(settings: Settings, source: str, snapshot: str) -> str:
    return settings.raw_prefix(source) + snapshot_folder(snapshot)


def dataset_root(settings: Settings, kind: str, table: TableSpec) -> str:
    return f"{kind_prefix(settings, kind)}{table.source}/{table.name}/"


def dataset_snapshot_prefix(settings: Settings, kind: str, table: TableSpec, snapshot: str) -> str:
    return dataset_root(settings, kind, table) + snapshot_folder(snapshot)


def dataset_build_prefix(
    settings: Settings, kind: str, table: TableSpec, snapshot: str, build: str | None
) -> str:
    """A build's directory; ``build=None`` is the pre-build layout (data directly under
    ``snapshot_dt=D/``), still read when a table serves a snapshot written that way."""
    prefix = dataset_snapshot_prefix(settings, kind, table, snapshot)
    return prefix + build_folder(build) if build else prefix


def manifest_key(
    settings: Settings, kind: str, table: TableSpec, snapshot: str, build: str | None
) -> str:
    return dataset_build_prefix(settings, kind, table, snapshot, build) + MANIFEST_NAME


def snapshot_marker_key(settings: Settings, kind: str, source: str) -> str:
    """The reference's ``metadata/snapshot_dt.txt``, one per source and pipeline."""
    return f"{kind_prefix(settings, kind)}{source}/{SNAPSHOT_MARKER_FILE}"


def bucketed_snapshot_prefix(settings: Settings, table: TableSpec, snapshot: str) -> str:
    return f"{settings.bucketed_prefix}{table.slug}/{snapshot_folder(snapshot)}"


def compaction_root(settings: Settings, source: str) -> str:
    """``omc_cleanroom_data/addressable/addressable_ids_compaction_cr/`` (the reference's)."""
    return settings.compaction_prefix(source)


def compaction_snapshot_prefix(settings: Settings, source: str, snapshot: str) -> str:
    return compaction_root(settings, source) + snapshot_folder(snapshot)


def compaction_build_prefix(settings: Settings, source: str, snapshot: str, build: str) -> str:
    return compaction_snapshot_prefix(settings, source, snapshot) + build_folder(build)
