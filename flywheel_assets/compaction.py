"""Compaction in the code location: which build serves, and which Glue job compacts.

``compacted/<source>`` (``assets/compaction.py``) rewrites a raw snapshot into a fresh
``<compaction_prefix>snapshot_dt=D/build=<id>/``; its blocking audit leaves the verdict
in the build. Readers (the bucketed pipeline's addressable split, the
``*_compaction_cr`` tables) take the snapshot's newest complete build and only if its
audit passed (:func:`published_build`), so a failed or half-written compaction is never
read.

On AWS the compaction runs as one Glue job per source, the reference's two
(:data:`COMPACTION_JOBS`); this module describes them once for the code location, which
starts them, and for the deployment, which creates them (it lives here, not in
``deploy/jobs.py``, so adapters and assets can use it without the deploy package).
"""

from __future__ import annotations

from dataclasses import dataclass

from flywheel_assets import builds, layout
from flywheel_assets.config.settings import Settings
from flywheel_assets.ports.lake import LakePort
from glue_jobs.transforms import MANIFEST_NAME, Manifest

COMPACTION_SCRIPT = "compaction_job.py"


class CompactionNotPublishedError(RuntimeError):
    """No audited compaction build of the snapshot to read."""


def dataset_name(source: str) -> str:
    return f"compacted/{source}"


@dataclass(frozen=True)
class CompactionJob:
    """One of the reference's compaction jobs, with its sizing (infrastructure overview:
    G.1X workers, 600 minutes)."""

    source: str
    suffix: str  # the reference's job name after "etl-omc-flywheel-<env>-"
    workers: int
    worker_type: str = "G.1X"
    timeout_minutes: int = 600
    script: str = COMPACTION_SCRIPT
    kind: str = "compaction"

    def name(self, settings: Settings) -> str:
        return f"{settings.job_name_prefix}-{self.suffix}"

    def source_path(self, settings: Settings) -> str:
        return f"s3://{settings.data_bucket}/{settings.raw_prefix(self.source)}"

    def target_path(self, settings: Settings) -> str:
        """The compaction root; builds lie below it exactly as :mod:`layout` places them."""
        return f"s3://{settings.data_bucket}/{layout.compaction_root(settings, self.source)}"

    def run_arguments(self, settings: Settings, snapshot: str, build: str) -> dict[str, str]:
        """Arguments of one run, all explicit (``glue_jobs/compaction_job.py`` reads them)."""
        return {
            "--SOURCE": self.source,
            "--SOURCE_PATH": self.source_path(settings),
            "--TARGET_PATH": self.target_path(settings),
            "--SNAPSHOT_DT": snapshot,
            "--BUILD_ID": build,
            "--SNAPSHOT_MARKER": settings.snapshot_marker,
            "--ENV": settings.env,
        }


COMPACTION_JOBS = (
    CompactionJob("addressable_ids", "addressable-ids-compaction", workers=8),
    CompactionJob("infobase_attributes", "infobase-attributes-compaction", workers=24),
)


def compaction_job(source: str) -> CompactionJob:
    for job in COMPACTION_JOBS:
        if job.source == source:
            return job
    raise KeyError(f"no compaction job for {source}")


def published_build(lake: LakePort, settings: Settings, source: str, snapshot: str) -> str:
    """The build readers take: the snapshot's newest complete build, refused unless its
    audit passed (``builds.require_passed_audit_at``: a failed audit never serves)."""
    prefix = layout.compaction_snapshot_prefix(settings, source, snapshot)
    build = builds.newest_complete_build(lake, prefix)
    if build is None:
        raise CompactionNotPublishedError(
            f"{dataset_name(source)} has no complete build of snapshot {snapshot} under "
            f"{lake.uri(prefix)}: materialize {dataset_name(source)} (with its audit) for "
            "this partition first"
        )
    build_prefix = prefix + layout.build_folder(build)
    builds.require_passed_audit_at(lake, build_prefix, dataset_name(source), snapshot, build)
    return build


def read_manifest(
    lake: LakePort, settings: Settings, source: str, snapshot: str, build: str
) -> Manifest:
    prefix = layout.compaction_build_prefix(settings, source, snapshot, build)
    return Manifest.from_json(lake.read_text(prefix + MANIFEST_NAME))
