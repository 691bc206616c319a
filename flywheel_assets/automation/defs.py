"""``build_automation_defs``: the jobs, sensors and schedule of issue 6 as one Definitions.

Nothing here is profile-specific except the default statuses: on AWS profiles the
raw-snapshot sensor, the automation sensor and the monitor schedule start running
with the deployment; on the local profile they start stopped (turn them on in the UI)
so that writing sample data does not start Spark runs behind your back. Alert sensors
always start running.
"""

from typing import TYPE_CHECKING

import dagster as dg

from flywheel_assets.automation.alerts import build_check_failure_sensor, build_run_failure_sensor
from flywheel_assets.automation.conditions import automation_sensor
from flywheel_assets.automation.monitor_schedule import MONITOR_JOB_NAME, build_monitor_schedule
from flywheel_assets.automation.raw_sensor import build_raw_snapshot_sensor
from flywheel_assets.automation.retention import retention_job
from flywheel_assets.automation.selection import (
    SNAPSHOT_PARTITIONED,
    SPLIT_DATASETS,
    monitor_selection,
)
from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings
from glue_jobs.registry import Registry

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SNAPSHOT_JOB_NAME = "snapshot_pipeline"
BUILD_JOB_NAME = "snapshot_build"


def snapshot_pipeline_job() -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        SNAPSHOT_JOB_NAME,
        selection=SNAPSHOT_PARTITIONED,
        description=(
            "Every snapshot_dt-partitioned asset for one snapshot in one run: split, audit, "
            "publish. Launch it by hand for any partition to rebuild that snapshot (the "
            "reference's --SNAPSHOT_DT override); a table blocked by its audit shows as "
            "not materialized in that run (snapshot_build + automation avoids that)."
        ),
        tags={"flywheel/kind": "pipeline"},
    )


def snapshot_build_job() -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        BUILD_JOB_NAME,
        selection=SPLIT_DATASETS,
        description=(
            "Write and audit one snapshot: every split_part/*, split_cluster/* and "
            "compacted/* dataset with its blocking audits, and the raw snapshots' own "
            "*_raw_input tables. Launched by raw_snapshot_sensor; the catalog tables "
            "follow through automation_condition_sensor only where the audits passed, so "
            "a blocked table is never planned and its page keeps the month it serves."
        ),
        tags={"flywheel/kind": "build"},
    )


def monitor_job(registry: Registry) -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        MONITOR_JOB_NAME,
        selection=monitor_selection(registry),
        description=(
            "The data monitor without a rebuild: the part_* asset checks and, when "
            "defined, monitor_report, for the partition given by the run's tag."
        ),
        tags={"flywheel/kind": "monitor"},
    )


def build_automation_defs(registry: Registry | Registries, settings: Settings) -> dg.Definitions:
    """Jobs ``snapshot_pipeline``, ``snapshot_build``, ``monitor_checks``,
    ``retention_job``; sensors
    ``raw_snapshot_sensor``, ``automation_condition_sensor``, ``run_failure_alerts``,
    ``check_failure_alerts``; schedule ``monitor_schedule``.

    Sensors and the schedule use the ``platform`` resource of the code location. The
    monitor job and schedule follow the partitioned pipeline's registry (``part_*``); the
    raw sensor both pipelines'.
    """
    registries = as_registries(registry)
    partitioned = registries.split_part
    on = not settings.is_local
    sensor_status = dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED
    schedule_status = dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED
    pipeline = snapshot_pipeline_job()
    build = snapshot_build_job()
    monitor = monitor_job(partitioned)
    return dg.Definitions(
        jobs=[pipeline, build, monitor, retention_job],
        sensors=[
            build_raw_snapshot_sensor(build, registries, default_status=sensor_status),
            automation_sensor(default_status=sensor_status),
            build_run_failure_sensor(),
            build_check_failure_sensor(),
        ],
        schedules=[
            build_monitor_schedule(
                monitor, partitioned, settings.monitor_cron, default_status=schedule_status
            )
        ],
    )
