"""The compaction transform and its Glue entry point without Dagster: sizing, rows,
never overwriting, and the plan that writes exactly where the code location reads."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import layout
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.compaction import compaction_job
from flywheel_assets_tests.conftest import make_settings
from glue_jobs import compaction_job as job_script
from glue_jobs.compaction import compact_snapshot
from glue_jobs.job_plan import JobInputError, resolve_options
from glue_jobs.raw_files import RawInputError, local_file, validate_raw_files
from glue_jobs.s3_objects import S3Objects
from glue_jobs.transforms import GB, MANIFEST_NAME, Manifest, s3a

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

LOG = logging.getLogger("flywheel.glue.test")
SNAPSHOT = "2025-03-15"
BUILD = "20250315T103000Z-1a2b3c4d"


def deliver(folder: Path, files: int, rows: int, drop: str = "", retype: str = "") -> pa.Table:
    """``rows`` rows (every tenth an exact duplicate) as ``files`` parquet files and a
    ``_SUCCESS`` marker; ``drop``/``retype`` a column in the last file."""
    keys = [f"CU{i // 10 * 10 if i % 10 == 9 else i:06d}" for i in range(rows)]
    table = pa.table(
        {
            "Customer_User_id": keys,
            "Maid": [f"m{k}" for k in keys],
            "Score": pa.array([len(k) * 3 for k in keys], pa.int64()),
        }
    )
    folder.mkdir(parents=True)
    step = -(-rows // files)
    for n in range(files):
        part = table.slice(n * step, step)
        if n == files - 1 and drop:
            part = part.drop_columns([drop])
        if n == files - 1 and retype:
            index = part.schema.get_field_index(retype)
            part = part.set_column(index, retype, part.column(retype).cast(pa.string()))
        pq.write_table(part, folder / f"part-{n:05d}.snappy.parquet")
    (folder / "_SUCCESS").write_text("")
    return table


def rows_of(table: pa.Table) -> list[tuple]:
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def read_files(folder: Path) -> pa.Table:
    """The parquet files of a folder, no partition columns inferred from its path."""
    return pa.concat_tables(pq.ParquetFile(p).read() for p in sorted(folder.glob("*.parquet")))


def test_many_small_files_become_the_sized_count_with_every_row(spark, tmp_path: Path) -> None:
    raw = deliver(tmp_path / "raw", files=24, rows=600)
    target = tmp_path / "compacted" / f"build={BUILD}"

    manifest = compact_snapshot(
        spark,
        raw_uri=f"file://{tmp_path / 'raw'}",
        target_uri=f"file://{target}",
        raw_bytes=int(2.2 * GB),  # sized as 2.2 GB: 2 files per GB -> 4
        table="addressable_ids",
        snapshot_dt=SNAPSHOT,
    )

    written = sorted(target.glob("*.parquet"))
    assert manifest.target_files == 4 == len(written)
    compacted = read_files(target)
    # every row, exact duplicates included, columns named and typed as delivered
    assert rows_of(compacted) == rows_of(raw)
    assert manifest.row_count == manifest.raw_rows == 600 and manifest.duplicates_dropped == 0
    assert manifest.columns == [
        ["Customer_User_id", "string"],
        ["Maid", "string"],
        ["Score", "bigint"],
    ]
    assert (manifest.kind, manifest.table, manifest.snapshot_dt) == (
        "compacted",
        "addressable_ids",
        SNAPSHOT,
    )


def test_a_few_large_files_are_spread_over_the_target(spark, tmp_path: Path) -> None:
    raw = deliver(tmp_path / "raw", files=1, rows=300)
    target = tmp_path / "out"
    manifest = compact_snapshot(
        spark,
        raw_uri=f"file://{tmp_path / 'raw'}",
        target_uri=f"file://{target}",
        raw_bytes=3 * GB,  # one "large" input file, 6 files wanted
        table="addressable_ids",
        snapshot_dt=SNAPSHOT,
    )
    assert manifest.target_files == 6 == len(list(target.glob("*.parquet")))
    assert rows_of(read_files(target)) == rows_of(raw)


def test_an_existing_build_directory_is_never_overwritten(spark, tmp_path: Path) -> None:
    deliver(tmp_path / "raw", files=2, rows=50)
    target = tmp_path / "served"
    target.mkdir()
    (target / "part-0.parquet").write_bytes(b"served data")
    with pytest.raises(Exception, match="already exists"):
        compact_snapshot(
            spark,
            raw_uri=f"file://{tmp_path / 'raw'}",
            target_uri=f"file://{target}",
            raw_bytes=1,
            table="addressable_ids",
            snapshot_dt=SNAPSHOT,
        )
    assert (target / "part-0.parquet").read_bytes() == b"served data"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "Score"}, r"column score is missing from .*part-00003\.snappy\.parquet"),
        ({"retype": "Score"}, r"column score has different types: int64 in .*string in"),
    ],
)
def test_compaction_needs_every_file_to_hold_the_same_columns(tmp_path, change, message) -> None:
    """Spark reads one file's schema: a file that differs would lose or null-fill columns
    in the rewrite, so the footers refuse it first, naming the file and the column."""
    deliver(tmp_path / "raw", files=4, rows=80, **change)
    files = [local_file(p) for p in sorted((tmp_path / "raw").glob("*.parquet"))]
    validate_raw_files("raw", files, ())  # the splits read only the key: fine for them
    with pytest.raises(RawInputError, match=message):
        validate_raw_files("raw", files, (), same_schema=True)


# ---- the Glue entry point ---------------------------------------------------------------


class FakeObjects(S3Objects):
    def __init__(self, folders: list[str]) -> None:
        self.folders = folders
        self.written: list[tuple[str, str]] = []

    def list_folders(self, uri: str) -> list[str]:
        return self.folders

    def write_text(self, uri: str, text: str) -> None:
        self.written.append((uri, text))


def argv(arguments: dict[str, str]) -> list[str]:
    return [token for pair in arguments.items() for token in pair]


def options_for(tmp_path: Path, **changes: str) -> tuple[object, dict[str, str]]:
    settings = make_settings(tmp_path, env="dev")
    arguments = compaction_job("addressable_ids").run_arguments(settings, SNAPSHOT, BUILD)
    arguments.update({f"--{k}": v for k, v in changes.items()})
    return settings, resolve_options(argv(arguments), job_script.OPTIONS)


def test_a_console_run_compacts_the_latest_snapshot_where_the_code_location_reads(tmp_path):
    settings, options = options_for(
        tmp_path, SNAPSHOT_DT="_NONE_", BUILD_ID="_NONE_", JOB_RUN_ID="jr_0a1b2c3d4e5f"
    )
    folders = ["snapshot_dt=2025-01-15/", "snapshot_dt=2025-02-15/", "snapshot_dt=2025-13-01/"]
    plan = job_script.build_compaction_plan(options, None, FakeObjects(folders), LOG)

    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    assert plan.snapshot_dt == "2025-02-15" and plan.build.endswith("-jr0a1b2c")
    assert plan.raw_uri == lake.uri(
        layout.raw_snapshot_prefix(settings, "addressable_ids", "2025-02-15")
    )
    assert plan.target_uri == lake.uri(
        layout.compaction_build_prefix(settings, "addressable_ids", "2025-02-15", plan.build)
    )
    assert plan.target_uri.startswith(
        f"s3://{settings.data_bucket}/omc_cleanroom_data/addressable/addressable_ids_compaction_cr/"
    )
    assert plan.asset_key == "compacted/addressable_ids"


def test_under_pipes_the_partition_and_the_build_are_dagsters(tmp_path) -> None:
    _, options = options_for(tmp_path)

    def pipes(kind: str = "compaction", partition: str = SNAPSHOT, **extras) -> object:
        return SimpleNamespace(
            extras={"kind": kind, **extras}, is_partition_step=True, partition_key=partition
        )

    plan = job_script.build_compaction_plan(options, pipes(build=BUILD), FakeObjects([]), LOG)
    assert (plan.snapshot_dt, plan.build) == (SNAPSHOT, BUILD)
    conflicts = [
        (options, pipes(kind="split_part"), "this is a compaction job"),
        (options, pipes(partition="2025-04-15"), "disagrees with the Dagster partition"),
        (dict(options, BUILD_ID="latest"), pipes(), "'latest' is not a build id"),
        (dict(options, SOURCE="opus"), pipes(), "--SOURCE 'opus'"),
        (dict(options, TARGET_PATH="/tmp/x/"), pipes(), "s3://"),
    ]
    for bad, context, message in conflicts:
        with pytest.raises(JobInputError, match=message):
            job_script.build_compaction_plan(bad, context, FakeObjects([]), LOG)


def test_the_job_writes_the_manifest_last_into_its_build(tmp_path, monkeypatch) -> None:
    _, options = options_for(tmp_path)
    plan = job_script.build_compaction_plan(options, None, FakeObjects([]), LOG)
    targets: list[str] = []

    def fake_compact(spark, *, target_uri, table, snapshot_dt, **_) -> Manifest:
        targets.append(target_uri)
        return Manifest(table, "compacted", snapshot_dt, target_uri, 10, 10, 0, 1, [])

    monkeypatch.setattr(job_script, "compact_snapshot", fake_compact)
    monkeypatch.setattr(job_script, "written_parquet", lambda spark, uri: (1, 4096))
    objects = FakeObjects([])

    manifest = job_script.run_compaction(object(), plan, objects, 1 << 20)

    assert targets == [s3a(plan.target_uri)]  # Spark writes into the build, via s3a
    assert objects.written == [(plan.target_uri + MANIFEST_NAME, manifest.to_json())]
    assert (manifest.location, manifest.files, manifest.bytes) == (plan.target_uri, 1, 4096)
    assert json.loads(objects.written[0][1])["kind"] == "compacted"
