"""What AWS does that the stand-ins skip: throttling, eventual consistency, failures.

* Throttling is retried by botocore's standard retry mode (``aws_clients.RETRY_CONFIG``),
  with a bounded number of attempts; no adapter has a retry loop of its own. The throttle
  is injected at ``before-send`` (a Stubber answers before botocore's retry handler).
* A create that meets "already exists" converges instead of failing a rerun.
* A FAILED Athena query fails with its id and Athena's reason, and publishes nothing.
(A FAILED and an overdue Glue run: ``glue/test_glue_runs_on_aws.py``.)
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from moto import mock_aws

from flywheel_assets.adapters.athena_sql import AthenaSql
from flywheel_assets.adapters.aws_clients import RETRY_CONFIG, aws_client
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.assets.bucketed import BucketedBuildError, rebuild_bucketed
from flywheel_assets.cleanrooms.apply import ApplyError, apply_plan
from flywheel_assets.cleanrooms.desired import CleanroomsConfig, desired_configured_tables
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.state import CleanroomsActual as Actual
from flywheel_assets.compaction import compaction_job
from flywheel_assets.config.registry import load_registry
from flywheel_assets.deploy import apply
from flywheel_assets.deploy.apply import deploy_glue_jobs
from flywheel_assets.deploy.jobs import DEPLOYED_JOBS, job_definition, library_key
from flywheel_assets.deploy.package import build_package
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.adapters.test_aws_contract import AWS_MODULES
from flywheel_assets_tests.aws_contract import (
    CONTRACT_OPERATIONS,
    ContractRecorder,
    all_contract_operations,
)
from flywheel_assets_tests.conftest import make_settings

REGION = "us-east-1"
DB = "omc_flywheel_test"
BUCKET = "omc-flywheel-data-us-east-1-dev"
ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = 9  # RETRY_CONFIG: 8 retries after the first attempt


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    with mock_aws():
        yield


# ---- retries ----------------------------------------------------------------------------------


def test_every_client_retries_in_standard_mode_with_bounded_attempts() -> None:
    assert RETRY_CONFIG.retries == {"mode": "standard", "max_attempts": ATTEMPTS - 1}
    for service in sorted({op.split(":")[0] for op in all_contract_operations()}):
        client = aws_client(service, REGION)
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": ATTEMPTS}


def test_no_adapter_retries_or_sleeps_on_its_own() -> None:
    """Throttles are botocore's to retry; the only sleeps are the two pollers (Athena
    queries, Glue runs), and both have a deadline."""
    for path in AWS_MODULES:
        text = (ROOT / path).read_text()
        assert "Throttl" not in text, path
        sleeps = re.findall(r"\bsleep\(", text)
        expected = path.endswith(("athena_sql.py", "glue_compute.py"))
        assert bool(sleeps) == expected, path


class ThrottleBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def throttle(client: Any, operation: str, times: int, body: bytes, status: int = 400) -> list[str]:
    """Answer the first ``times`` attempts of ``operation`` with a throttle. The throttled
    request goes to a URL moto does not serve (botocore calls every ``before-send``
    handler, moto's too), so, as on AWS, a throttled request changes nothing."""
    sends: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        sends.append(request.url)
        if len(sends) <= times:
            request.url = "http://throttled.invalid/"
            return AWSResponse(request.url, status, {}, ThrottleBody(body))
        return None

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"before-send.{service}.{operation}", answer)
    return sends


JSON_THROTTLE = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


def table(dt: str) -> TableDefinition:
    location = f"s3://{BUCKET}/omc_cleanroom_data/split_part/part_ibe_01/snapshot_dt={dt}/"
    return TableDefinition(
        database=DB,
        name="part_ibe_01",
        columns=(Column("customer_user_id", "string"),),
        location=location,
        partition_keys=(Column("id_bucket", "int"),),
        partitions={str(v): f"{location}id_bucket={v}/" for v in range(4)},
    )


def test_a_throttle_that_never_ends_fails_clearly_and_publishes_nothing(moto: None) -> None:
    catalog = GlueCatalog(REGION)
    catalog.ensure_database(DB)
    catalog.publish_table(table("2025-01-15"))
    sends = throttle(catalog.client, "UpdateTable", times=100, body=JSON_THROTTLE)

    with pytest.raises(ClientError) as raised:
        catalog.publish_table(table("2025-02-15"))

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert "reached max retries: 8" in str(raised.value)
    assert len(sends) == ATTEMPTS
    info = catalog.get_table(DB, "part_ibe_01")
    assert info is not None and info.location == table("2025-01-15").location
    assert set(catalog.list_partitions(DB, "part_ibe_01").values()) == set(
        table("2025-01-15").partitions.values()
    )


def test_a_throttled_s3_write_is_retried_by_botocore(moto: None) -> None:
    lake = S3Lake(BUCKET, REGION)
    lake.client.create_bucket(Bucket=BUCKET)
    slow_down = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
    sends = throttle(lake.client, "PutObject", times=2, body=slow_down, status=503)

    lake.write_text("metadata/snapshot_dt.txt", "2025-01-15")

    assert len(sends) == 3
    assert lake.read_text("metadata/snapshot_dt.txt") == "2025-01-15"


def test_a_throttled_clean_rooms_apply_stops_with_nothing_applied(
    moto: None, tmp_path: Path
) -> None:
    config = CleanroomsConfig.from_settings(make_settings(tmp_path, env="dev"))
    config = dataclasses.replace(config, analysis_providers=("921290734397",))
    desired = desired_configured_tables([load_registry().get("IBE_01_A")], config)
    plan = plan_cleanrooms(desired, Actual())
    client = aws_client("cleanrooms", REGION)
    sends = throttle(client, "CreateConfiguredTable", times=100, body=JSON_THROTTLE, status=429)

    with pytest.raises(ApplyError, match="ThrottlingException") as raised:
        apply_plan(plan, lambda service: client)

    assert "failed after 0 of" in str(raised.value) and raised.value.done == []
    assert len(sends) == ATTEMPTS
    assert client.list_configured_tables()["configuredTableSummaries"] == []


# ---- eventual consistency: creates that meet an existing resource converge ------------------


def test_partitions_registered_since_the_listing_are_updated_not_a_failed_publish(
    moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = GlueCatalog(REGION)
    catalog.ensure_database(DB)
    catalog.publish_table(table("2025-01-15"))
    # a listing that lags (or a concurrent publish): every partition looks new
    monkeypatch.setattr(catalog, "list_partitions", lambda database, name: {})

    catalog.publish_table(table("2025-02-15"))

    monkeypatch.undo()
    assert catalog.list_partitions(DB, "part_ibe_01") == table("2025-02-15").partitions


def test_a_job_created_by_a_concurrent_deploy_converges(
    tmp_path: Path, aws_contract: ContractRecorder
) -> None:
    """GetJob: missing; CreateJob: AlreadyExists; so GetJob again and UpdateJob what
    differs. Every deploy operation, each request checked by the contract; the race is
    on a compaction job (the other one is created), the split jobs are unchanged."""
    settings = make_settings(tmp_path / "home", env="dev")
    package = build_package(tmp_path / "build")
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    glue, s3 = session.client("glue"), session.client("s3")
    bucket = settings.glue_assets_bucket
    library = f"s3://{bucket}/{library_key(package.zip_path.name)}"
    jobs = {job.name(settings): job_definition(settings, job, library) for job in DEPLOYED_JOBS}
    raced = compaction_job("infobase_attributes").name(settings)
    created = compaction_job("addressable_ids").name(settings)
    same = [name for name in jobs if name not in (raced, created)]
    assert len(same) == 4 and jobs[raced]["NumberOfWorkers"] == 24
    mark = aws_contract.mark()
    with Stubber(s3) as s3_stub, Stubber(glue) as glue_stub:
        # a new zip to upload; the entry scripts are in S3 already
        s3_stub.add_client_error("head_object", "404", http_status_code=404)
        s3_stub.add_response("put_object", {})
        for _, path in sorted(package.scripts.items()):
            digest = apply._sha256(path.read_bytes())
            s3_stub.add_response("head_object", {"Metadata": {"sha256": digest}})
        for name in jobs:  # in the order deploy goes through them
            if name == raced:
                glue_stub.add_client_error("get_job", "EntityNotFoundException", {"JobName": name})
                glue_stub.add_client_error("create_job", "AlreadyExistsException")
                other = {**jobs[name], "NumberOfWorkers": 1}  # what the other deploy wrote
                glue_stub.add_response(
                    "get_job", {"Job": {"Name": name, **other}}, {"JobName": name}
                )
                glue_stub.add_response(
                    "update_job", {"JobName": name}, {"JobName": name, "JobUpdate": jobs[name]}
                )
            elif name == created:
                glue_stub.add_client_error("get_job", "EntityNotFoundException", {"JobName": name})
                glue_stub.add_response("create_job", {"Name": name}, {"Name": name, **jobs[name]})
            else:
                glue_stub.add_response("get_job", {"Job": {"Name": name, **jobs[name]}})

        report = deploy_glue_jobs(settings, package, glue=glue, s3=s3, log=lambda _: None)

        glue_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    assert report.jobs == {raced: "updated", created: "created", **dict.fromkeys(same, "unchanged")}
    assert report.changes == {raced: ["NumberOfWorkers"]}
    made = aws_contract.operations(aws_contract.since(mark))
    assert made == CONTRACT_OPERATIONS["deploy"]
    aws_contract.assert_clean()


# ---- failures ---------------------------------------------------------------------------------


def test_a_failed_athena_ctas_names_the_query_and_reason_and_publishes_nothing(
    moto: None, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, env="dev")
    spec = load_registry().get("IBE_01_A")
    catalog, lake = GlueCatalog(REGION), S3Lake(settings.data_bucket, REGION)
    lake.client.create_bucket(Bucket=settings.data_bucket)
    catalog.ensure_database(DB)
    columns = (Column("customer_user_id", "string"),)
    catalog.publish_table(
        TableDefinition(
            DB,
            spec.ext_table,
            columns,
            f"s3://{settings.data_bucket}/ext/",
            parameters={"snapshot_dt": "2025-02-15"},
        )
    )
    live = TableDefinition(
        DB,
        spec.bucketed_table,
        columns,
        f"s3://{settings.data_bucket}/bucketed/snapshot_dt=2025-01-15/",
        bucket_columns=("customer_user_id",),
        bucket_count=256,
    )
    catalog.publish_table(live)
    sql = AthenaSql("primary", "", DB, REGION, sleep=lambda _: None)
    reason = "HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists"
    platform = SimpleNamespace(settings=settings, catalog=catalog, lake=lake, sql=sql, database=DB)
    source = catalog.get_table(DB, spec.ext_table)
    assert source is not None

    with Stubber(sql.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-failed"})
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "q-failed",
                    "Status": {"State": "FAILED", "StateChangeReason": reason},
                }
            },
            {"QueryExecutionId": "q-failed"},
        )
        with pytest.raises(BucketedBuildError) as raised:
            rebuild_bucketed(platform, spec, "2025-02-15", source, "20250215T000000Z-0000abcd")

    message = str(raised.value)
    assert "q-failed FAILED" in message and reason in message
    assert "previous snapshot stays in service" in message
    served = catalog.get_table(DB, spec.bucketed_table)
    assert served is not None and served.location == live.location
    assert catalog.list_tables(DB, prefix=f"{spec.bucketed_table}__") == []  # no staging
    assert lake.list_objects(settings.bucketed_prefix) == []  # no CTAS leftovers
