"""Clean Rooms and Entity Resolution: desired state, reconcile, ``_er`` tables, report.

Reconcile is read -> plan -> apply: ``desired.py`` (what we want), ``read.py`` (what
exists, into ``state.py``), ``plan_cleanrooms.py`` / ``plan_entity_resolution.py`` (the
diff, as a ``plan.Plan`` of exact requests) and ``apply.py`` (send them). The Dagster
assets that use this package live in ``flywheel_assets.assets.cleanrooms``.
"""

from flywheel_assets.cleanrooms.apply import ApplyError, apply_plan
from flywheel_assets.cleanrooms.desired import (
    CleanroomsConfig,
    DesiredStateError,
    association_name,
    build_desired_state,
    select_er_fields,
)
from flywheel_assets.cleanrooms.plan import Plan, Request
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.plan_entity_resolution import plan_entity_resolution
from flywheel_assets.cleanrooms.read import read_cleanrooms, read_entity_resolution

__all__ = [
    "ApplyError",
    "CleanroomsConfig",
    "DesiredStateError",
    "Plan",
    "Request",
    "apply_plan",
    "association_name",
    "build_desired_state",
    "plan_cleanrooms",
    "plan_entity_resolution",
    "read_cleanrooms",
    "read_entity_resolution",
    "select_er_fields",
]
