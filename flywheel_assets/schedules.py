"""Schedules of the code location (defined in ``flywheel_assets.automation``)."""

from flywheel_assets.automation.monitor_schedule import (
    MONITOR_JOB_NAME,
    MONITOR_SCHEDULE_NAME,
    build_monitor_schedule,
)

__all__ = ["MONITOR_JOB_NAME", "MONITOR_SCHEDULE_NAME", "build_monitor_schedule"]
