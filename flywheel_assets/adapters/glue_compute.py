"""Compute port on AWS Glue: the split and compaction transforms run as Glue jobs through
Dagster Pipes.

``PipesGlueClient`` starts the deployed job (``flywheel glue deploy``) with the run's
arguments, injects the Pipes context through S3 (the Glue assets bucket), waits, stops
the Glue run when Dagster terminates the step, and reads the job's messages from the
CloudWatch ``/aws-glue/jobs/output`` stream (or from S3 with ``messages="s3"``), also
forwarding its log lines. Each table the job reports comes back as one
``MaterializeResult`` carrying the job's metadata plus the Glue run id and console link.

A run that ends in any state but SUCCEEDED fails the step with the job name, run id,
state and Glue's ``ErrorMessage`` (``PipesGlueClient``). Every run carries the profile's
``glue_timeout_minutes`` as its Glue ``Timeout``, so Glue itself ends a run that outlives
it (state TIMEOUT); the wait here has a deadline of its own a grace period later, in case
the run never reaches a final state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import dagster as dg
from dagster_aws.pipes import (
    PipesCloudWatchMessageReader,
    PipesGlueClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy.jobs import PIPES_PREFIX, run_arguments, split_job
from flywheel_assets.keys import split_cluster_key, split_part_key
from glue_jobs.registry import TableSpec

KEY_FUNCTIONS = {"split_part": split_part_key, "split_cluster": split_cluster_key}
# GetJobRun states after which a run changes no more (AWS Glue "Job run statuses");
# dagster-aws's own list lacks EXPIRED.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
# How long after its Glue Timeout a run may still be unfinished before the wait gives up
# (Glue needs a moment to start a run and to stop a timed-out one).
DEADLINE_GRACE_SECONDS = 15 * 60
POLL_SECONDS = 5.0  # dagster-aws's interval


class GlueRunIncompleteError(RuntimeError):
    """The Glue run succeeded but did not report every table it was asked for."""


class GlueRunDeadlineError(RuntimeError):
    """The Glue run did not reach a final state by the wait's deadline (it was stopped)."""


class DeadlinePipesGlueClient(PipesGlueClient):
    """``PipesGlueClient`` whose wait for the run has a deadline.

    dagster-aws polls GetJobRun every 5 s until a final state, with no deadline; this
    replaces that one loop (``_wait_for_job_run_completion``, checked by a test) and
    leaves starting, Pipes, termination and the failure message to dagster-aws.
    """

    def __init__(
        self,
        *,
        deadline_seconds: float,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deadline_seconds = deadline_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock

    def _wait_for_job_run_completion(self, job_name: str, run_id: str) -> Any:
        deadline = self.clock() + self.deadline_seconds
        while True:
            response = self._client.get_job_run(JobName=job_name, RunId=run_id)
            state = response["JobRun"]["JobRunState"]
            if state in FINAL_STATES:
                return response
            remaining = deadline - self.clock()
            if remaining <= 0:
                self._client.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
                raise GlueRunDeadlineError(
                    f"Glue job {job_name} run {run_id} still {state} after "
                    f"{self.deadline_seconds:g}s; stopped it"
                )
            self.sleep(min(self.poll_seconds, remaining))


class GlueCompute:
    def __init__(
        self,
        settings: Settings,
        client: Any | None = None,
        *,
        s3_client: Any | None = None,
        logs_client: Any | None = None,
        messages: Literal["cloudwatch", "s3"] = "cloudwatch",
        s3_message_interval: float = 5,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.glue_assets_bucket:
            raise ValueError(
                f"profile {settings.env!r} has no glue_assets_bucket for the Pipes context"
            )
        self.settings = settings
        self.glue = client if client is not None else aws_client("glue", settings.region)
        self.s3 = s3_client if s3_client is not None else aws_client("s3", settings.region)
        self.logs = logs_client if logs_client is not None else aws_client("logs", settings.region)
        self.messages = messages
        self.s3_message_interval = s3_message_interval
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock

    def pipes_client(self, timeout_minutes: int | None = None) -> PipesGlueClient:
        """A fresh client per run: message readers keep per-run state (log streams). Its
        wait gives up a grace period after the run's Glue timeout."""
        timeout = timeout_minutes or self.settings.glue_timeout_minutes
        if self.messages == "s3":
            reader: Any = PipesS3MessageReader(
                bucket=self.settings.glue_assets_bucket,
                client=self.s3,
                interval=self.s3_message_interval,
            )
        else:
            reader = PipesCloudWatchMessageReader(client=self.logs)
        return DeadlinePipesGlueClient(
            deadline_seconds=timeout * 60 + DEADLINE_GRACE_SECONDS,
            poll_seconds=self.poll_seconds,
            sleep=self.sleep,
            clock=self.clock,
            client=self.glue,
            context_injector=PipesS3ContextInjector(
                bucket=self.settings.glue_assets_bucket, client=self.s3, key_prefix=PIPES_PREFIX
            ),
            message_reader=reader,
            forward_termination=True,
        )

    def run_split(
        self,
        context: dg.AssetExecutionContext,
        kind: str,
        source: str,
        tables: list[TableSpec],
        snapshot: str,
        build: str,
        arguments: Mapping[str, str] | None = None,
    ) -> Iterator[dg.MaterializeResult]:
        """Run the ``kind`` job of ``source`` for ``tables`` into ``build`` directories and
        yield one result per table. ``arguments`` override the run's own (the split of
        compacted input names its ``--SOURCE_PATH`` and ``--SOURCE_BUILD``)."""
        job = split_job(kind, source)
        keys = {t.name: KEY_FUNCTIONS[kind](t) for t in tables}
        extras = {
            "kind": kind,
            "source": source,
            "bucket_count": self.settings.bucket_count,
            "snapshot_marker": self.settings.snapshot_marker,
            "build": build,
            "tables": [
                {
                    "name": t.name,
                    "source": t.source,
                    "columns": list(t.columns),
                    "asset_key": keys[t.name].to_user_string(),
                }
                for t in tables
            ],
        }
        context.log.info(f"{kind} of {len(tables)} {source} table(s) for snapshot {snapshot}")
        yield from self.run_job(
            context,
            job.name(self.settings),
            {**run_arguments(self.settings, job, snapshot, tables, build), **(arguments or {})},
            extras,
            list(keys.values()),
        )

    def run_job(
        self,
        context: dg.AssetExecutionContext,
        name: str,
        arguments: Mapping[str, str],
        extras: Mapping[str, Any],
        expected: list[dg.AssetKey],
        timeout_minutes: int | None = None,
    ) -> Iterator[dg.MaterializeResult]:
        """Run Glue job ``name`` through Pipes and yield a result per ``expected`` asset it
        reports (the split jobs, the compaction jobs).

        Assets the job did not report fail the step after the reported ones are
        recorded: no implicit materialization vouches for data nobody saw written.
        ``timeout_minutes`` (default ``glue_timeout_minutes``) is the run's Glue
        ``Timeout``; the wait's deadline follows it.
        """
        timeout = timeout_minutes or self.settings.glue_timeout_minutes
        context.log.info(f"Glue job {name} for snapshot {arguments.get('--SNAPSHOT_DT', '?')}")
        invocation = self.pipes_client(timeout).run(
            context=context,
            start_job_run_params={
                "JobName": name,
                "Arguments": dict(arguments),
                # as deployed, but explicit like the arguments: Glue ends the run after it
                "Timeout": timeout,
            },
            extras=dict(extras),
        )
        reported = set()
        for result in invocation.get_results(implicit_materializations=False):
            if isinstance(result, dg.MaterializeResult) and result.asset_key in expected:
                reported.add(result.asset_key)
                yield result
        missing = sorted(k.to_user_string() for k in set(expected) - reported)
        if missing:
            run_id = getattr(invocation.metadata.get("AWS Glue Job Run ID"), "value", "?")
            raise GlueRunIncompleteError(
                f"Glue job {name} run {run_id} reported no materialization for {', '.join(missing)}"
            )
