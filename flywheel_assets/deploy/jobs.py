"""The Glue jobs Flywheel runs, their arguments and their job definitions.

Of the reference's Glue jobs only the split and compaction steps need Spark at scale:
four split jobs, one per split kind and raw source, and two compaction jobs, one per raw
source (:data:`flywheel_assets.compaction.COMPACTION_JOBS`), with the reference's names
(:data:`DEPLOYED_JOBS`). The register, Athena CTAS and MSCK jobs became Dagster assets
over the catalog and sql ports and are not deployed.

The code location and ``flywheel glue deploy`` both read this module, so the job a
Dagster run starts and the job that was deployed are described once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flywheel_assets import layout
from flywheel_assets.compaction import COMPACTION_JOBS, CompactionJob
from flywheel_assets.config.settings import Settings
from glue_jobs.job_plan import NONE
from glue_jobs.registry import TableSpec

# keys below the Glue assets bucket
ARTIFACT_PREFIX = "flywheel/glue/"
PIPES_PREFIX = "flywheel/pipes/"  # Pipes context (and S3 messages); give it a lifecycle rule
# Glue's default of 1 would refuse a backfill's second snapshot; runs of different
# snapshots write different directories, so a few may overlap.
MAX_CONCURRENT_RUNS = 4


@dataclass(frozen=True)
class SplitJob:
    kind: str  # split_part | split_cluster
    source: str  # infobase_attributes | addressable_ids
    suffix: str  # the reference's job name after "etl-omc-flywheel-<env>-"
    script: str  # entry script in glue_jobs/

    def name(self, settings: Settings) -> str:
        return f"{settings.job_name_prefix}-{self.suffix}"

    def source_path(self, settings: Settings) -> str:
        return f"s3://{settings.data_bucket}/{settings.raw_prefix(self.source)}"

    def target_path(self, settings: Settings) -> str:
        """The source's folder of the split kind; table snapshot directories lie below it
        exactly as :mod:`flywheel_assets.layout` places them."""
        prefix = layout.kind_prefix(settings, self.kind)
        return f"s3://{settings.data_bucket}/{prefix}{self.source}/"


PART_SCRIPT = "split_and_part_job.py"
BUCKET_SCRIPT = "split_and_bucket_job.py"
SPLIT_JOBS = (
    SplitJob("split_part", "infobase_attributes", "infobase-split-and-part", PART_SCRIPT),
    SplitJob("split_part", "addressable_ids", "addressable-split-and-part", PART_SCRIPT),
    SplitJob("split_cluster", "infobase_attributes", "infobase-split-and-bucket", BUCKET_SCRIPT),
    SplitJob("split_cluster", "addressable_ids", "addressable-bucket", BUCKET_SCRIPT),
)
GlueJob = SplitJob | CompactionJob
# what `flywheel glue deploy` creates, and the job names the IAM policies name
DEPLOYED_JOBS: tuple[GlueJob, ...] = SPLIT_JOBS + COMPACTION_JOBS
ENTRY_SCRIPTS = tuple(sorted({job.script for job in DEPLOYED_JOBS}))
# the arguments Glue itself reads; every other default argument is one the script takes
GLUE_ARGUMENTS = (
    "--job-language",
    "--enable-metrics",
    "--TempDir",
    "--extra-py-files",
    "--additional-python-modules",
)


def split_job(kind: str, source: str) -> SplitJob:
    for job in SPLIT_JOBS:
        if job.kind == kind and job.source == source:
            return job
    raise KeyError(f"no Glue job for {kind} of {source}")


def assets_uri(settings: Settings, key: str) -> str:
    if not settings.glue_assets_bucket:
        raise ValueError(
            f"profile {settings.env!r} has no glue_assets_bucket (FLYWHEEL_GLUE_ASSETS_BUCKET)"
        )
    return f"s3://{settings.glue_assets_bucket}/{key}"


def script_key(script: str) -> str:
    return f"{ARTIFACT_PREFIX}scripts/{script}"


def library_key(zip_name: str) -> str:
    return f"{ARTIFACT_PREFIX}lib/{zip_name}"


def pipes_requirement() -> str:
    """``dagster-pipes`` pinned to the version the code location runs, so both ends of the
    protocol match."""
    try:
        return f"dagster-pipes=={version('dagster-pipes')}"
    except PackageNotFoundError:  # pragma: no cover - dagster-pipes is a dependency
        return "dagster-pipes"


def run_arguments(
    settings: Settings, job: SplitJob, snapshot: str, tables: Iterable[TableSpec], build: str
) -> dict[str, str]:
    """Arguments of one run: everything explicit, so a run never depends on how current
    the deployed defaults are (and the Glue console shows what ran)."""
    return {
        "--SOURCE": job.source,
        "--SOURCE_PATH": job.source_path(settings),
        "--TARGET_PATH": job.target_path(settings),
        "--SNAPSHOT_DT": snapshot,
        "--TABLES_FILTER": ",".join(t.name for t in tables),
        "--BUILD_ID": build,
        "--BUCKET_COUNT": str(settings.bucket_count),
        "--SNAPSHOT_MARKER": settings.snapshot_marker,
        "--ENV": settings.env,
    }


def console_arguments(settings: Settings, job: GlueJob) -> dict[str, str]:
    """The script's arguments for a console run (``aws glue start-job-run --job-name
    ...``): the latest snapshot and, for a split job, every table of the split CSV
    packaged in the zip. Only arguments the job's script reads (``glue_jobs/job_plan.py``
    ``OPTIONS``, ``glue_jobs/compaction_job.py`` ``OPTIONS``)."""
    arguments = {
        "--ENV": settings.env,
        "--SOURCE": job.source,
        "--SOURCE_PATH": job.source_path(settings),
        "--TARGET_PATH": job.target_path(settings),
        "--SNAPSHOT_DT": NONE,
        "--SNAPSHOT_MARKER": settings.snapshot_marker,
    }
    if isinstance(job, SplitJob):
        arguments |= {
            "--CSV_FILE": NONE,
            "--TABLES_FILTER": NONE,
            "--BUCKET_COUNT": str(settings.bucket_count),
        }
    return arguments


def default_arguments(settings: Settings, job: GlueJob, library_uri: str) -> dict[str, str]:
    """The job's ``DefaultArguments``: Glue's (:data:`GLUE_ARGUMENTS`), then the
    script's for a console run."""
    glue = {
        "--job-language": "python",
        "--enable-metrics": "true",
        "--TempDir": assets_uri(settings, f"{ARTIFACT_PREFIX}temp/"),
        "--extra-py-files": library_uri,
        "--additional-python-modules": pipes_requirement(),
    }
    return glue | console_arguments(settings, job)


def capacity(settings: Settings, job: GlueJob) -> dict[str, Any]:
    """Worker type, workers and timeout: a split job's from the profile, a compaction
    job's its own (the reference's infrastructure overview: G.1X, 8 or 24, 600 minutes)."""
    if isinstance(job, CompactionJob):
        return {
            "Timeout": job.timeout_minutes,
            "WorkerType": job.worker_type,
            "NumberOfWorkers": job.workers,
        }
    return {
        "Timeout": settings.glue_timeout_minutes,
        "WorkerType": settings.glue_worker_type,
        "NumberOfWorkers": settings.glue_number_of_workers,
    }


def job_definition(settings: Settings, job: GlueJob, library_uri: str) -> dict[str, Any]:
    """The Glue ``JobUpdate`` (CreateJob takes the same plus ``Name``) from the profile."""
    return {
        "Description": (
            f"Flywheel {job.kind} of {job.source} (glue_jobs/{job.script}); "
            "managed by `flywheel glue deploy`, launched by Dagster through Pipes"
        ),
        "Role": settings.glue_role,
        "ExecutionProperty": {"MaxConcurrentRuns": MAX_CONCURRENT_RUNS},
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": assets_uri(settings, script_key(job.script)),
            "PythonVersion": "3",
        },
        "DefaultArguments": default_arguments(settings, job, library_uri),
        "MaxRetries": settings.glue_max_retries,
        "GlueVersion": settings.glue_version,
        **capacity(settings, job),
        "ExecutionClass": "STANDARD",
    }
