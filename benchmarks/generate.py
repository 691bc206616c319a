"""Deterministic raw snapshots of a given size (rows x attribute columns x tables).

Shaped like the production raw input and like ``flywheel_assets.sample_data``, but
vectorised (numpy + pyarrow) so 2,000,000 x 200 takes seconds, not hours:

- mixed-case column names (``Customer_User_id``, ``Attr_001``...) so the split's
  lower-casing is exercised; every third attribute is ``int64``, the others short
  strings from a 1,000-value domain; 5% of attribute values are null;
- keys ``CU`` + 12 hex digits, distinct by construction (an affine bijection of the
  row number modulo 2**48), so every one of the 256 id_buckets is covered;
- about 0.5% of the rows are exact copies of another row (the split drops them), plus
  a few rows the split must keep: null keys (two of them exact duplicates of each
  other, which are dropped like any other), and conflicting duplicates (same key,
  different attributes).

The registry of the generated tables (``_tables.csv``, the split CSV format) and a
``_generated.json`` with the expected figures are written beside the parquet files.

    python -m benchmarks.generate --rows 2000000 --columns 200 --tables 8 --out build/bench/raw
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RAW_KEY = "Customer_User_id"
SOURCE = "infobase_attributes"
NULL_KEY_ROWS = 6  # of which 2 are one exact duplicate pair -> 5 kept
CONFLICTING_KEYS = 8  # keys present twice with different attributes -> all kept


@dataclass
class Generated:
    rows: int  # raw rows written
    distinct_rows: int  # rows after the exact-duplicate drop
    exact_duplicates: int
    null_key_rows: int  # kept
    conflicting_duplicate_keys: int
    columns: int
    tables: int
    files: int
    bytes: int
    seed: int
    seconds: float


def column_names(columns: int) -> list[str]:
    width = max(3, len(str(columns)))
    return [f"Attr_{i:0{width}d}" for i in range(1, columns + 1)]


def table_columns(columns: int, tables: int) -> dict[str, list[str]]:
    """Contiguous blocks of columns, ``BENCH_01`` .. ``BENCH_NN`` (at most 99 columns each:
    with the key that is the Clean Rooms allow-list quota of 100)."""
    names = column_names(columns)
    per = -(-columns // tables)
    if per + 1 > 100:
        raise ValueError(f"{columns} columns in {tables} tables: more than 99 per table")
    return {
        f"BENCH_{t + 1:02d}": names[t * per : (t + 1) * per]
        for t in range(tables)
        if names[t * per : (t + 1) * per]
    }


def registry_csv(columns: int, tables: int) -> str:
    lines = ["table_name,column_name"]
    for table, cols in table_columns(columns, tables).items():
        lines += [f"{table},{c}" for c in cols]
    return "\n".join(lines) + "\n"


def load_bench_registry(raw_dir: Path):
    from glue_jobs.registry import build_registry

    csv_path = raw_dir / "_tables.csv"
    return build_registry([(SOURCE, str(csv_path), csv_path.read_text())])


def _keys(start: int, count: int):
    """``CU%012X`` of an affine bijection of the row number: distinct, random-looking."""
    import numpy as np
    import pyarrow as pa

    n = np.arange(start, start + count, dtype=np.uint64)
    mixed = (n * np.uint64(0x9E3779B97F4B) + np.uint64(0x5DEECE66D)) & np.uint64(2**48 - 1)
    digits = np.empty((count, 14), dtype=np.uint8)
    digits[:, 0], digits[:, 1] = ord("C"), ord("U")
    alphabet = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    for pos in range(12):
        shift = np.uint64(4 * (11 - pos))
        digits[:, 2 + pos] = alphabet[((mixed >> shift) & np.uint64(15)).astype(np.intp)]
    binary = pa.array(digits.view("S14").ravel(), type=pa.binary())
    return binary.cast(pa.string())


def _chunk(rng, start: int, count: int, names: list[str]):
    """``count`` distinct rows (keys ``start``..) as a pyarrow table."""
    import numpy as np
    import pyarrow as pa

    domain = pa.array([f"v{i:03d}" for i in range(1000)])
    data = {RAW_KEY: _keys(start, count)}
    for j, name in enumerate(names):
        nulls = rng.random(count) < 0.05
        if j % 3 == 0:
            data[name] = pa.array(rng.integers(0, 10_001, count), mask=nulls, type=pa.int64())
        else:
            idx = pa.array(rng.integers(0, 1000, count, dtype=np.int32), mask=nulls)
            data[name] = domain.take(idx)
    return pa.table(data)


def generate(
    out: Path,
    rows: int = 2_000_000,
    columns: int = 200,
    tables: int = 8,
    files: int = 8,
    seed: int = 20250115,
    dup_fraction: float = 0.005,
) -> Generated:
    """Write ``files`` parquet files holding ``rows`` raw rows in total, plus ``_SUCCESS``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    names = column_names(columns)
    special = NULL_KEY_ROWS + 2 * CONFLICTING_KEYS
    duplicates = int(rows * dup_fraction)
    distinct = rows - duplicates - special
    if distinct < files:
        raise ValueError(f"--rows {rows} is too small")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    bounds = np.linspace(0, distinct, files + 1, dtype=np.int64)
    dup_bounds = np.linspace(0, duplicates, files + 1, dtype=np.int64)
    total_bytes = 0
    for f in range(files):
        count = int(bounds[f + 1] - bounds[f])
        part = _chunk(rng, int(bounds[f]), count, names)
        copies = part.take(pa.array(rng.choice(count, int(dup_bounds[f + 1] - dup_bounds[f]))))
        pieces = [part, copies]
        if f == files - 1:
            # null keys: NULL_KEY_ROWS - 1 distinct rows, one of them twice
            nulls = _chunk(rng, rows + 10, NULL_KEY_ROWS - 1, names)
            nulls = nulls.set_column(0, RAW_KEY, pa.nulls(nulls.num_rows, pa.string()))
            pieces += [nulls, nulls.slice(0, 1)]
            # conflicting duplicates: the same key twice, attributes differ
            first = _chunk(rng, rows + 100, CONFLICTING_KEYS, names)
            second = _chunk(rng, rows + 200, CONFLICTING_KEYS, names)
            pieces += [first, second.set_column(0, RAW_KEY, first.column(RAW_KEY))]
        table = pa.concat_tables(pieces)
        # interleave the copies with the originals (deterministically)
        table = table.take(pa.array(rng.permutation(table.num_rows)))
        path = out / f"part-{f:05d}.snappy.parquet"
        pq.write_table(table, path, compression="snappy", row_group_size=128 * 1024)
        total_bytes += path.stat().st_size
        del part, copies, table, pieces
    (out / "_SUCCESS").write_text("")
    (out / "_tables.csv").write_text(registry_csv(columns, tables))
    raw_rows = distinct + duplicates + special
    assert raw_rows == rows, (raw_rows, rows)
    result = Generated(
        rows=rows,
        # every copy (even a second copy of one row) is one dropped row
        distinct_rows=distinct + (NULL_KEY_ROWS - 1) + 2 * CONFLICTING_KEYS,
        exact_duplicates=duplicates + 1,
        null_key_rows=NULL_KEY_ROWS - 1,
        conflicting_duplicate_keys=CONFLICTING_KEYS,
        columns=columns,
        tables=len(table_columns(columns, tables)),
        files=files,
        bytes=total_bytes,
        seed=seed,
        seconds=round(time.perf_counter() - started, 1),
    )
    (out / "_generated.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def ensure(out: Path, rows: int, columns: int, tables: int, files: int, seed: int) -> Generated:
    """Reuse ``out`` when it already holds this exact snapshot, else generate it."""
    info = out / "_generated.json"
    if info.exists():
        found = Generated(**json.loads(info.read_text()))
        if (found.rows, found.columns, found.tables, found.files, found.seed) == (
            rows,
            columns,
            tables,
            files,
            seed,
        ):
            return found
    return generate(out, rows, columns, tables, files, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--columns", type=int, default=200)
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20250115)
    parser.add_argument("--out", type=Path, default=Path("build/bench/raw"))
    args = parser.parse_args(argv)
    result = generate(args.out, args.rows, args.columns, args.tables, args.files, args.seed)
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
