"""The split transforms: raw snapshot -> per-table parquet datasets.

One implementation for both runtimes: the local profile calls these in process, the
Glue entry scripts (``glue_jobs/*_job.py``) call them on AWS Glue. So they keep to what
Spark 3.5 (Glue 5.0) has as well as 4.x (``observe``/``Observation`` and ``mapInArrow``
exist since 3.3); ``make test-glue-runtime`` runs their tests on pyspark 3.5.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

from glue_jobs.arrow_writer import local_root, write_partitioned
from glue_jobs.bucketing import spark_bucket_expr
from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN, TableSpec, normalize_column

GB = 1024**3
MAX_FILES = 256
MANIFEST_NAME = "_flywheel_manifest.json"
TABLE_CONCURRENCY = 2  # tables split_snapshot splits at a time
# parquet-mr option: the unique key column gets no dictionary (it never pays); per-column
# since parquet-mr 1.12, so Spark 3.5's 1.13 honours it as Spark 4's does
PLAIN_KEY_OPTION = f"parquet.enable.dictionary#{KEY_COLUMN}"
SKETCH_K = 4096  # key hashes kept per snapshot: retention within ~0.6 points (drift.py)


LOGGER = logging.getLogger("flywheel.split")


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


def prepare_raw(df, tables: Iterable[TableSpec], origin: str):
    """Normalise the raw names and check the tables' columns are there (lazy: no read)."""
    df = normalize_columns(df)
    require_columns(df, tables, origin)
    return df


def cluster_partitions(spark, bucket_count: int) -> int:
    """Partitions of a ``split_part`` table frame: ``spark.sql.shuffle.partitions`` (at
    least one per core, at most one per bucket)."""
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    cores = spark.sparkContext.defaultParallelism
    return max(1, min(bucket_count, max(configured, cores)))


def table_frame(raw, table: TableSpec, kind: str, bucket_count: int, target_files: int):
    """One table's rows from the prepared raw frame: its own columns, each distinct row
    once, already partitioned for its writer.

    Each table reads only the key and its own columns, so Spark scans them as columnar
    batches with generated code (docs/performance.md: a 201-column row is the costly
    part). Exact duplicates are judged on the table's columns: the table holds each
    distinct row once, whatever the other tables hold; rows with a null or conflicting
    key are kept so the audit fails on them. The de-duplication needs no exchange of
    its own: exact duplicates share their key, hence their bucket (``split_part``) or
    their key partition (``split_cluster``), so the one shuffle the layout needs
    serves both."""
    columns = list(table.all_columns)
    narrow = raw.select(*columns)
    if kind != "split_part":
        return narrow.repartition(target_files, KEY_COLUMN).dropDuplicates()
    bucket = "__flywheel_id_bucket"  # never clashes with a table column
    return (
        narrow.selectExpr("*", f"{spark_bucket_expr(KEY_COLUMN, bucket_count)} AS {bucket}")
        .repartition(cluster_partitions(raw.sparkSession, bucket_count), bucket)
        .dropDuplicates()
        .selectExpr(*columns, f"{bucket} AS {PARTITION_COLUMN}")
    )


def _hash_partitions(frame, column: str) -> int | None:
    """Partition count when ``frame`` is already hash-partitioned on ``column`` alone
    (``table_frame``'s output, or a projection of it), else None."""
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
        return int(partitioning.numPartitions()) if attribute.name() == column else None
    except Exception:  # e.g. Spark Connect: no JVM plan to inspect; repartition anyway
        return None


def write_split_part(frame, uri: str, target_files: int) -> None:
    """Hive-style ``id_bucket=N/`` directories, at most one file per bucket.

    Repartitioning on ``id_bucket`` sends each bucket to exactly one task, so no bucket
    gets more than one file; ``target_files`` tasks (at least one per core) share the
    buckets. A frame that is already hash-partitioned on ``id_bucket`` (``table_frame``)
    is written as it is, with no second shuffle. On a local lake Arrow writes the files
    (``glue_jobs.arrow_writer``: a third of the CPU); on S3 Spark's own writer does."""
    if _hash_partitions(frame, PARTITION_COLUMN) is None:
        tasks = max(target_files, frame.sparkSession.sparkContext.defaultParallelism)
        frame = frame.repartition(tasks, PARTITION_COLUMN)
    root = local_root(uri)
    if root is not None:
        write_partitioned(frame, root, PARTITION_COLUMN, plain_columns=(KEY_COLUMN,))
    else:
        write_split_part_spark(frame, uri)


def write_split_part_spark(frame, uri: str) -> None:
    """Spark's parquet writer for ``split_part`` (object stores). The key column is
    unique, so it skips the dictionary parquet-mr would build and then drop for every
    file (a fifth of the write's CPU; docs/performance.md)."""
    (
        frame.sortWithinPartitions(PARTITION_COLUMN)
        .write.mode("overwrite")
        .option("compression", "snappy")
        .option(PLAIN_KEY_OPTION, "false")
        .partitionBy(PARTITION_COLUMN)
        .parquet(uri)
    )


def write_split_cluster(frame, uri: str, target_files: int) -> None:
    """``target_files`` parquet files clustered and sorted by the key (Spark's writer;
    the Arrow writer serves ``split_part`` only)."""
    if _hash_partitions(frame, KEY_COLUMN) != target_files:
        frame = frame.repartition(target_files, KEY_COLUMN)
    (
        frame.sortWithinPartitions(KEY_COLUMN)
        .write.mode("overwrite")
        .option("compression", "snappy")
        .option(PLAIN_KEY_OPTION, "false")
        .parquet(uri)
    )


@dataclass(frozen=True)
class WriteStats:
    """What the write itself counted: rows, and null rows per column (the key's null
    count includes empty and all-space keys, which join nothing either)."""

    rows: int
    column_nulls: dict[str, int]


def missing_key(column):
    """NULL, empty or all-space: a key that can never match."""
    from pyspark.sql import functions as F

    return column.isNull() | (F.trim(column) == "")


def write_table(frame, kind: str, uri: str, target_files: int) -> WriteStats:
    """Write a ``table_frame`` with its kind's layout; returns what the query produced,
    counted while writing (one ``observe``, no second pass over the data), so
    ``describe_written`` can check the files against it and the drift audit gets each
    column's null count for free."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    columns = [c for c in frame.columns if c != PARTITION_COLUMN]
    nulls = [
        F.sum(
            F.when(missing_key(F.col(c)) if c == KEY_COLUMN else F.col(c).isNull(), 1).otherwise(0)
        ).alias(f"n{i}")
        for i, c in enumerate(columns)
    ]
    observation = Observation()
    observed = frame.observe(observation, F.count(F.lit(1)).alias("rows"), *nulls)
    if kind == "split_part":
        write_split_part(observed, uri, target_files)
    else:
        write_split_cluster(observed, uri, target_files)
    metrics = observation.get
    return WriteStats(
        rows=int(metrics["rows"]),
        column_nulls={c: int(metrics[f"n{i}"] or 0) for i, c in enumerate(columns)},
    )


def key_sketch(spark, uri: str, k: int = SKETCH_K) -> tuple[list[int], int]:
    """Bottom-``k`` of the written keys' 64-bit hashes (Spark's ``xxhash64``, the same on
    Spark 3.5 and 4): the next snapshot's audit estimates key retention from two such
    sketches (``checks/drift.py``). Reads the key column only; a top-k, no sort of all
    keys. Returns the distinct hashes and the sketch's k: ``len(hashes)`` when the
    limit was reached (the hashes below the largest are complete), else ``k`` (fewer
    than k keys: the set is complete)."""
    from pyspark.sql import functions as F

    key = F.col(KEY_COLUMN)
    rows = (
        spark.read.parquet(uri)
        .where(~missing_key(key))
        .select(F.xxhash64(key).alias("h"))
        .orderBy("h")
        .limit(k)
        .collect()
    )
    hashes = [int(r["h"]) for r in rows]
    distinct = sorted(set(hashes))
    return distinct, (len(distinct) if len(hashes) == k else k)


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
    # figures for the drift audit (issue 22); -1 / empty: not measured (older manifests)
    key_nulls: int = -1  # null, empty or all-space keys
    distinct_keys: int = -1
    column_nulls: dict[str, int] = field(default_factory=dict)  # column -> null rows
    key_sketch: list[int] = field(default_factory=list)  # bottom-k 64-bit key hashes
    sketch_k: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        doc = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


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


def write_snapshot_table(
    spark,
    frame,
    table: TableSpec,
    kind: str,
    snapshot_dt: str,
    uri: str,
    target_files: int,
    raw_rows: int,
) -> Manifest:
    """Write one table's build and describe it: the one place a Manifest is made, for
    the local IO manager and the Glue job alike (files and bytes are added by the
    caller, which lists through its own file system)."""
    stats = write_table(frame, kind, uri, target_files)
    rows, per_bucket, columns = describe_written(spark, uri, kind == "split_part")
    sketch, k = key_sketch(spark, uri)
    return Manifest(
        table=table.name,
        kind=kind,
        snapshot_dt=snapshot_dt,
        location=uri,
        row_count=rows,
        raw_rows=raw_rows,
        duplicates_dropped=raw_rows - stats.rows,
        target_files=target_files,
        columns=columns,
        bucket_rows=per_bucket,
        written_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        key_nulls=stats.column_nulls.get(KEY_COLUMN, -1),
        column_nulls=stats.column_nulls,
        key_sketch=sketch,
        sketch_k=k,
    )


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
    """Split one raw snapshot into its tables; yield a Manifest per table.

    ``target_uri(table)`` gives the snapshot directory of a table. Each table is its own
    Spark job (``table_frame``: its columns only, one shuffle); ``TABLE_CONCURRENCY``
    run at a time (Spark runs jobs from several threads side by side), which keeps
    every core busy through the tail of each job and the read-back. Manifests are
    still yielded, and logged, in table order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from glue_jobs.raw_files import reading_raw  # it imports this module's RawInputError

    with reading_raw(raw_uri, LOGGER):  # one line naming the file, the JVM trace at DEBUG
        raw = spark.read.parquet(raw_uri)
        raw_column_count = len(raw.columns)
        raw_rows = raw.count()  # parquet footers only
    prepared = prepare_raw(raw, tables, origin=raw_uri)
    log(f"{raw_uri}: {raw_rows} raw rows, {len(tables)} tables")

    def write(table: TableSpec, uri: str, files: int) -> Manifest:
        frame = table_frame(prepared, table, kind, bucket_count, files)
        return write_snapshot_table(spark, frame, table, kind, snapshot_dt, uri, files, raw_rows)

    pool = ThreadPoolExecutor(max_workers=TABLE_CONCURRENCY, thread_name_prefix="split-table")
    futures = []
    try:
        for table in tables:
            files = target_file_count(estimate_table_bytes(raw_bytes, table, raw_column_count))
            uri = target_uri(table)
            futures.append((table, uri, files, pool.submit(write, table, uri, files)))
        for done, (table, _uri, _files, future) in enumerate(futures, start=1):
            manifest = future.result()
            log(
                f"{done}/{len(tables)} tables written: {table.name} ({manifest.row_count} "
                f"rows, {manifest.duplicates_dropped} exact duplicates dropped)"
            )
            yield manifest
    finally:
        for *_, future in futures:
            future.cancel()  # not started yet; running writes finish first
        pool.shutdown(wait=True)
