"""The dev profile end to end with every AWS call answered by a moto server.

``flywheel glue deploy`` creates the Glue jobs in moto; the Dagster run materializes
``split_part/*`` through ``GlueCompute`` -> ``PipesGlueClient`` -> the Glue stand-in,
which runs the deployed entry script from the deployed zip on local Spark (see
``local_glue.py`` for what is real and what is substituted); ``part_*`` is then published
to the Glue Data Catalog (moto) from the manifests the job wrote to S3 (moto).

The run leaves out the asset checks (see ``helpers.materialize_without_checks``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.pipes import utils as pipes_utils

from flywheel_assets import layout
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.glue_compute import GlueCompute
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy.apply import deploy_glue_jobs
from flywheel_assets.deploy.package import build_package
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.helpers import materialize_without_checks, upload_tree
from flywheel_assets_tests.glue.local_glue import LocalGlueService
from glue_jobs.registry import Registry

SNAPSHOT = "2025-01-15"
BUCKETS = 16  # fewer id_buckets than production's 256 keeps Spark and the uploads quick
SELECTED = [
    dg.AssetKey(["split_part", "ibe_01_a"]),
    dg.AssetKey(["split_part", "ibe_02_a"]),
    dg.AssetKey(["part_ibe_01_a"]),
    dg.AssetKey(["part_ibe_02_a"]),
]


class DevWorld:
    """Buckets, catalog database and deployed jobs in moto; the Glue stand-in."""

    def __init__(self, tmp_path: Path, clients, endpoint: str, registry: Registry) -> None:
        self.settings: Settings = make_settings(tmp_path / "home", env="dev", bucket_count=BUCKETS)
        self.registry = registry
        self.s3, self.glue, self.logs = clients("s3"), clients("glue"), clients("logs")
        for bucket in (self.settings.data_bucket, self.settings.glue_assets_bucket):
            self.s3.create_bucket(Bucket=bucket)
        self.glue.create_database(DatabaseInput={"Name": self.settings.glue_database})
        self.package = build_package(tmp_path / "build")
        deploy_glue_jobs(self.settings, self.package, log=lambda _: None)
        self.service = LocalGlueService(
            glue=self.glue,
            s3=self.s3,
            logs=self.logs,
            endpoint_url=endpoint,
            spark_root=tmp_path / "spark-s3a",
            workdir=tmp_path / "glue-runs",
            region=REGION,
        )
        self.lake = S3Lake(self.settings.data_bucket, REGION)
        self.staging = LocalLake(tmp_path / "feed")

    def deliver_raw(self, rows: int, marker: bool = True) -> dict[str, int]:
        """The upstream feed: a raw snapshot put into the data bucket; duplicates by source."""
        samples = write_sample_snapshot(
            self.settings, self.registry, self.staging, SNAPSHOT, rows=rows
        )
        if not marker:
            for sample in samples:
                self.staging.delete_prefix(sample.prefix + self.settings.snapshot_marker)
        upload_tree(self.s3, self.staging.root, self.settings.data_bucket)
        return {s.source: s.duplicates for s in samples}

    def run(
        self, instance: dg.DagsterInstance, messages: str = "cloudwatch"
    ) -> dg.ExecuteInProcessResult:
        compute = GlueCompute(
            self.settings,
            client=self.service,
            s3_client=self.s3,
            logs_client=self.logs,
            messages=messages,  # type: ignore[arg-type]
            s3_message_interval=0.2,
        )
        return materialize_without_checks(
            self.settings, self.registry, compute, instance, SELECTED, SNAPSHOT
        )


@pytest.fixture
def world(tmp_path, clients, aws_endpoint, small_registry) -> Iterator[DevWorld]:
    world = DevWorld(tmp_path, clients, aws_endpoint, small_registry)
    yield world
    world.service.close()


def step_logs(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id)]


def test_dev_pipeline_splits_on_glue_through_pipes_and_publishes_to_the_glue_catalog(
    world: DevWorld, instance: dg.DagsterInstance
) -> None:
    duplicates = world.deliver_raw(rows=300)

    result = world.run(instance)

    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(SELECTED)
    # one Glue run: the infobase Split & Part job, for the selected tables and partition
    (run,) = world.service.runs.values()
    assert run.job_name == "etl-omc-flywheel-dev-infobase-split-and-part"
    assert run.arguments["--SNAPSHOT_DT"] == SNAPSHOT
    assert run.arguments["--TABLES_FILTER"] == "IBE_01_A,IBE_02_A"
    assert run.arguments["--extra-py-files"].endswith(world.package.zip_path.name)

    for slug, table_name in (("ibe_01_a", "IBE_01_A"), ("ibe_02_a", "IBE_02_A")):
        table = world.registry.get(table_name)
        # Dagster recorded the materialization the script reported, for the partition
        event = instance.get_latest_materialization_event(dg.AssetKey(["split_part", slug]))
        assert event is not None and event.asset_materialization is not None
        mat = event.asset_materialization
        assert mat.partition == SNAPSHOT
        meta = {k: v.value for k, v in mat.metadata.items()}
        assert meta["dagster/row_count"] == 300
        assert meta["duplicates_dropped"] == duplicates["infobase_attributes"] > 0
        assert meta["buckets_written"] == BUCKETS
        assert meta["AWS Glue Job Run ID"] == run.run_id
        assert run.job_name in meta["AWS Glue Job Run URL"]
        prefix = layout.dataset_snapshot_prefix(world.settings, "split_part", table, SNAPSHOT)
        assert meta["dagster/uri"] == world.lake.uri(prefix)
        columns = [c.name for c in mat.metadata["dagster/column_schema"].value.columns]
        assert columns == ["customer_user_id", *table.columns]

        # the job's manifest (boto3 -> moto S3) agrees with the objects in S3
        manifest = json.loads(
            world.lake.read_text(layout.manifest_key(world.settings, "split_part", table, SNAPSHOT))
        )
        objects = [o for o in world.lake.list_objects(prefix) if o.key.endswith(".parquet")]
        assert manifest["row_count"] == 300 and manifest["location"] == world.lake.uri(prefix)
        assert manifest["files"] == len(objects) == meta["files"]
        assert manifest["bytes"] == sum(o.size for o in objects) == meta["bytes"]
        assert sorted(manifest["bucket_rows"], key=int) == [str(b) for b in range(BUCKETS)]
        rows = 0
        for obj in objects:  # the data itself, read from S3, not from the manifest
            body = world.s3.get_object(Bucket=world.settings.data_bucket, Key=obj.key)["Body"]
            rows += pq.ParquetFile(io.BytesIO(body.read())).metadata.num_rows
            assert "/id_bucket=" in obj.key
        assert rows == 300

        # part_* was published to the Glue Data Catalog from that manifest
        info = GlueCatalog(REGION).get_table(world.settings.glue_database, table.part_table)
        assert info is not None and info.location == world.lake.uri(prefix)
        assert [c.name for c in info.partition_keys] == ["id_bucket"]
        partitions = GlueCatalog(REGION).list_partitions(
            world.settings.glue_database, table.part_table
        )
        assert len(partitions) == BUCKETS
        assert partitions["3"] == world.lake.uri(prefix) + "id_bucket=3/"

    marker = layout.snapshot_marker_key(world.settings, "split_part", "infobase_attributes")
    assert world.lake.read_text(marker) == SNAPSHOT
    # the addressable job never ran and its tables were not materialized
    assert (
        instance.get_latest_materialization_event(dg.AssetKey(["split_part", "addressable_ids"]))
        is None
    )
    # the job's Pipes logs reached Dagster, and show the code came from the deployed zip
    logs = step_logs(instance, result.run_id)
    assert any(
        "glue_jobs loaded from" in m and f"{world.package.zip_path.name}/glue_jobs" in m
        for m in logs
    )
    dropped = duplicates["infobase_attributes"]
    written = f"2/2 tables written: IBE_02_A (300 rows, {dropped} exact duplicates dropped)"
    assert any(written in m for m in logs)


def test_failed_glue_run_fails_the_asset_with_the_job_error_and_records_nothing(
    world: DevWorld, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing to wait for once the run has failed (dagster waits 10 s for late messages)
    monkeypatch.setattr(pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 1)
    world.deliver_raw(rows=50, marker=False)  # the feed has not finished: no _SUCCESS

    result = world.run(instance, messages="s3")

    assert not result.success
    (run,) = world.service.runs.values()
    assert run.state == "FAILED"
    assert "_SUCCESS is missing" in run.error
    errors = [e.step_failure_data.error.to_string() for e in result.get_step_failure_events()]
    assert any("completed with status FAILED" in e and "_SUCCESS is missing" in e for e in errors)
    assert result.get_asset_materialization_events() == []
    for key in SELECTED:
        assert instance.get_latest_materialization_event(key) is None
