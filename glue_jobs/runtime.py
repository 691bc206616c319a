"""The Glue entry point of the split jobs: arguments, snapshot choice, S3 side files and
the Dagster Pipes conversation around the shared transforms.

It runs on AWS Glue with ``dagster-pipes`` as the only addition
(``--additional-python-modules``) and never imports Dagster. Two ways in:

- launched by Dagster (``PipesGlueClient``, arguments ``--dagster-pipes-context`` and
  ``--dagster-pipes-messages``): the snapshot is the partition key, the tables are the
  Pipes extras (the code location's validated registry, so the job cannot drift from the
  asset definitions), and one materialization is reported per table written;
- launched by hand (``aws glue start-job-run``): the reference's arguments alone,
  ``--SNAPSHOT_DT _NONE_`` meaning the latest snapshot under ``--SOURCE_PATH``,
  ``--CSV_FILE`` (``_NONE_``: the split CSV packaged beside this module) and
  ``--TABLES_FILTER``; one JSON line per table is printed.

Either way each table snapshot gets its ``_flywheel_manifest.json`` (written last, so a
manifest always vouches for complete data) and the source gets the reference's
``metadata/snapshot_dt.txt``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from glue_jobs.build_ids import build_folder, is_build_id, new_build_id
from glue_jobs.raw_files import RawFile, data_files, read_s3_range, validate_raw_files
from glue_jobs.registry import SOURCES, TableSpec, build_registry
from glue_jobs.transforms import MANIFEST_NAME, Manifest, s3a, split_snapshot

NONE = "_NONE_"
KINDS = ("split_part", "split_cluster")
MARKER_FILE = "metadata/snapshot_dt.txt"
# where ``flywheel glue package`` puts the split CSVs inside the zip, one per source
PACKAGED_CSV = "split_csvs/{source}.csv"
SNAPSHOT_FOLDER = re.compile(r"^snapshot_dt=(?P<value>\d{4}-\d{2}-\d{2})/$")
S3_URI = re.compile(r"^s3a?://(?P<bucket>[^/]+)/?(?P<key>.*)$")

# The job arguments and their defaults; None marks an argument without default.
# ``SOURCE`` names the raw source (the reference encoded it in the job name);
# ``JOB_RUN_ID`` is supplied by Glue itself.
OPTIONS: dict[str, str | None] = {
    "SOURCE": None,
    "SOURCE_PATH": None,
    "TARGET_PATH": None,
    "SNAPSHOT_DT": NONE,
    "CSV_FILE": NONE,
    "TABLES_FILTER": NONE,
    "BUILD_ID": NONE,
    "BUCKET_COUNT": "256",
    "SNAPSHOT_MARKER": "_SUCCESS",
    "ENV": "",
    "JOB_RUN_ID": "",
}


class JobInputError(ValueError):
    """The job was started with arguments or a Pipes context it cannot honour."""


class RawSnapshotNotReady(RuntimeError):
    pass


# ---- arguments and snapshots ------------------------------------------------------------


def resolve_options(
    argv: Sequence[str], options: Mapping[str, str | None] = OPTIONS
) -> dict[str, str]:
    """Like ``awsglue.utils.getResolvedOptions``: pick ``--NAME value`` (or
    ``--NAME=value``) pairs out of everything Glue passes, ignoring the rest
    (``--JOB_ID``, ``--TempDir``, the Pipes arguments, ...)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    for name, default in options.items():
        parser.add_argument(f"--{name}", dest=name, default=default)
    known, _ = parser.parse_known_args(list(argv))
    values = vars(known)
    missing = [f"--{name}" for name, value in values.items() if value is None]
    if missing:
        raise JobInputError(f"missing job argument(s): {', '.join(missing)}")
    return values


def parse_snapshot(value: str) -> str:
    """A strict ISO date (``2025-01-15``), the only snapshot key the platform uses."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
            dt.date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise JobInputError(f"snapshot_dt {value!r} is not a valid ISO date (YYYY-MM-DD)")


def latest_snapshot(folders: Sequence[str], origin: str, log: logging.Logger) -> str:
    """The newest ``snapshot_dt=YYYY-MM-DD/`` folder; other folders are skipped with a
    warning (a ``snapshot_dt=2025-13-01/`` typo must not win or stop the job)."""
    valid = []
    for name in folders:
        match = SNAPSHOT_FOLDER.match(name)
        try:
            valid.append(parse_snapshot(match.group("value") if match else ""))
        except JobInputError:
            log.warning(f"skipping {origin}{name}: not a snapshot_dt=YYYY-MM-DD/ folder")
    if not valid:
        raise JobInputError(f"no snapshot_dt=YYYY-MM-DD/ folder under {origin}")
    return max(valid)


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = S3_URI.match(uri)
    if not match:
        raise JobInputError(f"{uri!r} is not an s3:// path")
    return match.group("bucket"), match.group("key")


def as_folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# ---- the S3 calls the job makes itself ---------------------------------------------------


class S3Objects:
    """Listings, markers and manifests through boto3: small control files, written
    outside Spark so they land exactly where and when the job decides."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list_folders(self, uri: str) -> list[str]:
        bucket, prefix = split_s3_uri(as_folder(uri))
        names: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            names.extend(p["Prefix"][len(prefix) :] for p in page.get("CommonPrefixes", []))
        return sorted(names)

    def list_objects(self, uri: str) -> list[tuple[str, int]]:
        bucket, prefix = split_s3_uri(as_folder(uri))
        found: list[tuple[str, int]] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found.extend((o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        return found

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        response = self.client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return any(o["Key"] == key for o in response.get("Contents", []))

    def read_text(self, uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")

    def write_text(self, uri: str, text: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))

    def delete(self, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.delete_object(Bucket=bucket, Key=key)

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        bucket, key = split_s3_uri(uri)
        return read_s3_range(self.client, bucket, key, start, length)


# ---- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitPlan:
    """Everything one run needs, settled before Spark starts."""

    kind: str
    source: str
    source_path: str  # s3://bucket/.../raw_input/
    target_path: str  # s3://bucket/.../split_part/<source>/
    snapshot_dt: str
    tables: tuple[TableSpec, ...]
    asset_keys: dict[str, str]  # table name -> Dagster asset key ("split_part/ibe_01_a")
    bucket_count: int
    snapshot_marker: str
    build: str  # every table is written to snapshot_dt=D/build=<build>/
    audited: bool  # launched by Dagster: it audits, publishes and writes the marker

    @property
    def raw_uri(self) -> str:
        return f"{self.source_path}snapshot_dt={self.snapshot_dt}/"

    def table_uri(self, table: TableSpec) -> str:
        """The table's build directory, the same key the code location's layout uses: a
        fresh one per run, never the directory a table serves."""
        return f"{self.target_path}{table.name}/snapshot_dt={self.snapshot_dt}/" + build_folder(
            self.build
        )

    @property
    def marker_uri(self) -> str:
        return self.target_path + MARKER_FILE


def read_split_csv(csv_file: str, source: str, objects: S3Objects | None) -> tuple[str, str]:
    """``(origin, text)`` of the split CSV: ``_NONE_`` is the one packaged in the zip."""
    if csv_file == NONE:
        resource = PACKAGED_CSV.format(source=source)
        try:
            data = pkgutil.get_data("glue_jobs", resource)
        except OSError:
            data = None
        if data is None:
            raise JobInputError(
                f"--CSV_FILE is _NONE_ but glue_jobs/{resource} is not packaged here "
                "(run from the `flywheel glue package` zip or pass --CSV_FILE)"
            )
        return f"glue_jobs/{resource}", data.decode("utf-8")
    if csv_file.startswith(("s3://", "s3a://")):
        if objects is None:
            raise JobInputError(f"--CSV_FILE {csv_file} needs S3 access")
        return csv_file, objects.read_text(csv_file)
    return csv_file, Path(csv_file).read_text()


def _from_pipes(kind: str, options: dict[str, str], pipes: Any) -> dict[str, Any]:
    extras = pipes.extras
    if extras.get("kind") != kind:
        raise JobInputError(f"this is a {kind} job, Dagster asked for {extras.get('kind')!r}")
    if not pipes.is_partition_step:
        raise JobInputError("Dagster launched the job without a snapshot_dt partition")
    specs = extras.get("tables") or []
    tables = tuple(TableSpec(s["name"], s["source"], tuple(s["columns"])) for s in specs)
    requested = [n.strip() for n in options["TABLES_FILTER"].split(",") if n.strip()]
    if requested and requested != [NONE] and sorted(requested) != sorted(t.name for t in tables):
        raise JobInputError(
            f"--TABLES_FILTER {options['TABLES_FILTER']} disagrees with the tables "
            f"Dagster selected ({', '.join(t.name for t in tables)})"
        )
    return {
        "snapshot": pipes.partition_key,
        "tables": tables,
        "asset_keys": {s["name"]: s["asset_key"] for s in specs},
        "bucket_count": int(extras.get("bucket_count", options["BUCKET_COUNT"])),
        "marker": str(extras.get("snapshot_marker", options["SNAPSHOT_MARKER"])),
        "build": str(extras.get("build") or options["BUILD_ID"]),
    }


def _from_arguments(
    kind: str, source: str, options: dict[str, str], objects: S3Objects, log: logging.Logger
) -> dict[str, Any]:
    source_path = as_folder(options["SOURCE_PATH"])
    snapshot = options["SNAPSHOT_DT"]
    if snapshot == NONE:
        snapshot = latest_snapshot(objects.list_folders(source_path), source_path, log)
        log.info(f"--SNAPSHOT_DT _NONE_: latest snapshot under {source_path} is {snapshot}")
    origin, text = read_split_csv(options["CSV_FILE"], source, objects)
    registry = build_registry([(source, origin, text)])
    wanted = options["TABLES_FILTER"]
    tables = tuple(registry.filtered(None if wanted == NONE else wanted.split(",")))
    return {
        "snapshot": snapshot,
        "tables": tables,
        "asset_keys": {t.name: f"{kind}/{t.slug}" for t in tables},
        "bucket_count": int(options["BUCKET_COUNT"]),
        "marker": options["SNAPSHOT_MARKER"],
        "build": options["BUILD_ID"],
    }


def build_plan(
    kind: str,
    options: dict[str, str],
    pipes: Any | None,
    objects: S3Objects,
    log: logging.Logger,
) -> SplitPlan:
    if kind not in KINDS:
        raise JobInputError(f"unknown split kind {kind!r}: expected one of {', '.join(KINDS)}")
    source = options["SOURCE"]
    if source not in SOURCES:
        raise JobInputError(f"--SOURCE {source!r}: expected one of {', '.join(SOURCES)}")
    for name in ("SOURCE_PATH", "TARGET_PATH"):
        split_s3_uri(options[name])
    if pipes is not None:
        chosen = _from_pipes(kind, options, pipes)
        if options["SNAPSHOT_DT"] not in (NONE, chosen["snapshot"]):
            raise JobInputError(
                f"--SNAPSHOT_DT {options['SNAPSHOT_DT']} disagrees with the Dagster "
                f"partition {chosen['snapshot']}"
            )
    else:
        chosen = _from_arguments(kind, source, options, objects, log)
    tables = chosen["tables"]
    if not tables:
        raise JobInputError("no tables selected")
    build = chosen["build"]
    if build == NONE:  # a console run: a fresh build named after the Glue run
        build = new_build_id(options["JOB_RUN_ID"] or "console")
    if not is_build_id(build):
        raise JobInputError(f"--BUILD_ID {build!r} is not a build id (YYYYMMDDTHHMMSSZ-<run>)")
    strays = [t.name for t in tables if t.source != source]
    if strays:
        raise JobInputError(f"tables {', '.join(strays)} are not split from {source}")
    return SplitPlan(
        kind=kind,
        source=source,
        source_path=as_folder(options["SOURCE_PATH"]),
        target_path=as_folder(options["TARGET_PATH"]),
        snapshot_dt=parse_snapshot(chosen["snapshot"]),
        tables=tables,
        asset_keys=chosen["asset_keys"],
        bucket_count=chosen["bucket_count"],
        snapshot_marker=chosen["marker"],
        build=build,
        audited=pipes is not None,
    )


# ---- running ---------------------------------------------------------------------------------


def check_raw_snapshot(plan: SplitPlan, objects: S3Objects) -> int:
    """Total bytes of a complete raw snapshot (marker present) whose every file's footer
    holds the key and the plan's columns (``glue_jobs.raw_files``: two ranged GETs a
    file), checked before Spark starts so a bad delivery fails in seconds, naming the
    file and column, not minutes later in a JVM trace."""
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
    return validate_raw_files(plan.raw_uri, files, plan.tables).bytes


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


def main(
    kind: str,
    argv: Sequence[str] | None = None,
    s3_client: Any | None = None,
    spark_factory: Callable[[], Any] = spark_session,
) -> None:
    """Entry of ``split_and_part_job.py`` and ``split_and_bucket_job.py``."""
    options = resolve_options(sys.argv[1:] if argv is None else argv)
    if s3_client is None:
        import boto3  # on Glue; honours AWS_ENDPOINT_URL like every AWS client here
        from botocore.config import Config

        # the code location's retry policy (adapters/aws_clients.py: standard mode, 8
        # retries); botocore's default legacy mode would give up on S3 throttling sooner
        s3_client = boto3.client(
            "s3", config=Config(retries={"mode": "standard", "max_attempts": 8})
        )
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
