"""Failure alerts: one message per failed run and per failed ERROR check.

Messages go through the alerts port (SNS on AWS profiles, log + file locally) and
carry the ids an on-call engineer needs (run id, job, step, asset, check, partition)
plus links into the Dagster UI at ``$DAGSTER_WEBSERVER_URL``.
"""

import json
import os
from collections.abc import Sequence

import dagster as dg

from flywheel_assets.platform import Platform

RUN_FAILURE_SENSOR_NAME = "run_failure_alerts"
CHECK_FAILURE_SENSOR_NAME = "check_failure_alerts"
WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://localhost:3000"
SUBJECT_PREFIX = "[FLYWHEEL]"
CHECK_BATCH = 200  # finished runs read per tick and end state
MAX_ERROR_CHARS = 1500


def webserver_url() -> str:
    return os.environ.get(WEBSERVER_URL_ENV, DEFAULT_WEBSERVER_URL).rstrip("/")


def run_url(run_id: str) -> str:
    return f"{webserver_url()}/runs/{run_id}"


def asset_checks_url(asset_key: dg.AssetKey) -> str:
    return f"{webserver_url()}/assets/{'/'.join(asset_key.path)}?view=checks"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def run_failure_message(
    run: dg.DagsterRun, failure: dg.DagsterEvent | None, steps: Sequence[dg.DagsterEvent]
) -> tuple[str, str]:
    """Subject and body for one failed run."""
    partition = run.tags.get("dagster/partition")
    where = f" ({partition})" if partition else ""
    subject = f"{SUBJECT_PREFIX} run failed: {run.job_name}{where}"
    lines = [
        f"Run {run.run_id} of job {run.job_name} failed.",
        f"run id: {run.run_id}",
        f"job: {run.job_name}",
        f"partition: {partition or '-'}",
        f"link: {run_url(run.run_id)}",
    ]
    if failure is not None and failure.message:
        lines.append(f"reason: {failure.message}")
    for event in steps:
        lines.append(f"failed step: {event.step_key}")
        error = getattr(event.event_specific_data, "error", None)
        if error is None:
            lines.append(f"  error: {event.message or '-'}")
            continue
        while error.cause is not None:  # Dagster wraps the user's exception; report that
            error = error.cause
        lines.append(f"  error: {_first_line(error.message)}")
        trace = error.to_string().strip()
        if len(trace) > MAX_ERROR_CHARS:
            trace = "..." + trace[-MAX_ERROR_CHARS:]  # the innermost frames matter most
        lines.extend(f"    {line}" for line in trace.splitlines())
    return subject, "\n".join(lines)


def check_failure_message(record: dg.EventLogRecord) -> tuple[str, str]:
    """Subject and body for one failed check evaluation."""
    entry = record.event_log_entry
    evaluation = entry.dagster_event.event_specific_data  # AssetCheckEvaluation
    key = evaluation.asset_key.to_user_string()
    partition = evaluation.partition
    where = f" ({partition})" if partition else ""
    subject = f"{SUBJECT_PREFIX} check failed: {key}:{evaluation.check_name}{where}"
    lines = [
        f"Asset check {evaluation.check_name} on {key} failed "
        f"(severity {evaluation.severity.value}, blocking {bool(evaluation.blocking)}).",
        f"asset: {key}",
        f"check: {evaluation.check_name}",
        f"partition: {partition or '-'}",
        f"run id: {entry.run_id}",
        f"job: {entry.job_name or '-'}",
        f"step: {entry.step_key or '-'}",
        f"run link: {run_url(entry.run_id)}",
        f"check link: {asset_checks_url(evaluation.asset_key)}",
    ]
    if evaluation.description:
        lines.append(f"description: {evaluation.description}")
    if evaluation.metadata:
        lines.append("metadata:")
        for name, value in evaluation.metadata.items():
            lines.append(f"  {name}: {getattr(value, 'value', value)}")
    return subject, "\n".join(lines)


def is_failed_error(record: dg.EventLogRecord) -> bool:
    evaluation = record.event_log_entry.dagster_event.event_specific_data
    return not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR


# Check evaluations are read per finished run: the run-status events are indexed across
# runs on every event log storage (including the default run-sharded SQLite, where a
# cross-run query for check evaluations is not possible), and a run's checks are final
# once it has finished. A failed blocking check fails its run; a failed non-blocking one
# lives in a successful run, so both end states are watched.
FINISHED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)


def _latest_ids(instance: dg.DagsterInstance) -> dict[str, int | None]:
    ids: dict[str, int | None] = {}
    for event_type in FINISHED:
        newest = instance.fetch_run_status_changes(event_type, limit=1).records
        ids[event_type.value] = newest[0].storage_id if newest else None
    return ids


def failed_checks_of_run(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogRecord]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    return [r for r in records if is_failed_error(r)]


def send_check_alerts(
    platform: Platform, instance: dg.DagsterInstance, cursor: dict[str, int | None], log
) -> tuple[dict[str, int | None], int]:
    """One alert per failed ERROR check of every run finished after ``cursor``.

    Returns the new cursor and how many alerts were sent. The cursor advances run by
    run and stops before a run whose alert could not be sent, so that run is retried
    on the next tick (at-least-once: a run's earlier alerts may then repeat).
    """
    cursor = dict(cursor)
    sent = 0
    for event_type in FINISHED:
        finished = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(
                event_type=event_type, after_storage_id=cursor.get(event_type.value)
            ),
            limit=CHECK_BATCH,
            ascending=True,
        ).records
        for run_record in finished:
            try:
                for record in failed_checks_of_run(instance, run_record.run_id):
                    platform.alerts.send(*check_failure_message(record))
                    sent += 1
            except Exception as exc:  # noqa: BLE001 - retried next tick
                log.error(f"check alerts of run {run_record.run_id} not sent: {exc}")
                return cursor, sent
            cursor[event_type.value] = run_record.storage_id
    return cursor, sent


def build_check_failure_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=CHECK_FAILURE_SENSOR_NAME,
        minimum_interval_seconds=60,
        default_status=default_status,
        description="One alert per failed ERROR-severity asset check (checked per finished run).",
    )
    def check_failure_alerts(
        context: dg.SensorEvaluationContext, platform: dg.ResourceParam[Platform]
    ) -> dg.SensorResult:
        if not context.cursor:
            # first tick: start after the newest finished run; history is not re-alerted
            start = json.dumps(_latest_ids(context.instance), sort_keys=True)
            return dg.SensorResult(cursor=start, skip_reason="cursor initialised")
        cursor, sent = send_check_alerts(
            platform, context.instance, json.loads(context.cursor), context.log
        )
        if sent:
            context.log.info(f"sent {sent} check failure alert(s)")
        return dg.SensorResult(
            cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if sent else "no new failed ERROR check",
        )

    return check_failure_alerts


def build_run_failure_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR_NAME,
        default_status=default_status,
        description="One alert per failed run of any job in this code location.",
    )
    def run_failure_alerts(
        context: dg.RunFailureSensorContext, platform: dg.ResourceParam[Platform]
    ) -> None:
        subject, body = run_failure_message(
            context.dagster_run, context.failure_event, context.get_step_failure_events()
        )
        platform.alerts.send(subject, body)

    return run_failure_alerts
