"""The Glue entry point's own logic without Spark or AWS: arguments, snapshot choice and
the plan, including that the job writes exactly where the code location reads."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from flywheel_assets import layout
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.deploy.jobs import default_arguments, run_arguments, split_job
from flywheel_assets.keys import split_cluster_key, split_part_key
from flywheel_assets_tests.conftest import SMALL_INFOBASE_CSV, make_settings
from glue_jobs.registry import TableSpec
from glue_jobs.runtime import (
    JobInputError,
    S3Objects,
    build_plan,
    latest_snapshot,
    resolve_options,
)
from glue_jobs.transforms import MANIFEST_NAME

LOG = logging.getLogger("flywheel.glue.test")
CSV_URI = "s3://omc-flywheel-dev-analysis-data/config/infobase.csv"
IBE_01 = TableSpec("IBE_01_A", "infobase_attributes", ("ibe01_attr_01", "ibe01_attr_02"))


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
    the filter; every URI equals the layout's key in the data bucket."""
    settings = make_settings(tmp_path, env="dev")
    job = split_job(kind, "infobase_attributes")
    arguments = default_arguments(settings, job, "s3://assets/lib.zip")
    arguments.update({"--CSV_FILE": CSV_URI, "--TABLES_FILTER": "IBE_02_A"})
    folders = ["snapshot_dt=2025-01-15/", "snapshot_dt=2025-02-15/", "snapshot_dt=latest/"]
    objects = FakeObjects(folders, {CSV_URI: SMALL_INFOBASE_CSV})

    plan = build_plan(kind, resolve_options(argv(arguments)), None, objects, LOG)

    snapshot = "2025-02-15"
    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    (table,) = plan.tables
    assert table.name == "IBE_02_A"
    assert table.columns == ("ibe02_attr_01", "ibe02_attr_02", "ibe02_attr_03")
    assert plan.snapshot_dt == snapshot and plan.bucket_count == settings.bucket_count
    assert plan.raw_uri == lake.uri(layout.raw_snapshot_prefix(settings, table.source, snapshot))
    assert plan.table_uri(table) == lake.uri(
        layout.dataset_snapshot_prefix(settings, kind, table, snapshot)
    )
    assert plan.table_uri(table) + MANIFEST_NAME == lake.uri(
        layout.manifest_key(settings, kind, table, snapshot)
    )
    assert plan.marker_uri == lake.uri(layout.snapshot_marker_key(settings, kind, table.source))
    assert plan.asset_keys == {"IBE_02_A": key_fn(table).to_user_string()}


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
    options = resolve_options(argv(run_arguments(settings, job, "2025-03-15", [IBE_01])))
    objects = FakeObjects([], {})

    plan = build_plan("split_part", options, pipes_context(), objects, LOG)

    assert plan.snapshot_dt == "2025-03-15"
    assert plan.tables == (IBE_01,)
    assert plan.asset_keys == {"IBE_01_A": "split_part/ibe_01_a"}
    assert (plan.bucket_count, plan.snapshot_marker) == (16, "_READY")

    conflicts = [
        (dict(options, SNAPSHOT_DT="2025-04-15"), pipes_context(), "disagrees with the Dagster"),
        (options, pipes_context(kind="split_cluster"), "this is a split_part job"),
        (dict(options, TABLES_FILTER="IBE_02_A"), pipes_context(), "--TABLES_FILTER IBE_02_A"),
        (dict(options, SOURCE="addressable_ids"), pipes_context(), "not split from addressable"),
        (dict(options, SNAPSHOT_DT="_NONE_"), pipes_context(partition="2025-02-30"), "ISO date"),
    ]
    for bad_options, context, message in conflicts:
        with pytest.raises(JobInputError, match=message):
            build_plan("split_part", bad_options, context, objects, LOG)
