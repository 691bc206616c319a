"""Raw snapshots checked from their parquet footers before Spark reads them
(``glue_jobs.raw_files``), and Spark's own read failures reduced to one line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from flywheel_assets import layout
from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.adapters.test_s3_lake import record_calls
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.raw_files import (
    MAX_PROBLEMS,
    RawFile,
    data_files,
    is_data_file,
    local_file,
    reading_raw,
    spark_problem,
    validate_raw_files,
)
from glue_jobs.registry import TableSpec
from glue_jobs.runtime import check_raw_snapshot
from glue_jobs.s3_objects import S3Objects
from glue_jobs.transforms import RawInputError

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

TABLE = TableSpec("IBE_01_A", "infobase_attributes", ("ibe01_attr_01", "ibe01_attr_02"))
BUCKET = "omc-flywheel-data-us-east-1-test"
REGION = "us-east-1"
RAW = "opus/infobase_attributes/raw_input/snapshot_dt=2025-01-15/"
LOG = logging.getLogger("flywheel.test.raw_files")


def rows(keys: Any, **columns: Any) -> pa.Table:
    """A raw table in the delivery's mixed case: ``Customer_User_id`` plus ``columns``."""
    return pa.table({"Customer_User_id": keys, **columns})


def good(n: int = 3, start: int = 0) -> pa.Table:
    """``n`` valid rows (typed explicitly: an empty list would be Arrow's null type)."""
    return rows(
        pa.array([f"k{i}" for i in range(start, start + n)], pa.string()),
        IBE01_Attr_01=pa.array(range(n), pa.int64()),
        IBE01_Attr_02=pa.array(["x"] * n, pa.string()),
    )


def write(folder: Path, *tables: pa.Table) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part-{n}.parquet" for n in range(len(tables))]
    for table, path in zip(tables, paths, strict=True):
        pq.write_table(table, path)
    return paths


def validate(paths: list[Path], origin: str = "raw/") -> Any:
    return validate_raw_files(origin, [local_file(p) for p in paths], [TABLE])


def problem_lines(exc: pytest.ExceptionInfo[RawInputError]) -> list[str]:
    heading, *lines = str(exc.value).splitlines()
    assert "cannot be split" in heading
    return [line.strip() for line in lines]


# ---- the footer checks ------------------------------------------------------------------


def test_valid_snapshot_passes_and_reports_rows(tmp_path: Path) -> None:
    """Mixed case, and Arrow variants Spark reads alike (large_string, dictionary), pass."""
    variant = pa.table(
        {
            "customer_user_id": pa.array(["k9", "k10"], pa.large_string()),
            "ibe01_attr_01": [7, 8],
            "IBE01_ATTR_02": pa.array(["y", "z"]).dictionary_encode(),
            "Other": [1.5, 2.5],  # a column no table reads
        }
    )
    paths = write(tmp_path, good(3), variant, good(0, start=20))

    summary = validate(paths)

    assert (summary.files, summary.rows) == (3, 5)
    assert summary.bytes == sum(p.stat().st_size for p in paths)


def test_a_file_lacking_a_registry_column_is_named_with_the_column(tmp_path: Path) -> None:
    lacking = rows(["k5"], IBE01_Attr_01=[1])
    paths = write(tmp_path, good(), lacking)

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    assert problem_lines(exc) == [f"{paths[1]}: lacks registry column(s) ibe01_attr_02 (IBE_01_A)"]


def test_an_integer_key_is_named_with_its_type(tmp_path: Path) -> None:
    integer_keys = rows([1, 2], IBE01_Attr_01=[1, 2], IBE01_Attr_02=["a", "b"])
    paths = write(tmp_path, good(), integer_keys)

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    assert problem_lines(exc) == [f"{paths[1]}: customer_user_id is int64, expected a string"]


def test_a_column_typed_differently_names_both_files_and_types(tmp_path: Path) -> None:
    retyped = rows(["k7"], IBE01_Attr_01=["seven"], IBE01_Attr_02=["x"])
    paths = write(tmp_path, good(), good(2, start=3), retyped)

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    assert problem_lines(exc) == [
        f"column ibe01_attr_01 has different types: int64 in {paths[0]} (+1 more file(s)), "
        f"string in {paths[2]}"
    ]


def test_a_column_named_otherwise_than_up_to_case_is_reported(tmp_path: Path) -> None:
    """``IBE01.Attr.01`` normalises like ``IBE01_Attr_01``, but Spark matches names only
    up to case: the file would read as nulls."""
    renamed = rows(["k7"], **{"IBE01.Attr.01": [1], "IBE01_Attr_02": ["x"]})
    paths = write(tmp_path, good(), renamed)

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    assert problem_lines(exc) == [
        "column ibe01_attr_01 is named differently (Spark reads nulls): "
        f"ibe01.attr.01 in {paths[1]}, ibe01_attr_01 in {paths[0]}"
    ]


def test_zero_rows_is_an_empty_delivery(tmp_path: Path) -> None:
    paths = write(tmp_path, good(0), good(0))

    with pytest.raises(RawInputError) as exc:
        validate(paths, origin="s3://bucket/raw/snapshot_dt=2025-01-15/")

    assert problem_lines(exc) == [
        "s3://bucket/raw/snapshot_dt=2025-01-15/: 0 rows in 2 file(s), an empty delivery"
    ]


def damaged(data: bytes, how: str) -> bytes:
    footer_length = int.from_bytes(data[-8:-4], "little")
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "not parquet":
        return b"customer_user_id,ibe01_attr_01\nk1,1\n"
    if how == "corrupt footer":  # magic and length intact, the footer's bytes zeroed
        return data[: -8 - footer_length] + bytes(footer_length) + data[-8:]
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how, problem",
    [
        ("truncated", "not a parquet file or truncated"),
        ("not parquet", "not a parquet file or truncated"),
        ("corrupt footer", "unreadable parquet footer"),
    ],
)
def test_an_unreadable_file_is_one_line_naming_it(tmp_path: Path, how: str, problem: str) -> None:
    paths = write(tmp_path, good(), good(2, start=3))
    paths[1].write_bytes(damaged(paths[1].read_bytes(), how))

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    (line,) = problem_lines(exc)
    assert line.startswith(f"{paths[1]}: {problem}")


def test_the_message_lists_the_first_problems_and_counts_the_rest(tmp_path: Path) -> None:
    lacking = rows(["k1"], IBE01_Attr_01=[1])
    paths = write(tmp_path, *[lacking] * (MAX_PROBLEMS + 5))

    with pytest.raises(RawInputError) as exc:
        validate(paths)

    lines = problem_lines(exc)
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1] == "... and 5 more"


def test_spark_reads_every_file_but_hidden_ones() -> None:
    """Spark's rule, not the extension: a stray ``notes.txt`` is read (and so checked)."""
    listing = [
        (RAW + "part-0.snappy.parquet", 10),
        (RAW + "notes.txt", 3),
        (RAW + "_SUCCESS", 0),
        (RAW + ".part-0.snappy.parquet.crc", 1),
        (RAW + "_temporary/0/part-9.parquet", 10),
        (RAW + "part-1.parquet._COPYING_", 4),
        (RAW + "nested/", 0),  # an S3 "folder" object
    ]
    assert data_files(RAW, listing) == [(RAW + "part-0.snappy.parquet", 10), (RAW + "notes.txt", 3)]
    assert not is_data_file("")


# ---- S3: two ranged GETs a file -----------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = aws_client("s3", REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def upload(client: Any, tmp_path: Path, *tables: pa.Table, marker: bool = True) -> list[int]:
    """The tables as ``part-N.parquet`` under ``RAW``; their sizes."""
    sizes = []
    for path in write(tmp_path, *tables):
        data = path.read_bytes()
        client.put_object(Bucket=BUCKET, Key=RAW + path.name, Body=data)
        sizes.append(len(data))
    if marker:
        client.put_object(Bucket=BUCKET, Key=RAW + "_SUCCESS", Body=b"")
    return sizes


def test_s3_footers_cost_two_ranged_gets_a_file_never_the_data(tmp_path: Path, s3: Any) -> None:
    big = good(20_000)  # data pages far larger than the footer
    sizes = upload(s3, tmp_path, big, big)
    lake = S3Lake(BUCKET, REGION, client=s3)
    gets = record_calls(s3, "GetObject")
    keys = [RAW + f"part-{n}.parquet" for n in range(len(sizes))]
    files = [
        RawFile(lake.uri(key), size, partial(lake.read_range, key))
        for key, size in zip(keys, sizes, strict=True)
    ]

    summary = validate_raw_files(lake.uri(RAW), files, [TABLE])

    assert summary.rows == 40_000
    footer = pq.read_metadata(tmp_path / "part-0.parquet").serialized_size
    assert len(gets) == 4 and all("Range" in g for g in gets)
    size = sizes[0]
    expected = {f"bytes={size - 8}-{size - 1}", f"bytes={size - 8 - footer}-{size - 9}"}
    assert {g["Range"] for g in gets if g["Key"].endswith("part-0.parquet")} == expected
    assert footer + 8 < size / 10


def test_glue_check_raw_snapshot_validates_footers_before_spark(tmp_path: Path, s3: Any) -> None:
    plan = SimpleNamespace(  # the fields of SplitPlan that check_raw_snapshot reads
        source="infobase_attributes",
        snapshot_dt="2025-01-15",
        raw_uri=f"s3://{BUCKET}/{RAW}",
        snapshot_marker="_SUCCESS",
        tables=(TABLE,),
    )
    objects = S3Objects(s3)
    sizes = upload(s3, tmp_path / "good", good(), good(2, start=3))
    assert check_raw_snapshot(plan, objects) == sum(sizes)  # type: ignore[arg-type]

    upload(s3, tmp_path / "bad", good(), rows([1], IBE01_Attr_01=[1], IBE01_Attr_02=["a"]))
    with pytest.raises(RawInputError) as exc:
        check_raw_snapshot(plan, objects)  # type: ignore[arg-type]
    assert problem_lines(exc) == [
        f"s3://{BUCKET}/{RAW}part-1.parquet: customer_user_id is int64, expected a string"
    ]


# ---- Spark's failures in one line ---------------------------------------------------------


def test_a_spark_read_failure_is_one_line_with_the_trace_at_debug(
    tmp_path: Path, spark: Any, caplog: pytest.LogCaptureFixture
) -> None:
    paths = write(tmp_path / "raw", good(), good(2, start=3))
    paths[1].write_bytes(damaged(paths[1].read_bytes(), "not parquet"))
    uri = f"file://{tmp_path / 'raw'}/"
    caplog.set_level(logging.DEBUG, logger=LOG.name)

    with pytest.raises(RawInputError) as exc, reading_raw(uri, LOG):
        spark.read.parquet(uri).count()

    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"Spark cannot read the raw snapshot {uri}: ")
    assert "part-1.parquet" in message and "is not a Parquet file" in message
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    (record,) = [r for r in caplog.records if r.name == LOG.name]
    assert record.levelno == logging.DEBUG and record.exc_info is not None
    # the JVM frames, in the debug log only. Formatted here, not read from caplog.text:
    # pytest attaches its capture handler to every non-propagating logger, and once an
    # earlier test has logged a Spark AnalysisException, PySpark's SQLQueryContextLogger
    # (non-propagating) has replaced that handler's formatter with its JSON one.
    assert "\tat org.apache.spark" in logging.Formatter().format(record)


class Py4JJavaError(Exception):
    """Stands in for py4j's class (matched by name): a Spark 3.5 stage failure."""


def test_spark_problem_keeps_the_meaningful_lines_of_a_stage_failure() -> None:
    text = (
        "An error occurred while calling o81.count.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage "
        "1.0 failed 4 times, most recent failure: Lost task 0.3 in stage 1.0 (TID 4) "
        "(10.0.0.1 executor 1): org.apache.spark.SparkException: Encountered error while "
        "reading file s3://b/raw/part-1.parquet. Details:\n"
        "\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFilesError(x.scala:1)\n"
        "Driver stacktrace:\n"
        "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(x.scala:2)\n"
        "Caused by: java.lang.RuntimeException: s3://b/raw/part-1.parquet is not a Parquet "
        "file. Expected magic number at tail, but found [1, 2, 3, 4]\n"
        "\t... 23 more\n"
    )
    assert spark_problem(Py4JJavaError(text)) == (
        "Encountered error while reading file s3://b/raw/part-1.parquet. Details: (cause: "
        "s3://b/raw/part-1.parquet is not a Parquet file. Expected magic number at tail, "
        "but found [1, 2, 3, 4])"
    )


def test_other_errors_pass_through_reading_raw_unchanged() -> None:
    with pytest.raises(KeyError), reading_raw("s3://b/raw/", LOG):
        raise KeyError("not Spark's")


# ---- through the local split asset -------------------------------------------------------


def step_failures(instance: dg.DagsterInstance, run_ids: list[str]) -> list[str]:
    """Each failed step's error with its causes (the user's exception is the cause)."""
    failures = []
    for run_id in run_ids:
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            error, text = event.dagster_event.step_failure_data.error, ""
            while error is not None:
                text, error = text + error.message, error.cause
            failures.append(text)
    return failures


def test_split_asset_fails_naming_the_file_before_writing(local_platform, instance) -> None:
    platform = local_platform()
    settings, snapshot = platform.settings, "2025-01-15"
    write_sample_snapshot(settings, platform.registry, platform.lake, snapshot, rows=40)
    prefix = layout.raw_snapshot_prefix(settings, "infobase_attributes", snapshot)
    second = platform.lake.path(prefix + "part-00001.snappy.parquet")
    table = pq.read_table(second)
    attribute = next(c for c in table.column_names if c.lower() == "ibe01_attr_02")
    pq.write_table(table.drop_columns([attribute]), second)

    summary = run_pipeline(platform, instance, snapshot, "key:split_part/ibe_01_a", rows=None)

    assert summary.exit_code == 1
    assert assets_by_key(summary)["split_part/ibe_01_a"]["status"] == "failed"
    (message,) = step_failures(instance, summary.run_ids)
    assert f"file://{second}: lacks registry column(s) ibe01_attr_02 (IBE_01_A)" in message
    dataset = layout.dataset_root(settings, "split_part", platform.registry.get("IBE_01_A"))
    assert platform.lake.list_objects(dataset) == []  # nothing written
