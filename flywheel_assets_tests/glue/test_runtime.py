"""The Glue entry point's own logic without Spark or AWS: arguments, snapshot choice and
the plan, including that the job writes exactly where the code location reads."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from flywheel_assets import layout
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.deploy.jobs import default_arguments, run_arguments, split_job
from flywheel_assets.keys import split_cluster_key, split_part_key
from flywheel_assets_tests.conftest import SMALL_INFOBASE_CSV, make_settings
from glue_jobs import runtime
from glue_jobs.build_ids import is_build_id
from glue_jobs.job_plan import (
    MARKER_FILE,
    JobInputError,
    build_plan,
    latest_snapshot,
    resolve_options,
)
from glue_jobs.registry import TableSpec
from glue_jobs.s3_objects import S3Objects
from glue_jobs.transforms import MANIFEST_NAME, Manifest, s3a

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

LOG = logging.getLogger("flywheel.glue.test")
CSV_URI = "s3://omc-flywheel-dev-analysis-data/config/infobase.csv"
IBE_01 = TableSpec("IBE_01_A", "infobase_attributes", ("ibe01_attr_01", "ibe01_attr_02"))
BUILD = "20250315T103000Z-1a2b3c4d"  # what the code location passes (builds.new_build_id)
GLUE_RUN_ID = "jr_0a1b2c3d4e5f"  # Glue's --JOB_RUN_ID; a console build is named after it


class FakeObjects(S3Objects):
    """The listing and the CSV a console run reads, without S3."""

    def __init__(self, folders: list[str], texts: dict[str, str]) -> None:
        self.folders, self.texts = folders, texts

    def list_folders(self, uri: str) -> list[str]:
        return self.folders

    def read_text(self, uri: str) -> str:
        return self.texts[uri]


def argv(arguments: dict[str, str]) -> list[str]:
    return [token for pair in arguments.items() for token in pair]


def test_options_are_picked_out_of_everything_glue_passes() -> None:
    options = resolve_options(
        [
            "--JOB_ID",
            "j_1",
            "--SOURCE",
            "infobase_attributes",
            "--SOURCE_PATH=s3://data/opus/infobase_attributes/raw_input/",
            "--TARGET_PATH",
            "s3://data/split_part/infobase_attributes/",
            "--job-bookmark-option",
            "job-bookmark-disable",
            "--dagster-pipes-context",
            "e30=",
            "--TABLES_FILTER",
            "IBE_01_A",
        ]
    )
    assert options["SOURCE_PATH"] == "s3://data/opus/infobase_attributes/raw_input/"
    assert options["TARGET_PATH"] == "s3://data/split_part/infobase_attributes/"
    assert options["TABLES_FILTER"] == "IBE_01_A"
    assert options["SNAPSHOT_DT"] == "_NONE_" and options["CSV_FILE"] == "_NONE_"
    with pytest.raises(JobInputError, match="--TARGET_PATH"):
        resolve_options(["--SOURCE", "infobase_attributes", "--SOURCE_PATH", "s3://data/raw/"])


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_latest_snapshot_skips_malformed_folders_with_a_warning() -> None:
    folders = [
        "snapshot_dt=2025-01-15/",
        "snapshot_dt=2025-13-01/",  # no such month
        "snapshot_dt=2025-02-15/",
        "snapshot_dt=2025-2-20/",  # not zero-padded
        "_temporary/",
    ]
    recorded = Recorded()
    LOG.addHandler(recorded)
    try:
        assert latest_snapshot(folders, "s3://data/raw/", LOG) == "2025-02-15"
    finally:
        LOG.removeHandler(recorded)
    skipped = recorded.messages
    assert len(skipped) == 3
    assert "skipping s3://data/raw/snapshot_dt=2025-13-01/" in skipped[0]
    with pytest.raises(JobInputError, match="no snapshot_dt=YYYY-MM-DD/ folder"):
        latest_snapshot(["_temporary/"], "s3://data/raw/", LOG)


@pytest.mark.parametrize(
    "kind, key_fn", [("split_part", split_part_key), ("split_cluster", split_cluster_key)]
)
def test_console_run_writes_exactly_where_the_code_location_reads(tmp_path, kind, key_fn) -> None:
    """The deployed defaults plus ``--SNAPSHOT_DT _NONE_``: the latest snapshot, the CSV,
    the filter, a fresh build named after the Glue run; every URI equals the layout's key
    in the data bucket."""
    settings = make_settings(tmp_path, env="dev")
    job = split_job(kind, "infobase_attributes")
    arguments = default_arguments(settings, job, "s3://assets/lib.zip")
    assert "--BUILD_ID" not in arguments  # a console run never names a build itself
    arguments.update(
        {"--CSV_FILE": CSV_URI, "--TABLES_FILTER": "IBE_02_A", "--JOB_RUN_ID": GLUE_RUN_ID}
    )
    folders = ["snapshot_dt=2025-01-15/", "snapshot_dt=2025-02-15/", "snapshot_dt=latest/"]
    objects = FakeObjects(folders, {CSV_URI: SMALL_INFOBASE_CSV})

    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    plan = build_plan(kind, resolve_options(argv(arguments)), None, objects, LOG)

    snapshot = "2025-02-15"
    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    (table,) = plan.tables
    assert table.name == "IBE_02_A"
    assert table.columns == ("ibe02_attr_01", "ibe02_attr_02", "ibe02_attr_03")
    assert plan.snapshot_dt == snapshot and plan.bucket_count == settings.bucket_count
    # a fresh build of this moment, named after the Glue run; no audit follows a console run
    assert is_build_id(plan.build) and plan.build.endswith("-jr0a1b2c")
    built_at = dt.datetime.strptime(plan.build.split("-")[0], "%Y%m%dT%H%M%SZ")
    assert started <= built_at.replace(tzinfo=dt.UTC) <= dt.datetime.now(dt.UTC)
    assert not plan.audited
    assert plan.raw_uri == lake.uri(layout.raw_snapshot_prefix(settings, table.source, snapshot))
    assert plan.table_uri(table) == lake.uri(
        layout.dataset_build_prefix(settings, kind, table, snapshot, plan.build)
    )
    served = lake.uri(layout.dataset_snapshot_prefix(settings, kind, table, snapshot))
    assert plan.table_uri(table) == f"{served}build={plan.build}/"
    assert plan.table_uri(table) + MANIFEST_NAME == lake.uri(
        layout.manifest_key(settings, kind, table, snapshot, plan.build)
    )
    assert plan.marker_uri == lake.uri(layout.snapshot_marker_key(settings, kind, table.source))
    assert plan.asset_keys == {"IBE_02_A": key_fn(table).to_user_string()}

    # without a Glue run id the build is still fresh and valid
    del arguments["--JOB_RUN_ID"]
    plan = build_plan(kind, resolve_options(argv(arguments)), None, objects, LOG)
    assert is_build_id(plan.build) and plan.build.endswith("-console")


def pipes_context(kind: str = "split_part", partition: str = "2025-03-15", **extra) -> object:
    extras = {
        "kind": kind,
        "bucket_count": 16,
        "snapshot_marker": "_READY",
        "tables": [
            {
                "name": IBE_01.name,
                "source": IBE_01.source,
                "columns": list(IBE_01.columns),
                "asset_key": "split_part/ibe_01_a",
            }
        ],
        **extra,
    }
    return SimpleNamespace(extras=extras, is_partition_step=True, partition_key=partition)


def test_under_pipes_the_partition_and_extras_decide(tmp_path) -> None:
    settings = make_settings(tmp_path, env="dev")
    job = split_job("split_part", "infobase_attributes")
    arguments = run_arguments(settings, job, "2025-03-15", [IBE_01], BUILD)
    assert arguments["--BUILD_ID"] == BUILD
    options = resolve_options(argv(arguments))
    objects = FakeObjects([], {})

    plan = build_plan("split_part", options, pipes_context(build=BUILD), objects, LOG)

    assert plan.snapshot_dt == "2025-03-15"
    assert plan.tables == (IBE_01,)
    assert plan.asset_keys == {"IBE_01_A": "split_part/ibe_01_a"}
    assert (plan.bucket_count, plan.snapshot_marker) == (16, "_READY")
    # the build Dagster chose; Dagster audits, publishes and writes the marker
    assert plan.build == BUILD and plan.audited
    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    assert plan.table_uri(IBE_01) == lake.uri(
        layout.dataset_build_prefix(settings, "split_part", IBE_01, "2025-03-15", BUILD)
    )
    # the Pipes extras name the build; --BUILD_ID alone (no extra) gives the same plan
    assert build_plan("split_part", options, pipes_context(), objects, LOG).build == BUILD

    conflicts = [
        (dict(options, SNAPSHOT_DT="2025-04-15"), pipes_context(), "disagrees with the Dagster"),
        (options, pipes_context(kind="split_cluster"), "this is a split_part job"),
        (dict(options, TABLES_FILTER="IBE_02_A"), pipes_context(), "--TABLES_FILTER IBE_02_A"),
        (dict(options, SOURCE="addressable_ids"), pipes_context(), "not split from addressable"),
        (dict(options, SNAPSHOT_DT="_NONE_"), pipes_context(partition="2025-02-30"), "ISO date"),
        (options, pipes_context(build="latest"), "'latest' is not a build id"),
        (dict(options, BUILD_ID="../2025-03-15"), pipes_context(), "is not a build id"),
    ]
    for bad_options, context, message in conflicts:
        with pytest.raises(JobInputError, match=message):
            build_plan("split_part", bad_options, context, objects, LOG)


class RecordingObjects(FakeObjects):
    """Every control file the job writes or deletes through boto3, in order."""

    def __init__(self, folders: list[str], texts: dict[str, str]) -> None:
        super().__init__(folders, texts)
        self.written: list[tuple[str, str]] = []
        self.deleted: list[str] = []

    def write_text(self, uri: str, text: str) -> None:
        self.written.append((uri, text))

    def delete(self, uri: str) -> None:
        self.deleted.append(uri)


def fake_split(spark_targets: list[str]):
    """``split_snapshot`` without Spark: one manifest per table, at the URI the job told
    Spark to write to (recorded)."""

    def split_snapshot(spark, *, tables, kind, snapshot_dt, target_uri, **_) -> Iterator[Manifest]:
        for table in tables:
            uri = target_uri(table)
            spark_targets.append(uri)
            yield Manifest(
                table=table.name,
                kind=kind,
                snapshot_dt=snapshot_dt,
                location=uri,
                row_count=3,
                raw_rows=3,
                duplicates_dropped=0,
                target_files=1,
                columns=[["customer_user_id", "string"]],
            )

    return split_snapshot


@pytest.mark.parametrize("launched_by", ["pipes", "console"])
def test_the_job_writes_into_its_build_and_the_marker_only_when_run_by_hand(
    tmp_path, monkeypatch: pytest.MonkeyPatch, launched_by: str
) -> None:
    """Launched by Dagster, the job writes each table under ``snapshot_dt=D/build=<the
    build Dagster passed>/`` and leaves ``metadata/snapshot_dt.txt`` to the publish step
    (written only once the audited build is published). Launched by hand nothing audits
    or publishes after it: it writes a fresh build and the marker, as the reference did."""
    settings = make_settings(tmp_path, env="dev")
    job = split_job("split_part", "infobase_attributes")
    if launched_by == "pipes":
        arguments = run_arguments(settings, job, "2025-03-15", [IBE_01], BUILD)
        context: object | None = pipes_context(build=BUILD)
        objects = RecordingObjects([], {})
    else:
        arguments = default_arguments(settings, job, "s3://assets/lib.zip")
        arguments.update({"--CSV_FILE": CSV_URI, "--JOB_RUN_ID": GLUE_RUN_ID})
        context = None
        objects = RecordingObjects(["snapshot_dt=2025-03-15/"], {CSV_URI: SMALL_INFOBASE_CSV})
    plan = build_plan("split_part", resolve_options(argv(arguments)), context, objects, LOG)
    spark_targets: list[str] = []
    monkeypatch.setattr(runtime, "split_snapshot", fake_split(spark_targets))
    monkeypatch.setattr(runtime, "written_parquet", lambda spark, uri: (16, 4096))

    manifests = list(runtime.run_split(object(), plan, objects, 1 << 20, LOG))

    if launched_by == "pipes":
        assert plan.build == BUILD
    else:
        assert plan.build != BUILD and plan.build.endswith("-jr0a1b2c")
    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    builds = {
        t.name: lake.uri(
            layout.dataset_build_prefix(settings, "split_part", t, "2025-03-15", plan.build)
        )
        for t in plan.tables
    }
    assert all(f"/snapshot_dt=2025-03-15/build={plan.build}/" in u for u in builds.values())
    # Spark wrote each table into the build, never into snapshot_dt=D/ itself
    assert spark_targets == [s3a(builds[t.name]) for t in plan.tables]
    assert [m.location for m in manifests] == [builds[t.name] for t in plan.tables]
    manifest_writes = [(builds[t.name] + MANIFEST_NAME) for t in plan.tables]
    assert [uri for uri, _ in objects.written[: len(plan.tables)]] == manifest_writes
    for (_, text), table in zip(objects.written, plan.tables, strict=False):
        assert Manifest.from_json(text).location == builds[table.name]
    assert objects.deleted == []  # nothing withdrawn: the served build stays untouched
    marker = lake.uri(layout.snapshot_marker_key(settings, "split_part", "infobase_attributes"))
    assert plan.marker_uri == marker
    if launched_by == "pipes":
        assert len(objects.written) == len(plan.tables)
        assert not any(uri.endswith(MARKER_FILE) for uri, _ in objects.written)
    else:  # the marker last, once every table's manifest vouches for its data
        assert objects.written[-1] == (marker, "2025-03-15")
        assert len(objects.written) == len(plan.tables) + 1
