"""Automation (issue 6): the raw-snapshot sensor, the monitor schedule, failure alerts,
retention and declarative automation of the catalog tables. See ``docs/automation.md``.
"""

from flywheel_assets.automation.defs import (
    BUILD_JOB_NAME,
    SNAPSHOT_JOB_NAME,
    build_automation_defs,
)

__all__ = ["BUILD_JOB_NAME", "SNAPSHOT_JOB_NAME", "build_automation_defs"]
