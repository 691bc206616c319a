"""``compacted/<source>`` on the dev profile: the compaction Glue job run for real by the
Glue stand-in (``local_glue.py``: the entry script from S3, ``glue_jobs`` from a zip,
local Spark, every AWS call to a moto server) through ``GlueCompute`` and Dagster Pipes,
then its blocking audit in the code location (footers read from moto S3) and the
``*_compaction_cr`` table published to the Glue catalog (moto).

The job definition is created here as ``flywheel glue deploy`` will once it deploys the
compaction jobs (``flywheel_assets.compaction.COMPACTION_JOBS``)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

import glue_jobs
from flywheel_assets import compaction, layout
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.glue_compute import GlueCompute
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.builds import read_audit_at
from flywheel_assets.definitions import build_definitions
from flywheel_assets.keys import compacted_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.helpers import upload_tree
from flywheel_assets_tests.glue.local_glue import LocalGlueService

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

SNAPSHOT = "2025-01-15"
SOURCE = "addressable_ids"


def deploy_compaction_job(settings, s3, glue, build: Path) -> str:
    """The script and a zip of ``glue_jobs`` in the assets bucket, and the job."""
    package = build / "glue_jobs.zip"
    root = Path(glue_jobs.__file__).parent
    with zipfile.ZipFile(package, "w") as archive:
        for path in sorted(root.rglob("*.py")):
            archive.write(path, f"glue_jobs/{path.relative_to(root).as_posix()}")
    bucket = settings.glue_assets_bucket
    s3.upload_file(str(package), bucket, "flywheel/glue/lib/glue_jobs.zip")
    s3.upload_file(
        str(root / "compaction_job.py"), bucket, "flywheel/glue/scripts/compaction_job.py"
    )
    job = compaction.compaction_job(SOURCE)
    glue.create_job(
        Name=job.name(settings),
        Role=settings.glue_role,
        Command={
            "Name": "glueetl",
            "ScriptLocation": f"s3://{bucket}/flywheel/glue/scripts/compaction_job.py",
        },
        DefaultArguments={"--extra-py-files": f"s3://{bucket}/flywheel/glue/lib/glue_jobs.zip"},
        GlueVersion="5.0",
        WorkerType=job.worker_type,
        NumberOfWorkers=job.workers,
        Timeout=job.timeout_minutes,
    )
    return job.name(settings)


@pytest.fixture
def service(tmp_path, clients, aws_endpoint) -> Iterator[LocalGlueService]:
    glue_service = LocalGlueService(
        glue=clients("glue"),
        s3=clients("s3"),
        logs=clients("logs"),
        endpoint_url=aws_endpoint,
        spark_root=tmp_path / "spark-s3a",
        workdir=tmp_path / "glue-runs",
        region=REGION,
    )
    yield glue_service
    glue_service.close()


def test_compaction_runs_as_its_glue_job_and_is_audited_and_published(
    tmp_path, clients, service, small_registry, instance
) -> None:
    settings = make_settings(tmp_path / "home", env="dev", bucket_count=16)
    s3, glue = clients("s3"), clients("glue")
    for bucket in (settings.data_bucket, settings.glue_assets_bucket):
        s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": settings.glue_database})
    (tmp_path / "build").mkdir()
    name = deploy_compaction_job(settings, s3, glue, tmp_path / "build")
    staging = LocalLake(tmp_path / "feed")
    (sample,) = write_sample_snapshot(
        settings, small_registry, staging, SNAPSHOT, rows=300, sources=(SOURCE,)
    )
    upload_tree(s3, staging.root, settings.data_bucket)
    compute = GlueCompute(
        settings, client=service, s3_client=s3, logs_client=clients("logs"),
        messages="s3", s3_message_interval=0.2,
    )  # fmt: skip
    lake = S3Lake(settings.data_bucket, REGION)
    catalog = GlueCatalog(REGION, client=glue)
    platform = Platform(settings, small_registry, lake=lake, catalog=catalog, compute=compute)
    table = "addressable_ids_compaction_cr"
    job = dg.define_asset_job(
        "compact", selection=dg.AssetSelection.assets(compacted_key(SOURCE), table)
    )
    defs = dg.Definitions.merge(
        build_definitions(settings, small_registry, platform), dg.Definitions(jobs=[job])
    )
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])

    result = defs.resolve_job_def("compact").execute_in_process(
        instance=instance, partition_key=SNAPSHOT, raise_on_error=False
    )

    (run,) = service.runs.values()
    assert result.success, run.stderr.read_text()[-3000:]
    assert run.job_name == name == "etl-omc-flywheel-dev-addressable-ids-compaction"
    build = run.arguments["--BUILD_ID"]
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True] * 3
    prefix = layout.compaction_build_prefix(settings, SOURCE, SNAPSHOT, build)
    manifest = compaction.read_manifest(lake, settings, SOURCE, SNAPSHOT, build)
    assert manifest.location == lake.uri(prefix)
    assert manifest.row_count == manifest.raw_rows == sample.rows  # duplicates kept
    assert (
        manifest.files
        == 1
        == len([o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")])
    )
    assert read_audit_at(lake, prefix).passed
    mat = result.asset_materializations_for_node("compacted__addressable_ids")[0]
    assert mat.metadata["build"].value == build
    assert mat.metadata["AWS Glue Job Run ID"].value == run.run_id
    # published in the same run after the audit: the partition points at the build
    assert catalog.list_partitions(settings.glue_database, table) == {SNAPSHOT: lake.uri(prefix)}
