"""The dev profile end to end with every AWS call answered by a moto server.

``flywheel glue deploy`` creates the Glue jobs in moto; a Dagster run materializes
``split_part/*`` through ``GlueCompute`` -> ``PipesGlueClient`` -> the Glue stand-in,
which runs the deployed entry script from the deployed zip on local Spark (see
``local_glue.py`` for what is real and what is substituted), into a fresh build
directory named by Dagster; the same run audits each build with its blocking checks
(``checks/audit.py``, through a temporary Athena table: see ``AthenaOverS3``). A second
run publishes ``part_*`` to the Glue Data Catalog (moto) from the manifests the job wrote
to S3 (moto), through the publish gate, and only then writes the source's
``metadata/snapshot_dt.txt``, as ``flywheel run`` does (write and audit, then publish).

The ``part_*`` monitor checks are left out: they run the monitor's full SQL on Athena.

The bucketed pipeline goes the same way, with Athena executed: ``split_cluster/*`` on the
Glue stand-in, its blocking audits, then ``ext_*`` published to the Glue catalog and
``bucketed_*`` rebuilt by the project's Athena CTAS through the real ``AthenaSql`` adapter
and a boto3 Athena client on moto, each statement executed by ``AthenaOnSpark``
(``local_glue.py``: Spark SQL over the moto catalog and S3 stands in for Athena's engine).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.pipes import utils as pipes_utils

from flywheel_assets import layout
from flywheel_assets.adapters.athena_sql import AthenaSql
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.glue_compute import GlueCompute
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.builds import BUILD_PARAMETER, is_build_id, latest_build, read_audit
from flywheel_assets.checks.audit import audit_checks
from flywheel_assets.checks.sql import key_profile_sql
from flywheel_assets.config.settings import Settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.deploy import iam
from flywheel_assets.deploy.apply import deploy_glue_jobs
from flywheel_assets.deploy.package import build_package
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.sql import SqlPort
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.aws_calls import Recorder, read_log, recording
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.helpers import upload_tree
from flywheel_assets_tests.glue.local_glue import AthenaOnSpark, LocalGlueService, hive_bucket
from flywheel_assets_tests.iam_check import denied
from glue_jobs.registry import KEY_COLUMN, Registry

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

SNAPSHOT = "2025-01-15"
MOTO_ACCOUNT = "123456789012"  # moto's default account: the ARNs the policies are checked on
BUCKETS = 16  # fewer id_buckets than production's 256 keeps Spark and the uploads quick
SPLIT = [dg.AssetKey(["split_part", "ibe_01_a"]), dg.AssetKey(["split_part", "ibe_02_a"])]
PART = [dg.AssetKey(["part_ibe_01_a"]), dg.AssetKey(["part_ibe_02_a"])]
SELECTED = SPLIT + PART
CLUSTER = [dg.AssetKey(["split_cluster", "ibe_01_a"]), dg.AssetKey(["split_cluster", "ibe_02_a"])]
EXT = [dg.AssetKey(["ext_ibe_01_a"]), dg.AssetKey(["ext_ibe_02_a"])]
BUCKETED = [dg.AssetKey(["bucketed_ibe_01_a"]), dg.AssetKey(["bucketed_ibe_02_a"])]


class AthenaOverS3(SqlPort):
    """Athena for the audit's key profile, answered from the parquet files in moto S3.

    moto records Athena queries without executing them. The audit reads a build through a
    temporary table over its directory (``checks.audit.dataset_relation``); this stand-in
    looks that table's location up in the Glue catalog (moto), reads the key column of
    every parquet file below it from S3 (moto) and computes the statement's figures, so
    the audit judges the data the Glue job really wrote. Any other statement fails the
    rules that issued it (``selection.guarded``), naming it."""

    PROFILE = re.compile(r"^SELECT COALESCE\(SUM\(c\), 0\) AS count_part, .* FROM \(SELECT ")
    RELATION = re.compile(r"\bFROM (\w+)\.(\w+) GROUP BY")

    def __init__(self, catalog: GlueCatalog, s3: Any) -> None:
        self.catalog, self.s3 = catalog, s3
        self.statements: list[str] = []

    def query(self, statement: str) -> list[dict[str, Any]]:
        self.statements.append(statement)
        relation = self.RELATION.search(statement)
        if not self.PROFILE.match(statement) or relation is None:
            raise NotImplementedError(f"the Athena stand-in does not run: {statement}")
        info = self.catalog.get_table(relation[1], relation[2])
        assert info is not None, f"{relation[0]}: no such table in the catalog"
        counts = Counter(self._keys(info.location))

        def missing(key: str | None) -> bool:
            return key is None or key.strip() == ""

        return [
            {
                "count_part": sum(counts.values()),
                "pk_nulls": sum(c for k, c in counts.items() if missing(k)),
                "pk_dupes": sum(c for c in counts.values() if c > 1),
                "distinct_keys": sum(1 for k in counts if not missing(k)),
            }
        ]

    def _keys(self, location: str) -> list[str | None]:
        bucket, prefix = location.removeprefix("s3://").split("/", 1)
        keys: list[str | None] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".parquet"):
                    body = self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                    table = pq.read_table(io.BytesIO(body), columns=[KEY_COLUMN])
                    keys.extend(table.column(KEY_COLUMN).to_pylist())
        return keys

    def execute(self, statement: str) -> None:
        raise NotImplementedError(f"the Athena stand-in does not run: {statement}")

    def bucket_expr(self, column: str, bucket_count: int) -> str:
        raise NotImplementedError

    def create_bucketed_table_as(self, *args: Any) -> None:
        raise NotImplementedError


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
            call_log=tmp_path / "glue-job-aws-calls.jsonl",
        )
        self.lake: S3Lake = S3Lake(self.settings.data_bucket, REGION)
        self.catalog = GlueCatalog(REGION, client=self.glue)
        self.athena: Any = AthenaOverS3(self.catalog, self.s3)
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
        self,
        instance: dg.DagsterInstance,
        keys: list[dg.AssetKey],
        audits: bool,
        messages: str = "cloudwatch",
    ) -> dg.ExecuteInProcessResult:
        """Materialize ``keys`` for the snapshot on the dev profile, the Glue stand-in as
        compute; with ``audits`` their checks (the blocking audits of ``split_part/*``)
        run too, else no check does."""
        compute = GlueCompute(
            self.settings,
            client=self.service,
            s3_client=self.s3,
            logs_client=self.logs,
            messages=messages,  # type: ignore[arg-type]
            s3_message_interval=0.2,
        )
        platform = Platform(
            self.settings,
            self.registry,
            lake=self.lake,
            catalog=self.catalog,
            sql=self.athena,
            compute=compute,
        )
        selection = dg.AssetSelection.assets(*keys)
        job = dg.define_asset_job(
            "glue_test_run", selection=selection if audits else selection.without_checks()
        )
        defs = dg.Definitions.merge(
            build_definitions(self.settings, self.registry, platform), dg.Definitions(jobs=[job])
        )
        if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, SNAPSHOT):
            instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])
        return defs.resolve_job_def(job.name).execute_in_process(
            instance=instance, partition_key=SNAPSHOT, raise_on_error=False
        )


@pytest.fixture
def aws_calls() -> Iterator[Recorder]:
    """Every AWS call of this process, with the role that made it (``aws_calls.py``)."""
    with recording() as recorder:
        yield recorder


@pytest.fixture
def world(tmp_path, aws_calls, clients, aws_endpoint, small_registry) -> Iterator[DevWorld]:
    world = DevWorld(tmp_path, clients, aws_endpoint, small_registry)
    yield world
    world.service.close()


def assert_least_privilege(world: DevWorld, aws_calls: Recorder) -> set[str]:
    """Each request the deploy, the code location and the Glue job made is allowed by
    the policy of its role (``flywheel_assets/deploy/iam.py``), resource ARN and
    conditions included; returns the ``role service:Operation`` pairs seen."""
    account = MOTO_ACCOUNT
    job_calls = read_log(world.service.call_log)
    assert job_calls, "the Glue job made no recorded AWS call"
    calls = [*aws_calls.calls, *world.service.received, *job_calls]
    assert {c.role for c in calls} <= {"deployer", "dagster", "glue_job"}
    for role in ("deployer", "dagster", "glue_job"):
        document = iam.policy(role, world.settings, account)
        mine = [c for c in calls if c.role == role]
        assert mine, f"no call recorded for {role}"
        assert denied(document, mine, REGION, account) == [], role
    return {f"{c.role} {c.service}:{c.operation}" for c in calls}


def step_logs(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id)]


def test_dev_pipeline_splits_on_glue_through_pipes_audits_and_publishes_to_the_glue_catalog(
    world: DevWorld, instance: dg.DagsterInstance, aws_calls: Recorder
) -> None:
    duplicates = world.deliver_raw(rows=300)
    marker = layout.snapshot_marker_key(world.settings, "split_part", "infobase_attributes")

    # write and audit (the first run of `flywheel run`)
    written = world.run(instance, SPLIT, audits=True)

    assert written.success
    assert {e.asset_key for e in written.get_asset_materialization_events()} == set(SPLIT)
    evaluations = written.get_asset_check_evaluations()
    assert sorted((e.asset_key.to_user_string(), e.check_name) for e in evaluations) == sorted(
        (k.to_user_string(), c) for k in SPLIT for c in audit_checks("split_part")
    )
    assert [e.check_name for e in evaluations if not e.passed] == []
    # one Glue run: the infobase Split & Part job, for the selected tables and partition,
    # writing into the build Dagster named for this run
    (run,) = world.service.runs.values()
    assert run.job_name == "etl-omc-flywheel-dev-infobase-split-and-part"
    assert run.arguments["--SNAPSHOT_DT"] == SNAPSHOT
    assert run.arguments["--TABLES_FILTER"] == "IBE_01_A,IBE_02_A"
    assert run.arguments["--extra-py-files"].endswith(world.package.zip_path.name)
    build = run.arguments["--BUILD_ID"]
    assert is_build_id(build) and build.endswith("-" + written.run_id.replace("-", "")[:8])
    # launched through Pipes, the job leaves the reader marker to the publish step
    assert not world.lake.exists(marker)

    for slug, table_name in (("ibe_01_a", "IBE_01_A"), ("ibe_02_a", "IBE_02_A")):
        table = world.registry.get(table_name)
        prefix = layout.dataset_build_prefix(world.settings, "split_part", table, SNAPSHOT, build)
        snapshot_prefix = layout.dataset_snapshot_prefix(
            world.settings, "split_part", table, SNAPSHOT
        )
        # everything written for the snapshot lies in that build, none beside it
        assert prefix == f"{snapshot_prefix}build={build}/"
        written_keys = [o.key for o in world.lake.list_objects(snapshot_prefix)]
        assert written_keys and all(k.startswith(prefix) for k in written_keys)
        assert latest_build(world.lake, world.settings, "split_part", table, SNAPSHOT) == build
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
        assert meta["dagster/uri"] == world.lake.uri(prefix)
        # added by the code location, which sees the catalog: the same keys as locally
        assert meta["build"] == build and meta["null_columns"] == 0
        assert "key_retention_pct" not in meta  # nothing in service yet to compare with
        columns = [c.name for c in mat.metadata["dagster/column_schema"].value.columns]
        assert columns == ["customer_user_id", *table.columns]

        # the job's manifest (boto3 -> moto S3) agrees with the objects in S3
        manifest = json.loads(
            world.lake.read_text(
                layout.manifest_key(world.settings, "split_part", table, SNAPSHOT, build)
            )
        )
        objects = [o for o in world.lake.list_objects(prefix) if o.key.endswith(".parquet")]
        assert manifest["row_count"] == 300 and manifest["location"] == world.lake.uri(prefix)
        assert manifest["files"] == len(objects) == meta["files"]
        assert manifest["bytes"] == sum(o.size for o in objects) == meta["bytes"]
        assert sorted(manifest["bucket_rows"], key=int) == [str(b) for b in range(BUCKETS)]
        assert manifest["column_nulls"]["customer_user_id"] == 0 and manifest["key_sketch"]
        # the audit's figures joined the writer's, and its verdict lies beside them
        assert (manifest["distinct_keys"], manifest["key_nulls"]) == (300, 0)
        record = read_audit(world.lake, world.settings, "split_part", table, SNAPSHOT, build)
        assert record is not None and record.passed and record.failed_checks == []
        assert (record.build, record.run_id) == (build, written.run_id)
        rows = 0
        for obj in objects:  # the data itself, read from S3, not from the manifest
            body = world.s3.get_object(Bucket=world.settings.data_bucket, Key=obj.key)["Body"]
            rows += pq.ParquetFile(io.BytesIO(body.read())).metadata.num_rows
            assert "/id_bucket=" in obj.key
        assert rows == 300
        # nothing is published before the publish step
        assert world.catalog.get_table(world.settings.glue_database, table.part_table) is None

    # the audit read each build through one statement over a temporary table, dropped after
    temporary = [
        f"{world.settings.glue_database}.audit_split_part_{slug}_{SNAPSHOT.replace('-', '')}"
        for slug in ("ibe_01_a", "ibe_02_a")
    ]
    assert sorted(world.athena.RELATION.search(s)[0] for s in world.athena.statements) == [
        f"FROM {name} GROUP BY" for name in temporary
    ]
    assert world.catalog.list_tables(world.settings.glue_database) == []

    # publish (the second run): part_* from the audited builds, then the marker
    published = world.run(instance, PART, audits=False)

    assert published.success
    assert {e.asset_key for e in published.get_asset_materialization_events()} == set(PART)
    assert len(world.service.runs) == 1  # publishing runs no Glue job
    for table_name in ("IBE_01_A", "IBE_02_A"):
        table = world.registry.get(table_name)
        served = world.lake.uri(
            layout.dataset_build_prefix(world.settings, "split_part", table, SNAPSHOT, build)
        )
        info = world.catalog.get_table(world.settings.glue_database, table.part_table)
        assert info is not None and info.location == served
        assert info.parameters["snapshot_dt"] == SNAPSHOT
        assert info.parameters[BUILD_PARAMETER] == build
        assert [c.name for c in info.partition_keys] == ["id_bucket"]
        partitions = world.catalog.list_partitions(world.settings.glue_database, table.part_table)
        assert len(partitions) == BUCKETS
        assert partitions["3"] == served + "id_bucket=3/"

    assert world.lake.read_text(marker) == SNAPSHOT
    # the addressable job never ran and its tables were not materialized
    assert (
        instance.get_latest_materialization_event(dg.AssetKey(["split_part", "addressable_ids"]))
        is None
    )
    # the job's Pipes logs reached Dagster, and show the code came from the deployed zip
    logs = step_logs(instance, written.run_id)
    assert any(
        "glue_jobs loaded from" in m and f"{world.package.zip_path.name}/glue_jobs" in m
        for m in logs
    )
    dropped = duplicates["infobase_attributes"]
    done = f"2/2 tables written: IBE_02_A (300 rows, {dropped} exact duplicates dropped)"
    assert any(done in m for m in logs)
    # every request the deploy, the code location and the job made: within their policies
    seen = assert_least_privilege(world, aws_calls)
    assert {
        "deployer glue:CreateJob",
        "dagster glue:StartJobRun",
        "dagster logs:GetLogEvents",
        "dagster s3:PutObject",
        "dagster glue:BatchCreatePartition",
        "glue_job s3:ListObjectsV2",
        "glue_job s3:GetObject",
        "glue_job s3:PutObject",
    } <= seen


def test_failed_glue_run_fails_the_asset_with_the_job_error_and_records_nothing(
    world: DevWorld, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing to wait for once the run has failed (dagster waits 10 s for late messages)
    monkeypatch.setattr(pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 1)
    world.deliver_raw(rows=50, marker=False)  # the feed has not finished: no _SUCCESS

    result = world.run(instance, SELECTED, audits=False, messages="s3")

    assert not result.success
    (run,) = world.service.runs.values()
    assert run.state == "FAILED"
    assert "_SUCCESS is missing" in run.error
    errors = [e.step_failure_data.error.to_string() for e in result.get_step_failure_events()]
    assert any("completed with status FAILED" in e and "_SUCCESS is missing" in e for e in errors)
    assert result.get_asset_materialization_events() == []
    for key in SELECTED:
        assert instance.get_latest_materialization_event(key) is None


class MarkerWatch(S3Lake):
    """The code location's S3 lake, noting what the catalog served each time a reader
    marker (``metadata/snapshot_dt.txt``) was written."""

    def __init__(self, bucket: str, served: Any) -> None:
        super().__init__(bucket, REGION)
        self.served = served
        self.writes: list[tuple[str, dict[str, str | None]]] = []

    def write_text(self, key: str, text: str) -> None:
        if key.endswith("metadata/snapshot_dt.txt"):
            self.writes.append((key, self.served()))
        super().write_text(key, text)


def parquet_rows(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pylist()


def test_dev_bucketed_pipeline_on_glue_audits_publishes_ext_and_builds_bucketed_by_athena_ctas(
    world: DevWorld,
    instance: dg.DagsterInstance,
    aws_calls: Recorder,
    spark,
    clients,
    aws_endpoint: str,
    tmp_path: Path,
) -> None:
    settings, database = world.settings, world.settings.glue_database
    tables = [world.registry.get(name) for name in ("IBE_01_A", "IBE_02_A")]
    (tmp_path / "athena").mkdir()
    athena = AthenaOnSpark(
        spark=spark,
        glue=world.glue,
        s3=world.s3,
        endpoint_url=aws_endpoint,
        workdir=tmp_path / "athena",
        region=REGION,
    )
    # the environment's own workgroup, as the storage stack creates it (flywheel infra)
    clients("athena").create_work_group(
        Name=settings.athena_workgroup,
        Configuration={"ResultConfiguration": {"OutputLocation": settings.athena_results}},
    )
    world.athena = AthenaSql(
        workgroup=settings.athena_workgroup,
        output_location=settings.athena_results,
        database=database,
        region=REGION,
        client=athena.attach(clients("athena")),
        poll_initial_seconds=0.01,
    )

    def served() -> dict[str, str | None]:
        infos = {t.ext_table: world.catalog.get_table(database, t.ext_table) for t in tables}
        return {name: i.parameters.get(BUILD_PARAMETER) if i else None for name, i in infos.items()}

    world.lake = MarkerWatch(settings.data_bucket, served)
    duplicates = world.deliver_raw(rows=300)["infobase_attributes"]
    marker = layout.snapshot_marker_key(settings, "split_cluster", "infobase_attributes")
    assert marker == f"{settings.split_cluster_prefix}infobase_attributes/metadata/snapshot_dt.txt"

    # write and audit: the Split & Bucket job on the Glue stand-in, its audits on "Athena"
    written = world.run(instance, CLUSTER, audits=True)

    assert written.success
    assert {e.asset_key for e in written.get_asset_materialization_events()} == set(CLUSTER)
    evaluations = written.get_asset_check_evaluations()
    assert sorted((e.asset_key.to_user_string(), e.check_name) for e in evaluations) == sorted(
        (k.to_user_string(), c) for k in CLUSTER for c in audit_checks("split_cluster")
    )
    assert [e.check_name for e in evaluations if not e.passed] == []
    (run,) = world.service.runs.values()
    assert run.job_name == "etl-omc-flywheel-dev-infobase-split-and-bucket"
    assert run.arguments["--TABLES_FILTER"] == "IBE_01_A,IBE_02_A"
    assert run.arguments["--TARGET_PATH"] == world.lake.uri(
        f"{settings.split_cluster_prefix}infobase_attributes/"
    )
    build = run.arguments["--BUILD_ID"]
    assert is_build_id(build) and build.endswith("-" + written.run_id.replace("-", "")[:8])
    assert not world.lake.exists(marker) and world.lake.writes == []

    for table in tables:
        # split_cluster/<source>/<TABLE>/snapshot_dt=D/build=<id>/: flat parquet, no folders
        prefix = layout.dataset_build_prefix(settings, "split_cluster", table, SNAPSHOT, build)
        assert prefix == (
            f"{settings.split_cluster_prefix}infobase_attributes/{table.name}/"
            f"snapshot_dt={SNAPSHOT}/build={build}/"
        )
        snapshot_prefix = layout.dataset_snapshot_prefix(settings, "split_cluster", table, SNAPSHOT)
        keys = [o.key for o in world.lake.list_objects(snapshot_prefix)]
        assert keys and all(k.startswith(prefix) for k in keys)
        data = [k for k in keys if k.endswith(".parquet")]
        assert data and all("/" not in k[len(prefix) :] for k in data)
        rows = [r for k in data for r in parquet_rows(world.s3, settings.data_bucket, k)]
        assert len(rows) == 300 == len({r["customer_user_id"] for r in rows})
        manifest = json.loads(
            world.lake.read_text(
                layout.manifest_key(settings, "split_cluster", table, SNAPSHOT, build)
            )
        )
        assert manifest["row_count"] == 300 and manifest["location"] == world.lake.uri(prefix)
        assert manifest["files"] == len(data) and manifest["duplicates_dropped"] == duplicates
        assert (manifest["distinct_keys"], manifest["key_nulls"]) == (300, 0)  # the audit's
        record = read_audit(world.lake, settings, "split_cluster", table, SNAPSHOT, build)
        assert record is not None and record.passed and record.failed_checks == []
        assert (record.build, record.run_id) == (build, written.run_id)
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["split_cluster", table.slug])
        )
        assert event is not None and event.asset_materialization is not None
        meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        assert meta["dagster/row_count"] == 300 and meta["build"] == build
        assert meta["AWS Glue Job Run ID"] == run.run_id
        assert world.catalog.get_table(database, table.ext_table) is None  # not yet published

    # the audits read each build through Athena: one statement over a temporary table
    # (unpartitioned: split_cluster has no id_bucket folders), dropped afterwards
    assert sorted(athena.statements) == sorted(
        key_profile_sql(f"{database}.audit_split_cluster_{t.slug}_20250115", KEY_COLUMN)
        for t in tables
    )
    assert world.catalog.list_tables(database) == []

    # publish: ext_* repointed to the audited builds, then bucketed_* by CTAS from them
    published = world.run(instance, EXT + BUCKETED, audits=False)

    assert published.success, [
        e.step_failure_data.error.to_string() for e in published.get_step_failure_events()
    ]
    assert {e.asset_key for e in published.get_asset_materialization_events()} == set(
        EXT + BUCKETED
    )
    assert len(world.service.runs) == 1  # publishing and CTAS run no Glue job
    ctas = [s for s in athena.statements if s.startswith("CREATE TABLE")]
    assert len(ctas) == 2
    for table in tables:
        served_uri = world.lake.uri(
            layout.dataset_build_prefix(settings, "split_cluster", table, SNAPSHOT, build)
        )
        ext = world.catalog.get_table(database, table.ext_table)
        assert ext is not None and ext.location == served_uri
        assert (
            ext.parameters["snapshot_dt"] == SNAPSHOT and ext.parameters[BUILD_PARAMETER] == build
        )
        assert ext.partition_keys == () and ext.bucket_count == 0
        assert world.catalog.list_partitions(database, table.ext_table) == {}
        assert [c.name for c in ext.columns] == ["customer_user_id", *table.columns]

        bucketed = world.catalog.get_table(database, table.bucketed_table)
        assert bucketed is not None
        bucketed_build = bucketed.parameters[BUILD_PARAMETER]
        assert is_build_id(bucketed_build)
        assert bucketed_build.endswith("-" + published.run_id.replace("-", "")[:8])
        location = world.lake.uri(
            layout.bucketed_snapshot_prefix(settings, table, SNAPSHOT)
            + layout.build_folder(bucketed_build)
        )
        assert location == world.lake.uri(
            f"{settings.bucketed_prefix}{table.slug}/snapshot_dt={SNAPSHOT}/build={bucketed_build}/"
        )
        assert bucketed.location == location and bucketed.parameters["snapshot_dt"] == SNAPSHOT
        assert bucketed.bucket_columns == ("customer_user_id",)
        assert bucketed.bucket_count == BUCKETS and bucketed.partition_keys == ()
        assert bucketed.serde.endswith("ParquetHiveSerDe")
        assert [c.name for c in bucketed.columns] == [c.name for c in ext.columns]
        # the CTAS Athena ran wrote there, bucketed as declared
        (statement,) = [s for s in ctas if f" AS SELECT * FROM {database}.{table.ext_table}" in s]
        assert f"external_location = '{location}'" in statement
        assert f"bucketed_by = ARRAY['customer_user_id'], bucket_count = {BUCKETS}" in statement
        bucket_prefix = location.removeprefix(f"s3://{settings.data_bucket}/")
        files = world.lake.list_objects(bucket_prefix)
        assert 0 < len(files) <= BUCKETS
        bucketed_rows = 0
        for obj in files:
            number = int(obj.key[len(bucket_prefix) :].split("_", 1)[0])
            rows = parquet_rows(world.s3, settings.data_bucket, obj.key)
            assert {hive_bucket(r["customer_user_id"], BUCKETS) for r in rows} == {number}
            bucketed_rows += len(rows)
        assert bucketed_rows == 300
        event = instance.get_latest_materialization_event(dg.AssetKey([table.bucketed_table]))
        assert event is not None and event.asset_materialization is not None
        meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        assert meta["dagster/row_count"] == 300 and meta["bucket_count"] == BUCKETS
        # the row counts compared before the swap: the staging table's and the source's
        assert f"SELECT COUNT(*) AS n FROM {database}.{table.ext_table}" in athena.statements

    # the staging tables are gone (their files are what bucketed_* now serves)
    assert world.catalog.list_tables(database) == sorted(
        [t.ext_table for t in tables] + [t.bucketed_table for t in tables]
    )
    # the reader marker: written once per ext_* publication, each time after the table
    # was repointed at the audited build, never before
    assert world.lake.read_text(marker) == SNAPSHOT
    assert [key for key, _ in world.lake.writes] == [marker, marker]
    for _, seen in world.lake.writes:
        assert set(seen.values()) - {None} == {build}
    assert set(world.lake.writes[-1][1].values()) == {build}
    # every request of the deploy, the code location (Athena included) and the job:
    # within their policies
    seen = assert_least_privilege(world, aws_calls)
    assert {
        "dagster athena:StartQueryExecution",
        "dagster athena:GetQueryResults",
        "dagster glue:CreateTable",
        "dagster glue:DeleteTable",
        "dagster s3:ListObjectsV2",
        "glue_job s3:PutObject",
    } <= seen
