"""Sensors of the code location (defined in ``flywheel_assets.automation``)."""

from flywheel_assets.automation.alerts import (
    CHECK_FAILURE_SENSOR_NAME,
    RUN_FAILURE_SENSOR_NAME,
    build_check_failure_sensor,
    build_run_failure_sensor,
)
from flywheel_assets.automation.conditions import AUTOMATION_SENSOR_NAME, automation_sensor
from flywheel_assets.automation.raw_sensor import RAW_SENSOR_NAME, build_raw_snapshot_sensor

__all__ = [
    "AUTOMATION_SENSOR_NAME",
    "CHECK_FAILURE_SENSOR_NAME",
    "RAW_SENSOR_NAME",
    "RUN_FAILURE_SENSOR_NAME",
    "automation_sensor",
    "build_check_failure_sensor",
    "build_raw_snapshot_sensor",
    "build_run_failure_sensor",
]
