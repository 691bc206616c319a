"""The Glue entry point of the split jobs: it runs a plan and talks Dagster Pipes.

``split_and_part_job.py`` and ``split_and_bucket_job.py`` call :func:`main`, which reads
the arguments into a plan (``glue_jobs/job_plan.py``: arguments, Pipes context,
snapshot choice), checks the raw snapshot, splits it with the shared transforms and
reports each table written: one materialization per table through Pipes when Dagster
launched the job, one JSON line per table when it was started by hand.

It runs on AWS Glue with ``dagster-pipes`` as the only addition
(``--additional-python-modules``) and never imports Dagster. Each table snapshot gets
its ``_flywheel_manifest.json`` (written last, so a manifest always vouches for complete
data) and, on a hand-started run, the source gets the reference's
``metadata/snapshot_dt.txt``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

from glue_jobs.job_plan import SplitPlan, build_plan, resolve_options
from glue_jobs.raw_files import RawFile, data_files, validate_raw_files
from glue_jobs.registry import TableSpec
from glue_jobs.s3_objects import S3Objects, split_s3_uri
from glue_jobs.transforms import MANIFEST_NAME, Manifest, s3a, split_snapshot


class RawSnapshotNotReady(RuntimeError):
    pass


class RawSnapshotPlan(Protocol):
    """What :func:`check_raw_snapshot` reads of a plan (a split's or a compaction's)."""

    @property
    def source(self) -> str: ...
    @property
    def snapshot_dt(self) -> str: ...
    @property
    def raw_uri(self) -> str: ...
    @property
    def snapshot_marker(self) -> str: ...
    @property
    def tables(self) -> tuple[TableSpec, ...]: ...


def check_raw_snapshot(plan: RawSnapshotPlan, objects: S3Objects, same_schema: bool = False) -> int:
    """Total bytes of a complete raw snapshot (marker present) whose every file's footer
    holds the key and the plan's columns (``glue_jobs.raw_files``: two ranged GETs a
    file), checked before Spark starts so a bad delivery fails in seconds, naming the
    file and column, not minutes later in a JVM trace. ``same_schema``: every file holds
    every column alike (compaction)."""
    marker = plan.raw_uri + plan.snapshot_marker
    if not objects.exists(marker):
        raise RawSnapshotNotReady(
            f"raw {plan.source} snapshot {plan.snapshot_dt} is not complete: {marker} is missing"
        )
    bucket, prefix = split_s3_uri(plan.raw_uri)
    data = data_files(prefix, objects.list_objects(plan.raw_uri))
    if not data:
        raise RawSnapshotNotReady(f"raw snapshot {plan.raw_uri} holds no parquet files")
    uris = [(f"s3://{bucket}/{key}", size) for key, size in data]
    files = [RawFile(uri, size, partial(objects.read_range, uri)) for uri, size in uris]
    return validate_raw_files(plan.raw_uri, files, plan.tables, same_schema).bytes


def written_parquet(spark: Any, uri: str) -> tuple[int, int]:
    """Parquet files and bytes under ``uri`` as Spark's own file system sees them (S3A on
    Glue), i.e. exactly what the writer left."""
    path = spark._jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    files = size = 0
    listing = fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        if status.getPath().getName().endswith(".parquet"):
            files += 1
            size += status.getLen()
    return files, size


def run_split(
    spark: Any, plan: SplitPlan, objects: S3Objects, raw_bytes: int, log: logging.Logger
) -> Iterator[Manifest]:
    """Split the raw snapshot with the shared transform into fresh build directories and
    write each table's manifest once its data is complete.

    Launched by Dagster, the job stops there: the code location audits each build and
    writes the source's ``metadata/snapshot_dt.txt`` only when it publishes. Launched by
    hand (no audit follows), it writes the marker at the end as the reference did."""
    by_name = {t.name: t for t in plan.tables}
    for manifest in split_snapshot(
        spark,
        raw_uri=s3a(plan.raw_uri),
        raw_bytes=raw_bytes,
        tables=list(plan.tables),
        kind=plan.kind,
        snapshot_dt=plan.snapshot_dt,
        target_uri=lambda table: s3a(plan.table_uri(table)),
        bucket_count=plan.bucket_count,
        log=log.info,
    ):
        location = plan.table_uri(by_name[manifest.table])
        files, size = written_parquet(spark, s3a(location))
        manifest = dataclasses.replace(manifest, location=location, files=files, bytes=size)
        objects.write_text(location + MANIFEST_NAME, manifest.to_json())
        yield manifest
    if not plan.audited:
        objects.write_text(plan.marker_uri, plan.snapshot_dt)


def materialization_metadata(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Pipes metadata with the same keys the local dataset IO manager records."""

    def value(raw: Any, kind: str) -> dict[str, Any]:
        return {"raw_value": raw, "type": kind}

    columns = [{"name": name, "type": type_} for name, type_ in manifest.columns]
    return {
        "dagster/row_count": value(manifest.row_count, "int"),
        "dagster/uri": value(manifest.location, "path"),
        "dagster/table_name": value(manifest.table, "text"),
        "dagster/column_schema": value({"columns": columns}, "table_schema"),
        "snapshot_dt": value(manifest.snapshot_dt, "text"),
        "files": value(manifest.files, "int"),
        "bytes": value(manifest.bytes, "int"),
        "target_files": value(manifest.target_files, "int"),
        "buckets_written": value(len(manifest.bucket_rows), "int"),
        "raw_rows": value(manifest.raw_rows, "int"),
        "duplicates_dropped": value(manifest.duplicates_dropped, "int"),
    }


def spark_session() -> Any:
    """Glue's SparkSession (a local one elsewhere), with the settings the local profile
    uses: static overwrite, because every snapshot has its own directory."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("flywheel-split").getOrCreate()
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    spark.conf.set("spark.sql.parquet.compression.codec", "snappy")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.sparkContext.setLogLevel("WARN")
    return spark


@contextmanager
def open_pipes(s3_client: Any) -> Iterator[Any | None]:
    """The Pipes context when Dagster launched us, else None.

    The message writer follows what the Dagster side reads: S3 chunks when it passed a
    bucket (``PipesS3MessageReader``), otherwise stdout, which Glue ships to the
    CloudWatch ``output`` stream that ``PipesCloudWatchMessageReader`` reads.
    """
    from dagster_pipes import (
        PipesCliArgsParamsLoader,
        PipesDefaultContextLoader,
        PipesDefaultMessageWriter,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
        open_dagster_pipes,
    )

    params = PipesCliArgsParamsLoader()
    if not params.is_dagster_pipes_process():
        yield None
        return
    in_s3 = "bucket" in params.load_context_params()
    writer = (
        PipesS3MessageWriter(s3_client, interval=5)
        if "bucket" in params.load_messages_params()
        else PipesDefaultMessageWriter()
    )
    loader = PipesS3ContextLoader(s3_client) if in_s3 else PipesDefaultContextLoader()
    with open_dagster_pipes(
        context_loader=loader, message_writer=writer, params_loader=params
    ) as pipes:
        yield pipes


def standalone_logger() -> logging.Logger:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    return logging.getLogger("flywheel.glue")


def default_s3_client() -> Any:
    """Glue's boto3 S3 client (it honours ``AWS_ENDPOINT_URL`` like every AWS client here)
    with the code location's retry policy (``adapters/aws_clients.py``: standard mode, 8
    retries); botocore's default legacy mode would give up on S3 throttling sooner."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 8}))


def main(
    kind: str,
    argv: Sequence[str] | None = None,
    s3_client: Any | None = None,
    spark_factory: Callable[[], Any] = spark_session,
) -> None:
    """Entry of ``split_and_part_job.py`` and ``split_and_bucket_job.py``."""
    options = resolve_options(sys.argv[1:] if argv is None else argv)
    if s3_client is None:
        s3_client = default_s3_client()
    objects = S3Objects(s3_client)
    with open_pipes(s3_client) as pipes:
        log = pipes.log if pipes is not None else standalone_logger()
        import glue_jobs

        log.info(f"glue_jobs loaded from {glue_jobs.__file__}")
        plan = build_plan(kind, options, pipes, objects, log)
        log.info(
            f"{plan.kind} of {plan.source} snapshot {plan.snapshot_dt}: "
            f"{', '.join(t.name for t in plan.tables)} -> {plan.target_path}"
        )
        raw_bytes = check_raw_snapshot(plan, objects)
        spark = spark_factory()
        for manifest in run_split(spark, plan, objects, raw_bytes, log):
            asset_key = plan.asset_keys[manifest.table]
            if pipes is not None:
                pipes.report_asset_materialization(
                    asset_key=asset_key, metadata=materialization_metadata(manifest)
                )
            else:
                print(json.dumps({"asset_key": asset_key, **dataclasses.asdict(manifest)}))
