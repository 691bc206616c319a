"""Glue runs as AWS answers them: GetJobRun through botocore's Stubber (every request is
checked against the Glue model, and by the ``aws_contract`` fixture beyond it), Pipes
context and messages on the moto server (S3, CloudWatch Logs).

A FAILED run and a run that never finishes must fail the step with the run id and
Glue's reason, and publish nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pytest
from botocore.stub import ANY, Stubber
from dagster._core.pipes import utils as pipes_utils
from dagster_aws.pipes import PipesGlueClient
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD, decode_param

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.glue_compute import DEADLINE_GRACE_SECONDS, GlueCompute
from flywheel_assets.config.settings import Settings
from flywheel_assets.keys import part_key, split_part_key
from flywheel_assets_tests.aws_contract import CONTRACT_OPERATIONS, ContractRecorder
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.helpers import materialize_without_checks
from glue_jobs.registry import Registry

SNAPSHOT = "2025-03-15"
JOB = "etl-omc-flywheel-dev-infobase-split-and-part"
RUN_ID = "jr_0123456789abcdef"
LOG_GROUP = "/aws-glue/jobs"


def message(method: str, **params: Any) -> str:
    return json.dumps(
        {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": method, "params": params}
    )


def job_messages(keys: list[dg.AssetKey]) -> list[str]:
    reports = [
        message(
            "report_asset_materialization",
            asset_key=key.to_user_string(),
            data_version=None,
            metadata={"dagster/row_count": {"raw_value": 42, "type": "int"}},
        )
        for key in keys
    ]
    return [message("opened", extras={}), *reports, message("closed")]


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def dev(tmp_path, clients: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)
    settings = make_settings(tmp_path / "home", env="dev")
    clients("s3").create_bucket(Bucket=settings.glue_assets_bucket)
    clients("s3").create_bucket(Bucket=settings.data_bucket)
    clients("glue").create_database(DatabaseInput={"Name": settings.glue_database})
    return settings


@pytest.fixture
def glue_stub(clients: Callable[[str], Any]) -> Iterator[tuple[Any, Stubber]]:
    glue = aws_client("glue", REGION)
    with Stubber(glue) as stub:
        yield glue, stub


def expect_start(stub: Stubber, settings: Settings) -> None:
    stub.add_response(
        "start_job_run",
        {"JobRunId": RUN_ID},
        {"JobName": JOB, "Arguments": ANY, "Timeout": settings.glue_timeout_minutes},
    )


def expect_state(stub: Stubber, state: str, **run: Any) -> None:
    stub.add_response(
        "get_job_run",
        {"JobRun": {"Id": RUN_ID, "JobName": JOB, "JobRunState": state, **run}},
        {"JobName": JOB, "RunId": RUN_ID},
    )


def send_messages(glue: Any, clients: Callable[[str], Any], lines: list[str], to: str) -> None:
    """What the job's Pipes writer does once the run starts: messages where the reader
    looks (S3 chunks, or the run's ``/aws-glue/jobs/output`` log stream)."""

    def write(params: dict[str, Any], **_: Any) -> None:
        if to == "s3":
            target = decode_param(params["Arguments"]["--dagster-pipes-messages"])
            clients("s3").put_object(
                Bucket=target["bucket"],
                Key=f"{target['key_prefix']}/1.json",
                Body="\n".join(lines).encode(),
            )
            return
        logs, group = clients("logs"), f"{LOG_GROUP}/output"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=RUN_ID)
        now = int(time.time() * 1000) + 1000
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
        logs.put_log_events(logGroupName=group, logStreamName=RUN_ID, logEvents=events)

    glue.meta.events.register("before-parameter-build.glue.StartJobRun", write)


def infobase_keys(registry: Registry) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
    tables = registry.for_source("infobase_attributes")
    return [split_part_key(t) for t in tables], [part_key(t) for t in tables]


def test_a_failed_run_fails_with_the_run_id_and_reason_and_publishes_nothing(
    dev: Settings,
    clients: Callable[[str], Any],
    glue_stub: tuple[Any, Stubber],
    small_registry: Registry,
    instance: dg.DagsterInstance,
) -> None:
    glue, stub = glue_stub
    expect_start(stub, dev)
    expect_state(stub, "RUNNING")
    reason = "An error occurred while calling o112.parquet. Access Denied (Status Code: 403)"
    expect_state(stub, "FAILED", ErrorMessage=reason)
    compute = GlueCompute(dev, client=glue, s3_client=clients("s3"), messages="s3")
    splits, parts = infobase_keys(small_registry)

    result = materialize_without_checks(
        dev, small_registry, compute, instance, splits + parts, SNAPSHOT
    )

    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error.to_string()
    assert f"Glue job {JOB} run {RUN_ID} completed with status FAILED" in error
    assert reason in error
    for key in splits + parts:
        assert instance.get_latest_materialization_event(key) is None
    assert clients("glue").get_tables(DatabaseName=dev.glue_database)["TableList"] == []


def test_a_run_past_its_deadline_is_stopped_and_fails_with_the_run_id(
    dev: Settings,
    clients: Callable[[str], Any],
    glue_stub: tuple[Any, Stubber],
    small_registry: Registry,
    instance: dg.DagsterInstance,
) -> None:
    glue, stub = glue_stub
    deadline = dev.glue_timeout_minutes * 60 + DEADLINE_GRACE_SECONDS
    poll = deadline / 3
    expect_start(stub, dev)
    for _ in range(5):  # after the start, then at 0, 1/3, 2/3 and all of the deadline
        expect_state(stub, "RUNNING")
    stub.add_response(
        "batch_stop_job_run",
        {"SuccessfulSubmissions": [{"JobName": JOB, "JobRunId": RUN_ID}], "Errors": []},
        {"JobName": JOB, "JobRunIds": [RUN_ID]},
    )
    fake = FakeTime()
    compute = GlueCompute(
        dev,
        client=glue,
        s3_client=clients("s3"),
        messages="s3",
        poll_seconds=poll,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    splits, _ = infobase_keys(small_registry)

    result = materialize_without_checks(dev, small_registry, compute, instance, splits, SNAPSHOT)

    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "GlueRunDeadlineError" in error
    assert f"Glue job {JOB} run {RUN_ID} still RUNNING after {deadline:g}s; stopped it" in error
    assert fake.sleeps == [poll, poll, poll]
    for key in splits:
        assert instance.get_latest_materialization_event(key) is None


def test_the_deadline_replaces_dagster_aws_s_own_wait() -> None:
    """The override must meet the method dagster-aws calls, or the wait has no deadline."""
    assert callable(vars(PipesGlueClient).get("_wait_for_job_run_completion"))


@pytest.mark.parametrize("messages", ["s3", "cloudwatch"])
def test_a_run_through_pipes_makes_only_requests_aws_accepts(
    messages: str,
    dev: Settings,
    clients: Callable[[str], Any],
    glue_stub: tuple[Any, Stubber],
    small_registry: Registry,
    instance: dg.DagsterInstance,
    aws_contract: ContractRecorder,
) -> None:
    """Every request of a successful run, the Pipes context and message reading included,
    is checked by the ``aws_contract`` fixture; these are the operations it makes."""
    glue, stub = glue_stub
    expect_start(stub, dev)
    expect_state(stub, "RUNNING")
    expect_state(stub, "SUCCEEDED", LogGroupName=LOG_GROUP)
    splits, _ = infobase_keys(small_registry)
    send_messages(glue, clients, job_messages(splits), to=messages)
    compute = GlueCompute(
        dev,
        client=glue,
        s3_client=aws_client("s3", REGION),
        logs_client=aws_client("logs", REGION),
        messages=messages,  # type: ignore[arg-type]
        s3_message_interval=0.1,
    )
    mark = aws_contract.mark()

    result = materialize_without_checks(dev, small_registry, compute, instance, splits, SNAPSHOT)

    assert result.success, result.get_step_failure_events()
    job = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}  # the fake job's
    made = aws_contract.operations(aws_contract.since(mark)) - job
    assert made <= CONTRACT_OPERATIONS["glue_compute"] | CONTRACT_OPERATIONS["s3_lake"]
    assert {"glue:StartJobRun", "glue:GetJobRun", "s3:PutObject", "s3:DeleteObject"} <= made
    if messages == "cloudwatch":
        assert "logs:GetLogEvents" in made
    aws_contract.assert_clean()
