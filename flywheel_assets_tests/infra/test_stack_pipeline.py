"""From an empty (moto) account to the dev pipeline running on what the stacks created.

``flywheel infra apply`` (the deployer's ``Stacks.plan``/``apply``) creates the
bootstrap, storage and access stacks in moto's CloudFormation, which creates the S3
buckets (with their default encryption), the SNS topic and the IAM roles with their
inline policies. moto's CloudFormation lacks the other types (``moto_stand_in.MOTO_LACKS``:
bucket policies, the Glue database, the Athena workgroup, Lake Formation locations and
grants); the stand-in makes the calls CloudFormation would make for them, from the
templates, and their contents are checked structurally in ``test_templates.py`` and
``test_lake_formation.py``. moto evaluates the TLS-only bucket policies (its endpoint is
plain HTTP, so they refuse everything: shown, then removed for the run) but enforces no
Lake Formation grant.

Then the dev profile's pipeline test runs against those resources, named by the stacks'
resources (moto leaves the outputs of a stack created by a change set empty): the Glue
jobs are deployed with the stack's Glue role, ``split_part/*`` runs on the Glue
stand-in into the stack's data bucket and is audited, ``part_*`` is published to the
stack's Glue database, the reader's table grants follow the publish, a failed run
alerts through the stack's topic, and every request of the deployer, the code location
and the Glue job is allowed by the policy the stack gave that role (read back from IAM).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from botocore.exceptions import ClientError

from flywheel_assets import layout
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.automation.alerts import build_run_failure_sensor
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.apply import deploy_glue_jobs
from flywheel_assets.deploy.infra.stacks import Stacks
from flywheel_assets.deploy.infra.template import build_stacks
from flywheel_assets.deploy.package import build_package
from flywheel_assets.platform import Platform
from flywheel_assets_tests.aws_calls import Recorder, read_log, recording
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.local_glue import LocalGlueService
from flywheel_assets_tests.glue.test_glue_e2e import (
    BUCKETS,
    MOTO_ACCOUNT,
    PART,
    SNAPSHOT,
    SPLIT,
    AthenaOverS3,
    DevWorld,
)
from flywheel_assets_tests.iam_check import denied
from flywheel_assets_tests.infra.helpers import by_key, infra_settings
from flywheel_assets_tests.infra.moto_stand_in import MOTO_CREATES, MOTO_LACKS, provision

pytestmark = [
    pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning"),
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
]
APPLIED = ("bootstrap", "storage", "access")


class StackWorld(DevWorld):
    """``DevWorld`` of the Glue tests on the stacks' buckets and database: nothing made
    by hand, the Glue jobs deployed as ``flywheel glue deploy`` does."""

    def __init__(
        self, tmp_path: Path, clients, endpoint: str, registry, settings: Settings
    ) -> None:
        self.settings, self.registry = settings, registry
        self.s3, self.glue, self.logs = clients("s3"), clients("glue"), clients("logs")
        self.package = build_package(tmp_path / "build")
        deploy_glue_jobs(settings, self.package, log=lambda _: None)
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
        self.lake = S3Lake(settings.data_bucket, REGION)
        self.catalog = GlueCatalog(REGION, client=self.glue)
        self.athena: Any = AthenaOverS3(self.catalog, self.s3)
        self.staging = LocalLake(tmp_path / "feed")


@pytest.fixture
def aws_calls() -> Iterator[Recorder]:
    with recording() as recorder:
        yield recorder


def stack_resources(clients, name: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, physical id) of what CloudFormation created in stack ``name``."""
    found = {}
    pages = clients("cloudformation").get_paginator("list_stack_resources")
    for page in pages.paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            if r["LogicalResourceId"]:  # moto lists what it skipped as an empty entry
                found[r["LogicalResourceId"]] = (r["ResourceType"], r["PhysicalResourceId"])
    return found


def settings_from_stacks(base: Settings, physical: dict[str, str], clients) -> Settings:
    """The code location's settings, named by what the stacks created."""
    (database,) = clients("glue").get_databases()["DatabaseList"]
    workgroups = clients("athena").list_work_groups()["WorkGroups"]
    (workgroup,) = [w["Name"] for w in workgroups if w["Name"] != "primary"]
    return infra_settings(
        "dev",
        home=str(base.home),
        bucket_count=str(BUCKETS),
        spark_shuffle_partitions="4",
        data_bucket=physical["DataBucket"],
        report_bucket=physical["AnalysisBucket"],
        glue_assets_bucket=physical["AnalysisBucket"],
        sns_topic_arn=physical["AlertsTopic"],
        glue_database=database["Name"],
        athena_workgroup=workgroup,
        glue_role=physical["GlueJobRole"],
    )


def deployed_policy(clients, settings: Settings, role: str) -> dict[str, Any]:
    name = names.role_name(settings, role)
    answer = clients("iam").get_role_policy(RoleName=name, PolicyName=f"flywheel-{role}")
    document = answer["PolicyDocument"]
    if isinstance(document, dict):
        return document
    # moto keeps a policy CloudFormation gave as a dict and answers its Python repr
    return json.loads(document) if document.startswith('{"') else ast.literal_eval(document)


def subscribed_queue(clients, topic_arn: str) -> str:
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    clients("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["QueueArn"])
    return url


@dg.op
def split_raw() -> int:
    raise RuntimeError("raw snapshot 2025-01-15 holds no parquet files")


@dg.job(name="snapshot_pipeline_stand_in")
def failing_job() -> None:
    split_raw()


def test_dev_pipeline_runs_on_the_resources_the_stacks_created(
    tmp_path, aws_endpoint, clients, small_registry, instance, aws_calls
):
    profile = infra_settings("dev", home=str(tmp_path / "home"))
    stacks = by_key(build_stacks(profile, small_registry))

    # an empty account: the deployer applies the stacks (an administrator, the bootstrap)
    cloudformation = Stacks(profile, poll_seconds=0.01)
    for key in APPLIED:
        assert cloudformation.apply(cloudformation.plan(stacks[key])) == "CREATE_COMPLETE"
    created = {
        k: v for key in APPLIED for k, v in stack_resources(clients, stacks[key].name).items()
    }
    assert {kind for kind, _ in created.values()} == MOTO_CREATES
    expected = {k for key in APPLIED for k, r in stacks[key].resources.items()}
    skipped = {
        k: r["Type"]
        for key in APPLIED
        for k, r in stacks[key].resources.items()
        if k not in created
    }
    assert set(created) | set(skipped) == expected
    assert set(skipped.values()) == MOTO_LACKS - {
        "AWS::LakeFormation::Resource",
        "AWS::LakeFormation::PrincipalPermissions",
    }
    physical = {k: pid for k, (_, pid) in created.items()}
    policies = {"AWS::S3::BucketPolicy"}
    made = provision(stacks["storage"], clients, physical, MOTO_ACCOUNT, MOTO_LACKS - policies)
    provision(stacks["lake-formation"], clients, physical, MOTO_ACCOUNT)
    # the TLS-only bucket policies work: moto, served over plain HTTP, then refuses every
    # request. So they come off again for the pipeline (the only policy-free state here).
    made += provision(stacks["storage"], clients, physical, MOTO_ACCOUNT, policies)
    assert set(made) == set(skipped)
    s3 = clients("s3")
    with pytest.raises(ClientError, match="AccessDenied|Forbidden|403"):
        s3.put_object(Bucket=physical["DataBucket"], Key="probe", Body=b"x")
    for bucket_id in ("DataBucket", "AnalysisBucket"):
        s3.delete_bucket_policy(Bucket=physical[bucket_id])

    # the code location's settings are the stacks' resources, and equal the profile's
    settings = settings_from_stacks(profile, physical, clients)
    for field in ("data_bucket", "report_bucket", "glue_database", "athena_workgroup", "glue_role"):
        assert getattr(settings, field) == getattr(profile, field), field
    assert settings.sns_topic_arn == f"arn:aws:sns:{REGION}:{MOTO_ACCOUNT}:omc-flywheel-dev-alerts"

    # the pipeline: split on Glue into the stack's bucket, audit, publish to its database
    world = StackWorld(tmp_path, clients, aws_endpoint, small_registry, settings)
    try:
        world.deliver_raw(rows=300)
        written = world.run(instance, SPLIT, audits=True)
        assert written.success
        assert [e.check_name for e in written.get_asset_check_evaluations() if not e.passed] == []
        published = world.run(instance, PART, audits=False)
        assert published.success
        (run,) = world.service.runs.values()
        assert run.job_name == "etl-omc-flywheel-dev-infobase-split-and-part"
        assert clients("glue").get_job(JobName=run.job_name)["Job"]["Role"] == settings.glue_role
    finally:
        world.service.close()
    for name in ("IBE_01_A", "IBE_02_A"):
        table = small_registry.get(name)
        info = world.catalog.get_table(settings.glue_database, table.part_table)
        assert info is not None
        assert info.location.startswith(
            f"s3://{physical['DataBucket']}/{settings.split_part_prefix}"
        )
        assert (
            len(world.catalog.list_partitions(settings.glue_database, table.part_table)) == BUCKETS
        )
    marker = layout.snapshot_marker_key(settings, "split_part", "infobase_attributes")
    assert world.lake.read_text(marker) == SNAPSHOT

    # the reader's grants on the published tables follow the publish
    provision(stacks["table-grants"], clients, physical, MOTO_ACCOUNT)
    reader = f"arn:aws:iam::{MOTO_ACCOUNT}:role/{names.role_name(settings, 'cleanrooms_reader')}"
    permissions = clients("lakeformation").list_permissions()["PrincipalResourcePermissions"]
    tables = {
        p["Resource"]["Table"].get("Name")
        for p in permissions
        if p["Principal"]["DataLakePrincipalIdentifier"] == reader
    }
    assert {"part_ibe_01_a", "part_ibe_01_a_er", "bucketed_ibe_01_a"} <= tables
    assert not any(t.startswith("ext_") for t in tables)

    # a failed run alerts the on-call through the stack's topic
    queue = subscribed_queue(clients, settings.sns_topic_arn)
    failed = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    platform = Platform(settings, small_registry)
    sensor = build_run_failure_sensor()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=failed.dagster_run,
        dagster_event=failed.get_run_failure_event(),
        resources={"platform": platform},
    ).for_run_failure()
    sensor(context)
    messages = clients("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
    assert "run failed: snapshot_pipeline_stand_in" in messages[0]["Body"]

    # every request of each role, against the policy its stack gave it (read from IAM)
    calls = [*aws_calls.calls, *world.service.received, *read_log(world.service.call_log)]
    for role in ("deployer", "dagster", "glue_job"):
        mine = [c for c in calls if c.role == role]
        assert mine, role
        document = deployed_policy(clients, settings, role)
        arns = iam.Arns(settings, MOTO_ACCOUNT, placeholders=False)
        assert document == iam.document(iam.GRANTS[role](arns)), role
        assert denied(document, mine, REGION, MOTO_ACCOUNT) == [], role
    seen = {f"{c.role} {c.service}:{c.operation}" for c in calls}
    assert {
        "deployer cloudformation:ExecuteChangeSet",
        "deployer glue:CreateJob",
        "dagster glue:StartJobRun",
        "dagster glue:BatchCreatePartition",
        "dagster sns:Publish",
        "glue_job s3:PutObject",
    } <= seen
