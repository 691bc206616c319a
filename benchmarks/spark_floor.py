"""What bounds the Spark split below the transform itself: scan width and parquet writes.

Prints two sets of figures on the bench snapshot (``make bench`` generates it):

- a no-op scan of the first N raw columns (``noop`` sink: read and decode, nothing
  written), for N = 27, 99, 101 and all: above ``spark.sql.codegen.maxFields`` (100)
  Spark reads rows, not columnar batches;
- one table (key + its attributes + ``id_bucket``, clustered by bucket like a
  ``split_part`` table frame, cached) written as ``id_bucket=N/`` parquet with the writer options in
  ``WRITE_VARIANTS``: wall time and bytes on disk.

    .venv/bin/python -m benchmarks.spark_floor [--raw build/bench/raw]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

WRITE_VARIANTS: dict[str, dict[str, str]] = {
    "snappy, dictionary (the project's writer)": {"compression": "snappy"},
    "snappy, no dictionary": {"compression": "snappy", "parquet.enable.dictionary": "false"},
    "zstd, dictionary": {"compression": "zstd"},
    "zstd, no dictionary": {"compression": "zstd", "parquet.enable.dictionary": "false"},
}


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("build/bench/raw"))
    parser.add_argument("--work", type=Path, default=Path("build/bench/floor"))
    args = parser.parse_args(argv)

    from benchmarks.generate import load_bench_registry
    from benchmarks.measure import dir_files
    from benchmarks.spark_engine import BUCKETS, bench_session
    from glue_jobs.bucketing import spark_bucket_expr
    from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN
    from glue_jobs.transforms import cluster_partitions, normalize_columns

    if not (args.raw / "_generated.json").exists():
        raise SystemExit(f"{args.raw}: no bench snapshot; run make bench (or benchmarks.generate)")
    spark, _ = bench_session(args.work / "home", args.work / "events")
    raw = spark.read.parquet(args.raw.resolve().as_uri())
    names = raw.columns

    def noop(frame) -> None:
        frame.write.format("noop").mode("overwrite").save()

    noop(raw.select(*names[:27]))  # JVM warm-up, not reported
    for width in sorted({min(w, len(names)) for w in (27, 99, 101, len(names))}):
        seconds = timed(lambda w=width: noop(raw.select(*names[:w])))
        print(f"scan {width:>3} raw columns (noop sink): {seconds:6.1f} s", flush=True)

    table = next(iter(load_bench_registry(args.raw)))
    frame = (
        normalize_columns(raw)
        .selectExpr(
            *table.all_columns, f"{spark_bucket_expr(KEY_COLUMN, BUCKETS)} AS {PARTITION_COLUMN}"
        )
        .repartition(cluster_partitions(spark, BUCKETS), PARTITION_COLUMN)
        .sortWithinPartitions(PARTITION_COLUMN)
        .cache()
    )
    rows = frame.count()
    print(f"write {table.name}: {rows} rows x {len(table.all_columns)} columns, by id_bucket")
    out = args.work / "out"
    first = next(iter(WRITE_VARIANTS.items()))
    for n, (label, options) in enumerate([first, *WRITE_VARIANTS.items()]):
        shutil.rmtree(out, ignore_errors=True)
        writer = frame.write.mode("overwrite").partitionBy(PARTITION_COLUMN)
        for key, value in options.items():
            writer = writer.option(key, value)
        seconds = timed(lambda w=writer: w.parquet(out.resolve().as_uri()))
        files, size = dir_files(out)
        mib = size / 2**20
        if n:  # the first write warms the writer's code paths up, not reported
            print(f"  {label:<42} {seconds:6.1f} s  {files} files  {mib:7.1f} MiB", flush=True)
    frame.unpersist()
    spark.stop()


if __name__ == "__main__":
    main()
