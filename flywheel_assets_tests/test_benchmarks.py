"""The benchmark harness (``make bench``) on small inputs: its generator, its DuckDB
reference and its verification must be right, or the figures it prints mean nothing.

The full-size run (2,000,000 x 200) is a benchmark, not a test: docs/performance.md."""

from __future__ import annotations

import re
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import duckdb_engine, generate
from benchmarks.jfr_top import hot_methods
from benchmarks.run import ROOT, verify
from glue_jobs.bucketing import id_bucket

ROWS, COLUMNS, TABLES, FILES = 6_000, 12, 3, 2


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> tuple[Path, generate.Generated]:
    out = tmp_path_factory.mktemp("bench") / "raw"
    return out, generate.generate(out, ROWS, COLUMNS, TABLES, FILES, seed=7)


def test_generator_is_deterministic(raw, tmp_path):
    out, _ = raw
    generate.generate(tmp_path / "again", ROWS, COLUMNS, TABLES, FILES, seed=7)
    for first in sorted(out.glob("*.parquet")):
        assert pq.read_table(first).equals(pq.read_table(tmp_path / "again" / first.name))
    generate.generate(tmp_path / "other", ROWS, COLUMNS, TABLES, FILES, seed=8)
    name = "part-00000.snappy.parquet"
    assert not pq.read_table(out / name).equals(pq.read_table(tmp_path / "other" / name))


def test_generator_plants_the_defects_it_reports(raw):
    out, gen = raw
    con = duckdb.connect()
    source = f"read_parquet('{out}/*.parquet')"
    rows, distinct = con.execute(
        f"SELECT (SELECT count(*) FROM {source}), (SELECT count(*) FROM "
        f"(SELECT DISTINCT * FROM {source}))"
    ).fetchone()
    key = generate.RAW_KEY
    null_keys = con.execute(
        f"SELECT count(DISTINCT {source_row()}) FROM {source} WHERE {key} IS NULL"
    ).fetchone()[0]
    conflicting = con.execute(
        f"SELECT count(*) FROM (SELECT {key} FROM (SELECT DISTINCT * FROM {source}) "
        f"WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1)"
    ).fetchone()[0]
    keys = con.execute(f"SELECT list(DISTINCT {key}) FROM {source}").fetchone()[0]
    assert (rows, distinct) == (gen.rows, gen.distinct_rows) == (ROWS, ROWS - gen.exact_duplicates)
    assert null_keys == gen.null_key_rows
    assert conflicting == gen.conflicting_duplicate_keys
    assert len({id_bucket(k, 256) for k in keys if k}) == 256  # every bucket is covered
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    assert columns[0] == "Customer_User_id" and len(columns) == COLUMNS + 1


def source_row() -> str:
    """Every column of a row, as one value: distinct rows, not distinct keys."""
    names = ", ".join(generate.column_names(COLUMNS))
    return f"({names})"


def test_duckdb_crc32_macro_equals_zlib_and_the_project_bucket():
    con = duckdb_engine.connect()
    assert duckdb_engine.check_crc32(con) > 1000
    keys = ["CU0000000000AA", "", "ünïcødé", "🙂"]
    got = con.execute(
        f"SELECT k, {duckdb_engine.bucket_sql('k', 256)} FROM (SELECT unnest(?) AS k)", [keys]
    ).fetchall()
    assert dict(got) == {k: id_bucket(k, 256) for k in keys}
    assert (
        zlib.crc32(b"") % 256
        == con.execute(f"SELECT {duckdb_engine.bucket_sql('NULL::VARCHAR', 256)}").fetchone()[0]
    )


def duck_split(raw_dir: Path, out: Path, kind: str) -> dict:
    con = duckdb_engine.connect()
    try:
        return duckdb_engine.run_split(con, kind, raw_dir, out, 256)
    finally:
        con.close()


def test_verify_accepts_equal_outputs_and_names_a_lost_row(raw, tmp_path):
    out, gen = raw
    a, b = tmp_path / "a", tmp_path / "b"
    reported = duck_split(out, a, "split_part")["tables"]
    duck_split(out, b, "split_part")
    problems, rows, layouts = verify("split_part", out, a, b, reported)
    assert problems == []
    assert rows == gen.distinct_rows * TABLES
    assert all(v["duckdb"] == (256, 1) for v in layouts.values())  # one file per bucket

    victim = next(iter(sorted((b / "BENCH_02" / "id_bucket=17").glob("*.parquet"))))
    table = pq.read_table(victim)
    pq.write_table(table.slice(1), victim)
    problems, _, _ = verify("split_part", out, a, b, reported)
    assert len(problems) == 1 and problems[0] == "BENCH_02: buckets differ ['17']"


def test_verify_catches_changed_content_and_unsorted_cluster_files(raw, tmp_path):
    out, _ = raw
    a, b = tmp_path / "a", tmp_path / "b"
    reported = duck_split(out, a, "split_cluster")["tables"]
    duck_split(out, b, "split_cluster")
    assert verify("split_cluster", out, a, b, reported)[0] == []

    victim = sorted((b / "BENCH_01").glob("*.parquet"))[0]
    table = pq.read_table(victim)
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), victim)
    problems, _, _ = verify("split_cluster", out, a, b, reported)
    assert problems == ["BENCH_01: duckdb files are not sorted by key"]

    column = table.column_names[1]
    values = pa.array(table.column(column).fill_null(0).to_pylist()[::-1], pa.int64())
    changed = table.set_column(1, column, values)
    pq.write_table(changed, victim)
    problems, _, _ = verify("split_cluster", out, a, b, reported)
    assert problems == ["BENCH_01: buckets differ ['0']"]


def test_make_bench_on_a_small_snapshot(tmp_path):
    """The harness end to end (Spark and DuckDB child processes, verification, the
    monitor and catalog figures, the summary lines) on 20,000 x 12 x 3."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--rows", "20000", "--columns", "12"]
        + ["--tables", "3", "--files", "2", "--work", str(tmp_path / "bench")]
        + ["--steps", "split_part,split_cluster,monitor,definitions", "--jfr"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    for step in ("split_part", "split_cluster", "monitor"):
        assert re.search(rf"^{step}: spark [\d.]+ s, duckdb [\d.]+ s, ratio [\d.]+$", output, re.M)
    assert "verified: same rows per table and per bucket" in output
    assert "at most 1 file per bucket" in output
    assert "same figures on both engines: True" in output
    assert "256 partitions registered with 3 ALTER TABLE" in output
    # the row count reads footers only (0 columns); each table's query reads the key and
    # its own 4 attributes: every attribute column once, the key once per table
    scans = re.findall(r"query \d+ \(.*\): columns read \[(\d+)\]", output)
    assert scans == ["0", "5", "5", "5"] * 2, output
    reads = "raw column reads: 12 columns by 1 query, 1 column (Customer_User_id) by 3 queries"
    assert output.count(reads) == 2, output
    assert re.search(r"ReadSchema: struct<customer_user_id:string>$", output, re.M), output
    assert re.search(r"^definitions: import \+ build [\d.]+ s for 27 tables", output, re.M)
    # --jfr: each split step's JVM recorded, its hot methods printed
    for step in ("split_part", "split_cluster"):
        assert re.search(rf"^  [1-9]\d* samples in .*/profile/{step}\.jfr$", output, re.M), output
    assert output.count("  inclusive:") == 2

    # the floors script on the same snapshot: every scan width and writer option
    floor = subprocess.run(
        [sys.executable, "-m", "benchmarks.spark_floor", "--raw", str(tmp_path / "bench" / "raw")]
        + ["--work", str(tmp_path / "floor")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert floor.returncode == 0, floor.stdout + floor.stderr
    widths = re.findall(r"^scan +(\d+) raw columns \(noop sink\): +[\d.]+ s$", floor.stdout, re.M)
    assert widths == ["13"]  # 13 raw columns: every width clamps to all of them
    writes = re.findall(r"^  (.+?) +[\d.]+ s  (\d+) files +[\d.]+ MiB$", floor.stdout, re.M)
    assert [label.split(",")[0] for label, _ in writes] == ["snappy", "snappy", "zstd", "zstd"]
    assert {files for _, files in writes} == {"256"}


def test_hot_methods_counts_innermost_frames_and_whole_stacks():
    stacks = [["equals", "getInt", "write"], ["equals", "write", "write"], ["hash", "agg"]]
    own, anywhere = hot_methods(stacks, top=2)
    assert own == [("equals", 2 / 3), ("hash", 1 / 3)]
    assert dict(anywhere) == {"equals": 2 / 3, "write": 2 / 3}  # once per stack, not per frame
