"""``make bench``: the split steps on local Spark against a DuckDB reference.

    .venv/bin/python -m benchmarks.run [--rows 2000000 --columns 200 --tables 8] [--repeat 3]

1. generate (or reuse) a deterministic raw snapshot under ``build/bench/raw``;
2. for ``split_part`` and ``split_cluster``: run the project's transform on local Spark
   and the DuckDB reference, each in a fresh process whose tree is sampled (peak RSS,
   CPU seconds); print wall time, peak memory, CPU, files and bytes; verify both outputs
   hold the same rows per table and per bucket (row counts and a content fingerprint,
   read back by DuckDB, independently of what either engine reported);
3. the monitor's one-statement key profile on one written table, on both engines, with
   the Spark plan's ReadSchema, and the catalog statements needed to register the
   table's 256 partitions on the Hive adapter;
4. the code location's import + Definitions build time, in a fresh process;
5. the Spark profile of each step from its event log (queries, CPU, shuffle, spill) and
   which queries really read the raw snapshot, with how many columns.

The machine is shared: ``--repeat N`` runs the engines alternately N times and keeps the
fastest run of each (the run least disturbed by other work); the 1-minute load average
before each run is printed. Everything generated goes under ``build/bench``
(gitignored); ``results.json`` there holds every figure printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.eventlog import columns_of, query_table, read_event_log
from benchmarks.generate import ensure, load_bench_registry
from benchmarks.measure import ChildRun, dir_files, load_average, mib, run_child

ROOT = Path(__file__).resolve().parent.parent
GLUE_TEST = (
    "flywheel_assets_tests/adapters/test_glue_catalog.py::"
    "test_publish_new_table_registers_256_partitions_in_3_batches"
)


def say(line: str = "") -> None:
    print(line, flush=True)


# --- verification (DuckDB reads both outputs) ---------------------------------------


def fingerprints(con, root: Path, table, partitioned: bool) -> dict[str, tuple[int, int]]:
    """Rows and a content fingerprint (sum of row hashes) per bucket of one written table."""
    columns = ", ".join(table.all_columns)
    if partitioned:
        source = f"read_parquet('{root}/{table.name}/*/*.parquet', hive_partitioning = true)"
        bucket = "id_bucket"
    else:
        source = f"read_parquet('{root}/{table.name}/*.parquet')"
        bucket = "0"
    rows = con.execute(
        f"SELECT {bucket} AS b, count(*), sum(hash({columns})::HUGEINT) FROM {source} GROUP BY b"
    ).fetchall()
    return {str(b): (int(n), int(h)) for b, n, h in rows}


def schema(con, root: Path, table, partitioned: bool) -> list[tuple[str, str]]:
    pattern = f"{root}/{table.name}/" + ("*/*.parquet" if partitioned else "*.parquet")
    query = f"DESCRIBE SELECT * FROM read_parquet('{pattern}', hive_partitioning = {partitioned})"
    return [(r[0], r[1]) for r in con.execute(query).fetchall()]


def unsorted_rows(con, root: Path, table) -> int:
    """Rows whose key is smaller than the previous row's in the same file."""
    return con.execute(
        f"SELECT count(*) FROM (SELECT customer_user_id AS k, lag(customer_user_id) OVER "
        f"(PARTITION BY filename ORDER BY file_row_number) AS prev FROM read_parquet("
        f"'{root}/{table.name}/*.parquet', filename = true, file_row_number = true)) "
        f"WHERE k < prev"
    ).fetchone()[0]


def bucket_layout(root: Path, table) -> tuple[int, int]:
    """(bucket directories, most files in one bucket directory)."""
    dirs = [d for d in (root / table.name).glob("id_bucket=*") if d.is_dir()]
    most = max((len(list(d.glob("*.parquet"))) for d in dirs), default=0)
    return len(dirs), most


def verify(kind: str, raw: Path, spark_out: Path, duck_out: Path, spark_tables: dict):
    import duckdb

    tables = list(load_bench_registry(raw))
    partitioned = kind == "split_part"
    con = duckdb.connect()
    problems: list[str] = []
    total = 0
    layouts = {}
    for table in tables:
        a = fingerprints(con, spark_out, table, partitioned)
        b = fingerprints(con, duck_out, table, partitioned)
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            problems.append(f"{table.name}: buckets differ {diff[:8]}")
        sa = schema(con, spark_out, table, partitioned)
        sb = schema(con, duck_out, table, partitioned)
        if sorted(sa) != sorted(sb):
            problems.append(f"{table.name}: schemas differ: spark {sa[:4]}... duckdb {sb[:4]}...")
        reported = spark_tables[table.name]
        if partitioned and reported["bucket_rows"] != {k: v[0] for k, v in a.items()}:
            problems.append(f"{table.name}: Spark's manifest bucket_rows differ from its files")
        if reported["rows"] != sum(v[0] for v in a.values()):
            problems.append(f"{table.name}: Spark's manifest row_count differs from its files")
        if partitioned:
            layouts[table.name] = {
                "spark": bucket_layout(spark_out, table),
                "duckdb": bucket_layout(duck_out, table),
            }
        else:
            for name, out in (("spark", spark_out), ("duckdb", duck_out)):
                if unsorted_rows(con, out, table):
                    problems.append(f"{table.name}: {name} files are not sorted by key")
        total += sum(v[0] for v in a.values())
    con.close()
    return problems, total, layouts


# --- runs ---------------------------------------------------------------------------


def engine_line(name: str, run: ChildRun, out: Path) -> str:
    files, size = dir_files(out)
    r = run.result
    return (
        f"  {name:<7} wall {r.get('wall_s', float('nan')):6.1f} s  cpu {run.cpu_s:6.1f} s  "
        f"peak RSS {mib(run.peak_rss):>10}  files {files:5d}  bytes {mib(size):>9}  "
        f"(process {run.wall_s:5.1f} s incl. start-up {r.get('startup_s', 0):3.1f} s; "
        f"load {run.load_before:.1f})"
    )


def best(runs: list[ChildRun]) -> ChildRun:
    return min(runs, key=lambda r: r.result["wall_s"])


def run_engines(kind: str, args, raw: Path, work: Path) -> tuple[ChildRun, ChildRun]:
    """Spark and DuckDB alternately, ``--repeat`` times; the fastest run of each."""
    spark_out, duck_out = work / "out" / "spark" / kind, work / "out" / "duckdb" / kind
    spark_args = ["--step", kind, "--raw", str(raw), "--out", str(spark_out)]
    spark_args += ["--home", str(work / "home"), "--spark-conf", args.spark_conf]
    if args.spark_transforms:
        spark_args += ["--transforms", str(args.spark_transforms)]
    if args.jfr:
        spark_args += ["--jfr", str(work / "profile" / f"{kind}.jfr")]
    duck_args = ["--step", kind, "--raw", str(raw), "--out", str(duck_out)]
    spark_runs, duck_runs = [], []
    for n in range(args.repeat):
        for engine, module, engine_args, runs in (
            ("spark", "benchmarks.spark_engine", spark_args, spark_runs),
            ("duckdb", "benchmarks.duckdb_engine", duck_args, duck_runs),
        ):
            result = work / "results" / f"{engine}_{kind}.json"
            log = work / "logs" / f"{engine}_{kind}.log"
            if engine == "duckdb" and args.skip_duckdb and result.with_suffix(".run").exists():
                runs.append(ChildRun(**json.loads(result.with_suffix(".run").read_text())))
                continue
            run = run_child(module, engine_args, result, log)
            if run.returncode:
                raise SystemExit(f"{engine} {kind} failed: see {log}")
            result.with_suffix(".run").write_text(json.dumps(vars(run)))
            if args.repeat > 1:
                wall, load = run.result["wall_s"], run.load_before
                say(f"  run {n + 1}: {engine} {wall:.1f} s (load {load:.1f})")
            runs.append(run)
    return best(spark_runs), best(duck_runs)


def column_reads(scans: list[tuple[int, str, list[str]]]) -> str:
    """How many queries read each raw column, e.g. ``200 columns by 1 query,
    1 column (Customer_User_id) by 8``."""
    reads = Counter(c for _, _, schemas in scans for s in schemas for c in columns_of(s))
    groups = Counter(reads.values())
    parts = []
    for times, columns in sorted(groups.items()):
        names = sorted(c for c, n in reads.items() if n == times)
        label = f" ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})" if times > 1 else ""
        plural = "s" if columns > 1 else ""
        parts.append(
            f"{columns} column{plural}{label} by {times} quer{'y' if times == 1 else 'ies'}"
        )
    return "raw column reads: " + ", ".join(parts)


def run_step(kind: str, args, raw: Path, work: Path, raw_rows: int) -> dict:
    spark_out, duck_out = work / "out" / "spark" / kind, work / "out" / "duckdb" / kind
    say(f"== {kind}")
    spark, duck = run_engines(kind, args, raw, work)
    if args.repeat > 1:  # the outputs on disk are from the last runs: same content
        say("  fastest runs:")
    say(engine_line("spark", spark, spark_out))
    say(engine_line("duckdb", duck, duck_out))
    if args.jfr:
        from benchmarks.jfr_top import report

        for line in report(work / "profile" / f"{kind}.jfr", top=15):
            say("  " + line)
    problems, rows, layouts = verify(kind, raw, spark_out, duck_out, spark.result["tables"])
    if problems:
        say("  VERIFY FAILED: " + "; ".join(problems))
    else:
        what = "rows per table and per bucket" if kind == "split_part" else "rows per table"
        say(
            f"  verified: same {what} (counts and content hashes), "
            f"{len(spark.result['tables'])} tables, {rows:,} rows"
            + ("" if kind == "split_part" else "; every file sorted by key on both engines")
        )
    if layouts:
        dirs = sorted({v["spark"][0] for v in layouts.values()})
        most = max(v["spark"][1] for v in layouts.values())
        duck_most = max(v["duckdb"][1] for v in layouts.values())
        say(
            f"  layout: {dirs} id_bucket dirs per table, at most {most} file per bucket "
            f"(duckdb: at most {duck_most})"
        )
    log = read_event_log(Path(spark.result["event_log"]))
    raw_location = str(raw.resolve())
    say("  spark profile by query (event log):")
    for line in query_table(log, raw_location, raw_rows):
        say("    " + line)
    plans = work / "plans"
    plans.mkdir(parents=True, exist_ok=True)
    for stale in plans.glob(f"{kind}_query*.txt"):  # from a run with more queries
        stale.unlink()
    for execution, query in log.queries.items():
        (plans / f"{kind}_query{execution:02d}.txt").write_text(query.plan)
    say(f"  final physical plan of every query: {plans}/{kind}_query*.txt")
    scans = log.executed_scans(raw_location, raw_rows)
    say("  queries that read the raw snapshot:")
    for execution, description, schemas in scans:
        counts = [len(columns_of(s)) for s in schemas]
        say(f"    query {execution} ({description.split(' at ')[0]}): columns read {counts}")
    say("  " + column_reads(scans))
    ratio = spark.result["wall_s"] / duck.result["wall_s"]
    cpu_ratio = spark.cpu_s / duck.cpu_s if duck.cpu_s else float("nan")
    say(f"  cpu: spark {spark.cpu_s:.0f} s, duckdb {duck.cpu_s:.0f} s, ratio {cpu_ratio:.1f}")
    line = (
        f"{kind}: spark {spark.result['wall_s']:.1f} s, duckdb {duck.result['wall_s']:.1f} s, "
        f"ratio {ratio:.1f}"
    )
    say(line)
    return {
        "line": line,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "verified": not problems,
        "problems": problems,
        "layouts": layouts,
        "raw_scans": scans,
        "queries": {e: (q.description, q.plan) for e, q in log.queries.items()},
        "profile": query_table(log, raw_location, raw_rows),
        "spark": {**vars(spark), "files_bytes": dir_files(spark_out)},
        "duckdb": {**vars(duck), "files_bytes": dir_files(duck_out)},
    }


def run_monitor(args, raw: Path, work: Path) -> dict:
    table_root = work / "out" / "spark" / "split_part"  # both engines read the same files
    say(f"== monitor: key profile of {args.table} (split_part as written by Spark)")
    common = ["--step", "monitor", "--raw", str(raw), "--out", str(table_root)]
    spark = run_child(
        "benchmarks.spark_engine",
        [*common, "--home", str(work / "home"), "--table", args.table],
        work / "results" / "spark_monitor.json",
        work / "logs" / "spark_monitor.log",
    )
    duck = run_child(
        "benchmarks.duckdb_engine",
        [*common, "--table", args.table],
        work / "results" / "duckdb_monitor.json",
        work / "logs" / "duckdb_monitor.log",
    )
    if spark.returncode or duck.returncode:
        raise SystemExit("monitor step failed: see build/bench/logs/*_monitor.log")
    s, d = spark.result, duck.result
    say(f"  sql: {s['sql']}")
    say(
        f"  spark  {s['figures']}  wall {s['wall_s']:.2f} s (first query of the JVM; "
        f"again: {s['warm_s']:.2f} s)  peak RSS {mib(spark.peak_rss)}"
    )
    say(f"  duckdb {d['figures']}  wall {d['wall_s']:.2f} s  peak RSS {mib(duck.peak_rss)}")
    same = {k: int(v) for k, v in s["figures"].items()} == {
        k: int(v) for k, v in d["figures"].items()
    }
    say(f"  same figures on both engines: {same}")
    for line in s["read_schemas"]:
        say(f"  spark plan {line}")
    cat = s["catalog"]
    say(
        f"  catalog: {cat['registered']} partitions registered with "
        f"{cat['add_partition_statements']} ALTER TABLE ... ADD PARTITION statements "
        f"(partitions per statement {cat['partitions_per_statement']}) on the Hive adapter, "
        f"{cat['seconds']:.1f} s"
    )
    say(f"  Glue adapter: BatchCreatePartition calls counted by {GLUE_TEST}")
    ratio = s["wall_s"] / d["wall_s"]
    line = f"monitor: spark {s['wall_s']:.2f} s, duckdb {d['wall_s']:.2f} s, ratio {ratio:.1f}"
    say(line)
    return {
        "line": line,
        "same": same,
        "spark": s,
        "duckdb": d,
        "spark_peak_rss": spark.peak_rss,
        "duckdb_peak_rss": duck.peak_rss,
    }


def definitions_load() -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "definitions_load.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["subprocess_wall_s"] = round(wall, 3)
    line = (
        f"definitions: import + build {figures['import_and_build_s']:.2f} s for "
        f"{figures['tables']} tables ({figures['assets']} assets, {figures['asset_checks']} "
        f"checks); fresh process {wall:.2f} s incl. interpreter start"
    )
    say(line)
    figures["line"] = line
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Spark vs DuckDB split benchmark")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--columns", type=int, default=200)
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20250115)
    parser.add_argument("--table", default="BENCH_01", help="table the monitor step reads")
    parser.add_argument("--steps", default="split_part,split_cluster,monitor,definitions")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; fastest kept")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--spark-conf", default="{}", help="JSON overrides of the local config")
    parser.add_argument("--spark-transforms", type=Path, help="run another transforms.py")
    parser.add_argument("--jfr", action="store_true", help="JFR hot methods of the Spark runs")
    parser.add_argument("--skip-duckdb", action="store_true", help="reuse the last DuckDB run")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    raw = work / "raw"
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]

    started = time.perf_counter()
    gen = ensure(raw, args.rows, args.columns, args.tables, args.files, args.seed)
    say(
        f"input: {gen.rows:,} raw rows x {gen.columns} attribute columns, {gen.tables} tables, "
        f"{gen.files} parquet files, {mib(gen.bytes)} ({gen.exact_duplicates:,} exact "
        f"duplicates, {gen.null_key_rows} null-key rows, {gen.conflicting_duplicate_keys} "
        f"conflicting keys) -> {raw}; load average {load_average():.1f}"
    )
    results: dict = {"input": vars(gen), "argv": sys.argv[1:]}
    lines = []
    for kind in ("split_part", "split_cluster"):
        if kind in steps:
            results[kind] = run_step(kind, args, raw, work, gen.rows)
            lines.append(results[kind]["line"])
    if "monitor" in steps:
        results["monitor"] = run_monitor(args, raw, work)
        lines.append(results["monitor"]["line"])
    if "definitions" in steps:
        results["definitions"] = definitions_load()
        lines.append(results["definitions"]["line"])
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    say()
    elapsed = time.perf_counter() - started
    say(f"bench wall time: {elapsed:.0f} s; every figure in {work / 'results.json'}")
    for line in lines:
        say(line)
    failed = [
        k for k in ("split_part", "split_cluster") if k in results and not results[k]["verified"]
    ]
    if "monitor" in results and not results["monitor"]["same"]:
        failed.append("monitor")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
