"""The ``split_part`` file writer: Arrow (pyarrow) inside the Spark tasks.

Spark still reads, de-duplicates, shuffles and sorts; only the last step, turning each
bucket's rows into a parquet file, runs in pyarrow through ``DataFrame.mapInArrow``.
Why: parquet-mr encodes row by row, and its per-value dictionary look-ups (one hash map
per column, 25 maps touched per row) were half of the split's CPU; pyarrow encodes a
column at a time. Same files: snappy, dictionary-encoded attributes, plain keys,
min/max statistics, one file per ``id_bucket=N/`` directory (docs/performance.md).

Each bucket lives in exactly one Spark partition, and its file name depends only on
the write and that partition, so a retried task rewrites the same files: no duplicate
or partial file survives a retry.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

SUMMARY_SCHEMA = "id_bucket int, rows long"
# Batches stay capped by spark.sql.execution.arrow.maxRecordsPerBatch (10,000 rows); a
# byte cap below 2 GiB makes Spark measure the Arrow buffers after every row (10% of
# the write's CPU in the profile), so it is lifted.
ARROW_SESSION_CONF = {"spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1)}


def local_root(uri: str) -> str | None:
    """The directory of a ``file://`` URI or a plain path; None for object stores, which
    keep Spark's own writer (its committers and credentials; docs/performance.md)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    return parsed.path.rstrip("/") or "/"


def bucket_runs(buckets) -> Iterator[tuple[int, int, int]]:
    """``(bucket, start, stop)`` of each run of equal values in a numpy array."""
    import numpy as np

    if len(buckets) == 0:
        return
    starts = np.concatenate(([0], np.flatnonzero(np.diff(buckets)) + 1))
    stops = np.concatenate((starts[1:], [len(buckets)]))
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        yield int(buckets[start]), start, stop


def write_bucket_files(
    batches: Iterable,
    *,
    root: str,
    file_name: str,
    bucket_column: str,
    plain_columns: tuple[str, ...] = (),
) -> Iterator:
    """Write ``batches`` (sorted by ``bucket_column``) as ``root/<bucket_column>=N/
    file_name``, one file per bucket; yield one summary batch of rows per bucket.

    A bucket's rows are gathered across batches and written at once, so each file has
    one row group. ``plain_columns`` (unique keys) skip the dictionary: it never pays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending: list = []
    current: int | None = None
    summary: dict[str, list] = {"id_bucket": [], "rows": []}

    def flush() -> None:
        if current is None or not pending:
            return
        table = pa.Table.from_batches(pending)
        directory = f"{root}/{bucket_column}={current}"
        os.makedirs(directory, exist_ok=True)
        dictionary = [c for c in table.column_names if c not in plain_columns]
        pq.write_table(
            table,
            f"{directory}/{file_name}",
            compression="snappy",
            use_dictionary=dictionary,
        )
        summary["id_bucket"].append(current)
        summary["rows"].append(table.num_rows)
        pending.clear()

    for batch in batches:
        index = batch.schema.get_field_index(bucket_column)
        if index < 0:
            raise ValueError(f"batch has no {bucket_column!r} column: {batch.schema.names}")
        buckets = batch.column(index).to_numpy(zero_copy_only=False)
        data = batch.drop_columns([bucket_column])
        for bucket, start, stop in bucket_runs(buckets):
            if bucket != current:
                if bucket in summary["id_bucket"]:
                    raise ValueError(f"{bucket_column}={bucket} rows are not contiguous")
                flush()
                current = bucket
            pending.append(data.slice(start, stop - start))
    flush()
    yield pa.RecordBatch.from_pydict(
        summary, schema=pa.schema([("id_bucket", pa.int32()), ("rows", pa.int64())])
    )


def write_partitioned(
    frame, root: str, bucket_column: str, plain_columns: tuple[str, ...] = ()
) -> dict[int, int]:
    """Write a frame whose buckets each sit in one partition under the local directory
    ``root``: clear it, sort each partition by bucket, write the files from the tasks.
    Returns rows per bucket."""
    shutil.rmtree(root, ignore_errors=True)  # mode("overwrite")
    os.makedirs(root, exist_ok=True)
    write_id = uuid.uuid4().hex

    def write(batches: Iterable) -> Iterator:
        from pyspark import TaskContext

        partition = TaskContext.get().partitionId()
        return write_bucket_files(
            batches,
            root=root,
            file_name=f"part-{partition:05d}-{write_id}.c000.snappy.parquet",
            bucket_column=bucket_column,
            plain_columns=plain_columns,
        )

    sorted_frame = frame.sortWithinPartitions(bucket_column)
    rows = sorted_frame.mapInArrow(write, SUMMARY_SCHEMA).collect()
    return {int(r["id_bucket"]): int(r["rows"]) for r in rows}
