"""Clean Rooms and Entity Resolution as declarative, reconciling assets.

One module per asset or check, each a factory over the registry:

* ``entity_resolution``: ``part_<table>_er`` (group ``entity_resolution``, partitioned by
  ``snapshot_dt``), the Entity Resolution view of each ``part_*`` table, and
  ``er_schema_mapping/<table>`` + ``er_id_namespace/<table>``, one multi-asset that
  reconciles schema mappings and SOURCE ID namespaces.
* ``configured_tables``: ``cleanrooms_table/<table>`` (group ``clean_rooms``), one
  multi-asset that reconciles configured tables, their CUSTOM analysis rules and their
  collaboration associations.
* ``verification``: ``cleanrooms_verification``, the reference's verify script as asset
  checks.
* ``report``: ``cleanrooms_report``, the reference's JSON + two CSV report.

``session`` holds what a run shares (config, clients, where files go) and the
plan-or-apply step: on the local profile nothing is sent to AWS, the control-plane
assets materialize the plan (the exact requests) as metadata and a JSON file; other
profiles read the actual state, apply the plan and record what they did. The pure
Clean Rooms logic (desired state, read, plan, apply, verification, report) lives in
``flywheel_assets.cleanrooms``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg

from flywheel_assets.assets.cleanrooms.configured_tables import configured_tables_asset
from flywheel_assets.assets.cleanrooms.entity_resolution import (
    entity_resolution_resources_asset,
    er_table_asset,
)
from flywheel_assets.assets.cleanrooms.keys import (
    CR_GROUP,
    ER_GROUP,
    REPORT_KEY,
    configured_table_key,
    id_namespace_key,
    schema_mapping_key,
)
from flywheel_assets.assets.cleanrooms.report import report_asset
from flywheel_assets.assets.cleanrooms.verification import verification_checks
from flywheel_assets.cleanrooms.apply import ClientFactory
from flywheel_assets.cleanrooms.verification import (
    CHECK_ASSOCIATION,
    CHECK_COLUMNS,
    CHECK_NAMES,
    CHECK_PROVIDERS,
    verification_check_names,
)
from glue_jobs.registry import Registry

__all__ = [
    "CHECK_ASSOCIATION",
    "CHECK_COLUMNS",
    "CHECK_NAMES",
    "CHECK_PROVIDERS",
    "CR_GROUP",
    "ER_GROUP",
    "REPORT_KEY",
    "build_cleanrooms_defs",
    "configured_table_key",
    "id_namespace_key",
    "schema_mapping_key",
    "verification_check_names",
]


def build_cleanrooms_defs(
    registry: Registry,
    settings: Any,
    *,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> dg.Definitions:
    """The ``_er`` tables, ER resources, configured tables, their checks and the report.

    ``client_factory(service) -> boto3 client`` defaults to the platform's AWS clients;
    tests pass moto or Stubber-backed clients. ``clock`` stamps report names.
    """
    tables = list(registry)
    owners = settings.owners
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    return dg.Definitions(
        assets=[
            *(er_table_asset(t, owners) for t in tables),
            entity_resolution_resources_asset(tables, owners, client_factory),
            configured_tables_asset(tables, owners, client_factory),
            report_asset(tables, owners, client_factory, now),
        ],
        asset_checks=[
            verification_checks(tables, settings.cleanrooms_membership_id, client_factory)
        ],
    )
