"""``GlueCompute`` with scripted Glue runs (no subprocess, no Spark): what it does with
what a job reports, and with a run Dagster interrupts. S3 (Pipes context and messages)
is the moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import dagster as dg
import pytest
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.pipes import utils as pipes_utils
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD, decode_param

from flywheel_assets.adapters.glue_compute import GlueCompute
from flywheel_assets.config.settings import Settings
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.helpers import materialize_without_checks

SNAPSHOT = "2025-03-15"
SPLIT = [dg.AssetKey(["split_part", "ibe_01_a"]), dg.AssetKey(["split_part", "ibe_02_a"])]


def message(method: str, **params: Any) -> str:
    return json.dumps(
        {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": method, "params": params}
    )


class ScriptedGlue:
    """Plays one Glue run: writes the given Pipes messages where ``PipesS3MessageReader``
    reads them, then reports ``final_state``; or is interrupted while Dagster waits."""

    def __init__(self, glue: Any, s3: Any, messages: list[str], interrupt: bool = False) -> None:
        self.glue, self.s3 = glue, s3
        self.messages = messages
        self.interrupt = interrupt
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.polls = 0

    @property
    def meta(self) -> Any:
        return self.glue.meta

    def start_job_run(self, JobName: str, Arguments: dict[str, str], **_: Any) -> dict:
        self.started.append({"JobName": JobName, "Arguments": dict(Arguments)})
        target = decode_param(Arguments["--dagster-pipes-messages"])
        if self.messages:
            self.s3.put_object(
                Bucket=target["bucket"],
                Key=f"{target['key_prefix']}/1.json",
                Body="\n".join(self.messages).encode(),
            )
        return {"JobRunId": "jr_scripted"}

    def get_job_run(self, JobName: str, RunId: str, **_: Any) -> dict:
        self.polls += 1
        if self.interrupt and self.polls > 1:  # the first poll follows the start at once
            raise DagsterExecutionInterruptedError()
        state = "RUNNING" if self.interrupt else "SUCCEEDED"
        return {"JobRun": {"Id": RunId, "JobName": JobName, "JobRunState": state}}

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str]) -> dict:
        self.stopped.extend(JobRunIds)
        runs = [{"JobName": JobName, "JobRunId": r} for r in JobRunIds]
        return {"SuccessfulSubmissions": runs, "Errors": []}


@pytest.fixture
def dev(tmp_path, clients: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    # no process will send late messages here: don't wait the default 10 s for them
    monkeypatch.setattr(pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)
    settings = make_settings(tmp_path / "home", env="dev")
    clients("s3").create_bucket(Bucket=settings.glue_assets_bucket)
    clients("s3").create_bucket(Bucket=settings.data_bucket)  # where the job would write
    return settings


def scripted_compute(settings: Settings, clients, glue: ScriptedGlue) -> GlueCompute:
    return GlueCompute(
        settings, client=glue, s3_client=clients("s3"), messages="s3", s3_message_interval=0.1
    )


def test_unreported_table_fails_the_step_after_recording_the_reported_one(
    dev: Settings, clients, small_registry, instance: dg.DagsterInstance
) -> None:
    glue = ScriptedGlue(
        clients("glue"),
        clients("s3"),
        [
            message("opened", extras={}),
            message(
                "report_asset_materialization",
                asset_key="split_part/ibe_01_a",
                data_version=None,
                metadata={"dagster/row_count": {"raw_value": 42, "type": "int"}},
            ),
            message("closed"),
        ],
    )
    compute = scripted_compute(dev, clients, glue)

    result = materialize_without_checks(dev, small_registry, compute, instance, SPLIT, SNAPSHOT)

    assert not result.success
    (started,) = glue.started
    assert started["JobName"] == "etl-omc-flywheel-dev-infobase-split-and-part"
    assert started["Arguments"]["--SNAPSHOT_DT"] == SNAPSHOT
    assert started["Arguments"]["--TARGET_PATH"] == (
        f"s3://{dev.data_bucket}/omc_cleanroom_data/split_part/infobase_attributes/"
    )
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == SPLIT[0]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == 42
    assert metadata["AWS Glue Job Run ID"].value == "jr_scripted"
    # no manifest was written by this scripted job: the build is named, the audit fails it
    assert metadata["build"].value.endswith("-" + result.run_id.replace("-", "")[:8])
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error.to_string()
    assert "GlueRunIncompleteError" in error and "split_part/ibe_02_a" in error
    # no implicit materialization vouches for the table nobody saw written
    assert instance.get_latest_materialization_event(SPLIT[1]) is None


def test_interrupted_step_stops_the_glue_run(
    dev: Settings, clients, small_registry, instance: dg.DagsterInstance
) -> None:
    glue = ScriptedGlue(clients("glue"), clients("s3"), [], interrupt=True)
    compute = scripted_compute(dev, clients, glue)

    result = materialize_without_checks(dev, small_registry, compute, instance, SPLIT, SNAPSHOT)

    assert not result.success
    assert glue.stopped == ["jr_scripted"]
    assert instance.get_latest_materialization_event(SPLIT[0]) is None
