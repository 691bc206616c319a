"""Clean Rooms and Entity Resolution: desired state, reconcile, ``_er`` tables, report.

The Dagster assets that use this package live in ``flywheel_assets.assets.cleanrooms``.
"""

from flywheel_assets.cleanrooms.desired import (
    CleanroomsConfig,
    DesiredStateError,
    association_name,
    build_desired_state,
    select_er_fields,
)
from flywheel_assets.cleanrooms.reconcile import (
    ApplyError,
    Plan,
    Request,
    apply_plan,
    plan_cleanrooms,
    plan_entity_resolution,
    read_cleanrooms,
    read_entity_resolution,
)

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
