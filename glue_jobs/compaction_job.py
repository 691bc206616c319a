"""Glue entry script of the reference's compaction jobs.

Deployed as ``<job_name_prefix>-addressable-ids-compaction`` and
``<job_name_prefix>-infobase-attributes-compaction``: one script, the source is the
``--SOURCE`` argument. A run checks the raw snapshot file by file from its footers (every
file must hold the same columns alike: compaction rewrites them all), rewrites it with
the shared transform (``glue_jobs/compaction.py``) into
``<--TARGET_PATH>snapshot_dt=D/build=<id>/`` and writes the build's manifest last.

- Launched by Dagster (``PipesGlueClient``): the snapshot is the partition key, the build
  is Dagster's (Pipes extras or ``--BUILD_ID``); the job reports one materialization of
  ``compacted/<source>`` and the code location audits the build before anything reads it.
- Launched by hand: ``--SNAPSHOT_DT _NONE_`` is the latest snapshot under
  ``--SOURCE_PATH``, the build a fresh one named after the Glue run; one JSON line on
  stdout. Nothing audits it, so nothing reads it until ``compacted/<source>``'s audit is
  run for it.

Arguments, the Pipes channel and the Spark session are the split jobs'
(``job_plan.py``, ``runtime.py``); the job never imports Dagster.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from glue_jobs.build_ids import build_folder, is_build_id, new_build_id
from glue_jobs.compaction import JOB_KIND, compact_snapshot
from glue_jobs.job_plan import (
    NONE,
    JobInputError,
    latest_snapshot,
    parse_snapshot,
    resolve_options,
    s3_argument,
)
from glue_jobs.registry import SOURCES, TableSpec
from glue_jobs.runtime import (
    check_raw_snapshot,
    default_s3_client,
    materialization_metadata,
    open_pipes,
    spark_session,
    standalone_logger,
    written_parquet,
)
from glue_jobs.s3_objects import S3Objects, as_folder
from glue_jobs.transforms import MANIFEST_NAME, Manifest, s3a

# The job arguments and their defaults; None marks an argument without default.
OPTIONS: dict[str, str | None] = {
    "SOURCE": None,
    "SOURCE_PATH": None,  # the raw root: .../raw_input/
    "TARGET_PATH": None,  # the compaction root: .../addressable_ids_compaction_cr/
    "SNAPSHOT_DT": NONE,
    "BUILD_ID": NONE,
    "SNAPSHOT_MARKER": "_SUCCESS",
    "ENV": "",
    "JOB_RUN_ID": "",
}


@dataclass(frozen=True)
class CompactionPlan:
    """One run, settled from its arguments (and Pipes context) before Spark starts."""

    source: str
    source_path: str
    target_path: str
    snapshot_dt: str
    build: str
    snapshot_marker: str
    tables: tuple[TableSpec, ...] = ()  # no registry columns: every column is checked alike

    @property
    def raw_uri(self) -> str:
        return f"{self.source_path}snapshot_dt={self.snapshot_dt}/"

    @property
    def target_uri(self) -> str:
        """The build directory, the key the code location's layout uses
        (``layout.compaction_build_prefix``): fresh per run, never one that is read."""
        return f"{self.target_path}snapshot_dt={self.snapshot_dt}/" + build_folder(self.build)

    @property
    def asset_key(self) -> str:
        return f"compacted/{self.source}"


def _chosen(
    options: dict[str, str], pipes: Any | None, objects: S3Objects, log: logging.Logger
) -> tuple[str, str]:
    """``(snapshot, build)``: Dagster's partition and build, or the arguments'."""
    if pipes is None:
        snapshot = options["SNAPSHOT_DT"]
        if snapshot == NONE:
            source_path = as_folder(options["SOURCE_PATH"])
            snapshot = latest_snapshot(objects.list_folders(source_path), source_path, log)
            log.info(f"--SNAPSHOT_DT _NONE_: latest snapshot under {source_path} is {snapshot}")
        return snapshot, options["BUILD_ID"]
    extras = pipes.extras
    if extras.get("kind") != JOB_KIND:
        raise JobInputError(f"this is a {JOB_KIND} job, Dagster asked for {extras.get('kind')!r}")
    if not pipes.is_partition_step:
        raise JobInputError("Dagster launched the job without a snapshot_dt partition")
    if options["SNAPSHOT_DT"] not in (NONE, pipes.partition_key):
        raise JobInputError(
            f"--SNAPSHOT_DT {options['SNAPSHOT_DT']} disagrees with the Dagster partition "
            f"{pipes.partition_key}"
        )
    return pipes.partition_key, str(extras.get("build") or options["BUILD_ID"])


def build_compaction_plan(
    options: dict[str, str], pipes: Any | None, objects: S3Objects, log: logging.Logger
) -> CompactionPlan:
    source = options["SOURCE"]
    if source not in SOURCES:
        raise JobInputError(f"--SOURCE {source!r}: expected one of {', '.join(SOURCES)}")
    for name in ("SOURCE_PATH", "TARGET_PATH"):
        s3_argument(options[name])
    snapshot, build = _chosen(options, pipes, objects, log)
    if build == NONE:  # a console run: a fresh build named after the Glue run
        build = new_build_id(options["JOB_RUN_ID"] or "console")
    if not is_build_id(build):
        raise JobInputError(f"--BUILD_ID {build!r} is not a build id (YYYYMMDDTHHMMSSZ-<run>)")
    return CompactionPlan(
        source=source,
        source_path=as_folder(options["SOURCE_PATH"]),
        target_path=as_folder(options["TARGET_PATH"]),
        snapshot_dt=parse_snapshot(snapshot),
        build=build,
        snapshot_marker=options["SNAPSHOT_MARKER"],
    )


def run_compaction(
    spark: Any, plan: CompactionPlan, objects: S3Objects, raw_bytes: int
) -> Manifest:
    """Compact into the plan's build and write its manifest, last: a manifest vouches
    for complete data."""
    manifest = compact_snapshot(
        spark,
        raw_uri=s3a(plan.raw_uri),
        target_uri=s3a(plan.target_uri),
        raw_bytes=raw_bytes,
        table=plan.source,
        snapshot_dt=plan.snapshot_dt,
    )
    files, size = written_parquet(spark, s3a(plan.target_uri))
    manifest = dataclasses.replace(manifest, location=plan.target_uri, files=files, bytes=size)
    objects.write_text(plan.target_uri + MANIFEST_NAME, manifest.to_json())
    return manifest


def main(
    argv: Sequence[str] | None = None,
    s3_client: Any | None = None,
    spark_factory: Callable[[], Any] = spark_session,
) -> None:
    options = resolve_options(sys.argv[1:] if argv is None else argv, OPTIONS)
    if s3_client is None:
        s3_client = default_s3_client()
    objects = S3Objects(s3_client)
    with open_pipes(s3_client) as pipes:
        log = pipes.log if pipes is not None else standalone_logger()
        plan = build_compaction_plan(options, pipes, objects, log)
        log.info(f"compaction of {plan.source} snapshot {plan.snapshot_dt} -> {plan.target_uri}")
        raw_bytes = check_raw_snapshot(plan, objects, same_schema=True)
        manifest = run_compaction(spark_factory(), plan, objects, raw_bytes)
        log.info(f"{manifest.row_count} rows in {manifest.files} file(s) at {plan.target_uri}")
        if pipes is not None:
            metadata = materialization_metadata(manifest)
            metadata["build"] = {"raw_value": plan.build, "type": "text"}
            pipes.report_asset_materialization(asset_key=plan.asset_key, metadata=metadata)
        else:
            print(json.dumps({"asset_key": plan.asset_key, **dataclasses.asdict(manifest)}))


if __name__ == "__main__":
    main()
