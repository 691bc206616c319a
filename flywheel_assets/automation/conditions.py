"""Declarative automation: catalog tables follow their parents once audits pass.

``AutomationCondition.eager()`` alone does not wait for blocking checks (Dagster 1.13:
it is ``newly_missing | any_deps_updated`` minus missing / in-progress deps), so a
split whose audit failed would still repoint its tables. We add
``all_deps_blocking_checks_passed()``: every blocking check of every parent must have
passed (or be requested on the same tick, in which case the run itself gates it).

The condition reaches the assets as the ``default_condition`` of a user-code
automation sensor: no asset module has to change, and an asset that declares its own
``automation_condition`` keeps it. A run that already contains both parent and table
(the snapshot pipeline) does not trigger a second one: ``any_deps_updated`` ignores
updates made by runs that also targeted the table.
"""

import warnings

import dagster as dg

from flywheel_assets.automation.selection import CATALOG_TABLES

AUTOMATION_SENSOR_NAME = "automation_condition_sensor"

EAGER_AFTER_BLOCKING_CHECKS = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_after_blocking_checks")


def automation_sensor(
    target: dg.AssetSelection = CATALOG_TABLES,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.AutomationConditionSensorDefinition:
    """The automation condition sensor for the catalog tables.

    Evaluated in the code server (``use_user_code_server``) because ``default_condition``
    requires it; Dagster caps such a sensor at 500 targets, we target ~5 per table (135
    for the 27 tables: part_*, its _er and _history, ext_*, bucketed_*) and leave checks
    out of the target (they run with their assets).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR_NAME,
            target=target.without_checks(),
            default_condition=EAGER_AFTER_BLOCKING_CHECKS,
            use_user_code_server=True,
            default_status=default_status,
            minimum_interval_seconds=60,
            description=(
                "Catalog tables (part_*, *_er, *_history, ext_*, bucketed_*) follow their parent "
                "datasets automatically once every blocking check of the parent passed."
            ),
        )
