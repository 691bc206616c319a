"""One bench step on local Spark, in its own process (``benchmarks.run`` starts it).

The Spark session is the project's local one (``spark_config`` of the local profile,
embedded Hive metastore under ``build/bench/home``) plus an event log, and the
transform is the project's own ``glue_jobs.transforms.split_snapshot``: the same code
the Dagster assets and the Glue entry scripts run.

Steps: ``split_part`` / ``split_cluster`` (raw snapshot -> per-table datasets) and
``monitor`` (the per-table monitor statement on one written table, plus the catalog
calls needed to register its 256 partitions on the Hive adapter).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

SNAPSHOT = "2025-01-15"
BUCKETS = 256


def bench_session(
    home: Path, event_dir: Path, overrides: dict[str, str] | None = None, jfr: Path | None = None
):
    """The project's local SparkSession config, plus an event log for the profile
    (and ``overrides``, for experiments: ``--spark-conf '{"key": "value"}'``; ``jfr``: a
    Java Flight Recording of the JVM, for ``benchmarks.jfr_top``)."""
    from dagster_pyspark.resources import spark_session_from_config

    from flywheel_assets.adapters.spark_session import (
        acquire_metastore_lock,
        spark_config,
        use_this_python_for_workers,
    )
    from flywheel_assets.config.settings import load_settings

    settings = load_settings("local", environ={**os.environ, "FLYWHEEL_HOME": str(home)})
    acquire_metastore_lock(settings.home)
    settings.metastore_dir.mkdir(parents=True, exist_ok=True)
    if event_dir.exists():
        shutil.rmtree(event_dir)
    event_dir.mkdir(parents=True)
    config = {
        **spark_config(settings),
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": event_dir.resolve().as_uri(),
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",  # one JSON-lines file
        **(overrides or {}),
    }
    if jfr is not None:
        jfr.parent.mkdir(parents=True, exist_ok=True)
        config["spark.driver.extraJavaOptions"] += (
            f" -XX:StartFlightRecording=filename={jfr.resolve()},settings=profile"
            " -XX:FlightRecorderOptions:stackdepth=256"
        )
    use_this_python_for_workers()
    session = spark_session_from_config(config)
    session.sparkContext.setLogLevel("ERROR")
    return session, config


def explain(frame, mode: str = "formatted") -> str:
    return frame._sc._jvm.PythonSQLUtils.explainString(frame._jdf.queryExecution(), mode)


def load_transforms(path: Path | None):
    """``glue_jobs.transforms``, or another version of it (``--transforms FILE``, e.g. a
    ``git show <commit>:glue_jobs/transforms.py`` copy) for before/after figures."""
    if path is None:
        from glue_jobs import transforms

        return transforms
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_transforms", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_split(spark, kind: str, raw: Path, out: Path, transforms_path: Path | None = None) -> dict:
    from benchmarks.generate import load_bench_registry

    split_snapshot = load_transforms(transforms_path).split_snapshot

    tables = list(load_bench_registry(raw))
    raw_bytes = sum(p.stat().st_size for p in raw.glob("*.parquet"))
    messages: list[str] = []

    def log(message: str) -> None:
        messages.append(f"{time.perf_counter() - started:7.1f}s {message}")
        print(messages[-1], flush=True)

    started = time.perf_counter()
    manifests = list(
        split_snapshot(
            spark,
            raw_uri=raw.resolve().as_uri(),
            raw_bytes=raw_bytes,
            tables=tables,
            kind=kind,
            snapshot_dt=SNAPSHOT,
            target_uri=lambda t: (out / t.name).resolve().as_uri(),
            bucket_count=BUCKETS,
            log=log,
        )
    )
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "log": messages,
        "tables": {
            m.table: {
                "rows": m.row_count,
                "raw_rows": m.raw_rows,
                "duplicates_dropped": m.duplicates_dropped,
                "target_files": m.target_files,
                "bucket_rows": m.bucket_rows,
                "columns": [c[0] for c in m.columns],
            }
            for m in manifests
        },
    }


class CountingSpark:
    """Stands in for the SparkSession inside the Hive catalog adapter and counts the
    ``ALTER TABLE ... ADD ... PARTITION`` statements it issues."""

    def __init__(self, spark) -> None:
        self._spark = spark
        self.statements: list[str] = []

    def sql(self, statement: str, *args, **kwargs):
        self.statements.append(statement)
        return self._spark.sql(statement, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._spark, name)

    @property
    def add_partition_statements(self) -> list[str]:
        return [s for s in self.statements if s.startswith("ALTER TABLE") and " ADD " in s]


def register_partitions(spark, table_dir: Path, table_name: str) -> dict:
    """Publish the written split_part table with its 256 partitions on the Hive adapter."""
    from flywheel_assets.adapters.hive_catalog import HiveCatalog
    from flywheel_assets.ports.catalog import Column, TableDefinition

    written = spark.read.parquet(table_dir.resolve().as_uri())
    columns = tuple(
        Column(f.name, f.dataType.simpleString())
        for f in written.schema.fields
        if f.name != "id_bucket"
    )
    partitions = {
        p.name.split("=", 1)[1]: p.resolve().as_uri() for p in sorted(table_dir.glob("id_bucket=*"))
    }
    counting = CountingSpark(spark)
    catalog = HiveCatalog(counting)
    definition = TableDefinition(
        database="flywheel_bench",
        name=f"part_{table_name.lower()}",
        columns=columns,
        location=table_dir.resolve().as_uri(),
        partition_keys=(Column("id_bucket", "int"),),
        partitions=partitions,
        comment="bench",
    )
    catalog.drop_table("flywheel_bench", definition.name)
    counting.statements.clear()
    started = time.perf_counter()
    catalog.publish_table(definition)
    seconds = time.perf_counter() - started
    listed = catalog.list_partitions("flywheel_bench", definition.name)
    adds = counting.add_partition_statements
    return {
        "partitions": len(partitions),
        "registered": len(listed),
        "add_partition_statements": len(adds),
        "partitions_per_statement": [s.count("PARTITION (") for s in adds],
        "catalog_statements": len(counting.statements),
        "seconds": seconds,
    }


def run_monitor(spark, table_dir: Path, table_name: str) -> dict:
    """The monitor's own statement (``flywheel_assets.checks.sql.key_profile_sql``) on
    one written split_part table, registered as a temporary view."""
    from flywheel_assets.checks.sql import key_profile_sql
    from glue_jobs.registry import KEY_COLUMN

    spark.read.parquet(table_dir.resolve().as_uri()).createOrReplaceTempView(table_name)
    statement = key_profile_sql(table_name, KEY_COLUMN)
    frame = spark.sql(statement)
    plan = explain(frame)
    started = time.perf_counter()
    row = frame.collect()[0].asDict()
    wall = time.perf_counter() - started
    started = time.perf_counter()
    spark.sql(statement).collect()  # again, in the now warm JVM
    warm = time.perf_counter() - started
    read_schemas = [line.strip() for line in plan.splitlines() if "ReadSchema:" in line]
    return {
        "wall_s": wall,
        "warm_s": warm,
        "sql": statement,
        "figures": row,
        "plan": plan,
        "read_schemas": read_schemas,
        "catalog": register_partitions(spark, table_dir, table_name),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", choices=("split_part", "split_cluster", "monitor"))
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--table", default="BENCH_01")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--spark-conf", default="{}", help="JSON overrides of the config")
    parser.add_argument("--transforms", type=Path, help="another transforms.py to run")
    parser.add_argument("--jfr", type=Path, help="record the JVM with Java Flight Recorder")
    args = parser.parse_args(argv)

    event_dir = args.home / "eventlog" / args.step
    started = time.perf_counter()
    spark, config = bench_session(args.home, event_dir, json.loads(args.spark_conf), args.jfr)
    startup = time.perf_counter() - started
    if args.step == "monitor":
        result = run_monitor(spark, args.out / args.table, args.table)
    else:
        result = run_split(spark, args.step, args.raw, args.out, args.transforms)
    result["startup_s"] = startup
    result["spark_config"] = {
        k: v
        for k, v in config.items()
        if not k.startswith(("spark.hadoop.javax", "spark.driver.extra"))
    }
    result["default_parallelism"] = spark.sparkContext.defaultParallelism
    spark.stop()
    result["event_log"] = str(next(event_dir.iterdir()))
    args.result.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
