"""Deterministic synthetic raw snapshots shaped like the registry (pyarrow, no JVM).

Column names are written in mixed case (``Customer_User_id``) so the split's
normalisation is exercised; about 0.5% of rows are exact duplicates so the dropped
count shows up; every id_bucket receives at least one key. Like real monthly
deliveries, every snapshot draws from one population of keys (the seed's) with a small
churn per month, so consecutive months pass the drift audit (key retention).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from flywheel_assets import layout
from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.ports.lake import LakePort
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.bucketing import id_bucket
from glue_jobs.registry import SOURCES, Registry

RAW_KEY_COLUMN = "Customer_User_id"


def raw_name(column: str) -> str:
    return "_".join(part.capitalize() for part in column.split("_"))


CHURN = 0.02  # share of the keys beyond bucket coverage replaced from one month to the next


def sample_keys(
    rows: int, bucket_count: int, rng: random.Random, month: random.Random | None = None
) -> list[str]:
    """``rows`` distinct keys covering every bucket (when rows >= bucket_count).

    ``rng`` is the population (the same every month); ``month``, when given, replaces
    about ``CHURN`` of the keys beyond the bucket-covering ones with new ones."""
    keys: dict[str, None] = {}
    covered: set[int] = set()
    while len(covered) < min(rows, bucket_count):
        key = f"CU{rng.getrandbits(48):012X}"
        bucket = id_bucket(key, bucket_count)
        if bucket not in covered:
            covered.add(bucket)
            keys[key] = None
    while len(keys) < rows:
        key = f"CU{rng.getrandbits(48):012X}"
        if month is not None and month.random() < CHURN:
            key = f"CN{month.getrandbits(48):012X}"
        keys[key] = None
    return list(keys)


def value(column_index: int, rng: random.Random):
    if rng.random() < 0.05:
        return None
    if column_index % 3 == 0:
        return rng.randint(0, 10_000)
    return f"v{rng.randint(0, 999):03d}"


def source_columns(registry: Registry | Registries, source: str) -> list[str]:
    """Every column either pipeline splits from ``source``, once, in registry order: a
    raw delivery carries them all, however each pipeline groups them into tables."""
    registries = as_registries(registry)
    found = [c for _, r in registries.items() for t in r.for_source(source) for c in t.columns]
    return list(dict.fromkeys(found))


@dataclass
class SampleSnapshot:
    source: str
    prefix: str
    rows: int
    duplicates: int


def build_table(columns: list[str], keys: list[str], rng: random.Random, dup_every: int):
    import pyarrow as pa

    data: dict[str, list] = {RAW_KEY_COLUMN: []}
    for col in columns:
        data[raw_name(col)] = []
    duplicates = 0
    for i, key in enumerate(keys):
        row = [value(j, rng) for j in range(len(columns))]
        copies = 2 if dup_every and i % dup_every == dup_every - 1 else 1
        duplicates += copies - 1
        for _ in range(copies):
            data[RAW_KEY_COLUMN].append(key)
            for col, v in zip(columns, row, strict=True):
                data[raw_name(col)].append(v)
    types = {RAW_KEY_COLUMN: pa.string()}
    for j, col in enumerate(columns):
        types[raw_name(col)] = pa.int64() if j % 3 == 0 else pa.string()
    return pa.table({k: pa.array(v, type=types[k]) for k, v in data.items()}), duplicates


def write_sample_snapshot(
    settings: Settings,
    registry: Registry | Registries,
    lake: LakePort,
    snapshot: str,
    rows: int = 5000,
    seed: int = 7,
    sources: tuple[str, ...] = SOURCES,
) -> list[SampleSnapshot]:
    """Write raw snapshots (two parquet files + ``_SUCCESS``) for each source, with
    every column ``registry`` (one, or each pipeline's) needs."""
    import pyarrow.parquet as pq

    validate_snapshot(snapshot)
    if lake.uri("").startswith("s3://"):
        raise ValueError("sample data is for the local lake only")
    written = []
    for source in sources:
        rng = random.Random(f"{seed}:{snapshot}:{source}")
        population = random.Random(f"{seed}:{source}")
        columns = source_columns(registry, source)
        keys = sample_keys(rows, settings.bucket_count, population, month=rng)
        table, duplicates = build_table(columns, keys, rng, dup_every=200)
        prefix = layout.raw_snapshot_prefix(settings, source, snapshot)
        lake.delete_prefix(prefix)
        half = table.num_rows // 2
        for n, part in enumerate((table.slice(0, half), table.slice(half))):
            key = f"{prefix}part-{n:05d}.snappy.parquet"
            path = lake.path(key)  # type: ignore[attr-defined]
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, path, compression="snappy")
        lake.write_text(prefix + settings.snapshot_marker, "")
        written.append(SampleSnapshot(source, prefix, table.num_rows, duplicates))
    return written
