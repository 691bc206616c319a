"""The split transforms: raw snapshot -> per-table parquet datasets.

One implementation for both runtimes: the local profile calls these in process, the
Glue entry scripts (``glue_jobs/*_job.py``) call them on AWS Glue.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from glue_jobs.bucketing import spark_bucket_expr
from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN, TableSpec, normalize_column

GB = 1024**3
MAX_FILES = 256
MANIFEST_NAME = "_flywheel_manifest.json"
WRITE_CONCURRENCY = 2  # tables split_snapshot writes at a time


class RawInputError(ValueError):
    """The raw snapshot cannot be split as it is (missing or clashing columns)."""


def s3a(path: str) -> str:
    """Spark on Glue reads ``s3a://``; the reference converts every ``s3://`` path."""
    return "s3a://" + path[len("s3://") :] if path.startswith("s3://") else path


def target_file_count(size_bytes: int) -> int:
    """The reference's dynamic file sizing: 2 files per GB, at least 1, at most 256."""
    return max(1, min(MAX_FILES, int(size_bytes / GB * 2)))


def estimate_table_bytes(raw_bytes: int, table: TableSpec, raw_column_count: int) -> int:
    """A table's share of the raw snapshot, by its share of the columns."""
    share = len(table.all_columns) / max(1, raw_column_count)
    return math.ceil(raw_bytes * min(1.0, share))


def normalize_columns(df):
    """Lower-case every column; two raw columns that normalise alike are an error."""
    seen: dict[str, str] = {}
    for name in df.columns:
        norm = normalize_column(name)
        if norm in seen:
            raise RawInputError(
                f"raw columns {seen[norm]!r} and {name!r} both normalise to {norm!r}"
            )
        seen[norm] = name
    return df.toDF(*[normalize_column(c) for c in df.columns])


def require_columns(df, tables: Iterable[TableSpec], origin: str) -> None:
    present = set(df.columns)
    if KEY_COLUMN not in present:
        raise RawInputError(
            f"{origin}: raw snapshot has no {KEY_COLUMN} column "
            f"(columns: {', '.join(sorted(present)[:20])}{'...' if len(present) > 20 else ''})"
        )
    problems = []
    for table in tables:
        missing = [c for c in table.columns if c not in present]
        if missing:
            problems.append(f"{table.name}: {', '.join(missing)}")
    if problems:
        raise RawInputError(
            f"{origin}: raw snapshot lacks registry columns: " + "; ".join(problems)
        )


def prepare_raw(df, tables: Iterable[TableSpec], bucket_count: int, origin: str):
    """Normalise names, keep the columns the tables need, drop exact duplicate rows and
    derive ``id_bucket``. Rows with a null key or conflicting duplicates are kept so
    the audit can fail on them."""
    tables = list(tables)
    df = normalize_columns(df)
    require_columns(df, tables, origin)
    # exact duplicates are judged on the whole raw row, whatever subset of tables runs,
    # so rows that differ only in columns of unselected tables are never merged
    needed = [KEY_COLUMN] + [c for t in tables for c in t.columns]
    # One shuffle serves both the de-duplication and the writers (docs/performance.md):
    # exact duplicates share their key, hence their bucket, so once rows are clustered
    # by bucket the whole-row dropDuplicates needs no exchange of its own, and every
    # bucket lives in exactly one partition, sorted, for write_split_part.
    bucket = "__flywheel_id_bucket"  # the raw row may hold an id_bucket column of its own
    clustered = df.selectExpr(
        "*", f"{spark_bucket_expr(KEY_COLUMN, bucket_count)} AS {bucket}"
    ).repartition(cluster_partitions(df.sparkSession, bucket_count), bucket)
    return (
        clustered.dropDuplicates()
        .selectExpr(*dict.fromkeys(needed), f"{bucket} AS {PARTITION_COLUMN}")
        .sortWithinPartitions(PARTITION_COLUMN)
    )


def cluster_partitions(spark, bucket_count: int) -> int:
    """Partitions of the prepared frame: ``spark.sql.shuffle.partitions`` (at least one
    per core, at most one per bucket)."""
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    cores = spark.sparkContext.defaultParallelism
    return max(1, min(bucket_count, max(configured, cores)))


def _bucket_partitions(frame) -> int | None:
    """Partition count when ``frame`` is already hash-partitioned on ``id_bucket`` alone
    (a projection of ``prepare_raw``'s output, cached or not), else None."""
    try:
        partitioning = frame._jdf.queryExecution().sparkPlan().outputPartitioning()
        if partitioning.getClass().getSimpleName() != "HashPartitioning":
            return None
        expressions = partitioning.expressions()
        if expressions.size() != 1:
            return None
        attribute = expressions.apply(0)
        if attribute.getClass().getSimpleName() != "AttributeReference":
            return None
        return int(partitioning.numPartitions()) if attribute.name() == PARTITION_COLUMN else None
    except Exception:  # e.g. Spark Connect: no JVM plan to inspect; repartition anyway
        return None


def table_frame(prepared, table: TableSpec, with_bucket: bool = True):
    columns = list(table.all_columns) + ([PARTITION_COLUMN] if with_bucket else [])
    return prepared.select(*columns)


def write_split_part(frame, uri: str, target_files: int) -> None:
    """Hive-style ``id_bucket=N/`` directories, at most one file per bucket.

    Repartitioning on ``id_bucket`` sends each bucket to exactly one task, so no bucket
    gets more than one file; ``target_files`` tasks (at least one per core) share the
    buckets. A frame that is already hash-partitioned on ``id_bucket`` (``prepare_raw``'s
    output) is written as it is: its partitions share the buckets, with no shuffle."""
    if _bucket_partitions(frame) is None:
        tasks = max(target_files, frame.sparkSession.sparkContext.defaultParallelism)
        frame = frame.repartition(tasks, PARTITION_COLUMN)
    (
        frame.write.mode("overwrite")
        .option("compression", "snappy")
        .partitionBy(PARTITION_COLUMN)
        .parquet(uri)
    )


def write_split_cluster(frame, uri: str, target_files: int) -> None:
    """``target_files`` parquet files clustered and sorted by the key."""
    (
        frame.repartition(target_files, KEY_COLUMN)
        .sortWithinPartitions(KEY_COLUMN)
        .write.mode("overwrite")
        .option("compression", "snappy")
        .parquet(uri)
    )


@dataclass
class Manifest:
    """Written beside each snapshot directory once its data is complete."""

    table: str
    kind: str  # split_part | split_cluster
    snapshot_dt: str
    location: str
    row_count: int
    raw_rows: int
    duplicates_dropped: int
    target_files: int
    columns: list[list[str]]
    bucket_rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    written_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


def describe_written(spark, uri: str, partitioned: bool) -> tuple[int, dict[str, int], list]:
    """Row count (and rows per bucket) of what was written, read back from the files.

    Counting by the partition column reads parquet footers only."""
    written = spark.read.parquet(uri)
    columns = [[f.name, f.dataType.simpleString()] for f in written.schema.fields]
    if not partitioned:
        return written.count(), {}, columns
    per_bucket = {
        str(row[PARTITION_COLUMN]): int(row["count"])
        for row in written.groupBy(PARTITION_COLUMN).count().collect()
    }
    columns = [c for c in columns if c[0] != PARTITION_COLUMN]
    return sum(per_bucket.values()), per_bucket, columns


def split_snapshot(
    spark,
    *,
    raw_uri: str,
    raw_bytes: int,
    tables: list[TableSpec],
    kind: str,
    snapshot_dt: str,
    target_uri,
    bucket_count: int,
    log=print,
):
    """Read one raw snapshot once and write each table; yield a Manifest per table.

    ``target_uri(table)`` gives the snapshot directory of a table. The prepared frame
    is cached so the raw files are scanned and de-duplicated once for all tables.
    ``WRITE_CONCURRENCY`` tables are written at a time (Spark runs jobs from several
    threads side by side), which keeps every core busy through the tail of each write
    job and the read-back; manifests are still yielded, and logged, in table order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pyspark import StorageLevel

    raw = spark.read.parquet(raw_uri)
    raw_column_count = len(raw.columns)
    raw_rows = raw.count()
    prepared = prepare_raw(raw, tables, bucket_count, origin=raw_uri)
    prepared = prepared.persist(StorageLevel.MEMORY_AND_DISK)
    pool = ThreadPoolExecutor(max_workers=WRITE_CONCURRENCY, thread_name_prefix="split-write")
    futures = []
    try:
        kept = prepared.count()
        duplicates = raw_rows - kept
        log(f"{raw_uri}: {raw_rows} raw rows, {duplicates} exact duplicate rows dropped")

        def write(table: TableSpec, uri: str, files: int):
            if kind == "split_part":
                write_split_part(table_frame(prepared, table), uri, files)
            else:
                write_split_cluster(table_frame(prepared, table, with_bucket=False), uri, files)
            return describe_written(spark, uri, kind == "split_part")

        for table in tables:
            files = target_file_count(estimate_table_bytes(raw_bytes, table, raw_column_count))
            uri = target_uri(table)
            futures.append((table, uri, files, pool.submit(write, table, uri, files)))
        for done, (table, uri, files, future) in enumerate(futures, start=1):
            rows, per_bucket, columns = future.result()
            log(f"{done}/{len(tables)} tables written: {table.name} ({rows} rows)")
            yield Manifest(
                table=table.name,
                kind=kind,
                snapshot_dt=snapshot_dt,
                location=uri,
                row_count=rows,
                raw_rows=raw_rows,
                duplicates_dropped=duplicates,
                target_files=files,
                columns=columns,
                bucket_rows=per_bucket,
                written_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
    finally:
        for *_, future in futures:
            future.cancel()  # not started yet; running writes finish before the unpersist
        pool.shutdown(wait=True)
        prepared.unpersist()
